/// A small strict JSON parser producing ``JSONValue`` (object key order kept).
///
/// Errors name the line and column, for model files a person edits.
struct JSONParser {
  private let bytes: [UInt8]
  private var i = 0
  private let file: String

  /// Parses `text`; errors name `file` and the line.
  static func parse(_ text: String, file: String) throws(HVReplayError) -> JSONValue {
    var parser = JSONParser(bytes: Array(text.utf8), file: file)
    parser.skipSpace()
    let value = try parser.value(depth: 0)
    parser.skipSpace()
    guard parser.i == parser.bytes.count else {
      throw parser.fail("unexpected text after the JSON value")
    }
    return value
  }

  private init(bytes: [UInt8], file: String) {
    self.bytes = bytes
    self.file = file
  }

  private func fail(_ message: String) -> HVReplayError {
    let line = bytes[..<min(i, bytes.count)].reduce(1) { $1 == 0x0A ? $0 + 1 : $0 }
    return HVReplayError(.badData, file: file, location: .line(line), "invalid JSON: \(message)")
  }

  private mutating func skipSpace() {
    while i < bytes.count, [0x20, 0x09, 0x0A, 0x0D].contains(bytes[i]) { i += 1 }
  }

  private mutating func expect(_ literal: String) throws(HVReplayError) {
    for b in literal.utf8 {
      guard i < bytes.count, bytes[i] == b else { throw fail("expected \(literal)") }
      i += 1
    }
  }

  private mutating func value(depth: Int) throws(HVReplayError) -> JSONValue {
    guard depth < 64 else { throw fail("nested too deeply") }
    guard i < bytes.count else { throw fail("unexpected end of input") }
    switch bytes[i] {
    case UInt8(ascii: "{"):
      i += 1
      var members: [(String, JSONValue)] = []
      var keys = Set<String>()
      skipSpace()
      if i < bytes.count, bytes[i] == UInt8(ascii: "}") {
        i += 1
        return .object(members)
      }
      while true {
        skipSpace()
        guard i < bytes.count, bytes[i] == UInt8(ascii: "\"") else {
          throw fail("expected a key string")
        }
        let key = try string()
        skipSpace()
        try expect(":")
        skipSpace()
        guard keys.insert(key).inserted else { throw fail("duplicate key \"\(key)\"") }
        members.append((key, try value(depth: depth + 1)))
        skipSpace()
        guard i < bytes.count else { throw fail("unexpected end of input in an object") }
        if bytes[i] == UInt8(ascii: ",") {
          i += 1
          continue
        }
        try expect("}")
        return .object(members)
      }
    case UInt8(ascii: "["):
      i += 1
      var items: [JSONValue] = []
      skipSpace()
      if i < bytes.count, bytes[i] == UInt8(ascii: "]") {
        i += 1
        return .array(items)
      }
      while true {
        skipSpace()
        items.append(try value(depth: depth + 1))
        skipSpace()
        guard i < bytes.count else { throw fail("unexpected end of input in an array") }
        if bytes[i] == UInt8(ascii: ",") {
          i += 1
          continue
        }
        try expect("]")
        return .array(items)
      }
    case UInt8(ascii: "\""): return .string(try string())
    case UInt8(ascii: "t"):
      try expect("true")
      return .bool(true)
    case UInt8(ascii: "f"):
      try expect("false")
      return .bool(false)
    case UInt8(ascii: "n"):
      try expect("null")
      return .null
    default: return try number()
    }
  }

  private mutating func string() throws(HVReplayError) -> String {
    i += 1
    var scalars = String.UnicodeScalarView()
    var run: [UInt8] = []
    func flush() {
      scalars.append(contentsOf: String(decoding: run, as: UTF8.self).unicodeScalars)
      run.removeAll()
    }
    while i < bytes.count {
      let b = bytes[i]
      i += 1
      switch b {
      case UInt8(ascii: "\""):
        flush()
        return String(scalars)
      case UInt8(ascii: "\\"):
        flush()
        guard i < bytes.count else { break }
        let e = bytes[i]
        i += 1
        switch e {
        case UInt8(ascii: "n"): scalars.append("\n")
        case UInt8(ascii: "t"): scalars.append("\t")
        case UInt8(ascii: "r"): scalars.append("\r")
        case UInt8(ascii: "b"): scalars.append("\u{8}")
        case UInt8(ascii: "f"): scalars.append("\u{C}")
        case UInt8(ascii: "u"):
          guard i + 4 <= bytes.count,
            let code = UInt32(String(decoding: bytes[i..<i + 4], as: UTF8.self), radix: 16),
            let scalar = Unicode.Scalar(code)
          else { throw fail("bad \\u escape") }
          i += 4
          scalars.append(scalar)
        default: scalars.append(Unicode.Scalar(e))
        }
      default:
        guard b >= 0x20 else { throw fail("control character in a string") }
        run.append(b)
      }
    }
    throw fail("unterminated string")
  }

  private mutating func number() throws(HVReplayError) -> JSONValue {
    let start = i
    while i < bytes.count, "+-0123456789.eE".utf8.contains(bytes[i]) { i += 1 }
    let text = String(decoding: bytes[start..<i], as: UTF8.self)
    if let u = UInt64(text) { return .uint(u) }
    if let s = Int64(text) { return .int(s) }
    if let d = Double(text), !text.isEmpty { return .double(d) }
    throw fail(text.isEmpty ? "unexpected character" : "bad number \"\(text)\"")
  }
}
