// What the fuzz targets in FuzzTesting/ (docs/FUZZING.md) need beyond the commands' API.
// They reach hvreplay only through public API, so that a fuzz build needs no -enable-testing.

extension TraceReader {
  /// Reads a trace from an opened byte stream, in the format `options.format` names or the
  /// content shows.
  ///
  /// The fuzz targets read through a `ByteInput` with a window of a few hundred bytes, so
  /// that small inputs still cross window refills as large files do with the default 1 MiB.
  ///
  /// - Throws: ``HVReplayError``: `.badData` when the header is wrong.
  public init(input: ByteInput, options: TraceReadOptions) throws(HVReplayError) {
    try self.init(inputs: [input], options: options)
  }
}
