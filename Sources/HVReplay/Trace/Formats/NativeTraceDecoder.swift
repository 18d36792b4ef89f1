/// Reads events from a native binary trace (`.hvt`, version 1), streaming.
struct NativeTraceDecoder: TraceDecoder {
  private let input: ByteInput
  private let base: UnsafeMutableRawPointer
  private var position: Int
  private var end: Int
  /// The header's metadata.
  let metadata: TraceMetadata
  /// Event records read so far.
  private(set) var eventCount: UInt64 = 0
  private var finished = false

  /// Whether `prefix` starts a native trace.
  static func matches(_ prefix: UnsafeRawBufferPointer) -> Bool {
    prefix.starts(with: NativeTraceLayout.magic)
  }

  /// Reads and checks the header.
  init(input: ByteInput) throws(HVReplayError) {
    self.input = input
    base = input.base
    if input.end < NativeTraceLayout.fixedHeaderSize { try input.refill(from: 0) }
    func fail(_ offset: Int, _ message: String) -> HVReplayError {
      HVReplayError(.badData, file: input.name, location: .byteOffset(UInt64(offset)), message)
    }
    guard input.end >= NativeTraceLayout.fixedHeaderSize else {
      throw fail(input.end, "the file ends inside the 16-byte header of a native trace")
    }
    let p = UnsafeRawPointer(input.base)
    guard Self.matches(UnsafeRawBufferPointer(start: p, count: 8)) else {
      throw fail(0, "expected the native trace magic 89 48 56 54 0D 0A 1A 0A")
    }
    let version = UInt16(littleEndian: p.loadUnaligned(fromByteOffset: 8, as: UInt16.self))
    guard version == NativeTraceLayout.version else {
      throw fail(
        8,
        "native trace format version \(version) is not supported; this hvreplay reads version \(NativeTraceLayout.version)"
      )
    }
    let recordSize = UInt16(littleEndian: p.loadUnaligned(fromByteOffset: 10, as: UInt16.self))
    guard Int(recordSize) == NativeTraceLayout.recordSize else {
      throw fail(
        10, "expected a record size of \(NativeTraceLayout.recordSize) bytes, found \(recordSize)")
    }
    let metadataLength = Int(
      UInt32(littleEndian: p.loadUnaligned(fromByteOffset: 12, as: UInt32.self)))
    guard metadataLength <= NativeTraceLayout.maximumMetadataSize else {
      throw fail(
        12,
        "metadata length \(metadataLength) is larger than the \(NativeTraceLayout.maximumMetadataSize) bytes allowed"
      )
    }
    let headerSize = NativeTraceLayout.headerSize(metadataLength: metadataLength)
    guard headerSize <= input.capacity else {
      throw fail(12, "the header (\(headerSize) bytes) is larger than the read window")
    }
    while input.end < headerSize && !input.atEnd { try input.refill(from: 0) }
    guard input.end >= headerSize else {
      throw fail(input.end, "the file ends inside the header (\(headerSize) bytes expected)")
    }
    let metadataBytes = UnsafeRawBufferPointer(
      start: p + NativeTraceLayout.fixedHeaderSize, count: metadataLength)
    guard let text = String(validating: metadataBytes, as: UTF8.self) else {
      throw fail(NativeTraceLayout.fixedHeaderSize, "the header's metadata is not valid UTF-8")
    }
    metadata = TraceMetadata(text: text)
    position = headerSize
    end = input.end
  }

  var location: HVReplayError.Location {
    .byteOffset(input.windowOffset + UInt64(position - NativeTraceLayout.recordSize))
  }

  @inline(__always)
  mutating func next() throws(HVReplayError) -> TraceEvent? {
    if end - position < NativeTraceLayout.recordSize {
      if finished { return nil }
      try refill()
    }
    let p = UnsafeRawPointer(base + position)
    position &+= NativeTraceLayout.recordSize
    let kind = p.load(fromByteOffset: NativeTraceLayout.kindOffset, as: UInt8.self)
    let opCode = p.load(fromByteOffset: NativeTraceLayout.opOffset, as: UInt8.self)
    guard let op = EventOp(rawValue: opCode), op.kind.rawValue == kind else {
      return try finish(kind: kind, opCode: opCode, record: p)
    }
    let event = TraceEvent(
      timeNs: UInt64(
        littleEndian: p.loadUnaligned(fromByteOffset: NativeTraceLayout.timeOffset, as: UInt64.self)
      ),
      vm: UInt16(
        littleEndian: p.loadUnaligned(fromByteOffset: NativeTraceLayout.vmOffset, as: UInt16.self)),
      vcpu: UInt16(
        littleEndian: p.loadUnaligned(
          fromByteOffset: NativeTraceLayout.vcpuOffset, as: UInt16.self)),
      op: op,
      device: UInt16(
        littleEndian: p.loadUnaligned(
          fromByteOffset: NativeTraceLayout.deviceOffset, as: UInt16.self)),
      offset: UInt64(
        littleEndian: p.loadUnaligned(
          fromByteOffset: NativeTraceLayout.offsetOffset, as: UInt64.self)),
      bytes: UInt32(
        littleEndian: p.loadUnaligned(
          fromByteOffset: NativeTraceLayout.bytesOffset, as: UInt32.self)),
      serviceNs: UInt64(
        littleEndian: p.loadUnaligned(
          fromByteOffset: NativeTraceLayout.serviceOffset, as: UInt64.self)))
    if (op.hasNoPayload && event.bytes != 0) || (kind != 0 && event.offset != 0) {
      throw error(event.violation ?? "invalid event")
    }
    eventCount &+= 1
    return event
  }

  private mutating func refill() throws(HVReplayError) {
    try input.refill(from: position)
    position = 0
    end = input.end
    if end - position >= NativeTraceLayout.recordSize { return }
    let offset = input.windowOffset + UInt64(position)
    if end == position {
      throw HVReplayError(
        .badData, file: input.name, location: .byteOffset(offset),
        "the trace ends after \(eventCount) events without its end record; the file is truncated")
    }
    throw HVReplayError(
      .badData, file: input.name, location: .byteOffset(offset),
      "the file ends inside a record (\(end - position) of \(NativeTraceLayout.recordSize) bytes); the file is truncated"
    )
  }

  /// Handles a record that is not an event: the end record, or a bad one.
  private mutating func finish(kind: UInt8, opCode: UInt8, record p: UnsafeRawPointer)
    throws(HVReplayError) -> TraceEvent?
  {
    guard kind == NativeTraceLayout.endMarker && opCode == NativeTraceLayout.endMarker else {
      guard let k = EventKind(rawValue: kind) else {
        throw error("unknown kind code \(kind); expected 0 (disk), 1 (net) or 2 (cpu)")
      }
      if let op = EventOp(rawValue: opCode) {
        throw error("op \(op) does not belong to kind \(k); expected one of \(k.ops)")
      }
      throw error("unknown op code \(opCode); expected one of \(k.ops) for kind \(k)")
    }
    let declared = UInt64(
      littleEndian: p.loadUnaligned(fromByteOffset: NativeTraceLayout.timeOffset, as: UInt64.self))
    guard declared == eventCount else {
      throw error(
        "the end record counts \(declared) events but \(eventCount) were read; the file is damaged")
    }
    if end == position {
      try input.refill(from: position)
      position = 0
      end = input.end
    }
    guard end == position else {
      throw HVReplayError(
        .badData, file: input.name,
        location: .byteOffset(input.windowOffset + UInt64(position)),
        "unexpected data after the end record")
    }
    finished = true
    return nil
  }

  private func error(_ message: String) -> HVReplayError {
    HVReplayError(.badData, file: input.name, location: location, message)
  }
}
