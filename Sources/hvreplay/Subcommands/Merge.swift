import ArgumentParser
import HVReplay

extension HVReplayCommand {
  struct Merge: ParsableCommand {
    static let configuration = CommandConfiguration(
      abstract: "Merge the report.json files of shards of one trace set into one report folder.",
      discussion: """
        Counts add up, latency and wait histograms merge exactly, and percentiles are recomputed
        from the merged histograms. Reports of different models are refused. CPU figures treat
        the shards as separate hosts (their pCPUs add). docs/SCALING.md shows sharding a fleet's
        traces over a batch system and merging the results.
        """
    )

    @Argument(help: "The shards' report.json files.")
    var reports: [String]

    @Option(name: .shortAndLong, help: "The report directory to write.")
    var output: String

    func validate() throws {
      guard !reports.isEmpty else { throw ValidationError("name at least one report.json") }
      try requireNonEmpty(output, "-o/--output")
    }

    func run() throws {
      try reportingErrors { () throws(HVReplayError) in
        var parts: [ReplayResult] = []
        for path in reports { parts.append(try readReport(path)) }
        let merged = try ReplayResult.merge(parts, names: reports)
        let report = ReplayReport(merged)
        try ReportWriter.write(report.files, into: output)
        do {
          try writeStandardOutput(
            report.verdictLines.joined(separator: "\n")
              + "\nmerged \(reports.count) reports into \(output.escapingControlCharacters)\n")
        } catch {
          throw HVReplayError(.ioError, "cannot write to standard output")
        }
      }
    }
  }
}
