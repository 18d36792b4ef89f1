import ArgumentParser
import HVReplay

extension HVReplayCommand {
  struct Inspect: ParsableCommand {
    static let configuration = CommandConfiguration(
      abstract: "Describe a trace: format, metadata, event counts, time span, bytes and rates.",
      discussion: "Reads the trace in one streaming pass, so it works on traces larger than memory."
    )

    @Argument(
      help:
        "The trace file (`-` for standard input), or the per-CPU files of one blktrace recording.")
    var trace: [String]

    @OptionGroup var read: ReadOptions

    @Flag(help: "Print JSON instead of text.")
    var json = false

    func run() throws {
      try reportingErrors { () throws(HVReplayError) in
        let inspection = try TraceInspection(paths: trace, options: read.options)
        let text = json ? inspection.json.serialized() + "\n" : inspection.text
        do { try writeStandardOutput(text) } catch {
          throw HVReplayError(.ioError, "cannot write to standard output")
        }
      }
    }
  }
}
