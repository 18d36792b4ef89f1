/// A trace file format; with a ``Compression`` it makes a file type.
public enum TraceFormat: String, Sendable, CaseIterable, CustomStringConvertible {
  /// The native binary format (`docs/TRACE-FORMAT.md`).
  case hvt
  /// The CSV format.
  case csv

  public var description: String { rawValue }
}

/// A trace format and a compression, as named by a file extension such as `.hvt.zst`.
public struct TraceFileType: Hashable, Sendable, CustomStringConvertible {
  public var format: TraceFormat
  public var compression: Compression

  public init(format: TraceFormat, compression: Compression) {
    self.format = format
    self.compression = compression
  }

  /// The names users give: `hvt`, `hvt.zst`, `csv`, `csv.zst`.
  public static let allNames = ["hvt", "hvt.zst", "csv", "csv.zst"]

  /// Parses `hvt`, `hvt.zst`, `csv` or `csv.zst`.
  public init?(name: String) {
    let parts = name.lowercased().split(separator: ".", omittingEmptySubsequences: false)
    guard let first = parts.first, let format = TraceFormat(rawValue: String(first)) else {
      return nil
    }
    switch parts.count {
    case 1: self.init(format: format, compression: .none)
    case 2 where parts[1] == "zst" || parts[1] == "zstd":
      self.init(format: format, compression: .zstd)
    default: return nil
    }
  }

  /// The type a file name's extension names (`trace.hvt.zst`), or `nil`.
  public init?(path: String) {
    let name = path.lowercased()
    for candidate in Self.allNames.reversed() where name.hasSuffix("." + candidate) {
      self.init(name: candidate)
      return
    }
    return nil
  }

  public var description: String {
    compression == .none ? format.rawValue : "\(format.rawValue).zst"
  }
}
