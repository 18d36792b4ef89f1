/// Writes a trace in a chosen format and compression, streaming and atomically.
///
/// Nothing appears at the destination until ``finish()`` succeeds.
public struct TraceWriter {
  /// The format and compression written.
  public let type: TraceFileType
  private let output: ByteOutput
  /// Events written so far.
  public private(set) var eventCount: UInt64 = 0

  /// Creates the output file (`-` for standard output) and writes the header.
  ///
  /// - Throws: ``HVReplayError`` `.cannotCreateOutput`; `.badData`, before creating anything,
  ///   when the metadata is larger than a native trace holds (64 KiB).
  public init(path: String, type: TraceFileType, metadata: TraceMetadata) throws(HVReplayError) {
    self.type = type
    let metadataSize = metadata.text.utf8.count
    if type.format == .hvt && metadataSize > NativeTraceLayout.maximumMetadataSize {
      throw HVReplayError(
        .badData, file: path,
        "the trace's metadata is \(metadataSize) bytes; a native .hvt trace holds at most \(NativeTraceLayout.maximumMetadataSize) bytes (write CSV instead)"
      )
    }
    output = try ByteOutput(path: path, compression: type.compression)
    switch type.format {
    case .hvt:
      let text = Array(metadata.text.utf8)
      let size = NativeTraceLayout.headerSize(metadataLength: text.count)
      var header = [UInt8](repeating: 0, count: size)
      header.replaceSubrange(0..<8, with: NativeTraceLayout.magic)
      header.withUnsafeMutableBytes { p in
        p.storeBytes(of: NativeTraceLayout.version.littleEndian, toByteOffset: 8, as: UInt16.self)
        p.storeBytes(
          of: UInt16(NativeTraceLayout.recordSize).littleEndian, toByteOffset: 10, as: UInt16.self)
        p.storeBytes(of: UInt32(text.count).littleEndian, toByteOffset: 12, as: UInt32.self)
      }
      header.replaceSubrange(
        NativeTraceLayout.fixedHeaderSize..<NativeTraceLayout.fixedHeaderSize + text.count,
        with: text)
      let output = self.output
      try header.withUnsafeBytes { p in Result { () throws(HVReplayError) in try output.write(p) } }
        .get()
    default:
      var text = CSVTraceDecoder.header + "\n"
      for entry in metadata.entries {
        text += CSVTraceDecoder.metadataPrefix + "\(entry.key)=\(entry.value)\n"
      }
      try output.write(text)
    }
  }

  /// Appends one event.
  @inline(__always)
  public mutating func write(_ event: TraceEvent) throws(HVReplayError) {
    eventCount &+= 1
    switch type.format {
    case .hvt:
      let p = try output.reserve(NativeTraceLayout.recordSize)
      NativeTraceLayout.encode(event, to: p)
      output.advance(by: NativeTraceLayout.recordSize)
    default:  // csv; TraceFileType only names the formats hvreplay writes
      // 5 numbers of at most 20 digits, 3 of at most 5, 2 words, 8 commas, 1 newline.
      let p = try output.reserve(160)
      var n = 0
      n += CSVDigits.write(event.timeNs, to: p + n)
      p.storeBytes(of: UInt8(ascii: ","), toByteOffset: n, as: UInt8.self)
      n += 1
      n += CSVDigits.write(UInt64(event.vm), to: p + n)
      p.storeBytes(of: UInt8(ascii: ","), toByteOffset: n, as: UInt8.self)
      n += 1
      n += CSVDigits.write(UInt64(event.vcpu), to: p + n)
      p.storeBytes(of: UInt8(ascii: ","), toByteOffset: n, as: UInt8.self)
      n += 1
      n += CSVDigits.write(event.kind.description, to: p + n)
      p.storeBytes(of: UInt8(ascii: ","), toByteOffset: n, as: UInt8.self)
      n += 1
      n += CSVDigits.write(event.op.description, to: p + n)
      p.storeBytes(of: UInt8(ascii: ","), toByteOffset: n, as: UInt8.self)
      n += 1
      n += CSVDigits.write(UInt64(event.device), to: p + n)
      p.storeBytes(of: UInt8(ascii: ","), toByteOffset: n, as: UInt8.self)
      n += 1
      n += CSVDigits.write(event.offset, to: p + n)
      p.storeBytes(of: UInt8(ascii: ","), toByteOffset: n, as: UInt8.self)
      n += 1
      n += CSVDigits.write(UInt64(event.bytes), to: p + n)
      p.storeBytes(of: UInt8(ascii: ","), toByteOffset: n, as: UInt8.self)
      n += 1
      n += CSVDigits.write(event.serviceNs, to: p + n)
      p.storeBytes(of: UInt8(ascii: "\n"), toByteOffset: n, as: UInt8.self)
      n += 1
      output.advance(by: n)
    }
  }

  /// Ends the trace (the native end record), flushes and moves the file into place.
  public mutating func finish() throws(HVReplayError) {
    if type.format == .hvt {
      let p = try output.reserve(NativeTraceLayout.recordSize)
      NativeTraceLayout.encodeEnd(eventCount: eventCount, to: p)
      output.advance(by: NativeTraceLayout.recordSize)
    }
    try output.close()
  }

  /// Bytes written to the file (compressed size for a compressed file).
  public var bytesWritten: UInt64 { output.bytesWritten }
}

/// Decimal formatting straight into a byte buffer.
enum CSVDigits {
  /// Writes `value` in decimal at `p`; returns the number of bytes written (at most 20).
  @inline(__always)
  static func write(_ value: UInt64, to p: UnsafeMutableRawPointer) -> Int {
    var digits: (UInt64, UInt64, UInt64) = (0, 0, 0)
    return withUnsafeMutableBytes(of: &digits) { scratch in
      var v = value
      var i = 24
      repeat {
        i -= 1
        scratch[i] = UInt8(truncatingIfNeeded: v % 10) &+ 0x30
        v /= 10
      } while v != 0
      let n = 24 - i
      p.copyMemory(from: scratch.baseAddress! + i, byteCount: n)
      return n
    }
  }

  /// Writes the ASCII `text` at `p`; returns its length.
  @inline(__always)
  static func write(_ text: String, to p: UnsafeMutableRawPointer) -> Int {
    var n = 0
    for byte in text.utf8 {
      p.storeBytes(of: byte, toByteOffset: n, as: UInt8.self)
      n += 1
    }
    return n
  }
}
