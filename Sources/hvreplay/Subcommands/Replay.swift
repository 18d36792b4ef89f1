import ArgumentParser
import HVReplay

extension HVReplayCommand {
  struct Replay: ParsableCommand {
    static let configuration = CommandConfiguration(
      abstract:
        "Replay a trace through each virtualization design (native, full, para, virtio, vhost, passthrough) and report their cost.",
      discussion: """
        Every disk and net event goes through each selected backend, and every cpu event
        through each selected scheduler, in one streaming pass. Writes report.md,
        summary.csv, cpu.csv (when the trace has cpu events), timeseries.csv and report.json into
        Reports/<trace name>/ (or --out) and prints where. `hvreplay TRACE` is the same as
        `hvreplay replay TRACE`. Model keys a trace's metadata carries (`model.<key>`, as
        synth writes for scenarios) apply first, then --model, then each --set.
        """
    )

    @Argument(
      help:
        "The trace file (`-` for standard input), or the per-CPU files of one blktrace recording.")
    var trace: [String]

    @Option(name: .customLong("out"), help: "The report directory (default: Reports/<trace name>).")
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
        "The design the verdict compares every other with (default: native when replayed, else full, else the first backend)."
    )
    var baseline: String?

    @Option(
      help:
        "End the CPU measurement window at this trace time (e.g. 60s); default: when the work is done."
    )
    var horizon: String?

    @Option(
      help:
        "The width of timeseries.csv's intervals of trace time (e.g. 10ms); default: a round width giving 100 to 1,000 intervals (10 to 100 for many channels)."
    )
    var interval: String?

    @Option(
      help: ArgumentHelp(
        "Also write a timeline of requests: Chrome trace JSON for Perfetto or chrome://tracing, or an SVG picture when FILE ends in .svg.",
        valueName: "file"))
    var timeline: String?

    @Option(
      help: ArgumentHelp(
        "The timeline's window of trace time, START+LEN (e.g. 2s+10ms); +LEN starts at the first event (default +10ms).",
        valueName: "start+len"))
    var timelineWindow: String?

    @Option(
      help: ArgumentHelp(
        "The most records the timeline keeps per backend and scheduler (default 200000); the file says where a cut fell.",
        valueName: "n"))
    var timelineLimit: Int?

    @OptionGroup var modelOptions: ModelOptions

    @OptionGroup var read: ReadOptions

    @Flag(help: "Print no progress line.")
    var quiet = false

    func validate() throws {
      try requireNonEmpty(out, "--out")
      if let interval {
        guard let ns = Duration.parseNanoseconds(interval), ns >= 1_000,
          ns <= 312 * 3_600_000_000_000
        else {
          throw ValidationError(
            "--interval must be a duration from 1us to 312h (13 days), such as 10ms or 1s; found \"\(interval)\""
          )
        }
      }
      try requireNonEmpty(timeline, "--timeline")
      if timeline == "-" {
        throw ValidationError(
          "--timeline -: standard output carries the replay's verdict; name a file (FILE.json or FILE.svg)"
        )
      }
      if timeline == nil && (timelineWindow != nil || timelineLimit != nil) {
        throw ValidationError("--timeline-window and --timeline-limit need --timeline FILE")
      }
      if let timelineWindow, TimelineWindow.parse(timelineWindow) == nil {
        throw ValidationError(
          "--timeline-window: expected START+LEN or +LEN with durations such as 2s+10ms, the length above 0; found \"\(timelineWindow)\""
        )
      }
      if let timelineLimit, timelineLimit < 1 || timelineLimit > 2_000_000 {
        throw ValidationError(
          "--timeline-limit must be from 1 to 2000000 records (about 250 MB of JSON per backend); found \(timelineLimit)"
        )
      }
    }

    /// The timeline asked for, if any.
    private var timelineRequest: TimelineWindow? {
      guard timeline != nil else { return nil }
      var window = timelineWindow.flatMap(TimelineWindow.parse) ?? TimelineWindow()
      if let timelineLimit { window.recordLimit = timelineLimit }
      return window
    }

    func run() throws {
      let kinds = try parseList(backends, option: "--backends", as: BackendKind.self)
      let schedulerKinds = try parseList(schedulers, option: "--schedulers", as: SchedulerKind.self)
      try checkBaseline(baseline, among: kinds)
      var horizonNs: UInt64?
      if let horizon {
        guard let ns = Duration.parseNanoseconds(horizon) else {
          throw ValidationError("--horizon: expected a duration such as 60s, found \"\(horizon)\"")
        }
        horizonNs = ns
      }
      try reportingErrors { () throws(HVReplayError) in
        var reader = try TraceReader(paths: trace, options: read.options)
        let model = try modelOptions.effectiveModel(traceMetadata: reader.metadata)
        var progress = ProgressLine(enabled: !quiet)
        var engine = ReplayEngine(
          model: model, backends: kinds, schedulers: schedulerKinds, horizon: horizonNs)
        engine.timeSeriesIntervalNs = interval.flatMap(Duration.parseNanoseconds)
        engine.timeline = timelineRequest
        let directory =
          out ?? ReportWriter.defaultDirectory(for: TraceIdentity.name(of: reader.input.name))
        // Checked and opened first, so that a timeline that cannot be written fails before
        // the replay.
        var timelineOutput: ByteOutput?
        if let timeline {
          if let why = OutputClash.reason(
            output: timeline, inputs: trace + [modelOptions.modelFile].compactMap { $0 },
            reportDirectory: directory)
          {
            throw HVReplayError(.usage, "--timeline \(timeline.escapingControlCharacters) \(why)")
          }
          timelineOutput = try ByteOutput(path: timeline, compression: .none)
        }
        var result = try engine.run(&reader) { progress.update($0) }
        result.baseline = baseline
        if reader.skippedRecords > 0 {
          writeStandardError(
            "hvreplay: skipped \(reader.skippedRecords) unreadable records (--skip-bad \(read.skipBad))\n"
          )
        }
        progress.finish()
        // What the importer assumed, dropped or found odd, as report.md lists it.
        for note in result.trace.importNotes {
          writeStandardError("hvreplay: import: \(note.escapingControlCharacters)\n")
        }
        for note in result.replayNotes {
          writeStandardError("hvreplay: replay: \(note.escapingControlCharacters)\n")
        }
        let report = ReplayReport(result)
        let files = report.fileMakers
        try ReportWriter.write(makers: files, into: directory)
        let shown = directory.escapingControlCharacters
        var names = files.map { "\(shown)/\($0.name)" }
        if let timeline, let out = timelineOutput {
          let view = TimelineView(result)
          if timeline.lowercased().hasSuffix(".svg") {
            try out.write(view.svg(trace: result.trace))
          } else {
            try view.writeChromeTrace(trace: result.trace) { (text) throws(HVReplayError) in
              try out.write(text)
            }
          }
          try out.close()
          names.append(timeline.escapingControlCharacters)
          if view.processes.allSatisfy({ $0.records == 0 && !$0.cut }) {
            writeStandardError(
              "hvreplay: timeline: nothing was issued or ran in the window (the trace's events span \(result.trace.statistics.firstNs) to \(result.trace.statistics.lastNs) ns as recorded); choose one with --timeline-window START+LEN\n"
            )
          }
          for p in view.processes where p.cut {
            writeStandardError(
              "hvreplay: timeline: \(p.name) reached the limit of \(view.window.recordLimit) records (--timeline-limit); it holds \(p.records) and stops \(TimelineView.time(p.recordedUntilNs - p.startNs)) into the window\n"
            )
          }
        }
        do {
          try writeStandardOutput(
            report.verdictLines.joined(separator: "\n") + "\nwrote "
              + names.dropLast().joined(separator: ", ") + " and \(names.last!)\n")
        } catch {
          throw HVReplayError(.ioError, "cannot write to standard output")
        }
      }
    }
  }
}

/// `--baseline NAME` must name one of the designs replayed.
func checkBaseline(_ baseline: String?, among kinds: [BackendKind]) throws {
  guard let baseline, !kinds.contains(where: { $0.rawValue == baseline }) else { return }
  throw ValidationError(
    "--baseline: \"\(baseline)\" is not among the backends replayed (\(kinds.map(\.rawValue).joined(separator: ", ")))"
  )
}

/// `--backends full,para` → the kinds, in the order given, without repeats.
func parseList<Kind: RawRepresentable & CaseIterable>(_ text: String, option: String, as: Kind.Type)
  throws -> [Kind] where Kind.RawValue == String
{
  var kinds: [Kind] = []
  for name in text.split(separator: ",").map({ String($0).trimmingCharacters(in: " ") }) {
    guard let kind = Kind(rawValue: name) else {
      throw ValidationError(
        "\(option): unknown name \"\(name)\"; expected \(Kind.allCases.map(\.rawValue).joined(separator: ", "))"
      )
    }
    if !kinds.contains(where: { $0.rawValue == kind.rawValue }) { kinds.append(kind) }
  }
  guard !kinds.isEmpty else { throw ValidationError("\(option): name at least one") }
  return kinds
}

extension Model.Loop: ExpressibleByArgument {}

/// Options that shape the model.
struct ModelOptions: ParsableArguments {
  @Option(
    name: .customLong("model"),
    help:
      "A JSON model file (the shape `hvreplay model` prints); keys left out keep their defaults.")
  var modelFile: String?

  @Option(
    name: .customLong("set"),
    help: "Change one model key, e.g. --set para.ring_entries=64 (repeatable).")
  var assignments: [String] = []

  @Option(
    help: ArgumentHelp(
      "How requests are issued: open (at their recorded times) or closed (each stream's request after the one it depended on).",
      discussion:
        "Default: closed for recordings; a synthetic trace's profile says which it is (replay.loop)."
    ))
  var loop: Model.Loop?

  @Option(
    help:
      "Closed loop, streams without recorded completions: a request waits for the stream's request this many before (replay.depth, default 1)."
  )
  var depth: UInt64?

  @Option(
    name: .customLong("time-scale"),
    help: "Replay at this many times the recorded rate, e.g. 2 (replay.time_scale, default 1).")
  var timeScale: String?

  /// The default model, then the trace's `model.*` metadata, then the file, then each `--set`,
  /// then `--loop`, `--depth` and `--time-scale`.
  func effectiveModel(traceMetadata: TraceMetadata = TraceMetadata()) throws(HVReplayError) -> Model
  {
    var model = Model()
    try model.apply(traceMetadata: traceMetadata)
    if let modelFile { try model.load(file: modelFile) }
    for assignment in assignments { try model.set(assignment) }
    for (option, key, value) in [
      ("--loop", "replay.loop", loop?.rawValue),
      ("--depth", "replay.depth", depth.map(String.init)),
      ("--time-scale", "replay.time_scale", timeScale),
    ] {
      guard let value else { continue }
      do { try model.set("\(key)=\(value)") } catch {
        let message =
          error.message.hasPrefix("--set: ") ? error.message.dropFirst(7) : "\(error.message)"
        throw HVReplayError(.usage, "\(option): \(message)")
      }
    }
    return model
  }
}
