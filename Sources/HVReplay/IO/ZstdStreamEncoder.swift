internal import CZstd

/// Streaming zstd compression with fixed buffers (`ZSTD_compressStream2`).
///
/// Frames carry a content checksum, so corruption is detected on reading.
final class ZstdStreamEncoder {
  private let context: OpaquePointer
  private let outputStorage: UnsafeMutableRawBufferPointer

  /// - Parameter level: the zstd compression level (3 is zstd's default).
  init(level: Int32 = 3) {
    context = ZSTD_createCCtx()
    ZSTD_CCtx_setParameter(context, ZSTD_c_compressionLevel, level)
    ZSTD_CCtx_setParameter(context, ZSTD_c_checksumFlag, 1)
    outputStorage = .allocate(byteCount: ZSTD_CStreamOutSize(), alignment: 16)
  }

  deinit {
    ZSTD_freeCCtx(context)
    outputStorage.deallocate()
  }

  /// Compresses `data`, handing compressed bytes to `write`; with `end`, also
  /// ends the frame.
  func compress(
    _ data: UnsafeRawBufferPointer, end: Bool,
    write: (UnsafeRawBufferPointer) throws(HVReplayError) -> Void
  ) throws(HVReplayError) {
    var input = ZSTD_inBuffer(src: data.baseAddress, size: data.count, pos: 0)
    let directive = end ? ZSTD_e_end : ZSTD_e_continue
    while true {
      var out = ZSTD_outBuffer(dst: outputStorage.baseAddress, size: outputStorage.count, pos: 0)
      let remaining = ZSTD_compressStream2(context, &out, &input, directive)
      if ZSTD_isError(remaining) != 0 {
        throw HVReplayError(
          .ioError, "zstd compression failed: \(String(cString: ZSTD_getErrorName(remaining)))")
      }
      if out.pos > 0 { try write(UnsafeRawBufferPointer(rebasing: outputStorage[..<out.pos])) }
      let done = end ? remaining == 0 : input.pos == input.size
      if done { return }
    }
  }
}
