import ArgumentParser
import HVReplay

#if canImport(Glibc)
  import Glibc
#elseif canImport(Darwin)
  import Darwin
#endif

extension HVReplayCommand {
  struct Merge: ParsableCommand {
    static let configuration = CommandConfiguration(
      abstract:
        "Merge the report.json files of shards of one trace set, or several hosts' exits.json, into one report folder.",
      discussion: """
        Counts add up, latency and wait histograms merge exactly, and percentiles are recomputed
        from the merged histograms. Reports of different models are refused. CPU figures treat
        the shards as separate hosts (their pCPUs add). docs/SCALING.md shows sharding a fleet's
        traces over a batch system and merging the results.

        exits.json files (hvreplay exits of several hosts) merge into one exit report: each
        host's VMs and CPUs keep their rows under the host's name (its recording's name, or
        its report folder's when two recordings share a name), the rows of every VM add up,
        and durations merge exactly.
        """
    )

    @Argument(help: "The shards' report.json files, or exits.json files.")
    var reports: [String]

    @Option(name: .shortAndLong, help: "The report directory to write.")
    var output: String

    func validate() throws {
      guard !reports.isEmpty else { throw ValidationError("name at least one report.json") }
      try requireNonEmpty(output, "-o/--output")
      // A part given twice would count twice.
      var seen: [String: String] = [:]
      for path in reports where path != "-" {
        guard let resolved = realpath(path, nil) else { continue }
        defer { free(resolved) }
        let key = String(cString: resolved)
        if let first = seen[key] {
          throw ValidationError(
            "\(path) is \(first) again: each part is merged once (its counts would add twice)")
        }
        seen[key] = path
      }
    }

    func run() throws {
      try reportingErrors { () throws(HVReplayError) in
        var documents: [JSONValue] = []
        for path in reports { documents.append(try readReportJSON(path)) }
        let exits = documents.map(ReportComparison.isExitReport)
        if exits.contains(true) {
          guard !exits.contains(false) else {
            let i = exits.firstIndex(of: false)!
            throw HVReplayError(
              .badData, file: reports[i],
              "a replay's report.json cannot be merged with exits.json files: merge each kind on its own"
            )
          }
          return try mergeExits(documents)
        }
        var parts: [ReplayResult] = []
        for (path, json) in zip(reports, documents) {
          parts.append(try ReplayResult(reportJSON: json, file: path))
        }
        let merged = try ReplayResult.merge(parts, names: reports)
        let report = ReplayReport(merged)
        try ReportWriter.write(makers: report.fileMakers, into: output)
        do {
          try writeStandardOutput(
            report.verdictLines.joined(separator: "\n")
              + "\nmerged \(reports.count) reports into \(output.escapingControlCharacters)\n")
        } catch {
          throw HVReplayError(.ioError, "cannot write to standard output")
        }
      }
    }

    /// Merges exits.json files (several hosts' exit reports) into one exit report folder.
    private func mergeExits(_ documents: [JSONValue]) throws(HVReplayError) {
      var parts: [ExitReport] = []
      for (path, json) in zip(reports, documents) {
        parts.append(try ExitReport(json: json, file: path))
      }
      let merged = try ExitReport.merge(parts, names: ExitReport.partNames(parts, reports))
      try ReportWriter.write(merged.files, into: output, replacing: ReportWriter.exitFileNames)
      do {
        try writeStandardOutput(
          merged.summaryLine
            + "\nmerged \(reports.count) exit report\(reports.count == 1 ? "" : "s") into \(output.escapingControlCharacters)\n"
        )
      } catch {
        throw HVReplayError(.ioError, "cannot write to standard output")
      }
    }
  }
}
