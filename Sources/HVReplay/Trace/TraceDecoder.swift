/// A streaming decoder of one trace file format.
protocol TraceDecoder {
  /// The next event in file order, or `nil` at the end of the trace.
  ///
  /// - Throws: ``HVReplayError`` naming the file and the line or byte offset.
  mutating func next() throws(HVReplayError) -> TraceEvent?
  /// Where the event last returned by ``next()`` is in the file.
  var location: HVReplayError.Location { get }
  /// The trace's metadata (what produced it).
  var metadata: TraceMetadata { get }
}
