// blkparse's default text output (one line per record):
//   maj,min cpu seq sec.nsec pid action RWBS sector + nsectors [comm]
// e.g. `259,0    1        7     0.000056992     0  C  RA 2348060440 + 8 [0]`. Records are matched
// into requests exactly as the binary importer does (BlockRequestTracker), so a recording
// read from blktrace's binary files and from blkparse's text gives the same events.
// The statistics blkparse prints after the records (`CPU0 (259,0):`, `Total (259,0):`, with
// -s a `comm (pid)` block per process, their indented rows, `Throughput (R/W): ...`,
// `Events (259,0): N entries`, `Skips: ...`; blkparse.c show_device_and_cpu_stats) end the
// records; any other line after them is bad.

/// Imports blkparse's default text output.
struct BlkparseDecoder: ImportingDecoder {
  private var lines: LineScanner
  private var tracker = BlockRequestTracker()
  private var budget: BadRecordBudget
  /// The line where blkparse's closing statistics began, once they have.
  private var summaryLine: Int?
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
    while let line = try lines.next() {
      let f = Bytes.fields(line)
      if f.isEmpty { continue }
      if summaryLine == nil && Self.startsSummary(line) { summaryLine = lines.line }
      if let start = summaryLine {
        if !Self.isSummary(line) {
          try budget.skip(
            fail(
              "expected blkparse's statistics after the records (they began at line \(start)), found \"\(Bytes.string(UnsafeRawBufferPointer(rebasing: line.prefix(60))))\""
            ))
        }
        continue
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

  /// Whether `line` heads a block of blkparse's closing statistics: `CPU0 (259,0):`,
  /// `Total (259,0):`, a process's `comm (pid)` or `comm (pid, ...)`, or (when no CPU
  /// saw events) `Throughput (R/W): ...`.
  static func startsSummary(_ line: UnsafeRawBufferPointer) -> Bool {
    if Bytes.hasPrefix(line, "Throughput (R/W): ") { return true }
    if line.last == UInt8(ascii: ":"), let open = line.firstIndex(of: UInt8(ascii: " ")),
      line[open + 1] == UInt8(ascii: "("), line[line.count - 2] == UInt8(ascii: ")")
    {
      let name = UnsafeRawBufferPointer(rebasing: line[..<open])
      if Bytes.equals(name, "Total") { return true }
      if Bytes.hasPrefix(name, "CPU"),
        Bytes.uint(UnsafeRawBufferPointer(rebasing: name.dropFirst(3))) != nil
      {
        return true
      }
    }
    // `comm (pid)`, `comm (pid, ...)`: comm may hold spaces and parentheses.
    guard line.last == UInt8(ascii: ")"), !matches(line),
      let open = line.lastIndex(of: UInt8(ascii: "(")), open >= 2,
      line[open - 1] == UInt8(ascii: " ")
    else { return false }
    var inside = UnsafeRawBufferPointer(rebasing: line[(open + 1)..<(line.count - 1)])
    if Bytes.hasSuffix(inside, ", ...") {
      inside = UnsafeRawBufferPointer(rebasing: inside.dropLast(5))
    }
    return Bytes.uint(inside) != nil
  }

  /// Whether `line` belongs to blkparse's closing statistics: a heading, an indented row,
  /// `Events (259,0): N entries` or `Skips: ...`.
  static func isSummary(_ line: UnsafeRawBufferPointer) -> Bool {
    if line.isEmpty || line.first == 0x20 || line.first == 0x09 { return true }
    if startsSummary(line) || Bytes.hasPrefix(line, "Skips: ") { return true }
    return Bytes.hasPrefix(line, "Events (") && Bytes.hasSuffix(line, " entries")
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
    guard let pid = Bytes.uint(f[4]), pid <= UInt32.max else {
      throw fail("expected a process id, found \"\(Bytes.string(f[4]))\"")
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
        time: time, device: UInt32(major << 20 | minor), cpu: UInt32(cpu), pid: UInt32(pid),
        action: 0,
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
      if sector > BlockRequestTracker.maximumSector
        && BlockRequestTracker.usesSector(code.rawValue)
      {
        throw fail("sector \(sector) is out of range: its byte offset (x 512) passes 2^64")
      }
    }
    return BlockTraceRecord(
      time: time, device: UInt32(major << 20 | minor), cpu: UInt32(cpu), pid: UInt32(pid),
      action: code.rawValue,
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
