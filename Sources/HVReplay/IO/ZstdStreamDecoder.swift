internal import CZstd

/// Streaming zstd decompression with fixed buffers (`ZSTD_decompressStream`).
///
/// Several concatenated frames read as one stream. The stream must end on a
/// frame boundary: a file cut inside a frame is an error, never a short trace.
/// A streaming decompressor with fixed buffers.
protocol StreamDecompressor: AnyObject {
  /// Decompresses into `output` until it is full or the compressed input ends.
  ///
  /// - Parameters:
  ///   - read: reads compressed bytes; returns 0 at the end of the file.
  ///   - fileName: the file named in errors.
  ///   - compressedOffset: how many compressed bytes have been read, for errors.
  /// - Returns: the number of decompressed bytes written; 0 only at the end.
  func decompress(
    into output: UnsafeMutableRawBufferPointer,
    reading read: (UnsafeMutableRawBufferPointer) throws(HVReplayError) -> Int,
    fileName: String,
    compressedOffset: () -> UInt64
  ) throws(HVReplayError) -> Int
}

final class ZstdStreamDecoder: StreamDecompressor {
  private let context: OpaquePointer
  private let inputStorage: UnsafeMutableRawBufferPointer
  private var input: ZSTD_inBuffer
  private var inputAtEnd = false
  /// The last `ZSTD_decompressStream` result: 0 exactly when a frame has just ended.
  private var lastHint = 0
  /// Whether any compressed byte was read (an empty stream is not a frame).
  private var sawInput = false

  init() {
    context = ZSTD_createDCtx()
    let size = ZSTD_DStreamInSize()
    inputStorage = .allocate(byteCount: size, alignment: 16)
    input = ZSTD_inBuffer(src: UnsafeRawPointer(inputStorage.baseAddress!), size: 0, pos: 0)
  }

  deinit {
    ZSTD_freeDCtx(context)
    inputStorage.deallocate()
  }

  /// Decompresses into `output` until it is full or the compressed input ends.
  ///
  /// - Parameters:
  ///   - read: reads compressed bytes; returns 0 at the end of the file.
  ///   - fileName: the file named in errors.
  ///   - compressedOffset: how many compressed bytes have been read, for errors.
  /// - Returns: the number of decompressed bytes written; 0 only at the end.
  func decompress(
    into output: UnsafeMutableRawBufferPointer,
    reading read: (UnsafeMutableRawBufferPointer) throws(HVReplayError) -> Int,
    fileName: String,
    compressedOffset: () -> UInt64
  ) throws(HVReplayError) -> Int {
    var out = ZSTD_outBuffer(dst: output.baseAddress, size: output.count, pos: 0)
    while out.pos < out.size {
      if input.pos == input.size && !inputAtEnd {
        let n = try read(inputStorage)
        if n == 0 {
          inputAtEnd = true
        } else {
          sawInput = true
          input.size = n
          input.pos = 0
        }
      }
      let before = out.pos
      let consumedBefore = input.pos
      let result = ZSTD_decompressStream(context, &out, &input)
      if ZSTD_isError(result) != 0 {
        let reason = String(cString: ZSTD_getErrorName(result))
        throw HVReplayError(
          .badData, file: fileName,
          location: .byteOffset(compressedOffset() - UInt64(input.size - input.pos)),
          "corrupt zstd data (\(reason)); expected a valid zstd frame")
      }
      // A call that neither consumes nor produces says nothing about frame boundaries.
      if out.pos != before || input.pos != consumedBefore { lastHint = result }
      if inputAtEnd && input.pos == input.size && out.pos == before {
        if lastHint != 0 && sawInput {
          throw HVReplayError(
            .badData, file: fileName, location: .byteOffset(compressedOffset()),
            "truncated zstd frame: the file ends inside a compressed frame")
        }
        break
      }
    }
    return out.pos
  }
}
