import SystemPackage

/// A buffered, optionally zstd-compressed output that cannot clobber what it should not.
///
/// A missing path or a regular file is written to a temporary file beside it (created
/// exclusively under an unpredictable name, see ``TemporaryFiles``), which ``close()``
/// renames over it; an output never closed, or a process interrupted by SIGINT, SIGTERM
/// or SIGHUP, leaves neither a half-written file nor a clobbered one. A symbolic link to
/// a regular file keeps the link and replaces the file it points to, with the replaced
/// file's permissions. A FIFO or character device (`/dev/null`) is written through and
/// never replaced; `-`, `/dev/stdout` and `/dev/fd/N` write to that descriptor. A
/// directory, block device or socket is refused. ``OutputDestination`` has the rules.
public final class ByteOutput {
  /// The destination as the user gave it (`-` for standard output).
  public let name: String
  private let descriptor: FileDescriptor
  private let mode: Mode
  private let buffer: UnsafeMutableRawPointer
  private let capacity: Int
  private var count = 0
  private var encoder: ZstdStreamEncoder?
  private var closed = false
  /// Bytes written to the destination so far (after compression).
  public private(set) var bytesWritten: UInt64 = 0

  /// How the bytes reach the destination.
  private enum Mode {
    /// Standard output, left open.
    case standardOutput
    /// A descriptor of our own on the destination itself, closed by ``close()``.
    case writeThrough
    /// A temporary file, renamed over `destination` by ``close()``.
    case replace(temporary: String, destination: String)
  }

  /// Creates the output.
  ///
  /// - Throws: ``HVReplayError`` `.usage` for an empty path; `.cannotCreateOutput` when
  ///   the path is a directory, a block device or a socket, or the file cannot be created.
  public init(path: String, compression: Compression, capacity: Int = 1 << 20)
    throws(HVReplayError)
  {
    name = path
    self.capacity = capacity
    if path.isEmpty {
      throw HVReplayError(
        .usage, "the output path is empty; name a file, or `-` for standard output")
    } else if path == "-" {
      descriptor = .standardOutput
      mode = .standardOutput
    } else {
      let destination = OutputDestination(path)
      func failure(_ why: String) -> HVReplayError {
        HVReplayError(.cannotCreateOutput, file: path, why)
      }
      switch destination.kind {
      case .replace(let permissions):
        let temporary = try TemporaryFiles.createFile(beside: destination.path, naming: path)
        if let permissions { SystemCalls.setPermissions(temporary.descriptor, permissions & 0o777) }
        descriptor = temporary.descriptor
        mode = .replace(temporary: temporary.path, destination: destination.path)
      case .writeThrough:
        switch SystemCalls.openExisting(destination.path) {
        case .success(let opened):
          let type = SystemCalls.fileType(opened)
          guard type == .fifo || type == .characterDevice else {
            try? opened.close()
            throw failure("cannot write: it changed while being opened")
          }
          descriptor = opened
        case .failure(let e): throw failure("cannot write: \(e)")
        }
        mode = .writeThrough
      case .descriptor(let number):
        switch SystemCalls.duplicate(number) {
        case .success(let opened): descriptor = opened
        case .failure(let e): throw failure("cannot write to descriptor \(number): \(e)")
        }
        mode = .writeThrough
      case .directory:
        throw failure("cannot create: is a directory; name a file to write")
      case .refused(let why):
        throw failure(
          "cannot create: \(why); hvreplay writes regular files, FIFOs and character devices")
      }
    }
    buffer = .allocate(byteCount: capacity, alignment: 16)
    if compression == .zstd { encoder = ZstdStreamEncoder() }
  }

  /// Whether `path` is a stream that output is written through rather than a file
  /// replaced: `-`, a FIFO, a character device (`/dev/null`) or an open descriptor
  /// (`/dev/stdout`), a symbolic link to one included.
  public static func isStream(_ path: String) -> Bool {
    if path == "-" { return true }
    switch OutputDestination(path).kind {
    case .writeThrough, .descriptor: return true
    default: return false
    }
  }

  deinit {
    buffer.deallocate()
    guard !closed else { return }
    switch mode {
    case .standardOutput: break
    case .writeThrough: try? descriptor.close()
    case .replace(let temporary, _):
      try? descriptor.close()
      TemporaryFiles.discard(temporary)
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
    switch mode {
    case .standardOutput:
      return
    case .writeThrough:
      do { try descriptor.close() } catch {
        throw HVReplayError(.cannotCreateOutput, file: name, "cannot write: \(error)")
      }
    case .replace(let temporary, let destination):
      do {
        try descriptor.close()
      } catch {
        TemporaryFiles.discard(temporary)
        throw HVReplayError(.cannotCreateOutput, file: name, "cannot write: \(error)")
      }
      let now = SystemCalls.fileType(destination)
      guard now == .missing || now == .regular || now == .symbolicLink else {
        TemporaryFiles.discard(temporary)
        throw HVReplayError(
          .cannotCreateOutput, file: name,
          "cannot create: it became a \(now) while being written, and was left alone")
      }
      if let failure = TemporaryFiles.moveIntoPlace(temporary, destination) {
        TemporaryFiles.discard(temporary)
        throw HVReplayError(.cannotCreateOutput, file: name, "cannot create: \(failure)")
      }
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
