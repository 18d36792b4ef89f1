import ArgumentParser
import HVReplay

extension HVReplayCommand {
  struct Convert: ParsableCommand {
    static let configuration = CommandConfiguration(
      abstract: "Convert a trace between formats (hvt, csv) and compressions (plain, zstd).",
      discussion: """
        The output format follows OUTPUT's extension (.hvt, .hvt.zst, .csv, .csv.zst) or --to.
        Events and metadata carry over unchanged; CSV to hvt to CSV is lossless. The output
        appears only when the whole input has been read without error.
        """
    )

    @Argument(help: "The trace to read (`-` for standard input).")
    var input: String

    @Argument(help: "The file to write (`-` for standard output).")
    var output: String

    @Option(help: "The output type: hvt, hvt.zst, csv or csv.zst (default: from OUTPUT's name).")
    var to: String?

    @OptionGroup var read: ReadOptions

    func run() throws {
      let type = try outputType(path: output, to: to)
      try reportingErrors { () throws(HVReplayError) in
        var reader = try TraceReader(path: input, reorderWindow: read.reorderWindow)
        var writer = try TraceWriter(path: output, type: type, metadata: reader.metadata)
        while let event = try reader.next() { try writer.write(event) }
        try writer.finish()
      }
    }
  }
}
