internal import CZlib

/// Streaming gzip decompression with fixed buffers, through the system zlib (`inflate`).
///
/// Several concatenated gzip members (as `cat a.gz b.gz` makes) read as one stream; a file
/// cut inside a member is an error.
final class GzipStreamDecoder: StreamDecompressor {
  private var stream = z_stream()
  private let inputStorage: UnsafeMutableRawBufferPointer
  private var inputAtEnd = false
  /// Whether the current member has ended (or none has started).
  private var memberEnded = true
  private var failed = false

  init() {
    inputStorage = .allocate(byteCount: 1 << 17, alignment: 16)
    // 15 + 16: a gzip wrapper, the largest window.
    inflateInit2_(&stream, 15 + 16, ZLIB_VERSION, Int32(MemoryLayout<z_stream>.size))
  }

  deinit {
    inflateEnd(&stream)
    inputStorage.deallocate()
  }

  func decompress(
    into output: UnsafeMutableRawBufferPointer,
    reading read: (UnsafeMutableRawBufferPointer) throws(HVReplayError) -> Int,
    fileName: String,
    compressedOffset: () -> UInt64
  ) throws(HVReplayError) -> Int {
    stream.next_out = output.baseAddress!.assumingMemoryBound(to: UInt8.self)
    stream.avail_out = UInt32(output.count)
    while stream.avail_out > 0 {
      if stream.avail_in == 0 && !inputAtEnd {
        let n = try read(inputStorage)
        if n == 0 {
          inputAtEnd = true
        } else {
          stream.next_in = inputStorage.baseAddress!.assumingMemoryBound(to: UInt8.self)
          stream.avail_in = UInt32(n)
        }
      }
      if stream.avail_in == 0 && inputAtEnd {
        guard memberEnded else {
          throw HVReplayError(
            .badData, file: fileName, location: .byteOffset(compressedOffset()),
            "truncated gzip data: the file ends inside a gzip member")
        }
        break
      }
      if memberEnded {
        memberEnded = false
      }
      let before = stream.avail_out
      let result = inflate(&stream, Z_NO_FLUSH)
      switch result {
      case Z_STREAM_END:
        memberEnded = true
        inflateReset(&stream)
      case Z_OK, Z_BUF_ERROR:
        if result == Z_BUF_ERROR && stream.avail_out == before && stream.avail_in > 0 {
          fallthrough
        }
      default:
        let reason = stream.msg.map { String(cString: $0) } ?? "zlib error \(result)"
        throw HVReplayError(
          .badData, file: fileName,
          location: .byteOffset(compressedOffset() - UInt64(stream.avail_in)),
          "corrupt gzip data (\(reason)); expected a valid gzip member")
      }
    }
    return output.count - Int(stream.avail_out)
  }
}
