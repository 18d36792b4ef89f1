import HVReplay

/// A trace as a reader returned it: its metadata and every event, in order.
public struct DecodedTrace: Equatable {
  public var metadata: TraceMetadata
  public var events: [TraceEvent]
}

/// The most events a target reads from one input. A few kilobytes of zstd or gzip can expand
/// to millions of events; past this the target checks the prefix it read and moves on, so
/// one execution stays well under a second.
public let maximumEvents = 200_000

/// Reads the trace at `path` with `options` through a read window of `window` bytes, at most
/// ``maximumEvents`` events.
public func readTrace(
  _ path: String, window: Int = 1 << 17, _ options: TraceReadOptions = TraceReadOptions()
) throws(HVReplayError) -> DecodedTrace {
  var reader = try TraceReader(input: ByteInput(path: path, capacity: window), options: options)
  var events: [TraceEvent] = []
  while events.count < maximumEvents, let event = try reader.next() { events.append(event) }
  _ = reader.importNotes  // computed on demand; must not trap either
  return DecodedTrace(metadata: reader.metadata, events: events)
}

/// The read window for an input of `count` bytes: 256, 512, 1024 or 2048 bytes by the
/// length, so that records and lines cross window refills at many places (the commands
/// read through 1 MiB), and the same input always gets the same window.
public func window(forInputOf count: Int) -> Int { 256 << (count % 4) }

/// Stores the fuzzer's input, reads it as a trace with `options` through a small window
/// (``window(forInputOf:)``), and checks the invariants:
///
/// - a failure is one `HVReplayError` of category `.badData` (exit code 65) naming the file;
/// - every event obeys the event rules (`TraceEvent.violation` is `nil`) and events come in
///   time order;
/// - the events and metadata, written as CSV and as native `.hvt` by `TraceWriter` and read
///   back, are the same events and metadata;
/// - read again with a reorder window of one event, the trace gives the same events or stops
///   with a data error (events out of place by more than the window).
///
/// Traps (so libFuzzer records the input) when one does not hold.
///
/// - Returns: whether the input read as a trace (`false` after a data error).
@discardableResult
public func fuzzTrace(_ start: UnsafeRawPointer, _ count: Int, _ options: TraceReadOptions)
  -> Bool
{
  FuzzFile.store(start, count)
  let trace: DecodedTrace
  do {
    trace = try readTrace(FuzzFile.path, window: window(forInputOf: count), options)
  } catch {
    checkDataError(error, file: FuzzFile.path)
    return false
  }
  var last: UInt64 = 0
  for (i, event) in trace.events.enumerated() {
    if let violation = event.violation { fatalError("event \(i) \(event): \(violation)") }
    if event.timeNs < last { fatalError("event \(i) at \(event.timeNs) ns is before \(last) ns") }
    last = event.timeNs
  }
  checkRoundTrip(trace)

  var narrow = options
  narrow.reorderWindow = 1
  do {
    let again = try readTrace(FuzzFile.path, window: window(forInputOf: count), narrow)
    if again != trace {
      fatalError("a reorder window of 1 gave other events than the default window")
    }
  } catch {
    checkDataError(error, file: FuzzFile.path)
  }
  return true
}

/// Writes `trace` as CSV and as `.hvt` and traps unless each reads back equal.
public func checkRoundTrip(_ trace: DecodedTrace) {
  for format in [TraceFormat.csv, .hvt] {
    let path = "\(FuzzScratch.directory)/roundtrip.\(format)"
    do {
      var writer = try TraceWriter(
        path: path, type: TraceFileType(format: format, compression: .none),
        metadata: trace.metadata)
      for event in trace.events { try writer.write(event) }
      try writer.finish()
    } catch {
      fatalError("writing \(format) failed: \(error)")
    }
    let back: DecodedTrace
    do {
      back = try readTrace(path)
    } catch {
      fatalError("the \(format) written from a decoded trace does not read back: \(error)")
    }
    if back.metadata != trace.metadata {
      fatalError(
        "\(format) round trip changed the metadata: \(trace.metadata.entries) -> \(back.metadata.entries)"
      )
    }
    if back.events.count != trace.events.count {
      fatalError(
        "\(format) round trip changed the event count: \(trace.events.count) -> \(back.events.count)"
      )
    }
    for (i, (a, b)) in zip(trace.events, back.events).enumerated() where a != b {
      fatalError("\(format) round trip changed event \(i): \(a) -> \(b)")
    }
  }
}

/// Traps unless `error` is the clear data error bad input must give: an `HVReplayError` of
/// category `.badData` (exit code 65) naming `file`, with a message.
public func checkDataError(_ error: any Error, file: String) {
  guard let error = error as? HVReplayError else {
    fatalError("not an HVReplayError: \(error)")
  }
  guard error.category == .badData, error.exitCode == 65 else {
    fatalError("bad input gave exit code \(error.exitCode), not 65: \(error)")
  }
  guard error.file == file else {
    fatalError("the error does not name the input file \(file): \(error)")
  }
  guard !error.message.isEmpty else { fatalError("the error has no message: \(error)") }
}

/// ``fuzzTrace(_:_:_:)`` of the input read as `format` (`--from`), and where that fails and
/// `retryWithSkipBad`, again with `--skip-bad 1000`, which takes the importer's other path
/// on bad records.
public func fuzzFormat(
  _ start: UnsafeRawPointer, _ count: Int, _ format: TraceFormat, retryWithSkipBad: Bool
) {
  var options = TraceReadOptions()
  options.format = format
  if !fuzzTrace(start, count, options) && retryWithSkipBad {
    options.skipBad = 1000
    fuzzTrace(start, count, options)
  }
}
