import CZstd

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
}
