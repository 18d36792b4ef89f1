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
  /// Refused: `output` is one of `inputs` (the same file, through any link or hard link),
  /// or lies in `reportDirectory` or below it (the folder is replaced as a whole, and
  /// only by the report's own files).
  public static func reason(
    output: String, inputs: [String], reportDirectory: String?
  ) -> String? {
    if let target = identity(output) {
      for input in inputs where input != "-" && identity(input) == target {
        return "is the input \(input); name another file (the input would be overwritten)"
      }
    }
    guard let reportDirectory, let folder = resolved(reportDirectory),
      let parent = resolved(output).map(parentDirectory)
        ?? resolved(parentDirectory(of: output))
    else { return nil }
    if parent == folder || parent.hasPrefix(folder == "/" ? "/" : folder + "/") {
      return
        "lies in the report folder \(reportDirectory), which hvreplay replaces as a whole; name a file outside it"
    }
    return nil
  }

  /// The device and inode `path` leads to (links followed), or nil when it does not exist.
  private static func identity(_ path: String) -> [UInt64]? {
    var st = stat()
    guard stat(path, &st) == 0 else { return nil }
    return [UInt64(st.st_dev), UInt64(st.st_ino)]
  }

  /// `path` with every link followed, or nil when it does not exist.
  private static func resolved(_ path: String) -> String? {
    guard let c = realpath(path, nil) else { return nil }
    defer { free(c) }
    return String(cString: c)
  }

  /// The directory `path` is in (`.` for a bare name).
  private static func parentDirectory(of path: String) -> String {
    guard let slash = path.lastIndex(of: "/") else { return "." }
    let parent = String(path[..<slash])
    return parent.isEmpty ? "/" : parent
  }
}
