import DequeModule
import HeapModule

/// Reads a trace of any supported format and compression, in time order, streaming.
///
/// The format is decided by content: zstd by its frame magic, the native format
/// by its magic, otherwise CSV. Local disorder of up to ``reorderWindow`` events
/// is fixed; an event out of order by more stops the read with an error naming it.
public struct TraceReader {
  /// The default number of events a reader holds to fix local disorder.
  public static let defaultReorderWindow = 10_000

  /// The underlying byte stream (file name, compression, bytes read); the first file's
  /// when a recording spans several.
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
  private var imported: (any ImportingDecoder)?
  private var pending = ReorderBuffer()
  private var lastEmitted: UInt64 = 0
  private var sourceDone = false

  /// Opens the trace at `path` (`-` for standard input).
  ///
  /// - Throws: ``HVReplayError``: `.missingInput` when it cannot be opened,
  ///   `.badData` when its header is wrong.
  public init(path: String, reorderWindow: Int = Self.defaultReorderWindow) throws(HVReplayError) {
    var options = TraceReadOptions()
    options.reorderWindow = reorderWindow
    try self.init(paths: [path], options: options)
  }

  /// Reads a trace from an opened byte stream.
  public init(input: ByteInput, reorderWindow: Int = Self.defaultReorderWindow)
    throws(HVReplayError)
  {
    var options = TraceReadOptions()
    options.reorderWindow = reorderWindow
    try self.init(inputs: [input], options: options)
  }

  /// Opens a trace made of one file, or of several files of one recording (blktrace's
  /// per-CPU files), in the format `options.format` names or the content shows.
  public init(paths: [String], options: TraceReadOptions) throws(HVReplayError) {
    var inputs: [ByteInput] = []
    for path in TraceReader.expand(paths) { inputs.append(try ByteInput(path: path)) }
    try self.init(inputs: inputs, options: options)
  }

  init(inputs: [ByteInput], options: TraceReadOptions) throws(HVReplayError) {
    guard let input = inputs.first else { throw HVReplayError(.usage, "name a trace file") }
    self.input = input
    reorderWindow = max(0, options.reorderWindow)
    while input.end < min(4096, input.capacity) && !input.atEnd { try input.refill(from: 0) }
    if input.end == 0 {
      throw HVReplayError(
        .badData, file: input.name,
        "the file holds no data (an empty \(input.compression == .none ? "file" : "\(input.compression) stream")); expected a trace"
      )
    }
    let format: TraceFormat
    if let chosen = options.format ?? (options.columns != nil ? .columns : nil) {
      format = chosen
    } else {
      format = try Self.detect(input)
    }
    if inputs.count > 1 && format != .blktrace {
      throw HVReplayError(
        .usage,
        "several files make one trace only for blktrace's per-CPU files; \(input.name) is \(format)"
      )
    }
    self.format = format
    switch format {
    case .hvt:
      let decoder = try NativeTraceDecoder(input: input)
      metadata = decoder.metadata
      native = decoder
    case .csv:
      let decoder = try CSVTraceDecoder(input: input)
      metadata = decoder.metadata
      csv = decoder
    default:
      let decoder = try Self.importer(format, inputs: inputs, options: options)
      metadata = decoder.metadata
      imported = decoder
    }
  }

  /// How the importer filled the fields its format lacks, and what it counted; empty for
  /// hvreplay's own formats.
  public var importNotes: [String] { imported?.notes ?? [] }

  /// Bad records skipped under `--skip-bad`.
  public var skippedRecords: UInt64 { imported?.skipped ?? 0 }

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
      if event.timeNs < lastEmitted { throw outOfOrder(event) }
      if !pending.append(event) { reorderedCount &+= 1 }
    }
    guard pending.count > 0 else { return nil }
    let event = pending.removeFirst()
    lastEmitted = event.timeNs
    return event
  }

  @inline(__always)
  private mutating func decode() throws(HVReplayError) -> TraceEvent? {
    if native != nil { return try native!.next() }
    if csv != nil { return try csv!.next() }
    return try imported!.next()
  }

  private func outOfOrder(_ event: TraceEvent) -> HVReplayError {
    let location = native?.location ?? csv?.location ?? imported?.location ?? .none
    return HVReplayError(
      .badData, file: input.name, location: location,
      "time_ns \(event.timeNs) is earlier than time_ns \(lastEmitted) of an event already read; events must be in time order, and this one is out of place by more than the reorder window of \(reorderWindow) events (raise it with --reorder-window)"
    )
  }
}

/// Events held back to fix local disorder, handed out in time order (equal times in the
/// order they were read).
///
/// Events in time order, the usual case, queue in a deque; an event earlier than the last
/// one queued goes to a heap instead. The earliest event is the earlier of the two fronts.
/// Storage grows with the events held, never beyond the reorder window.
/// - Complexity: O(1) for an event in order, O(log n) for one out of order.
struct ReorderBuffer {
  private var inOrder = Deque<SequencedEvent>()
  private var disordered = Heap<SequencedEvent>()
  private var nextSequence: UInt64 = 0
  /// The latest time of any event held so far.
  private var latest: UInt64 = 0

  var count: Int { inOrder.count + disordered.count }

  /// Holds `event`; returns false when it came earlier than an event already held.
  @inline(__always)
  mutating func append(_ event: TraceEvent) -> Bool {
    let held = SequencedEvent(event: event, sequence: nextSequence)
    nextSequence &+= 1
    if event.timeNs < latest {
      disordered.insert(held)
      return false
    }
    latest = event.timeNs
    inOrder.append(held)
    return true
  }

  /// Removes and returns the earliest event held; the buffer must not be empty.
  @inline(__always)
  mutating func removeFirst() -> TraceEvent {
    if let early = disordered.min, inOrder.first.map({ early < $0 }) ?? true {
      return disordered.removeMin().event
    }
    return inOrder.removeFirst().event
  }
}
