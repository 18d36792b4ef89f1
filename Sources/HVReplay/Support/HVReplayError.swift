/// An error for a person: what went wrong, where, and what was expected.
///
/// `description` reads like `trace.csv:1042: column "bytes": expected an unsigned
/// integer, found "-4"`, with control characters escaped (`\u{1B}`); ``exitCode`` is
/// the sysexits code the command exits with.
public struct HVReplayError: Error, CustomStringConvertible, Sendable, Equatable {
  /// The class of failure, which decides the exit code.
  public enum Category: Sendable, Equatable {
    /// A bad option or argument (`EX_USAGE`, 64).
    case usage
    /// Input that is malformed, truncated or inconsistent (`EX_DATAERR`, 65).
    case badData
    /// An input file that does not exist or cannot be opened (`EX_NOINPUT`, 66).
    case missingInput
    /// An output that cannot be created or written (`EX_CANTCREAT`, 73).
    case cannotCreateOutput
    /// An operating-system failure while reading or writing (`EX_IOERR`, 74).
    case ioError
  }

  /// Where in an input the problem is.
  public enum Location: Sendable, Equatable {
    case none
    /// A 1-based line of a text file.
    case line(Int)
    /// A 0-based byte offset, in the decompressed stream when the file is compressed.
    case byteOffset(UInt64)
  }

  public var category: Category
  /// The file the problem is in (`-` for standard input), or `nil`.
  public var file: String?
  public var location: Location
  /// What was wrong and what was expected.
  public var message: String

  public init(
    _ category: Category, file: String? = nil, location: Location = .none, _ message: String
  ) {
    self.category = category
    self.file = file
    self.location = location
    self.message = message
  }

  public var description: String {
    var prefix = ""
    if let file { prefix = file == "-" ? "<stdin>" : file }
    switch location {
    case .none: break
    case .line(let n): prefix += ":\(n)"
    case .byteOffset(let o): prefix += (prefix.isEmpty ? "" : ": ") + "byte offset \(o)"
    }
    // File names and the bytes a message quotes come from the input: never let them
    // reach a terminal raw.
    return (prefix.isEmpty ? message : "\(prefix): \(message)").escapingControlCharacters
  }

  /// The sysexits(3) code for this error.
  public var exitCode: Int32 {
    switch category {
    case .usage: 64
    case .badData: 65
    case .missingInput: 66
    case .cannotCreateOutput: 73
    case .ioError: 74
    }
  }

  /// A copy naming `file` where the error had no file yet.
  public func inFile(_ name: String) -> HVReplayError {
    var copy = self
    if copy.file == nil { copy.file = name }
    return copy
  }
}
