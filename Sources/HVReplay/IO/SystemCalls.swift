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

  /// Removes `path`, ignoring failure.
  static func unlink(_ path: String) {
    #if canImport(Glibc) || canImport(Musl)
      _ = Glibc.unlink(path)
    #else
      _ = Darwin.unlink(path)
    #endif
  }

  /// Whether standard error is a terminal.
  static var standardErrorIsTerminal: Bool { isatty(2) != 0 }

  /// The process id, used to name temporary files.
  static var processID: Int32 { getpid() }

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
}
