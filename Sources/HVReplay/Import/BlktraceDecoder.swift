// blktrace binary, version 7 (blktrace_api.h `struct blk_io_trace`, 48 bytes, then
// `pdu_len` bytes): u32 magic (0x65617400 | 7), u32 sequence, u64 time, u64 sector, u32 bytes,
// u32 action (category << 16 | code), u32 pid, u32 device, u32 cpu, u16 error, u16 pdu_len,
// all in the recorder's byte order (swapped when the magic reads backwards).

import HeapModule

/// Reads the records of one blktrace file, in its byte order.
struct BlktraceFile {
  static let magic: UInt32 = 0x6561_7400
  static let headerSize = 48

  let input: ByteInput
  let swapped: Bool
  private var position = 0
  private var end = 0
  /// The next record, or `nil` at the end of the file.
  private(set) var head: BlockTraceRecord?
  /// Byte offset of `head` in the file.
  private(set) var headOffset: UInt64 = 0
  /// A cut last record the file ended in, when cuts are tolerated (`--skip-bad`): the
  /// file ends before it, and the decoder counts it against the budget.
  var cut: HVReplayError?
  private let toleratesCut: Bool

  /// Whether `prefix` starts a blktrace file; `version` is the record version it names.
  static func sniff(_ prefix: UnsafeRawBufferPointer) -> (swapped: Bool, version: UInt8)? {
    guard prefix.count >= 4 else { return nil }
    let raw = prefix.loadUnaligned(as: UInt32.self)
    let le = UInt32(littleEndian: raw)
    let be = UInt32(bigEndian: raw)
    if le & 0xFFFF_FF00 == magic { return (UInt32(1).littleEndian != 1, UInt8(le & 0xFF)) }
    if be & 0xFFFF_FF00 == magic { return (UInt32(1).bigEndian != 1, UInt8(be & 0xFF)) }
    return nil
  }

  init(input: ByteInput, toleratesCut: Bool = false) throws(HVReplayError) {
    self.toleratesCut = toleratesCut
    self.input = input
    if input.end < 8 { try input.refill(from: 0) }
    let prefix = UnsafeRawBufferPointer(start: input.base, count: input.end)
    guard let (swapped, version) = Self.sniff(prefix) else {
      throw HVReplayError(
        .badData, file: input.name, location: .byteOffset(0),
        "expected the blktrace magic 0x654174xx at the start of the file")
    }
    guard version == 7 else {
      throw HVReplayError(
        .badData, file: input.name, location: .byteOffset(0),
        version == 8
          ? "blktrace version 8 records (64 bytes, since late 2025) are not supported yet; run `blkparse -i FILE -o trace.txt` and import the text with --from blkparse"
          : "blktrace record version \(version) is not supported; this hvreplay reads version 7")
    }
    self.swapped = swapped
    end = input.end
    try advance()
  }

  @inline(__always)
  private func u32(_ p: UnsafeRawPointer, _ o: Int) -> UInt32 {
    let v = p.loadUnaligned(fromByteOffset: o, as: UInt32.self)
    return swapped ? v.byteSwapped : v
  }

  @inline(__always)
  private func u64(_ p: UnsafeRawPointer, _ o: Int) -> UInt64 {
    let v = p.loadUnaligned(fromByteOffset: o, as: UInt64.self)
    return swapped ? v.byteSwapped : v
  }

  /// Reads the next record into ``head``.
  mutating func advance() throws(HVReplayError) {
    if end - position < Self.headerSize {
      try input.refill(from: position)
      position = 0
      end = input.end
      if end == 0 {
        head = nil
        return
      }
      if end < Self.headerSize {
        let e = HVReplayError(
          .badData, file: input.name, location: .byteOffset(input.windowOffset),
          "the file ends inside a record (\(end) of \(Self.headerSize) bytes); the file is truncated"
        )
        guard toleratesCut else { throw e }
        cut = e
        head = nil
        return
      }
    }
    let p = UnsafeRawPointer(input.base + position)
    headOffset = input.windowOffset + UInt64(position)
    let magic = u32(p, 0)
    guard magic & 0xFFFF_FF00 == Self.magic && magic & 0xFF == 7 else {
      throw HVReplayError(
        .badData, file: input.name, location: .byteOffset(headOffset),
        "expected a blktrace v7 record (magic 0x65617407), found 0x\(String(magic, radix: 16))")
    }
    let pduRaw = p.loadUnaligned(fromByteOffset: 46, as: UInt16.self)
    let pdu = Int(swapped ? pduRaw.byteSwapped : pduRaw)
    let action = u32(p, 28)
    head = BlockTraceRecord(
      time: u64(p, 8), device: u32(p, 36), cpu: u32(p, 40), pid: u32(p, 32),
      action: UInt16(action & 0xFFFF),
      category: BlockTraceRecord.Category(rawValue: UInt16(action >> 16)), sector: u64(p, 16),
      bytes: u32(p, 24))
    // Skip the record and its payload, which may run past the window.
    var skip = Self.headerSize + pdu
    while skip > end - position {
      skip -= end - position
      position = end
      try input.refill(from: position)
      position = 0
      end = input.end
      if end == 0 {
        let e = HVReplayError(
          .badData, file: input.name, location: .byteOffset(headOffset),
          "the file ends inside a record's \(pdu)-byte payload; the file is truncated")
        guard toleratesCut else { throw e }
        // The record's header is whole: it counts; the file ends with its payload.
        cut = e
        return
      }
    }
    position += skip
  }
}

/// Imports a blktrace recording: one or more per-CPU files merged by time in one pass.
///
/// At most ``maximumFiles`` files; each holds a read window (1 MiB) while it is merged.
struct BlktraceDecoder: ImportingDecoder {
  /// The most per-CPU files merged into one trace.
  static let maximumFiles = 1024

  /// The next record's time of one file, in merge order (ties: the file named first).
  private struct Head: Comparable {
    var time: UInt64
    var file: Int
    static func < (a: Head, b: Head) -> Bool { (a.time, a.file) < (b.time, b.file) }
  }

  private var files: [BlktraceFile]
  /// The files' next records by time, when there are more files than a scan suits.
  private var heads = Heap<Head>()
  private let usesHeap: Bool
  private var tracker = BlockRequestTracker()
  private var genesis: UInt64?
  private var lastFile = 0
  let metadata: TraceMetadata
  /// Cut last records skipped under `--skip-bad` (a file cut while being copied).
  private var budget: BadRecordBudget
  var skipped: UInt64 { budget.skipped }

  init(inputs: [ByteInput], skipBad: UInt64 = 0) throws(HVReplayError) {
    budget = BadRecordBudget(limit: skipBad)
    guard inputs.count <= Self.maximumFiles else {
      throw HVReplayError(
        .badData, file: inputs[0].name,
        "more than \(Self.maximumFiles) blktrace files in one recording; hvreplay merges at most \(Self.maximumFiles)"
      )
    }
    var files: [BlktraceFile] = []
    for input in inputs {
      var file = try BlktraceFile(input: input, toleratesCut: skipBad > 0)
      if let e = file.cut {
        try budget.skip(e)
        file.cut = nil
      }
      files.append(file)
    }
    self.files = files
    usesHeap = files.count > 8
    if usesHeap {
      for (i, f) in files.enumerated() {
        if let r = f.head { heads.insert(Head(time: r.time, file: i)) }
      }
    }
    let names = inputs.prefix(8).map(\.name).joined(separator: " ")
    metadata = TraceMetadata([
      ("imported-from", "blktrace"),
      ("files", inputs.count > 8 ? names + " ... (\(inputs.count) files)" : names),
    ])
  }

  var location: HVReplayError.Location { .byteOffset(files[lastFile].headOffset) }

  mutating func next() throws(HVReplayError) -> TraceEvent? {
    while true {
      // The earliest record across the files (each file is in time order).
      var best = -1
      if usesHeap {
        guard let head = heads.popMin() else { return nil }
        best = head.file
      } else {
        var bestTime = UInt64.max
        for i in files.indices {
          if let r = files[i].head, best < 0 || r.time < bestTime {
            best = i
            bestTime = r.time
          }
        }
        guard best >= 0 else { return nil }
      }
      lastFile = best
      var record = files[best].head!
      let offset = files[best].headOffset
      try files[best].advance()
      if let e = files[best].cut {
        try budget.skip(e)
        files[best].cut = nil
      }
      if usesHeap, let r = files[best].head { heads.insert(Head(time: r.time, file: best)) }
      if record.sector > BlockRequestTracker.maximumSector
        && BlockRequestTracker.usesSector(record.action) && !record.category.contains(.notify)
      {
        throw HVReplayError(
          .badData, file: files[best].input.name, location: .byteOffset(offset),
          "sector \(record.sector) is out of range: its byte offset (x 512) passes 2^64")
      }
      if genesis == nil { genesis = record.time }
      record.time = record.time >= genesis! ? record.time - genesis! : 0
      if let event = tracker.process(record) { return event }
    }
  }

  /// The completion time of the request last returned.
  var lastCompletion: UInt64 { tracker.lastCompletion }

  var notes: [String] {
    var n = tracker.notes
    if files.count > 1 { n.append("\(files.count) per-CPU files merged by time") }
    if let f = files.first, f.swapped { n.append("records in the other byte order, swapped") }
    if budget.skipped > 0 {
      n.append(
        "\(budget.skipped) file\(budget.skipped == 1 ? "" : "s") ended inside a record (cut while being copied?): the cut record was skipped (--skip-bad)"
      )
    }
    return n
  }
}
