import Dispatch
import SystemPackage

#if canImport(Glibc)
  import Glibc
#elseif canImport(Musl)
  import Musl
#elseif canImport(Darwin)
  import Darwin
#endif

/// Thin wrappers over the few POSIX calls swift-system does not cover.
enum SystemCalls {
  /// Renames `from` to `to`, replacing `to` atomically.
  static func rename(_ from: String, _ to: String) -> Errno? {
    #if canImport(Glibc) || canImport(Musl)
      return Glibc.rename(from, to) == 0 ? nil : Errno(rawValue: errno)
    #else
      return Darwin.rename(from, to) == 0 ? nil : Errno(rawValue: errno)
    #endif
  }

  /// How ``rename(_:_:how:)`` treats an existing destination.
  enum RenameMode {
    /// Fail with `EEXIST` when `to` exists (`RENAME_NOREPLACE`, `RENAME_EXCL`).
    case noReplace
    /// Swap `from` and `to` atomically; both must exist (`RENAME_EXCHANGE`, `RENAME_SWAP`).
    case exchange
  }

  /// Renames `from` to `to` the way `how` says.
  ///
  /// - Returns: `nil` on success; `ENOSYS` where the system has no such rename, `EINVAL`
  ///   where the file system refuses it, else the rename's error.
  static func rename(_ from: String, _ to: String, how: RenameMode) -> Errno? {
    #if canImport(Glibc) || canImport(Musl)
      // renameat2(2) is in glibc 2.28 and musl 1.2.x, but the Swift module does not
      // declare it (it needs _GNU_SOURCE); look it up at run time instead.
      guard let renameat2 = Self.renameat2 else { return .noFunction }
      let flags: UInt32 = how == .noReplace ? 1 : 2  // RENAME_NOREPLACE, RENAME_EXCHANGE
      return renameat2(AT_FDCWD, from, AT_FDCWD, to, flags) == 0 ? nil : Errno(rawValue: errno)
    #else
      let flags: UInt32 = how == .noReplace ? UInt32(RENAME_EXCL) : UInt32(RENAME_SWAP)
      return renamex_np(from, to, flags) == 0 ? nil : Errno(rawValue: errno)
    #endif
  }

  #if canImport(Glibc) || canImport(Musl)
    private typealias RenameAt2 =
      @convention(c) (
        Int32, UnsafePointer<CChar>, Int32, UnsafePointer<CChar>, UInt32
      ) -> Int32

    private static let renameat2: RenameAt2? = {
      guard let symbol = dlsym(dlopen(nil, RTLD_NOW), "renameat2") else { return nil }
      return unsafeBitCast(symbol, to: RenameAt2.self)
    }()
  #endif

  /// Removes `path`, ignoring failure.
  static func unlink(_ path: String) {
    #if canImport(Glibc) || canImport(Musl)
      _ = Glibc.unlink(path)
    #else
      _ = Darwin.unlink(path)
    #endif
  }

  /// Removes the directory `path` and everything in it, without following symbolic
  /// links; ignores failure.
  static func removeTree(_ path: String) {
    for name in directoryEntries(path) ?? [] {
      let child = path + "/" + name
      if fileType(child) == .directory { removeTree(child) } else { unlink(child) }
    }
    _ = rmdir(path)
  }

  /// The names in directory `path` other than `.` and `..`, or `nil` when it cannot be read.
  static func directoryEntries(_ path: String) -> [String]? {
    guard let dir = opendir(path) else { return nil }
    defer { closedir(dir) }
    var names: [String] = []
    while let entry = readdir(dir) {
      let name = withUnsafeBytes(of: entry.pointee.d_name) { raw in
        String(decoding: raw.prefix(while: { $0 != 0 }), as: UTF8.self)
      }
      if name != "." && name != ".." { names.append(name) }
    }
    return names
  }

  /// Whether standard error is a terminal.
  static var standardErrorIsTerminal: Bool { isatty(2) != 0 }

  /// Whether `path` names an existing file or directory.
  static func exists(_ path: String) -> Bool {
    var st = stat()
    return stat(path, &st) == 0
  }

  /// Whether `path` names an existing directory.
  static func isDirectory(_ path: String) -> Bool {
    var st = stat()
    return stat(path, &st) == 0 && (st.st_mode & S_IFMT) == S_IFDIR
  }

  /// Creates `path` and its parents as directories when missing.
  static func makeDirectories(_ path: String) -> Errno? {
    if path.isEmpty || isDirectory(path) { return nil }
    let parent = FilePath(path).removingLastComponent().string
    if parent != path && !parent.isEmpty, let e = makeDirectories(parent) { return e }
    if mkdir(path, 0o755) == 0 || errno == EEXIST { return nil }
    return Errno(rawValue: errno)
  }

  /// Creates the directory `path`, failing with `EEXIST` when anything is there.
  static func makeDirectory(_ path: String) -> Errno? {
    mkdir(path, 0o755) == 0 ? nil : Errno(rawValue: errno)
  }

  /// What a path names, without following a final symbolic link.
  enum FileType: Equatable, CustomStringConvertible {
    case missing, regular, directory, symbolicLink, fifo, characterDevice, blockDevice, socket

    var description: String {
      switch self {
      case .missing: "missing file"
      case .regular: "regular file"
      case .directory: "directory"
      case .symbolicLink: "symbolic link"
      case .fifo: "FIFO"
      case .characterDevice: "character device"
      case .blockDevice: "block device"
      case .socket: "socket"
      }
    }
  }

  /// The type of `path` (`lstat`), and its permission bits when it exists.
  static func fileType(_ path: String) -> FileType { fileStatus(path).type }

  /// The type and permission bits (`0o7777`) of `path`, not following a final link.
  static func fileStatus(_ path: String) -> (type: FileType, permissions: UInt16) {
    var st = stat()
    guard lstat(path, &st) == 0 else { return (.missing, 0) }
    let type: FileType =
      switch st.st_mode & S_IFMT {
      case S_IFREG: .regular
      case S_IFDIR: .directory
      case S_IFLNK: .symbolicLink
      case S_IFIFO: .fifo
      case S_IFCHR: .characterDevice
      case S_IFBLK: .blockDevice
      default: .socket
      }
    return (type, UInt16(truncatingIfNeeded: st.st_mode & 0o7777))
  }

  /// The type of the open file `descriptor` (`fstat`).
  static func fileType(_ descriptor: FileDescriptor) -> FileType {
    var st = stat()
    guard fstat(descriptor.rawValue, &st) == 0 else { return .missing }
    switch st.st_mode & S_IFMT {
    case S_IFREG: return .regular
    case S_IFIFO: return .fifo
    case S_IFCHR: return .characterDevice
    case S_IFDIR: return .directory
    default: return .socket
    }
  }

  /// The target a symbolic link holds, or `nil` when `path` is not a readable link.
  static func readLink(_ path: String) -> String? {
    var buffer = [UInt8](repeating: 0, count: 4097)
    let n = buffer.withUnsafeMutableBufferPointer { p in
      p.baseAddress!.withMemoryRebound(to: CChar.self, capacity: p.count) {
        readlink(path, $0, p.count - 1)
      }
    }
    guard n > 0 else { return nil }
    return String(decoding: buffer[..<n], as: UTF8.self)
  }

  /// Creates `path` exclusively for writing (`O_CREAT | O_EXCL | O_NOFOLLOW`), with mode
  /// 0644 less the umask.
  static func createExclusively(_ path: String) -> Result<FileDescriptor, Errno> {
    let fd = open(path, O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, 0o644)
    return fd >= 0 ? .success(FileDescriptor(rawValue: fd)) : .failure(Errno(rawValue: errno))
  }

  /// Opens the existing `path` for writing without creating or truncating it, and
  /// without following a final symbolic link.
  static func openExisting(_ path: String) -> Result<FileDescriptor, Errno> {
    let fd = open(path, O_WRONLY | O_NOCTTY | O_NOFOLLOW | O_CLOEXEC)
    return fd >= 0 ? .success(FileDescriptor(rawValue: fd)) : .failure(Errno(rawValue: errno))
  }

  /// A new descriptor for the open descriptor `number`.
  static func duplicate(_ number: Int32) -> Result<FileDescriptor, Errno> {
    let fd = fcntl(number, F_DUPFD_CLOEXEC, 0)
    return fd >= 0 ? .success(FileDescriptor(rawValue: fd)) : .failure(Errno(rawValue: errno))
  }

  /// Sets the permission bits of an open file.
  static func setPermissions(_ descriptor: FileDescriptor, _ permissions: UInt16) {
    _ = fchmod(descriptor.rawValue, mode_t(permissions))
  }

  /// The process id.
  static var processID: Int32 { getpid() }

  /// 64 unpredictable bits, written as 13 lower-case base-36 digits, for temporary names.
  static func randomSuffix() -> String {
    var generator = SystemRandomNumberGenerator()
    let digits = String(generator.next() as UInt64, radix: 36)
    return String(repeating: "0", count: 13 - digits.count) + digits
  }

  /// Calls `handler` on a background queue when the process receives `signals`,
  /// instead of their default action. A signal ignored when this is called (as `nohup`
  /// leaves SIGHUP) stays ignored.
  static func onSignals(_ signals: [Int32], _ handler: @escaping @Sendable (Int32) -> Void) {
    for signo in signals {
      let previous = signal(signo, SIG_IGN)
      if unsafeBitCast(previous, to: Int.self) == unsafeBitCast(SIG_IGN, to: Int.self) {
        continue
      }
      let source = DispatchSource.makeSignalSource(signal: signo, queue: signalQueue)
      source.setEventHandler { handler(signo) }
      source.resume()
      signalSources.append(source)
    }
  }

  /// Ends the process by `signo` with its default action, as if never caught, so the
  /// parent sees the signal (a shell reports status 128 + `signo`).
  static func dieBySignal(_ signo: Int32) -> Never {
    signal(signo, SIG_DFL)
    var set = sigset_t()
    sigemptyset(&set)
    sigaddset(&set, signo)
    pthread_sigmask(SIG_UNBLOCK, &set, nil)
    raise(signo)
    _exit(128 + signo)
  }

  private static let signalQueue = DispatchQueue(label: "hvreplay.signals")
  /// The installed sources (kept alive here); written only by ``onSignals(_:_:)``, which
  /// the command calls once before any other thread starts.
  nonisolated(unsafe) private static var signalSources: [any DispatchSourceSignal] = []
}
