import Dispatch
import SystemPackage

#if canImport(Glibc)
  import Glibc
#elseif canImport(Musl)
  import Musl
#elseif canImport(Darwin)
  import Darwin
#endif

/// The temporary files and folders outputs are written into before they are moved into
/// place, and their removal when the process is interrupted.
///
/// A temporary is named `.<destination name>.<13 random base-36 digits>.tmp`, lives in
/// the destination's directory (so the final rename stays on one file system) and is
/// created exclusively (`O_CREAT | O_EXCL | O_NOFOLLOW`, `mkdir`), with a new name on
/// `EEXIST`: nobody can predict it or plant a file or link there first. Creating,
/// renaming and removing a temporary all happen under one lock, which the interrupt
/// handler takes for good, so an interrupt never races a rename.
public enum TemporaryFiles {
  /// Removes every temporary file and folder still being written when the process
  /// receives SIGINT, SIGTERM or SIGHUP, then ends the process by that signal (a shell
  /// shows status 128 + the signal's number). Call once, before any other thread starts.
  public static func removeOnInterrupt() {
    SystemCalls.onSignals([SIGINT, SIGTERM, SIGHUP]) { signo in
      registry.removeAll(keepingLock: true)
      SystemCalls.dieBySignal(signo)
    }
  }

  /// The live temporaries (tests read it).
  static let registry = Registry()

  /// Creates a temporary file beside `destination`, open for writing.
  ///
  /// - Throws: ``HVReplayError`` `.cannotCreateOutput` naming `name`.
  static func createFile(beside destination: String, naming name: String)
    throws(HVReplayError) -> (path: String, descriptor: FileDescriptor)
  {
    try create(beside: destination, naming: name, kind: .file) { path in
      SystemCalls.createExclusively(path)
    }
  }

  /// Creates an empty temporary directory beside `destination`.
  ///
  /// - Throws: ``HVReplayError`` `.cannotCreateOutput` naming `name`.
  static func createDirectory(beside destination: String, naming name: String)
    throws(HVReplayError) -> String
  {
    try create(beside: destination, naming: name, kind: .directory) { path in
      SystemCalls.makeDirectory(path).map { .failure($0) } ?? .success(())
    }.path
  }

  /// Renames the temporary `path` to `destination`; it stops being temporary on success.
  static func moveIntoPlace(_ path: String, _ destination: String) -> Errno? {
    registry.locked { live in
      let failure = SystemCalls.rename(path, destination)
      if failure == nil { live[path] = nil }
      return failure
    }
  }

  /// Removes the temporary `path` (a whole directory tree for a directory).
  static func discard(_ path: String) {
    registry.locked { live in
      guard let kind = live.removeValue(forKey: path) else { return }
      kind.remove(path)
    }
  }

  /// The temporary name for `destination` in its directory.
  private static func temporaryName(beside destination: String) -> String {
    let target = FilePath(destination)
    var base = target.lastComponent?.string ?? "output"
    // Keep the name within NAME_MAX (255 bytes) with room for the suffix.
    while base.utf8.count > 200 { base.removeLast() }
    return target.removingLastComponent()
      .appending(".\(base).\(SystemCalls.randomSuffix()).tmp").string
  }

  private static func create<T>(
    beside destination: String, naming name: String, kind: Registry.Kind,
    _ make: (String) -> Result<T, Errno>
  ) throws(HVReplayError) -> (path: String, descriptor: T) {
    var failure = Errno.fileExists
    var attempts = 0
    while failure == .fileExists && attempts < 100 {
      attempts += 1
      let path = temporaryName(beside: destination)
      let made: Result<T, Errno> = registry.locked { live in
        let made = make(path)
        if case .success = made { live[path] = kind }
        return made
      }
      switch made {
      case .success(let value): return (path, value)
      case .failure(let e): failure = e
      }
    }
    throw HVReplayError(.cannotCreateOutput, file: name, "cannot create: \(failure)")
  }

  /// The set of live temporaries behind a lock.
  final class Registry: @unchecked Sendable {
    /// What a temporary path holds.
    enum Kind {
      case file, directory

      func remove(_ path: String) {
        switch self {
        case .file: SystemCalls.unlink(path)
        case .directory: SystemCalls.removeTree(path)
        }
      }
    }

    // Invariant: `live` is only read or written while `lock` is held.
    private let lock = DispatchSemaphore(value: 1)
    private var live: [String: Kind] = [:]

    /// Runs `body` with the lock held; it may add and remove live paths.
    func locked<T>(_ body: (inout [String: Kind]) -> T) -> T {
      lock.wait()
      defer { lock.signal() }
      return body(&live)
    }

    /// The live paths, sorted.
    var paths: [String] { locked { $0.keys.sorted() } }

    /// Removes every live temporary. With `keepingLock`, the lock stays held, so that
    /// nothing new is created or renamed while the process ends.
    func removeAll(keepingLock: Bool) {
      lock.wait()
      for (path, kind) in live where kind == .file { kind.remove(path) }
      for (path, kind) in live where kind == .directory { kind.remove(path) }
      live = [:]
      if !keepingLock { lock.signal() }
    }
  }
}
