/// How a file's bytes are compressed. Detected by content, never by file name.
public enum Compression: String, Sendable, CustomStringConvertible {
  case none
  /// Zstandard frames (RFC 8878), possibly several concatenated.
  case zstd
  /// gzip members (RFC 1952), possibly several concatenated.
  case gzip

  public var description: String { rawValue }

  /// The four bytes that start a zstd frame: magic number 0xFD2FB528, little-endian.
  static let zstdMagic: [UInt8] = [0x28, 0xB5, 0x2F, 0xFD]

  /// Whether `prefix` starts a gzip member: 1F 8B, then method 8 (deflate).
  static func isGzip(_ prefix: UnsafeRawBufferPointer) -> Bool {
    prefix.count >= 3 && prefix[0] == 0x1F && prefix[1] == 0x8B && prefix[2] == 8
  }

  /// Whether `prefix` starts a zstd frame or a zstd skippable frame (0x184D2A5?).
  static func isZstd(_ prefix: UnsafeRawBufferPointer) -> Bool {
    guard prefix.count >= 4 else { return false }
    if prefix[0] == 0x28 && prefix[1] == 0xB5 && prefix[2] == 0x2F && prefix[3] == 0xFD {
      return true
    }
    return prefix[0] & 0xF0 == 0x50 && prefix[1] == 0x2A && prefix[2] == 0x4D
      && prefix[3] == 0x18
  }
}
