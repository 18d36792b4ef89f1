// blkparse's default text output (one line per record):
//   maj,min cpu seq sec.nsec pid action RWBS sector + nsectors [comm]
// e.g. `259,0    1        7     0.000056992     0  C  RA 2348060440 + 8 [0]`. Records are matched
// into requests exactly as the binary importer does (BlockRequestTracker), so a recording
// read from blktrace's binary files and from blkparse's text gives the same events.
// Lines blkparse prints after the records (per-CPU and total statistics) end the import.

/// Imports blkparse's default text output.
struct BlkparseDecoder: ImportingDecoder {
  private var lines: LineScanner
  private var tracker = BlockRequestTracker()
  private var budget: BadRecordBudget
  private var finished = false
  let metadata: TraceMetadata
  var skipped: UInt64 { budget.skipped }

  init(input: ByteInput, skipBad: UInt64) {
    lines = LineScanner(input: input)
    budget = BadRecordBudget(limit: skipBad)
    metadata = TraceMetadata([("imported-from", "blkparse"), ("file", input.name)])
  }

  var location: HVReplayError.Location { .line(lines.line) }

  /// Whether `line` looks like a blkparse record line.
  static func matches(_ line: UnsafeRawBufferPointer) -> Bool {
    let f = Bytes.fields(line)
    guard f.count >= 7, let comma = f[0].firstIndex(of: UInt8(ascii: ",")) else { return false }
    return Bytes.uint(UnsafeRawBufferPointer(rebasing: f[0][..<comma])) != nil
      && Bytes.uint(f[1]) != nil && Bytes.secondsAsNanoseconds(f[3]) != nil
  }

  mutating func next() throws(HVReplayError) -> TraceEvent? {
    while !finished, let line = try lines.next() {
      let f = Bytes.fields(line)
      if f.isEmpty { continue }
      // The statistics blkparse prints after the records.
      if Bytes.hasPrefix(f[0], "CPU") || Bytes.hasPrefix(f[0], "Total") {
        finished = true
        break
      }
      let record: BlockTraceRecord
      do {
        record = try parse(f)
      } catch {
        try budget.skip(error)
        continue
      }
      if let event = tracker.process(record) { return event }
    }
    return nil
  }

  private func fail(_ message: String) -> HVReplayError {
    HVReplayError(.badData, file: lines.input.name, location: .line(lines.line), message)
  }

  private func parse(_ f: [UnsafeRawBufferPointer]) throws(HVReplayError) -> BlockTraceRecord {
    guard f.count >= 6 else {
      throw fail("expected `maj,min cpu seq seconds pid action ...`, found \(f.count) fields")
    }
    let dev = f[0]
    guard let comma = dev.firstIndex(of: UInt8(ascii: ",")),
      let major = Bytes.uint(UnsafeRawBufferPointer(rebasing: dev[..<comma])),
      let minor = Bytes.uint(UnsafeRawBufferPointer(rebasing: dev[(comma + 1)...])),
      major < 4096, minor < 1 << 20
    else { throw fail("expected a device `major,minor`, found \"\(Bytes.string(dev))\"") }
    guard let cpu = Bytes.uint(f[1]), cpu <= UInt32.max else {
      throw fail("expected a CPU number, found \"\(Bytes.string(f[1]))\"")
    }
    guard let time = Bytes.secondsAsNanoseconds(f[3]) else {
      throw fail("expected a time in seconds, found \"\(Bytes.string(f[3]))\"")
    }
    let code: BlockTraceRecord.Action?
    switch Bytes.string(f[5]) {
    case "Q": code = .queue
    case "M": code = .backMerge
    case "F": code = .frontMerge
    case "G": code = .getRequest
    case "S": code = .sleepRequest
    case "R": code = .requeue
    case "D": code = .issue
    case "C": code = .complete
    case "P": code = .plug
    case "U": code = .unplugIO
    case "UT": code = .unplugTimer
    case "I": code = .insert
    case "X": code = .split
    case "B": code = .bounce
    case "A": code = .remap
    default: code = nil  // messages (m) and others carry no request
    }
    guard let code else {
      return BlockTraceRecord(
        time: time, device: UInt32(major << 20 | minor), cpu: UInt32(cpu), action: 0,
        category: [], sector: 0, bytes: 0)
    }
    var category: BlockTraceRecord.Category = []
    var sector: UInt64 = 0
    var bytes: UInt32 = 0
    if f.count > 6 {
      // RWBS: an optional leading F (preflush), then R, W, D or N, then F (FUA), A, S, M.
      for (i, c) in f[6].enumerated() {
        switch c {
        case UInt8(ascii: "F"): category.insert(i == 0 ? .flush : .fua)
        case UInt8(ascii: "R"): category.insert(.read)
        case UInt8(ascii: "W"): category.insert(.write)
        case UInt8(ascii: "D"): category.insert(.discard)
        case UInt8(ascii: "S"): category.insert(.sync)
        default: break
        }
      }
      if f.count > 9 && Bytes.equals(f[8], "+") {
        guard let s = Bytes.uint(f[7]), let n = Bytes.uint(f[9]), n < 1 << 23 else {
          throw fail(
            "expected `sector + sectors`, found \"\(Bytes.string(f[7])) + \(Bytes.string(f[9]))\"")
        }
        sector = s
        bytes = UInt32(n << 9)
      } else if code == .queue || code == .issue || code == .complete {
        if f.count > 7, let s = Bytes.uint(f[7]) { sector = s }
      }
    }
    return BlockTraceRecord(
      time: time, device: UInt32(major << 20 | minor), cpu: UInt32(cpu), action: code.rawValue,
      category: category, sector: sector, bytes: bytes)
  }

  /// The completion time of the request last returned.
  var lastCompletion: UInt64 { tracker.lastCompletion }

  var notes: [String] {
    var n = tracker.notes
    if budget.skipped > 0 { n.append("\(budget.skipped) unreadable lines skipped (--skip-bad)") }
    return n
  }
}
