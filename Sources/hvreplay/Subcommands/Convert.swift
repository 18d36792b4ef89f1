import ArgumentParser
import HVReplay

extension HVReplayCommand {
  struct Convert: ParsableCommand {
    static let configuration = CommandConfiguration(
      abstract: "Convert a trace between formats (hvt, csv) and compressions (plain, zstd).",
      discussion: """
        The output format follows OUTPUT's extension (.hvt, .hvt.zst, .csv, .csv.zst) or --to.
        Events and metadata carry over unchanged; CSV to hvt to CSV is lossless. Any format
        hvreplay imports (hvreplay formats) converts to hvt or csv. The output appears only
        when the whole input has been read without error.
        """
    )

    @Argument(
      help:
        "The trace to read (`-` for standard input; several files for one blktrace recording), then the file to write (`-` for standard output)."
    )
    var paths: [String]

    var input: [String] { Array(paths.dropLast()) }
    var output: String { paths.last ?? "-" }

    func validate() throws {
      guard paths.count >= 2 else {
        throw ValidationError("name the trace to read and the file to write")
      }
      try requireNonEmpty(output, "the output")
    }

    @Option(help: "The output type: hvt, hvt.zst, csv or csv.zst (default: from OUTPUT's name).")
    var to: String?

    @OptionGroup var read: ReadOptions

    func run() throws {
      let type = try outputType(path: output, to: to)
      try reportingErrors { () throws(HVReplayError) in
        var reader = try TraceReader(paths: input, options: read.options)
        var writer = try TraceWriter(path: output, type: type, metadata: reader.metadata)
        while let event = try reader.next() { try writer.write(event) }
        try writer.finish()
      }
    }
  }
}
