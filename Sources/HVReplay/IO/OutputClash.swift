import SystemPackage

#if canImport(Glibc)
  import Glibc
#elseif canImport(Musl)
  import Musl
#elseif canImport(Darwin)
  import Darwin
#endif

/// Checks that an extra output file (a timeline) can be written without destroying an
/// input or disturbing a report folder, before anything is read or written.
public enum OutputClash {
  /// Why writing `output` would destroy `inputs` or clash with the report folder
  /// `reportDirectory`, or nil when it would not.
  ///
  /// Refused: `output` is one of `inputs` (the same file, through any link or hard link;
  /// `-` is standard input as it is open), or it is the report folder or lies in it or
  /// below it, existing or not (the folder is replaced as a whole, and only by the
  /// report's own files). Symbolic links are followed, a dangling one to where it points.
  public static func reason(
    output: String, inputs: [String], reportDirectory: String?
  ) -> String? {
    let target = OutputDestination(output).path
    if let written = identity(target) {
      // A blktrace base name stands for the per-CPU files it is read from.
      for input in TraceReader.expand(inputs) + inputs {
        let same = input == "-" ? standardInputIdentity() == written : identity(input) == written
        if same {
          let shown = input == "-" ? "standard input" : input
          return "is the input (\(shown)); name another file (the input would be overwritten)"
        }
      }
    }
    guard let reportDirectory else { return nil }
    let folder = canonical(reportDirectory)
    let file = canonical(target)
    if file == folder || file.hasPrefix(folder == "/" ? "/" : folder + "/") {
      return
        "is or lies in the report folder \(reportDirectory), which hvreplay replaces as a whole; name a file outside it"
    }
    return nil
  }

  /// The device and inode `path` leads to (links followed), or nil when it does not exist.
  private static func identity(_ path: String) -> [UInt64]? {
    var st = stat()
    guard stat(path, &st) == 0 else { return nil }
    return [UInt64(st.st_dev), UInt64(st.st_ino)]
  }

  /// The device and inode of standard input when it is a regular file.
  private static func standardInputIdentity() -> [UInt64]? {
    var st = stat()
    guard fstat(0, &st) == 0, st.st_mode & S_IFMT == S_IFREG else { return nil }
    return [UInt64(st.st_dev), UInt64(st.st_ino)]
  }

  /// `path` absolute, its longest existing prefix resolved on disk (links and `..`
  /// followed as the kernel follows them), the rest normalized as written.
  static func canonical(_ path: String) -> String {
    var absolute = path
    if !path.hasPrefix("/") {
      var buffer = [CChar](repeating: 0, count: 4097)
      if getcwd(&buffer, buffer.count) != nil { absolute = String(cString: buffer) + "/" + path }
    }
    var existing = absolute.split(separator: "/").map(String.init)
    var rest: [String] = []
    while true {
      if let c = realpath("/" + existing.joined(separator: "/"), nil) {
        defer { free(c) }
        var resolved = FilePath(String(cString: c))
        for component in rest.reversed() { resolved.append(component) }
        return resolved.lexicallyNormalized().string
      }
      guard let last = existing.popLast() else {
        return FilePath(absolute).lexicallyNormalized().string
      }
      rest.append(last)
    }
  }
}
