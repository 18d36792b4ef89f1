#if canImport(Glibc)
  import Glibc
#elseif canImport(Darwin)
  import Darwin
#endif

/// The fuzzer's input as a file that hvreplay's readers open by path, kept in memory.
///
/// HVReplay reads every input through `ByteInput(path:)`, so each execution stores its bytes
/// in one memory-backed file (a Linux `memfd`, or an unlinked file in `/dev/shm` where there
/// is none) and hands the readers ``path``, `/proc/self/fd/N`, which opens it afresh at offset 0.
/// No file is created or removed per execution.
public enum FuzzFile {
  /// The descriptor of the memory-backed file; opened once per process.
  private static let descriptor: Int32 = openMemoryFile()

  /// The path that opens the file holding the last stored input.
  public static let path = "/proc/self/fd/\(descriptor)"

  /// Replaces the file's contents with `count` bytes at `start`.
  public static func store(_ start: UnsafeRawPointer, _ count: Int) {
    guard ftruncate(descriptor, 0) == 0 else { fatalError("ftruncate: errno \(errno)") }
    var written = 0
    while written < count {
      let n = pwrite(descriptor, start + written, count - written, off_t(written))
      guard n > 0 else { fatalError("pwrite: errno \(errno)") }
      written += n
    }
  }

  /// Replaces the file's contents with `bytes`.
  public static func store(_ bytes: [UInt8]) {
    bytes.withUnsafeBytes { store($0.baseAddress ?? UnsafeRawPointer(bitPattern: 1)!, $0.count) }
  }

  private static func openMemoryFile() -> Int32 {
    typealias MemfdCreate = @convention(c) (UnsafePointer<CChar>, UInt32) -> Int32
    if let symbol = dlsym(UnsafeMutableRawPointer(bitPattern: 0), "memfd_create") {
      let fd = unsafeBitCast(symbol, to: MemfdCreate.self)("hvreplay-fuzz-input", 0)
      if fd >= 0 { return fd }
    }
    let name = "\(FuzzScratch.baseDirectory)/hvreplay-fuzz-input-\(getpid())"
    let fd = open(name, O_RDWR | O_CREAT | O_TRUNC, 0o600)
    guard fd >= 0 else { fatalError("cannot create \(name): errno \(errno)") }
    unlink(name)
    return fd
  }
}

/// A private folder for files a target writes (re-encoded traces), on tmpfs where there is one.
public enum FuzzScratch {
  /// `/dev/shm` when it exists, else `TMPDIR` or `/tmp`.
  static var baseDirectory: String {
    if access("/dev/shm", W_OK) == 0 { return "/dev/shm" }
    return getenv("TMPDIR").map { String(cString: $0) } ?? "/tmp"
  }

  /// The folder, created once per process and removed with its files when the process exits
  /// normally (a crashing process leaves it behind: a few small files in tmpfs).
  public static let directory: String = {
    var template = Array("\(baseDirectory)/hvreplay-fuzz-XXXXXX".utf8CString)
    guard let made = template.withUnsafeMutableBufferPointer({ mkdtemp($0.baseAddress!) }) else {
      fatalError("mkdtemp: errno \(errno)")
    }
    let path = String(cString: made)
    removal = path
    atexit {
      guard let path = FuzzScratch.removal else { return }
      for name in FuzzScratch.files { unlink("\(path)/\(name)") }
      rmdir(path)
    }
    return path
  }()

  /// The names of the files targets write into ``directory``.
  static let files = ["roundtrip.csv", "roundtrip.hvt"]
  nonisolated(unsafe) private static var removal: String?
}
