import SystemPackage

/// What an output path names once its final symbolic links are followed, and so how
/// hvreplay may write there.
///
/// - Nothing, or a regular file: written to a temporary file beside it, then renamed
///   over it. A symbolic link to a regular (or missing) file keeps the link: the file it
///   points to is replaced, atomically, as if it had been named.
/// - A FIFO or a character device (`/dev/null`, `/dev/tty`): written through, opened
///   without creating or truncating anything; it is never replaced.
/// - `/dev/stdout`, `/dev/stderr`, `/dev/fd/N`, `/proc/self/fd/N`: written to that open
///   descriptor, the way `-` writes standard output (appending where the shell opened it
///   with `>>`).
/// - A directory, a block device, a socket, or a loop of links: refused.
struct OutputDestination: Equatable {
  /// How an output reaches ``path``.
  enum Kind: Equatable {
    /// A temporary file renamed over `path`; `permissions` are the replaced file's.
    case replace(permissions: UInt16?)
    /// Written through an existing FIFO or character device.
    case writeThrough
    /// Written to an open file descriptor of this process.
    case descriptor(Int32)
    /// A directory.
    case directory
    /// Refused, for this reason (`is a block device`).
    case refused(String)
  }

  /// The path with its final symbolic links followed.
  var path: String
  var kind: Kind

  /// Follows the final symbolic links of `path` (at most 40, as the kernel does) and
  /// classifies what they lead to.
  init(_ path: String) {
    var current = path
    for _ in 0..<40 {
      if let number = Self.descriptorNumber(current) {
        self.init(path: current, kind: .descriptor(number))
        return
      }
      let status = SystemCalls.fileStatus(current)
      switch status.type {
      case .missing: self.init(path: current, kind: .replace(permissions: nil))
      case .regular: self.init(path: current, kind: .replace(permissions: status.permissions))
      case .fifo, .characterDevice: self.init(path: current, kind: .writeThrough)
      case .directory: self.init(path: current, kind: .directory)
      case .blockDevice: self.init(path: current, kind: .refused("is a block device"))
      case .socket: self.init(path: current, kind: .refused("is a socket"))
      case .symbolicLink:
        guard let target = SystemCalls.readLink(current) else {
          self.init(path: current, kind: .refused("is a symbolic link that cannot be read"))
          return
        }
        current =
          target.hasPrefix("/")
          ? target : FilePath(current).removingLastComponent().appending(target).string
        continue
      }
      return
    }
    self.init(path: current, kind: .refused("is a loop of symbolic links"))
  }

  init(path: String, kind: Kind) {
    self.path = path
    self.kind = kind
  }

  /// The descriptor `path` stands for (`/dev/stdout` → 1), or `nil`.
  static func descriptorNumber(_ path: String) -> Int32? {
    let normal = FilePath(path).lexicallyNormalized().string
    switch normal {
    case "/dev/stdin": return 0
    case "/dev/stdout": return 1
    case "/dev/stderr": return 2
    default: break
    }
    for prefix in [
      "/dev/fd/", "/proc/self/fd/", "/proc/thread-self/fd/", "/proc/\(SystemCalls.processID)/fd/",
    ] where normal.hasPrefix(prefix) {
      return Int32(normal.dropFirst(prefix.count))
    }
    return nil
  }
}
