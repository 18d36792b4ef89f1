import CZstd
import Foundation

enum ZstdTestSupport {
  struct Failure: Error {}

  /// One zstd frame holding `bytes`, with a content checksum.
  static func compress(_ bytes: [UInt8]) throws -> [UInt8] {
    let context = ZSTD_createCCtx()
    defer { ZSTD_freeCCtx(context) }
    ZSTD_CCtx_setParameter(context, ZSTD_c_checksumFlag, 1)
    var out = [UInt8](repeating: 0, count: ZSTD_compressBound(bytes.count))
    let n = out.withUnsafeMutableBytes { o in
      bytes.withUnsafeBytes { i in
        ZSTD_compress2(context, o.baseAddress, o.count, i.baseAddress, i.count)
      }
    }
    if ZSTD_isError(n) != 0 { throw Failure() }
    return Array(out[..<n])
  }

  /// The text of a zstd-compressed file, decompressed whole (for a test's own count of what
  /// a fixture holds).
  static func text(ofFile path: String) throws -> String {
    guard let data = FileManager.default.contents(atPath: path) else { throw Failure() }
    let stream = ZSTD_createDStream()
    defer { ZSTD_freeDStream(stream) }
    var result: [UInt8] = []
    var chunk = [UInt8](repeating: 0, count: 1 << 16)
    try data.withUnsafeBytes { (source: UnsafeRawBufferPointer) in
      var input = ZSTD_inBuffer(src: source.baseAddress, size: source.count, pos: 0)
      repeat {
        let produced = try chunk.withUnsafeMutableBytes { o in
          var output = ZSTD_outBuffer(dst: o.baseAddress, size: o.count, pos: 0)
          let rc = ZSTD_decompressStream(stream, &output, &input)
          if ZSTD_isError(rc) != 0 { throw Failure() }
          return output.pos
        }
        result += chunk[..<produced]
        if produced == 0 && input.pos == input.size { break }
      } while true
    }
    return String(decoding: result, as: UTF8.self)
  }
}
