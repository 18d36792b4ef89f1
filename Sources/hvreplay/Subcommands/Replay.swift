import ArgumentParser
import HVReplay

extension HVReplayCommand {
  struct Replay: ParsableCommand {
    static let configuration = CommandConfiguration(
      abstract:
        "Replay a trace through the full- and paravirtualization backends and report their cost.",
      discussion: """
        Every disk and net event goes through each selected backend in one streaming pass.
        Writes report.md and summary.csv into Reports/<trace name>/ (or --out) and prints
        where. `hvreplay TRACE` is the same as `hvreplay replay TRACE`.
        """
    )

    @Argument(help: "The trace file (`-` for standard input).")
    var trace: String

    @Option(name: .customLong("out"), help: "The report directory (default: Reports/<trace name>).")
    var out: String?

    @Option(help: "The backends to replay through, comma-separated: full, para.")
    var backends: String = "full,para"

    @OptionGroup var modelOptions: ModelOptions

    @OptionGroup var read: ReadOptions

    @Flag(help: "Print no progress line.")
    var quiet = false

    func run() throws {
      let kinds = try parseBackends(backends)
      try reportingErrors { () throws(HVReplayError) in
        let model = try modelOptions.effectiveModel()
        var reader = try TraceReader(path: trace, reorderWindow: read.reorderWindow)
        var progress = ProgressLine(enabled: !quiet)
        let result = try ReplayEngine(model: model, backends: kinds).run(&reader) {
          progress.update($0)
        }
        progress.finish()
        let report = ReplayReport(result)
        let directory = out ?? ReportWriter.defaultDirectory(for: result.trace)
        try ReportWriter.write(report.files, into: directory)
        do {
          try writeStandardOutput(
            "\(report.verdict)\nwrote \(directory)/report.md and \(directory)/summary.csv\n")
        } catch {
          throw HVReplayError(.ioError, "cannot write to standard output")
        }
      }
    }
  }
}

/// `--backends full,para` → the backend kinds, in the order given.
func parseBackends(_ text: String) throws -> [BackendKind] {
  var kinds: [BackendKind] = []
  for name in text.split(separator: ",").map({ String($0).trimmingCharacters(in: " ") }) {
    guard let kind = BackendKind(rawValue: name) else {
      throw ValidationError(
        "--backends: unknown backend \"\(name)\"; expected \(BackendKind.allCases.map(\.rawValue).joined(separator: ", "))"
      )
    }
    if !kinds.contains(kind) { kinds.append(kind) }
  }
  guard !kinds.isEmpty else { throw ValidationError("--backends: name at least one backend") }
  return kinds
}

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

  /// The default model, then the file, then each `--set` in order.
  func effectiveModel() throws(HVReplayError) -> Model {
    var model = Model()
    if let modelFile { try model.load(file: modelFile) }
    for assignment in assignments { try model.set(assignment) }
    return model
  }
}
