internal import CZstd
import SystemPackage

/// A streaming, fixed-memory reader of a file's (decompressed) bytes.
///
/// It reads plain or zstd-compressed files and standard input (`-`) through a
/// window of ``capacity`` bytes; decoders scan the window in place and call
/// ``refill(from:)`` when they need more. Memory does not depend on file length.
public final class ByteInput {
  /// The file name as the user gave it (`-` for standard input).
  public let name: String
  /// How the file is compressed, detected from its first bytes.
  public let compression: Compression
  /// The size of the file on disk in bytes, when it is a regular file.
  public let fileSize: UInt64?
  /// The size of the decoding window in bytes: the longest record or line that fits.
  public let capacity: Int

  /// The window's storage; valid bytes are `base[0..<end]`.
  let base: UnsafeMutableRawPointer
  /// One past the last valid byte of the window.
  private(set) var end = 0
  /// The offset in the (decompressed) stream of `base[0]`.
  private(set) var windowOffset: UInt64 = 0
  /// Whether the stream has been read to its end.
  private(set) var atEnd = false

  private let descriptor: FileDescriptor
  private let closesDescriptor: Bool
  /// Raw bytes read from the file so far (compressed bytes for a compressed file).
  public var fileBytesRead: UInt64 { pipeline?.fileBytesRead ?? plainBytesRead }
  private var plainBytesRead: UInt64 = 0
  private var pipeline: DecompressionPipeline?
  /// Bytes read from the file before the decoder was set up (the sniffed prefix).
  private var pending: [UInt8] = []

  /// Opens `path` (or standard input for `-`) for reading.
  ///
  /// - Throws: ``HVReplayError`` with category `.missingInput` when the file
  ///   cannot be opened, `.badData` when it is empty.
  public init(path: String, capacity: Int = 1 << 20) throws(HVReplayError) {
    self.name = path
    self.capacity = capacity
    if path == "-" {
      descriptor = .standardInput
      closesDescriptor = false
    } else {
      do {
        descriptor = try FileDescriptor.open(FilePath(path), .readOnly)
      } catch {
        throw HVReplayError(.missingInput, file: path, "cannot open: \(error)")
      }
      closesDescriptor = true
    }
    if let size = try? descriptor.seek(offset: 0, from: .end), size >= 0 {
      fileSize = UInt64(size)
      _ = try? descriptor.seek(offset: 0, from: .start)
    } else {
      fileSize = nil
    }
    base = .allocate(byteCount: capacity, alignment: 16)

    // Sniff the first bytes to decide on compression.
    let descriptor = self.descriptor
    var prefix = [UInt8](repeating: 0, count: 4)
    var got = 0
    do {
      while got < 4 {
        let n = try prefix.withUnsafeMutableBytes {
          try descriptor.read(into: UnsafeMutableRawBufferPointer(rebasing: $0[got...]))
        }
        if n == 0 { break }
        got += n
      }
    } catch {
      base.deallocate()
      if closesDescriptor { try? descriptor.close() }
      throw HVReplayError(.missingInput, file: path, "cannot read: \(error)")
    }
    prefix.removeLast(4 - got)
    plainBytesRead = UInt64(got)
    if got == 0 {
      base.deallocate()
      if closesDescriptor { try? descriptor.close() }
      throw HVReplayError(.badData, file: path, "the file is empty; expected a trace")
    }
    let isZstd = prefix.withUnsafeBytes { Compression.isZstd($0) }
    let isGzip = prefix.withUnsafeBytes { Compression.isGzip($0) }
    compression = isZstd ? .zstd : isGzip ? .gzip : .none
    if isZstd || isGzip {
      let decoder: any StreamDecompressor = isZstd ? ZstdStreamDecoder() : GzipStreamDecoder()
      pipeline = DecompressionPipeline(
        descriptor: descriptor.rawValue, prefix: prefix, fileName: path, decoder: decoder)
    } else {
      pending = prefix
    }
  }

  deinit {
    pipeline?.stop()
    base.deallocate()
    if closesDescriptor { try? descriptor.close() }
  }

  /// Keeps the bytes from `position` on, moves them to the start of the window
  /// and reads after them until the window is full or the stream ends.
  ///
  /// - Returns: the number of bytes kept (the new position of the old `position`
  ///   byte is 0, and the window now ends at ``end``); check ``end`` for progress.
  @discardableResult
  func refill(from position: Int) throws(HVReplayError) -> Int {
    let kept = end - position
    if position > 0 {
      if kept > 0 { base.copyMemory(from: base + position, byteCount: kept) }
      windowOffset += UInt64(position)
      end = kept
    }
    while end < capacity && !atEnd {
      let n = try fill(base + end, capacity - end)
      if n == 0 { atEnd = true }
      end += n
    }
    return kept
  }

  /// Reads up to `count` bytes of the stream into `destination`; 0 at the end.
  private func fill(_ destination: UnsafeMutableRawPointer, _ count: Int) throws(HVReplayError)
    -> Int
  {
    if let pipeline { return try pipeline.read(into: destination, count: count) }
    return try readFile(into: UnsafeMutableRawBufferPointer(start: destination, count: count))
  }

  /// Reads raw file bytes, first handing out the sniffed prefix.
  private func readFile(into buffer: UnsafeMutableRawBufferPointer) throws(HVReplayError) -> Int {
    if !pending.isEmpty {
      let n = min(pending.count, buffer.count)
      pending.withUnsafeBytes {
        buffer.baseAddress!.copyMemory(from: $0.baseAddress!, byteCount: n)
      }
      pending.removeFirst(n)
      return n
    }
    do {
      let n = try descriptor.read(into: buffer)
      plainBytesRead += UInt64(n)
      return n
    } catch {
      throw HVReplayError(.ioError, file: name, "cannot read: \(error)")
    }
  }
}
