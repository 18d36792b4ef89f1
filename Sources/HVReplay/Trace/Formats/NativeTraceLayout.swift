// The native binary trace format, version 1 (`.hvt`). `docs/TRACE-FORMAT.md`
// defines it byte by byte; this file is the one place the code states it.

/// Byte layout of the native binary trace format, version 1.
///
/// Header: 8-byte magic, u16 version, u16 record size, u32 metadata length M,
/// M bytes of UTF-8 `key=value\n` metadata, zero padding to a multiple of 8.
/// Then fixed 40-byte little-endian records, then one end record (kind 0xFF)
/// whose first field holds the number of event records.
enum NativeTraceLayout {
  /// `\x89HVT\r\n\x1a\n`: a non-ASCII first byte, then line endings that text-mode
  /// transfers would mangle (the PNG idea).
  static let magic: [UInt8] = [0x89, 0x48, 0x56, 0x54, 0x0D, 0x0A, 0x1A, 0x0A]
  static let version: UInt16 = 1
  static let recordSize = 40
  /// Size of the fixed part of the header, before the metadata.
  static let fixedHeaderSize = 16
  /// The most metadata a reader accepts, in bytes.
  static let maximumMetadataSize = 64 * 1024
  /// `kind` value of the end record.
  static let endMarker: UInt8 = 0xFF

  // Field offsets within a record.
  static let timeOffset = 0
  static let offsetOffset = 8
  static let serviceOffset = 16
  static let bytesOffset = 24
  static let vmOffset = 28
  static let vcpuOffset = 30
  static let deviceOffset = 32
  static let kindOffset = 34
  static let opOffset = 35
  static let reservedOffset = 36

  /// The header's total size for `metadataLength` bytes of metadata.
  static func headerSize(metadataLength: Int) -> Int {
    (fixedHeaderSize + metadataLength + 7) & ~7
  }

  /// Writes `event` as one record at `p`.
  @inline(__always)
  static func encode(_ event: TraceEvent, to p: UnsafeMutableRawPointer) {
    p.storeBytes(of: event.timeNs.littleEndian, toByteOffset: timeOffset, as: UInt64.self)
    p.storeBytes(of: event.offset.littleEndian, toByteOffset: offsetOffset, as: UInt64.self)
    p.storeBytes(of: event.serviceNs.littleEndian, toByteOffset: serviceOffset, as: UInt64.self)
    p.storeBytes(of: event.bytes.littleEndian, toByteOffset: bytesOffset, as: UInt32.self)
    p.storeBytes(of: event.vm.littleEndian, toByteOffset: vmOffset, as: UInt16.self)
    p.storeBytes(of: event.vcpu.littleEndian, toByteOffset: vcpuOffset, as: UInt16.self)
    p.storeBytes(of: event.device.littleEndian, toByteOffset: deviceOffset, as: UInt16.self)
    p.storeBytes(of: event.kind.rawValue, toByteOffset: kindOffset, as: UInt8.self)
    p.storeBytes(of: event.op.rawValue, toByteOffset: opOffset, as: UInt8.self)
    p.storeBytes(of: UInt32(0), toByteOffset: reservedOffset, as: UInt32.self)
  }

  /// Writes the end record for a trace of `eventCount` events at `p`.
  static func encodeEnd(eventCount: UInt64, to p: UnsafeMutableRawPointer) {
    p.initializeMemory(as: UInt8.self, repeating: 0, count: recordSize)
    p.storeBytes(of: eventCount.littleEndian, toByteOffset: timeOffset, as: UInt64.self)
    p.storeBytes(of: endMarker, toByteOffset: kindOffset, as: UInt8.self)
    p.storeBytes(of: endMarker, toByteOffset: opOffset, as: UInt8.self)
  }
}
