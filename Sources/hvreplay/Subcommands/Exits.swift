import ArgumentParser
import HVReplay

extension HVReplayCommand {
  struct Exits: ParsableCommand {
    static let configuration = CommandConfiguration(
      abstract: "Report the VM exits a KVM host recorded: per VM, vCPU, host CPU and reason.",
      discussion: """
        Reads `trace-cmd report` text of kvm events (`trace-cmd record -e kvm`), the \
        kernel's trace file (/sys/kernel/tracing/trace), `perf script` output of kvm \
        events, or `perf kvm stat report` output, plain or zstd- or gzip-compressed; the \
        layout is detected from the content. Writes exits.md, exits.csv, exits.json, \
        exits-timeseries.csv and exits.svg into Reports/<recording name>-exits/ (or --out).
        """)

    @Argument(help: "The recording (`-` for standard input).")
    var recording: String

    @Option(name: .customLong("out"), help: "The report directory (default: Reports/<name>-exits).")
    var out: String?

    @Option(help: "The time series' interval, e.g. 100ms or 1s.")
    var interval: String = "1s"

    @Option(
      name: .customLong("group-by"),
      help:
        "VMs: tgid (the VMM process where the recording shows it, else the thread), pid or comm.")
    var groupBy: String = "tgid"

    @Option(
      name: .customLong("skip-bad"),
      help: "Skip up to this many unreadable lines, counted and reported.")
    var skipBad: UInt64 = 0

    @Flag(help: "Print only errors.")
    var quiet = false

    func validate() throws {
      try requireNonEmpty(out, "--out")
      guard let ns = Duration.parseNanoseconds(interval), ns >= 1_000, ns <= 1 << 50 else {
        throw ValidationError(
          "--interval must be a duration from 1us to 13 days, such as 100ms or 1s; found \"\(interval)\""
        )
      }
      guard ExitGrouping(rawValue: groupBy) != nil else {
        throw ValidationError("--group-by must be tgid, pid or comm, found \"\(groupBy)\"")
      }
    }

    func run() throws {
      try reportingErrors { () throws(HVReplayError) in
        var options = ExitOptions()
        options.intervalNs = Duration.parseNanoseconds(interval) ?? options.intervalNs
        options.grouping = ExitGrouping(rawValue: groupBy) ?? .tgid
        options.skipBad = skipBad
        let report = try ExitReport.read(path: recording, options: options)
        let directory = out ?? "Reports/\(ExitReport.name(of: recording))-exits"
        let files = report.files
        try ReportWriter.write(
          files, into: directory, replacing: ReportWriter.exitFileNames)
        guard !quiet else { return }
        let shown = directory.escapingControlCharacters
        let names = files.map { "\(shown)/\($0.name)" }
        do {
          try writeStandardOutput(
            report.summaryLine + "\nwrote " + names.dropLast().joined(separator: ", ")
              + " and \(names.last!)\n")
        } catch {
          throw HVReplayError(.ioError, "cannot write to standard output")
        }
      }
    }
  }
}
