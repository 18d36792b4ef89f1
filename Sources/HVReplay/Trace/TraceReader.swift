/// Reads a trace of any supported format and compression, in time order, streaming.
///
/// The format is decided by content: zstd by its frame magic, the native format
/// by its magic, otherwise CSV. Local disorder of up to ``reorderWindow`` events
/// is fixed; an event out of order by more stops the read with an error naming it.
public struct TraceReader {
  /// The default number of events a reader holds to fix local disorder.
  public static let defaultReorderWindow = 10_000

  /// The underlying byte stream (file name, compression, bytes read).
  public let input: ByteInput
  /// The file's trace format.
  public let format: TraceFormat
  /// What produced the trace.
  public let metadata: TraceMetadata
  /// How many events may be held back to fix local disorder.
  public let reorderWindow: Int
  /// Events that arrived earlier in the file than an event with a later time.
  public private(set) var reorderedCount: UInt64 = 0

  private var native: NativeTraceDecoder?
  private var csv: CSVTraceDecoder?
  private var pending: EventRing
  private var lastEmitted: UInt64 = 0
  private var sourceDone = false

  /// Opens the trace at `path` (`-` for standard input).
  ///
  /// - Throws: ``HVReplayError``: `.missingInput` when it cannot be opened,
  ///   `.badData` when its header is wrong.
  public init(path: String, reorderWindow: Int = Self.defaultReorderWindow) throws(HVReplayError) {
    try self.init(input: ByteInput(path: path), reorderWindow: reorderWindow)
  }

  /// Reads a trace from an opened byte stream.
  public init(input: ByteInput, reorderWindow: Int = Self.defaultReorderWindow)
    throws(HVReplayError)
  {
    self.input = input
    self.reorderWindow = max(0, reorderWindow)
    pending = EventRing(capacity: self.reorderWindow + 1)
    if input.end < 8 {
      while input.end < 8 && !input.atEnd { try input.refill(from: 0) }
    }
    if input.end == 0 {
      throw HVReplayError(
        .badData, file: input.name,
        "the file holds no data (an empty \(input.compression == .zstd ? "zstd stream" : "file")); expected a trace"
      )
    }
    let prefix = UnsafeRawBufferPointer(start: input.base, count: min(input.end, 8))
    if NativeTraceDecoder.matches(prefix) {
      let decoder = try NativeTraceDecoder(input: input)
      format = .hvt
      metadata = decoder.metadata
      native = decoder
    } else {
      let decoder = try CSVTraceDecoder(input: input)
      format = .csv
      metadata = decoder.metadata
      csv = decoder
    }
  }

  /// The next event in time order, or `nil` at the end of the trace.
  @inline(__always)
  public mutating func next() throws(HVReplayError) -> TraceEvent? {
    if reorderWindow == 0 {
      guard let event = try decode() else { return nil }
      if event.timeNs < lastEmitted { throw outOfOrder(event) }
      lastEmitted = event.timeNs
      return event
    }
    while pending.count <= reorderWindow && !sourceDone {
      guard let event = try decode() else {
        sourceDone = true
        break
      }
      if pending.count == 0 || event.timeNs >= pending.last.timeNs {
        pending.append(event)
      } else {
        if event.timeNs < lastEmitted { throw outOfOrder(event) }
        reorderedCount &+= 1
        pending.insertSorted(event)
      }
    }
    guard pending.count > 0 else { return nil }
    let event = pending.removeFirst()
    lastEmitted = event.timeNs
    return event
  }

  @inline(__always)
  private mutating func decode() throws(HVReplayError) -> TraceEvent? {
    if native != nil { return try native!.next() }
    return try csv!.next()
  }

  private func outOfOrder(_ event: TraceEvent) -> HVReplayError {
    let location = native?.location ?? csv?.location ?? .none
    return HVReplayError(
      .badData, file: input.name, location: location,
      "time_ns \(event.timeNs) is earlier than time_ns \(lastEmitted) of an event already read; events must be in time order, and this one is out of place by more than the reorder window of \(reorderWindow) events (raise it with --reorder-window)"
    )
  }
}

/// A fixed-capacity ring of events kept sorted by time (stable for equal times).
struct EventRing {
  private final class Storage {
    let events: UnsafeMutablePointer<TraceEvent>
    init(capacity: Int) { events = .allocate(capacity: capacity) }
    deinit { events.deallocate() }
  }

  private let storage: Storage
  private let events: UnsafeMutablePointer<TraceEvent>
  private let capacity: Int
  private var head = 0
  private(set) var count = 0

  init(capacity: Int) {
    self.capacity = max(1, capacity)
    storage = Storage(capacity: self.capacity)
    events = storage.events
  }

  @inline(__always)
  private func slot(_ i: Int) -> Int {
    let s = head &+ i
    return s >= capacity ? s &- capacity : s
  }

  var last: TraceEvent { events[slot(count - 1)] }

  @inline(__always)
  mutating func append(_ event: TraceEvent) {
    (events + slot(count)).initialize(to: event)
    count &+= 1
  }

  @inline(__always)
  mutating func removeFirst() -> TraceEvent {
    let event = (events + head).move()
    head = head &+ 1 == capacity ? 0 : head &+ 1
    count &-= 1
    return event
  }

  /// Inserts `event` after every held event whose time is not later than its own.
  mutating func insertSorted(_ event: TraceEvent) {
    var i = count
    (events + slot(i)).initialize(to: event)
    while i > 0 && events[slot(i - 1)].timeNs > event.timeNs {
      events[slot(i)] = events[slot(i - 1)]
      i -= 1
    }
    events[slot(i)] = event
    count += 1
  }
}
