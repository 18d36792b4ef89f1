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

  private func write(to out: inout String, indent: Int, pretty: Bool) {
    let newline = pretty ? "\n" : ""
    let pad = pretty ? String(repeating: "  ", count: indent + 1) : ""
    let closePad = pretty ? String(repeating: "  ", count: indent) : ""
    switch self {
    case .null: out += "null"
    case .bool(let b): out += b ? "true" : "false"
    case .int(let i): out += String(i)
    case .uint(let u): out += String(u)
    case .double(let d): out += Self.format(d)
    case .string(let s): Self.quote(s, into: &out)
    case .raw(let text): out += text
    case .array(let items):
      if items.isEmpty {
        out += "[]"
        return
      }
      // Short arrays of numbers, and arrays of them (histogram pairs), stay on one line.
      if items.allSatisfy(\.isInline) {
        out += "["
        for (i, item) in items.enumerated() {
          if i > 0 { out += ", " }
          item.write(to: &out, indent: 0, pretty: false)
        }
        out += "]"
        return
      }
      out += "[" + newline
      for (i, item) in items.enumerated() {
        out += pad
        item.write(to: &out, indent: indent + 1, pretty: pretty)
        out += (i + 1 < items.count ? "," : "") + newline
      }
      out += closePad + "]"
    case .object(let members):
      if members.isEmpty {
        out += "{}"
        return
      }
      out += "{" + newline
      for (i, (key, value)) in members.enumerated() {
        out += pad
        Self.quote(key, into: &out)
        out += pretty ? ": " : ":"
        value.write(to: &out, indent: indent + 1, pretty: pretty)
        out += (i + 1 < members.count ? "," : "") + newline
      }
      out += closePad + "}"
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

  static func quote(_ s: String, into out: inout String) {
    out += "\""
    for scalar in s.unicodeScalars {
      switch scalar {
      case "\"": out += "\\\""
      case "\\": out += "\\\\"
      case "\n": out += "\\n"
      case "\r": out += "\\r"
      case "\t": out += "\\t"
      // Controls and bidirectional formatting characters, as terminals are spared them.
      case _ where String.needsEscape(scalar):
        let hex = String(scalar.value, radix: 16)
        out += "\\u" + String(repeating: "0", count: 4 - hex.count) + hex
      default: out.unicodeScalars.append(scalar)
      }
    }
    out += "\""
  }
}
