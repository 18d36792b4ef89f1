extension Model {
  /// The model as nested JSON objects, every key present.
  public var json: JSONValue {
    var root: [(String, JSONValue)] = []
    for key in Self.keys {
      Self.insert(
        key.value(in: self), at: key.path.split(separator: ".").map(String.init), into: &root)
    }
    let guests = vms.keys.sorted().map { id -> (String, JSONValue) in
      let v = vms[id]!
      return (String(id), .object([("weight", .uint(v.weight)), ("cap_pct", .uint(v.capPercent))]))
    }
    root.append(("vms", .object(guests)))
    if !calibration.isEmpty {
      root.append(
        ("calibration", .object(calibration.keys.sorted().map { ($0, .string(calibration[$0]!)) })))
    }
    return .object(root)
  }

  private static func insert(
    _ value: JSONValue, at path: [String], into members: inout [(String, JSONValue)]
  ) {
    guard let head = path.first else { return }
    if path.count == 1 {
      members.append((head, value))
      return
    }
    if let i = members.firstIndex(where: { $0.0 == head }), case .object(var inner) = members[i].1 {
      insert(value, at: Array(path.dropFirst()), into: &inner)
      members[i].1 = .object(inner)
    } else {
      var inner: [(String, JSONValue)] = []
      insert(value, at: Array(path.dropFirst()), into: &inner)
      members.append((head, .object(inner)))
    }
  }

  /// Applies a JSON document of the same shape as ``json``; keys left out keep their value.
  ///
  /// - Throws: ``HVReplayError`` (`.badData`) naming `file` and the unknown or bad key.
  public mutating func apply(json: JSONValue, file: String) throws(HVReplayError) {
    try apply(json, prefix: "", file: file)
  }

  private mutating func apply(_ value: JSONValue, prefix: String, file: String)
    throws(HVReplayError)
  {
    guard case .object(let members) = value else {
      throw HVReplayError(
        .badData, file: file,
        prefix.isEmpty ? "the model must be a JSON object" : "\(prefix) must be an object")
    }
    for (name, member) in members {
      let path = prefix.isEmpty ? name : "\(prefix).\(name)"
      if path == "calibration" {
        try applyCalibration(member, file: file)
        continue
      }
      if path == "vms" || prefix == "vms" {
        try apply(member, prefix: path, file: file)
        continue
      }
      if let result = setVMKey(path, member) ?? setAlias(path, member) {
        if case .failure(let error) = result {
          throw HVReplayError(.badData, file: file, error.message)
        }
        continue
      }
      if let key = Self.key(path) {
        do { try key.set(member, in: &self) } catch {
          throw HVReplayError(.badData, file: file, error.message)
        }
      } else if Self.keys.contains(where: { $0.path.hasPrefix(path + ".") }) {
        try apply(member, prefix: path, file: file)
      } else {
        throw HVReplayError(
          .badData, file: file, "unknown model key \"\(path)\"\(Self.suggestion(for: path))")
      }
    }
  }

  /// The `calibration` member: each measured key's provenance (model rule "calibrated
  /// keys", docs/MODEL.md).
  private mutating func applyCalibration(_ value: JSONValue, file: String)
    throws(HVReplayError)
  {
    guard case .object(let members) = value else {
      throw HVReplayError(
        .badData, file: file, "calibration must be an object of model keys and their sources")
    }
    for (key, provenance) in members {
      guard Self.key(key) != nil else {
        throw HVReplayError(
          .badData, file: file,
          "calibration names unknown model key \"\(key)\"\(Self.suggestion(for: key))")
      }
      guard case .string(let text) = provenance, text.utf8.count <= 1_000 else {
        throw HVReplayError(
          .badData, file: file,
          "calibration.\(key) must be a string of at most 1,000 bytes saying what it was measured from"
        )
      }
      calibration[key] = text
    }
  }

  /// Reads a model file and applies it over this model.
  public mutating func load(file path: String) throws(HVReplayError) {
    let input = try ByteInput(path: path, capacity: 1 << 20)
    try input.refill(from: 0)
    guard input.atEnd else {
      throw HVReplayError(.badData, file: path, "the model file is larger than 1 MiB")
    }
    let text = String(
      decoding: UnsafeRawBufferPointer(start: input.base, count: input.end), as: UTF8.self)
    try apply(json: JSONParser.parse(text, file: path), file: path)
  }

  /// The keys whose values differ from `other`'s, as `key: this -> other`.
  public func differences(from other: Model) -> [String] {
    var out: [String] = []
    for key in Self.keys {
      let a = key.value(in: self).serialized(pretty: false)
      let b = key.value(in: other).serialized(pretty: false)
      if a != b { out.append("\(key.path): \(a) -> \(b)") }
    }
    for id in Set(vms.keys).union(other.vms.keys).sorted() where vm(id) != other.vm(id) {
      out.append(
        "vms.\(id): weight \(vm(id).weight) cap \(vm(id).capPercent)% -> weight \(other.vm(id).weight) cap \(other.vm(id).capPercent)%"
      )
    }
    return out
  }

  /// Applies the `model.<key>=<value>` entries of a trace's metadata.
  ///
  /// - Throws: ``HVReplayError`` (`.badData`) naming the trace's bad entry.
  public mutating func apply(traceMetadata: TraceMetadata) throws(HVReplayError) {
    for entry in traceMetadata.entries where entry.key.hasPrefix("model.") {
      do {
        try set(String(entry.key.dropFirst("model.".count)) + "=" + entry.value)
      } catch {
        throw HVReplayError(.badData, "the trace's metadata \"\(entry.key)\": \(error.message)")
      }
    }
  }

  /// Applies one `key.path=value` assignment (`--set`).
  ///
  /// - Throws: ``HVReplayError`` (`.usage`) for an unknown key or a bad value.
  public mutating func set(_ assignment: String) throws(HVReplayError) {
    guard let eq = assignment.firstIndex(of: "=") else {
      throw HVReplayError(.usage, "--set expects key.path=value, found \"\(assignment)\"")
    }
    let path = String(assignment[..<eq])
    let text = String(assignment[assignment.index(after: eq)...])
    let value: JSONValue =
      text == "true" ? .bool(true) : text == "false" ? .bool(false) : .string(text)
    if let result = setVMKey(path, value) ?? setAlias(path, value) {
      if case .failure(let error) = result {
        throw HVReplayError(.usage, "--set: \(error.message)")
      }
      return
    }
    guard let key = Self.key(path) else {
      throw HVReplayError(
        .usage, "--set: unknown model key \"\(path)\"\(Self.suggestion(for: path))")
    }
    do { try key.set(value, in: &self) } catch {
      throw HVReplayError(.usage, "--set: \(error.message)")
    }
  }

  /// ", did you mean ...?" for a mistyped key, listing the known keys otherwise.
  static func suggestion(for path: String) -> String {
    let last = path.split(separator: ".").last.map(String.init) ?? path
    if let close = keys.first(where: { $0.path.hasSuffix("." + last) }) {
      return "; did you mean \"\(close.path)\"?"
    }
    return "; known keys: \(keys.map(\.path).joined(separator: ", "))"
  }
}
