/// What produced a trace: ordered `key=value` pairs carried in a trace's header.
///
/// Keys are non-empty and hold no `=`, newline or carriage return; values hold
/// no newline or carriage return. Typical keys: `producer` (program and
/// version), `command` (the full command line), `profile`, `seed`.
///
/// A trace read from a file holds at most ``maximumKeys`` keys and ``maximumTextBytes``
/// bytes of ``text``: what the native header can carry, so that any trace converts to
/// `.hvt`.
public struct TraceMetadata: Hashable, Sendable {
  /// The most keys a trace file's metadata may hold.
  public static let maximumKeys = 4096
  /// The most bytes of ``text`` a trace file's metadata may hold (64 KiB, the native
  /// header's limit).
  public static let maximumTextBytes = NativeTraceLayout.maximumMetadataSize

  /// The pairs in the order they were written.
  public private(set) var entries: [(key: String, value: String)] = []
  /// The length of ``text`` in bytes.
  public private(set) var textByteCount = 0

  public init() {}

  public init(_ entries: [(String, String)]) {
    for (key, value) in entries { self[key] = value }
  }

  /// Positions of the keys in `entries`.
  private var index: [String: Int] = [:]

  /// The value for `key`, or `nil`. Setting a key keeps its position.
  public subscript(key: String) -> String? {
    get { index[key].map { entries[$0].value } }
    set {
      let key = Self.clean(key, allowingEquals: false)
      if let i = index[key] {
        textByteCount -= entries[i].value.utf8.count
        if let newValue {
          entries[i].value = Self.clean(newValue, allowingEquals: true)
          textByteCount += entries[i].value.utf8.count
        } else {
          textByteCount -= key.utf8.count + 2
          entries.remove(at: i)
          index = Dictionary(uniqueKeysWithValues: entries.enumerated().map { ($1.key, $0) })
        }
      } else if let newValue, !key.isEmpty {
        index[key] = entries.count
        entries.append((key, Self.clean(newValue, allowingEquals: true)))
        textByteCount += key.utf8.count + entries[entries.count - 1].value.utf8.count + 2
      }
    }
  }

  /// Why setting `key` to `value` would take the metadata past ``maximumKeys`` or
  /// ``maximumTextBytes``, or `nil` when it would not.
  public func limitViolation(setting key: String, to value: String) -> String? {
    let old = index[key].map { key.utf8.count + entries[$0].value.utf8.count + 2 } ?? 0
    if old == 0 && entries.count >= Self.maximumKeys {
      return "more than \(Self.maximumKeys) metadata keys"
    }
    let bytes = textByteCount - old + key.utf8.count + value.utf8.count + 2
    if bytes > Self.maximumTextBytes {
      return
        "the metadata would take \(bytes) bytes as `key=value` lines, more than the \(Self.maximumTextBytes) allowed"
    }
    return nil
  }

  public var isEmpty: Bool { entries.isEmpty }

  /// The pairs as `key=value` lines, each ending in a newline.
  public var text: String { entries.map { "\($0.key)=\($0.value)\n" }.joined() }

  /// Parses `key=value` lines; lines without `=` are kept under the key `note`.
  public init(text: String) {
    for line in text.split(whereSeparator: \.isNewline) {
      if let eq = line.firstIndex(of: "=") {
        self[String(line[..<eq])] = String(line[line.index(after: eq)...])
      } else {
        self["note"] = String(line)
      }
    }
  }

  public static func == (a: TraceMetadata, b: TraceMetadata) -> Bool {
    a.entries.elementsEqual(b.entries) { $0.key == $1.key && $0.value == $1.value }
  }

  public func hash(into hasher: inout Hasher) {
    for e in entries {
      hasher.combine(e.key)
      hasher.combine(e.value)
    }
  }

  private static func clean(_ s: String, allowingEquals: Bool) -> String {
    String(
      s.map { c -> Character in
        (c.isNewline || (!allowingEquals && c == "=")) ? " " : c
      })
  }
}
