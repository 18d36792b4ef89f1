// Public block-trace CSVs (docs/REFERENCES.md: [MSR08], [SYSTOR17], [Alibaba20], [Tencent20]):
// - MSR Cambridge: Timestamp,Hostname,DiskNumber,Type,Offset,Size,ResponseTime; the timestamp
//   and response time in Windows filetime units (100 ns).
// - SYSTOR '17: Timestamp,Response,IOType,LUN,Offset,Size; seconds (decimal), R or W.
// - Alibaba 2020: device_id,opcode,offset,length,timestamp (microseconds); R or W.
// - Tencent CBS: timestamp (seconds),offset (sectors),size (sectors),io_type (0 read, 1 write),volume_id.
// - libCacheSim's CSV of the CloudPhysics traces [libCacheSim]: header version,time,op,size,lbn;
//   time in microseconds and op the SCSI command in hex, as in the vscsi trace it was
//   converted from (28 READ(10), 2a WRITE(10), ...); size in bytes; lbn in 512-byte blocks.
// time_ns is relative to the first record; a record earlier than the first is bad (the
// reorder window puts local disorder after it in order).

/// Imports the MSR, SYSTOR, Alibaba and Tencent block-trace CSVs.
struct BlockCSVDecoder: ImportingDecoder {
  enum Dialect {
    case msr, systor, alibaba, tencent, libcachesim
  }

  private let dialect: Dialect
  private var lines: LineScanner
  private var budget: BadRecordBudget
  private var vms = VMAssigner()
  private var origin: UInt64?
  private var events: UInt64 = 0
  /// libCacheSim: SCSI commands other than reads, writes, cache syncs and unmaps, skipped.
  private var otherCommands: UInt64 = 0
  let metadata: TraceMetadata
  var skipped: UInt64 { budget.skipped }

  init(input: ByteInput, dialect: Dialect, skipBad: UInt64) {
    self.dialect = dialect
    lines = LineScanner(input: input)
    budget = BadRecordBudget(limit: skipBad)
    metadata = TraceMetadata([("imported-from", "\(dialect)"), ("file", input.name)])
  }

  var location: HVReplayError.Location { .line(lines.line) }

  /// The dialect a first data line suggests, or `nil`.
  static func dialect(of line: UnsafeRawBufferPointer) -> Dialect? {
    if Bytes.hasPrefix(line, "Timestamp,Response,IOType,LUN,Offset,Size") { return .systor }
    if Bytes.equals(Bytes.trim(line), "version,time,op,size,lbn")
      || Bytes.equals(Bytes.trim(line), "\u{FEFF}version,time,op,size,lbn")
    {
      return .libcachesim
    }
    let f = Bytes.fields(line, separator: UInt8(ascii: ","))
    if f.count == 7, Bytes.uint(f[0]) != nil,
      Bytes.equals(f[3], "Read") || Bytes.equals(f[3], "Write")
    {
      return .msr
    }
    if f.count == 5, Bytes.equals(f[1], "R") || Bytes.equals(f[1], "W"), Bytes.uint(f[4]) != nil {
      return .alibaba
    }
    if f.count == 5, f.allSatisfy({ Bytes.uint($0) != nil }),
      Bytes.equals(f[3], "0") || Bytes.equals(f[3], "1")
    {
      return .tencent
    }
    if f.count == 6, Bytes.secondsAsNanoseconds(f[0]) != nil,
      Bytes.equals(f[2], "R") || Bytes.equals(f[2], "W")
    {
      return .systor
    }
    return nil
  }

  private func fail(_ message: String) -> HVReplayError {
    HVReplayError(.badData, file: lines.input.name, location: .line(lines.line), message)
  }

  mutating func next() throws(HVReplayError) -> TraceEvent? {
    while let line = try lines.next() {
      if line.isEmpty || line.first == UInt8(ascii: "#") { continue }
      if lines.line == 1 && dialect == .systor && Bytes.hasPrefix(line, "Timestamp,") { continue }
      if lines.line == 1 && dialect == .libcachesim
        && (Bytes.hasPrefix(line, "version,") || Bytes.hasPrefix(line, "\u{FEFF}version,"))
      {
        continue
      }
      do {
        guard let event = try parse(Bytes.fields(line, separator: UInt8(ascii: ","))) else {
          otherCommands += 1
          continue
        }
        return event
      } catch {
        try budget.skip(error)
      }
    }
    return nil
  }

  private func number(_ f: UnsafeRawBufferPointer, _ column: String) throws(HVReplayError) -> UInt64
  {
    guard let v = Bytes.uint(f) else {
      throw fail(
        "column \"\(column)\": expected an unsigned integer, found \"\(Bytes.string(f).prefix(40))\""
      )
    }
    return v
  }

  /// `value * factor`, or a bad-record error naming the column.
  private func scaled(_ value: UInt64, _ factor: UInt64, _ column: String) throws(HVReplayError)
    -> UInt64
  {
    guard let v = value.multiplied(checked: factor) else {
      throw fail("column \"\(column)\": \(value) is out of range")
    }
    return v
  }

  private func seconds(_ f: UnsafeRawBufferPointer, _ column: String) throws(HVReplayError)
    -> UInt64
  {
    guard let v = Bytes.secondsAsNanoseconds(f) else {
      throw fail("column \"\(column)\": expected seconds, found \"\(Bytes.string(f).prefix(40))\"")
    }
    return v
  }

  private func readWrite(_ f: UnsafeRawBufferPointer, _ column: String, read: String, write: String)
    throws(HVReplayError) -> EventOp
  {
    let s = Bytes.string(f)
    if s == read { return .read }
    if s == write { return .write }
    throw fail("column \"\(column)\": expected \(read) or \(write), found \"\(s.prefix(20))\"")
  }

  /// The record's event, or nil for a command the model does not replay (libCacheSim).
  private mutating func parse(_ f: [UnsafeRawBufferPointer]) throws(HVReplayError) -> TraceEvent? {
    let time: UInt64
    let source: String
    let op: EventOp
    var offset: UInt64
    var bytes: UInt64
    var service: UInt64 = 0
    switch dialect {
    case .msr:
      guard f.count == 7 else {
        throw fail(
          "expected 7 columns (Timestamp,Hostname,DiskNumber,Type,Offset,Size,ResponseTime), found \(f.count)"
        )
      }
      time = try scaled(number(f[0], "Timestamp"), 100, "Timestamp")
      source = "\(Bytes.string(f[1]))/\(try number(f[2], "DiskNumber"))"
      op = try readWrite(f[3], "Type", read: "Read", write: "Write")
      offset = try number(f[4], "Offset")
      bytes = try number(f[5], "Size")
      service = try scaled(number(f[6], "ResponseTime"), 100, "ResponseTime")
    case .systor:
      guard f.count == 6 else {
        throw fail(
          "expected 6 columns (Timestamp,Response,IOType,LUN,Offset,Size), found \(f.count)")
      }
      time = try seconds(f[0], "Timestamp")
      service = try seconds(f[1], "Response")
      op = try readWrite(f[2], "IOType", read: "R", write: "W")
      source = "LUN \(try number(f[3], "LUN"))"
      offset = try number(f[4], "Offset")
      bytes = try number(f[5], "Size")
    case .alibaba:
      guard f.count == 5 else {
        throw fail(
          "expected 5 columns (device_id,opcode,offset,length,timestamp), found \(f.count)")
      }
      source = "device \(try number(f[0], "device_id"))"
      op = try readWrite(f[1], "opcode", read: "R", write: "W")
      offset = try number(f[2], "offset")
      bytes = try number(f[3], "length")
      time = try scaled(number(f[4], "timestamp"), 1000, "timestamp")
    case .tencent:
      guard f.count == 5 else {
        throw fail("expected 5 columns (timestamp,offset,size,io_type,volume_id), found \(f.count)")
      }
      time = try scaled(number(f[0], "timestamp"), 1_000_000_000, "timestamp")
      offset = try scaled(number(f[1], "offset"), 512, "offset")
      bytes = try scaled(number(f[2], "size"), 512, "size")
      let t = try number(f[3], "io_type")
      guard t <= 1 else {
        throw fail("column \"io_type\": expected 0 (read) or 1 (write), found \(t)")
      }
      op = t == 0 ? .read : .write
      source = "volume \(try number(f[4], "volume_id"))"
    case .libcachesim:
      guard f.count == 5 else {
        throw fail("expected 5 columns (version,time,op,size,lbn), found \(f.count)")
      }
      _ = try number(f[0], "version")
      time = try scaled(number(f[1], "time"), 1000, "time")
      let code = Bytes.string(f[2])
      guard let cmd = UInt8(code, radix: 16) else {
        throw fail(
          "column \"op\": expected a SCSI command in hex (28, 2a), found \"\(code.prefix(20))\"")
      }
      guard let o = VSCSIDecoder.op(cmd) else { return nil }
      op = o
      bytes = o.hasNoPayload ? 0 : try number(f[3], "size")
      offset = o.hasNoPayload ? 0 : try scaled(number(f[4], "lbn"), 512, "lbn")
      source = "trace"
    }
    guard bytes <= UInt64(UInt32.max) else {
      throw fail("size \(bytes) is out of range (at most 4294967295 bytes)")
    }
    if origin == nil { origin = time }
    guard time >= origin! else {
      throw fail("the timestamp is earlier than the first record's; sort the file by time")
    }
    guard let vm = vms.vm(for: source) else { throw fail(vms.refusal("sources")) }
    events += 1
    return TraceEvent(
      timeNs: time - origin!, vm: vm, op: op, offset: offset, bytes: UInt32(bytes),
      serviceNs: service)
  }

  var notes: [String] {
    var n = ["time_ns is relative to the first record"]
    switch dialect {
    case .msr:
      n.append("one VM per host and disk (\(vms.describe("")))")
      n.append("service_ns = ResponseTime (100 ns units), which includes queueing in the host")
    case .systor:
      n.append("one VM per LUN (\(vms.describe("")))")
      n.append("service_ns = Response, which includes queueing in the host")
    case .alibaba:
      n.append("one VM per device (\(vms.describe("")))")
      n.append("no service time: service_ns = 0 (the model's default)")
    case .tencent:
      n.append("one VM per volume (\(vms.describe("")))")
      n.append("timestamps in whole seconds; no service time: service_ns = 0 (the model's default)")
    case .libcachesim:
      n.append("one VM (the file names no volume); time in microseconds, offset = lbn x 512")
      n.append("no service time: service_ns = 0 (the model's default)")
      if otherCommands > 0 {
        let records = otherCommands == 1 ? "record" : "records"
        n.append("\(otherCommands) \(records) of other SCSI commands skipped (not replayed)")
      }
    }
    n.append("no vCPU or device: vcpu 0, device 0")
    if budget.skipped > 0 { n.append("\(budget.skipped) unreadable lines skipped (--skip-bad)") }
    return n
  }
}
