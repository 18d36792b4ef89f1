/// An event with its position in a stream, ordered by time and then by position, so that a
/// heap of them hands out equal times in the order they came.
struct SequencedEvent: Comparable {
  var event: TraceEvent
  /// The event's position: unique within one stream.
  var sequence: UInt64

  static func < (a: SequencedEvent, b: SequencedEvent) -> Bool {
    (a.event.timeNs, a.sequence) < (b.event.timeNs, b.sequence)
  }

  static func == (a: SequencedEvent, b: SequencedEvent) -> Bool { a.sequence == b.sequence }
}
