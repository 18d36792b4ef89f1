import ArgumentParser
import HVReplay

#if canImport(Glibc)
  import Glibc
#elseif canImport(Darwin)
  import Darwin
#endif

extension HVReplayCommand {
  struct Sweep: ParsableCommand {
    static let configuration = CommandConfiguration(
      abstract:
        "Replay a trace once per combination of model settings and chart a figure against them.",
      discussion: """
        Each --set key=v1,v2,... is one axis; several form a grid. Every combination is
        replayed (as many at once as there are cores) and written into --out (default
        Reports/<trace name>-sweep): sweep.csv (one row per combination and backend with the
        headline figures), sweep-cpu.csv (per scheduler, when the trace has cpu events) and
        sweep.md (the chosen figure against the first key, as a table and a chart, and
        each design's figure over the baseline design's: --baseline, default native when swept, else full)
        and sweep.svg (the same chart). A progress line shows on a terminal unless --quiet.
        Example: hvreplay sweep trace.hvt.zst --set para.ring_entries=8,16,32,64,128,256
        """
    )

    @Argument(help: "The trace file.")
    var trace: String

    @Option(
      name: .customLong("set"),
      help: "An axis: key.path=v1,v2,... (repeatable; several form a grid).")
    var axes: [String] = []

    @Option(help: "The figure sweep.md charts (a summary.csv metric).")
    var figure: String = "latency_p99_ns"

    @Option(
      name: .customLong("out"), help: "The output directory (default: Reports/<trace name>-sweep).")
    var out: String?

    @Option(
      help:
        "The backends to replay through, comma-separated: native, full, para, virtio, vhost, passthrough (default all)."
    )
    var backends: String = "native,full,para,virtio,vhost,passthrough"

    @Option(help: "The CPU schedulers to replay through, comma-separated: credit, fair.")
    var schedulers: String = "credit,fair"

    @Option(
      help:
        "The design sweep.md divides every other's figure by (default: native when swept, else full, else the first backend)."
    )
    var baseline: String?

    @Option(name: .customLong("model"), help: "A JSON model file the sweep starts from.")
    var modelFile: String?

    @Flag(help: "Print no progress line and no summary, only errors.")
    var quiet = false

    @Option(help: "Replays run at once (default: the number of cores).")
    var jobs: Int?

    @OptionGroup var read: ReadOptions

    func validate() throws { try requireNonEmpty(out, "--out") }

    func run() throws {
      let kinds = try parseList(backends, option: "--backends", as: BackendKind.self)
      let schedulerKinds = try parseList(schedulers, option: "--schedulers", as: SchedulerKind.self)
      guard Sweep.knownFigures.contains(figure) else {
        throw ValidationError(
          "--figure: unknown figure \"\(figure)\"; figures: \(Metric.deviceMetrics.map(\.name).joined(separator: ", "))"
        )
      }
      try checkBaseline(baseline, among: kinds)
      try reportingErrors { () throws(HVReplayError) in
        let metadata = try TraceReader(paths: [trace], options: read.options).metadata
        var base = Model()
        try base.apply(traceMetadata: metadata)
        if let modelFile { try base.load(file: modelFile) }
        let sweep = try HVReplay.Sweep(assignments: axes, base: base)
        let cores = Int(sysconf(Int32(_SC_NPROCESSORS_ONLN)))
        let line = SweepProgressLine(enabled: !quiet)
        let results = try sweep.run(
          trace: trace, base: base, readOptions: read.options, backends: kinds,
          schedulers: schedulerKinds, horizon: nil, parallelism: jobs ?? max(cores, 1),
          progress: line.update)
        line.finish()
        let name = TraceIdentity.name(of: trace)
        let directory = out ?? "Reports/\(name)-sweep"
        var files = [
          ("sweep.csv", sweep.csv(results)),
          ("sweep.md", sweep.markdown(results, figure: figure, trace: name, baseline: baseline)),
          ("sweep.svg", sweep.chart(results, figure: figure)),
        ]
        if results.contains(where: { !$0.schedulers.isEmpty }) {
          files.append(("sweep-cpu.csv", sweep.cpuCSV(results)))
        }
        try ReportWriter.write(files, into: directory)
        guard !quiet else { return }
        do {
          try writeStandardOutput(
            "replayed \(sweep.combinations.count) combinations; wrote "
              + files.map { "\(directory.escapingControlCharacters)/\($0.0)" }
              .joined(separator: ", ") + "\n")
        } catch {
          throw HVReplayError(.ioError, "cannot write to standard output")
        }
      }
    }

    /// Every device figure of the metric registry (a sweep keeps each backend's totals).
    static let knownFigures = Set(Metric.deviceMetrics.map(\.name))
  }
}
