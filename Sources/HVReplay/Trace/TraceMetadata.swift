/// What produced a trace: ordered `key=value` pairs carried in a trace's header.
///
/// Keys are non-empty and hold no `=`, newline or carriage return; values hold
/// no newline or carriage return. Typical keys: `producer` (program and
/// version), `command` (the full command line), `profile`, `seed`.
public struct TraceMetadata: Hashable, Sendable {
  /// The pairs in the order they were written.
  public private(set) var entries: [(key: String, value: String)] = []

  public init() {}

  public init(_ entries: [(String, String)]) {
    for (key, value) in entries { self[key] = value }
  }

  /// The value for `key`, or `nil`. Setting a key keeps its position.
  public subscript(key: String) -> String? {
    get { entries.first { $0.key == key }?.value }
    set {
      let key = Self.clean(key, allowingEquals: false)
      if let index = entries.firstIndex(where: { $0.key == key }) {
        if let newValue {
          entries[index].value = Self.clean(newValue, allowingEquals: true)
        } else {
          entries.remove(at: index)
        }
      } else if let newValue, !key.isEmpty {
        entries.append((key, Self.clean(newValue, allowingEquals: true)))
      }
    }
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
