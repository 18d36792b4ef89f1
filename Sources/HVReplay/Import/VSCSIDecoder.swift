// VMware vscsi traces (CloudPhysics; the record layouts libCacheSim's reader uses), little-endian:
//   v1, 32 bytes: u32 sn, u32 len, u32 nSG, u16 cmd, u16 ver, u64 lbn, u64 ts
//   v2, 40 bytes: u16 cmd, u16 ver, u32 sn, u32 len, u32 nSG, u64 lbn, u64 ts, u64 rt
// ver >> 8 is the version; ts and rt are microseconds, lbn is a 512-byte block number, len
// bytes, cmd the SCSI opcode.

/// Imports a vscsi trace, version 1 or 2.
struct VSCSIDecoder: ImportingDecoder {
  private let input: ByteInput
  private let version: Int
  private let recordSize: Int
  private var position = 0
  private var end: Int
  private var origin: UInt64?
  private var budget: BadRecordBudget
  private var otherCommands: UInt64 = 0
  private var records: UInt64 = 0
  let metadata: TraceMetadata
  var skipped: UInt64 { budget.skipped }

  /// The version the first two records name (1 or 2), or `nil`.
  static func sniff(_ p: UnsafeRawBufferPointer) -> Int? {
    func u16(_ o: Int) -> UInt16 {
      UInt16(littleEndian: p.loadUnaligned(fromByteOffset: o, as: UInt16.self))
    }
    if p.count >= 80 && u16(2) >> 8 == 2 && u16(42) >> 8 == 2 { return 2 }
    if p.count >= 64 && u16(14) >> 8 == 1 && u16(46) >> 8 == 1 { return 1 }
    return nil
  }

  init(input: ByteInput, skipBad: UInt64) throws(HVReplayError) {
    self.input = input
    if input.end < 80 { try input.refill(from: 0) }
    guard let v = Self.sniff(UnsafeRawBufferPointer(start: input.base, count: input.end)) else {
      throw HVReplayError(
        .badData, file: input.name, location: .byteOffset(0),
        "expected vscsi records (version 1 or 2 in the `ver` field of the first two records)")
    }
    version = v
    recordSize = v == 1 ? 32 : 40
    end = input.end
    budget = BadRecordBudget(limit: skipBad)
    metadata = TraceMetadata([("imported-from", "vscsi v\(v)"), ("file", input.name)])
  }

  var location: HVReplayError.Location {
    .byteOffset(input.windowOffset + UInt64(max(position - recordSize, 0)))
  }

  /// The op of a SCSI command, or `nil` for one that moves no data the model knows.
  static func op(_ cmd: UInt8) -> EventOp? {
    switch cmd {
    case 0x08, 0x28, 0xA8, 0x88: .read  // READ(6), (10), (12), (16)
    case 0x0A, 0x2A, 0xAA, 0x8A: .write  // WRITE(6), (10), (12), (16)
    case 0x35, 0x91: .flush  // SYNCHRONIZE CACHE(10), (16)
    case 0x42: .discard  // UNMAP
    default: nil
    }
  }

  mutating func next() throws(HVReplayError) -> TraceEvent? {
    while true {
      if end - position < recordSize {
        try input.refill(from: position)
        position = 0
        end = input.end
        if end == 0 { return nil }
        if end < recordSize {
          // A cut last record (a file cut while being copied) counts against --skip-bad.
          try budget.skip(
            HVReplayError(
              .badData, file: input.name, location: .byteOffset(input.windowOffset),
              "the file ends inside a record (\(end) of \(recordSize) bytes); the file is truncated"
            ))
          position = end
          continue
        }
      }
      let p = UnsafeRawPointer(input.base + position)
      position += recordSize
      records += 1
      func u16(_ o: Int) -> UInt16 {
        UInt16(littleEndian: p.loadUnaligned(fromByteOffset: o, as: UInt16.self))
      }
      func u32(_ o: Int) -> UInt32 {
        UInt32(littleEndian: p.loadUnaligned(fromByteOffset: o, as: UInt32.self))
      }
      func u64(_ o: Int) -> UInt64 {
        UInt64(littleEndian: p.loadUnaligned(fromByteOffset: o, as: UInt64.self))
      }
      let cmd = version == 1 ? u16(12) : u16(0)
      let ver = version == 1 ? u16(14) : u16(2)
      let length = version == 1 ? u32(4) : u32(8)
      let lbn = u64(16)
      let ts = u64(24)
      let rt = version == 2 ? u64(32) : 0
      guard Int(ver >> 8) == version else {
        try budget.skip(
          HVReplayError(
            .badData, file: input.name, location: location,
            "expected a version \(version) record (ver 0x\(String(version, radix: 16))xx), found ver 0x\(String(ver, radix: 16))"
          ))
        continue
      }
      guard let op = Self.op(UInt8(truncatingIfNeeded: cmd)) else {
        otherCommands += 1
        continue
      }
      if origin == nil { origin = ts }
      guard ts >= origin! else {
        try budget.skip(
          HVReplayError(
            .badData, file: input.name, location: location,
            "the timestamp is earlier than the first record's; the records are out of order"))
        continue
      }
      let noData = op.hasNoPayload
      guard let time = (ts - origin!).multiplied(checked: 1000),
        let service = rt.multiplied(checked: 1000),
        let offset = lbn.multiplied(checked: 512)
      else {
        try budget.skip(
          HVReplayError(
            .badData, file: input.name, location: location,
            "a timestamp, response time or block number is out of range"))
        continue
      }
      return TraceEvent(
        timeNs: time, vm: 1, op: op, offset: noData ? 0 : offset,
        bytes: noData ? 0 : length, serviceNs: service)
    }
  }

  var notes: [String] {
    var n = [
      "vscsi version \(version): one virtual disk, so one VM (vm 1), vcpu 0, device 0",
      "time_ns relative to the first record; offset = lbn x 512",
      version == 2
        ? "service_ns = rt (the recorded response time)"
        : "version 1 records no response time: service_ns = 0 (the model's default)",
    ]
    if otherCommands > 0 {
      n.append(
        "\(otherCommands) other SCSI commands (not reads, writes, flushes or unmaps) left out")
    }
    if budget.skipped > 0 { n.append("\(budget.skipped) unreadable records skipped (--skip-bad)") }
    return n
  }
}
