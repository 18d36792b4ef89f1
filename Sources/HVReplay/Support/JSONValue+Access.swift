extension JSONValue {
  /// The member `key` of an object, or `nil`.
  public subscript(key: String) -> JSONValue? {
    guard case .object(let members) = self else { return nil }
    return members.first { $0.0 == key }?.1
  }

  /// The value as an unsigned integer, when it is one.
  public var uint: UInt64? {
    switch self {
    case .uint(let u): u
    case .int(let i) where i >= 0: UInt64(i)
    case .double(let d) where d >= 0 && d == d.rounded() && d < 1.8e19: UInt64(d)
    default: nil
    }
  }

  /// The value as a double, when it is a number.
  public var double: Double? {
    switch self {
    case .uint(let u): Double(u)
    case .int(let i): Double(i)
    case .double(let d): d
    default: nil
    }
  }

  public var string: String? {
    if case .string(let s) = self { return s }
    return nil
  }

  public var array: [JSONValue]? {
    if case .array(let a) = self { return a }
    return nil
  }

  public var members: [(String, JSONValue)]? {
    if case .object(let m) = self { return m }
    return nil
  }
}

/// Reads typed members out of a JSON document, naming the path of what is missing.
struct JSONFields {
  let value: JSONValue
  let path: String
  let file: String

  func fail(_ what: String) -> HVReplayError {
    HVReplayError(.badData, file: file, "\(path.isEmpty ? "the document" : path): \(what)")
  }

  func child(_ key: String) throws(HVReplayError) -> JSONFields {
    guard let v = value[key] else { throw fail("missing \"\(key)\"") }
    return JSONFields(value: v, path: path.isEmpty ? key : "\(path).\(key)", file: file)
  }

  func uint(_ key: String) throws(HVReplayError) -> UInt64 {
    guard let v = try child(key).value.uint else { throw fail("\"\(key)\" must be a whole number") }
    return v
  }

  func double(_ key: String) throws(HVReplayError) -> Double {
    guard let v = try child(key).value.double else { throw fail("\"\(key)\" must be a number") }
    return v
  }

  func string(_ key: String) throws(HVReplayError) -> String {
    guard let v = try child(key).value.string else { throw fail("\"\(key)\" must be a string") }
    return v
  }

  func array(_ key: String) throws(HVReplayError) -> [JSONFields] {
    let c = try child(key)
    guard let items = c.value.array else { throw fail("\"\(key)\" must be an array") }
    return items.enumerated().map { JSONFields(value: $1, path: "\(c.path)[\($0)]", file: file) }
  }
}
