import SystemPackage

/// A buffered, optionally zstd-compressed output file that appears atomically.
///
/// Bytes go to a temporary file beside the destination, which ``close()``
/// renames over it; an output that is never closed is removed, so a failed run
/// leaves neither a half-written file nor a clobbered one. `-` writes to
/// standard output directly.
public final class ByteOutput {
  /// The destination as the user gave it (`-` for standard output).
  public let name: String
  private let descriptor: FileDescriptor
  private let temporaryPath: String?
  private let buffer: UnsafeMutableRawPointer
  private let capacity: Int
  private var count = 0
  private var encoder: ZstdStreamEncoder?
  private var closed = false
  /// Bytes written to the destination so far (after compression).
  public private(set) var bytesWritten: UInt64 = 0

  /// Creates the output.
  ///
  /// - Throws: ``HVReplayError`` `.cannotCreateOutput` when the temporary file
  ///   cannot be created.
  public init(path: String, compression: Compression, capacity: Int = 1 << 20)
    throws(HVReplayError)
  {
    name = path
    self.capacity = capacity
    if path == "-" {
      descriptor = .standardOutput
      temporaryPath = nil
    } else {
      let target = FilePath(path)
      let directory = target.removingLastComponent()
      let base = target.lastComponent?.string ?? "output"
      let temporary = directory.appending(".\(base).\(SystemCalls.processID).tmp")
      do {
        descriptor = try FileDescriptor.open(
          temporary, .writeOnly, options: [.create, .truncate],
          permissions: [.ownerReadWrite, .groupRead, .otherRead])
      } catch {
        throw HVReplayError(.cannotCreateOutput, file: path, "cannot create: \(error)")
      }
      temporaryPath = temporary.string
    }
    buffer = .allocate(byteCount: capacity, alignment: 16)
    if compression == .zstd { encoder = ZstdStreamEncoder() }
  }

  deinit {
    buffer.deallocate()
    if !closed, let temporaryPath {
      try? descriptor.close()
      SystemCalls.unlink(temporaryPath)
    }
  }

  /// Returns space for `byteCount` bytes at the end of the buffer; the caller
  /// writes them and then calls ``advance(by:)``.
  @inline(__always)
  func reserve(_ byteCount: Int) throws(HVReplayError) -> UnsafeMutableRawPointer {
    if count + byteCount > capacity { try flushBuffer() }
    return buffer + count
  }

  /// Marks `byteCount` reserved bytes as written.
  @inline(__always)
  func advance(by byteCount: Int) { count += byteCount }

  /// Appends `bytes`.
  public func write(_ bytes: UnsafeRawBufferPointer) throws(HVReplayError) {
    if bytes.count > capacity {
      try flushBuffer()
      try emit(bytes, end: false)
      return
    }
    let p = try reserve(bytes.count)
    if let source = bytes.baseAddress { p.copyMemory(from: source, byteCount: bytes.count) }
    count += bytes.count
  }

  /// Appends the UTF-8 bytes of `text`.
  public func write(_ text: String) throws(HVReplayError) {
    var text = text
    let result: Result<Void, HVReplayError> = text.withUTF8 { utf8 in
      Result { () throws(HVReplayError) in try write(UnsafeRawBufferPointer(utf8)) }
    }
    try result.get()
  }

  /// Flushes everything, ends the zstd frame and moves the file into place.
  public func close() throws(HVReplayError) {
    guard !closed else { return }
    try flushBuffer(end: true)
    closed = true
    guard let temporaryPath else { return }
    do {
      try descriptor.close()
    } catch {
      SystemCalls.unlink(temporaryPath)
      throw HVReplayError(.cannotCreateOutput, file: name, "cannot write: \(error)")
    }
    if let failure = SystemCalls.rename(temporaryPath, name) {
      SystemCalls.unlink(temporaryPath)
      throw HVReplayError(.cannotCreateOutput, file: name, "cannot create: \(failure)")
    }
  }

  private func flushBuffer(end: Bool = false) throws(HVReplayError) {
    let pending = UnsafeRawBufferPointer(start: buffer, count: count)
    count = 0
    try emit(pending, end: end)
  }

  private func emit(_ bytes: UnsafeRawBufferPointer, end: Bool) throws(HVReplayError) {
    if let encoder {
      try encoder.compress(bytes, end: end) { (chunk) throws(HVReplayError) in
        try writeAll(chunk)
      }
    } else if bytes.count > 0 {
      try writeAll(bytes)
    }
  }

  private func writeAll(_ bytes: UnsafeRawBufferPointer) throws(HVReplayError) {
    do {
      bytesWritten += UInt64(try descriptor.writeAll(bytes))
    } catch {
      throw HVReplayError(.cannotCreateOutput, file: name, "cannot write: \(error)")
    }
  }
}
