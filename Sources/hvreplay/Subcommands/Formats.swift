import ArgumentParser
import HVReplay

extension HVReplayCommand {
  struct Formats: ParsableCommand {
    static let configuration = CommandConfiguration(
      abstract: "List the trace formats hvreplay reads, one line each.",
      discussion: """
        replay, inspect and convert read every format directly, streaming; plain, zstd- or
        gzip-compressed, decided by content. --from FORMAT names one where the content is
        ambiguous. docs/IMPORTERS.md says how each importer fills the fields its format lacks.
        """
    )

    func run() throws {
      let width = TraceFormat.allCases.map(\.rawValue.count).max() ?? 8
      var text = ""
      for f in TraceFormat.allCases {
        text +=
          f.rawValue + String(repeating: " ", count: width - f.rawValue.count + 2) + f.summary
          + "\n"
      }
      try writeStandardOutput(text)
    }
  }
}
