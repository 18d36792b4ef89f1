/// A JSON value with ordered object keys, written deterministically.
public indirect enum JSONValue: Equatable, Sendable {
  case null
  case bool(Bool)
  case int(Int64)
  case uint(UInt64)
  case double(Double)
  case string(String)
  case array([JSONValue])
  case object([(String, JSONValue)])
  /// JSON text written as it is (for large arrays of numbers, built without a node each).
  case raw(String)

  public static func == (a: JSONValue, b: JSONValue) -> Bool {
    a.serialized() == b.serialized()
  }

  /// The value as JSON text, indented by two spaces per level when `pretty`.
  public func serialized(pretty: Bool = true) -> String {
    var out = ""
    write(to: &out, indent: 0, pretty: pretty)
    return out
  }

  /// Writes the value as ``serialized(pretty:)`` gives it to `out`.
  public func write<Out: TextOutputStream>(to out: inout Out, pretty: Bool = true) {
    write(to: &out, indent: 0, pretty: pretty)
  }

  private func write<Out: TextOutputStream>(to out: inout Out, indent: Int, pretty: Bool) {
    let newline = pretty ? "\n" : ""
    let pad = pretty ? String(repeating: "  ", count: indent + 1) : ""
    let closePad = pretty ? String(repeating: "  ", count: indent) : ""
    switch self {
    case .null: out.write("null")
    case .bool(let b): out.write(b ? "true" : "false")
    case .int(let i): out.write(String(i))
    case .uint(let u): out.write(String(u))
    case .double(let d): out.write(Self.format(d))
    case .string(let s): Self.quote(s, into: &out)
    case .raw(let text): out.write(text)
    case .array(let items):
      if items.isEmpty {
        out.write("[]")
        return
      }
      // Short arrays of numbers, and arrays of them (histogram pairs), stay on one line.
      if items.allSatisfy(\.isInline) {
        out.write("[")
        for (i, item) in items.enumerated() {
          if i > 0 { out.write(", ") }
          item.write(to: &out, indent: 0, pretty: false)
        }
        out.write("]")
        return
      }
      out.write("[" + newline)
      for (i, item) in items.enumerated() {
        out.write(pad)
        item.write(to: &out, indent: indent + 1, pretty: pretty)
        out.write((i + 1 < items.count ? "," : "") + newline)
      }
      out.write(closePad + "]")
    case .object(let members):
      Self.writeObject(
        members.count, to: &out, indent: indent, pretty: pretty,
        key: { members[$0].0 }
      ) { i, out in members[i].1.write(to: &out, indent: indent + 1, pretty: pretty) }
    }
  }

  /// An object's members, each written by `value` (as `value(i, &out)`).
  private static func writeObject<Out: TextOutputStream>(
    _ count: Int, to out: inout Out, indent: Int, pretty: Bool, key: (Int) -> String,
    value: (Int, inout Out) -> Void
  ) {
    if count == 0 {
      out.write("{}")
      return
    }
    let newline = pretty ? "\n" : ""
    let pad = pretty ? String(repeating: "  ", count: indent + 1) : ""
    out.write("{" + newline)
    for i in 0..<count {
      out.write(pad)
      quote(key(i), into: &out)
      out.write(pretty ? ": " : ":")
      value(i, &out)
      out.write((i + 1 < count ? "," : "") + newline)
    }
    out.write((pretty ? String(repeating: "  ", count: indent) : "") + "}")
  }

  /// A member of an object written member by member: a value, or an array of objects made
  /// one at a time as it is written (so that the whole array is never in memory).
  public enum StreamedMember {
    case value(JSONValue)
    case objects(count: Int, make: (Int) -> JSONValue)

    /// The member as one value.
    public var value: JSONValue {
      switch self {
      case .value(let v): v
      case .objects(let count, let make): .array((0..<count).map(make))
      }
    }
  }

  /// Writes, pretty, the object of `members` exactly as ``serialized(pretty:)`` writes it
  /// whole, making each `.objects` element only when it is written. Each such element
  /// must be an object (an array of numbers would be laid out on one line).
  public static func writeObject<Out: TextOutputStream>(
    _ members: [(String, StreamedMember)], to out: inout Out
  ) {
    writeObject(members.count, to: &out, indent: 0, pretty: true, key: { members[$0].0 }) {
      i, out in
      switch members[i].1 {
      case .value(let v): v.write(to: &out, indent: 1, pretty: true)
      case .objects(let count, let make):
        guard count > 0 else {
          out.write("[]")
          return
        }
        out.write("[\n")
        for j in 0..<count {
          let item = make(j)
          precondition(!item.isInline, "a streamed array holds objects")
          out.write("    ")
          item.write(to: &out, indent: 2, pretty: true)
          out.write((j + 1 < count ? "," : "") + "\n")
        }
        out.write("  ]")
      }
    }
  }

  /// Whether the value prints on one line inside an array: a number, or up to 4 numbers.
  private var isInline: Bool {
    switch self {
    case .uint, .int, .double, .bool, .null, .raw: true
    case .array(let items): items.count <= 4 && items.allSatisfy(\.isScalar)
    default: false
    }
  }

  private var isScalar: Bool {
    switch self {
    case .uint, .int, .double, .bool, .null: true
    default: false
    }
  }

  /// Formats a double the shortest way that reads back exactly; non-finite as null.
  static func format(_ d: Double) -> String {
    guard d.isFinite else { return "null" }
    if d == d.rounded() && abs(d) < 1e15 { return String(Int64(d)) }
    return String(d)
  }

  static func quote<Out: TextOutputStream>(_ s: String, into out: inout Out) {
    // Most strings need no escape: written as they are.
    guard
      s.unicodeScalars.contains(where: {
        $0 == "\"" || $0 == "\\" || $0 == "\n" || $0 == "\r" || $0 == "\t"
          || String.needsEscape($0)
      })
    else {
      out.write("\"")
      out.write(s)
      out.write("\"")
      return
    }
    var escaped = "\""
    for scalar in s.unicodeScalars {
      switch scalar {
      case "\"": escaped += "\\\""
      case "\\": escaped += "\\\\"
      case "\n": escaped += "\\n"
      case "\r": escaped += "\\r"
      case "\t": escaped += "\\t"
      // Controls and bidirectional formatting characters, as terminals are spared them.
      case _ where String.needsEscape(scalar):
        let hex = String(scalar.value, radix: 16)
        escaped += "\\u" + String(repeating: "0", count: 4 - hex.count) + hex
      default: escaped.unicodeScalars.append(scalar)
      }
    }
    escaped += "\""
    out.write(escaped)
  }
}
