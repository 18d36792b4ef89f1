extension TraceInspection {
  /// A report for people: format, metadata, counts, span, totals and rates, with control
  /// characters escaped (`\u{1B}`).
  public var text: String {
    let s = statistics
    var lines: [String] = []
    lines.append("file:        \(file == "-" ? "<stdin>" : file)")
    let formatName =
      switch format {
      case .hvt: "hvt (native binary, version 1)"
      case .csv: "csv"
      default: "\(format) (imported: \(format.summary))"
      }
    var formatLine = "format:      \(formatName)"
    if compression != .none {
      let ratio = fileBytes > 0 ? Double(decodedBytes) / Double(fileBytes) : 0
      formatLine +=
        ", \(compression)-compressed (\(Self.bytes(fileBytes)) on disk, \(Self.bytes(decodedBytes)) decompressed, ratio \(Self.fixed(ratio, 1)))"
    } else {
      formatLine += ", uncompressed (\(Self.bytes(fileBytes)))"
    }
    lines.append(formatLine)
    if !metadata.isEmpty {
      lines.append("metadata:")
      for entry in metadata.entries { lines.append("  \(entry.key): \(entry.value)") }
    }
    lines.append("events:      \(s.events)")
    for kind in EventKind.allCases {
      let n = s.count(kind)
      guard n > 0 else { continue }
      let ops = kind.ops.filter { s.count($0) > 0 }.map { "\($0) \(s.count($0))" }
      lines.append(
        "  \(kind):\(String(repeating: " ", count: 6 - kind.description.count))\(n)  (\(ops.joined(separator: ", ")))"
      )
    }
    let vms = s.vms
    lines.append("vms:         \(vms.count)")
    for v in vms {
      var parts: [String] = []
      if v.disk > 0 { parts.append("disk \(v.disk)") }
      if v.net > 0 { parts.append("net \(v.net)") }
      if v.cpu > 0 { parts.append("cpu \(v.cpu)") }
      lines.append("  vm \(v.vm): \(parts.joined(separator: ", "))")
    }
    if s.events > 0 {
      lines.append(
        "time span:   \(Self.seconds(s.spanNs)) (first event at \(s.firstNs) ns, last at \(s.lastNs) ns)"
      )
    }
    let diskBytes = EventKind.disk.ops.filter { $0 != .discard }.map {
      s.bytesByOp[Int($0.rawValue)]
    }
    .saturatingSum()
    let netBytes = EventKind.net.ops.map { s.bytesByOp[Int($0.rawValue)] }.saturatingSum()
    var bytesLine =
      "bytes:       \(Self.bytes(s.payloadBytes)) (disk \(Self.bytes(diskBytes)), net \(Self.bytes(netBytes)))"
    if s.discardedBytes > 0 {
      bytesLine +=
        "; discards cover \(Self.bytes(s.discardedBytes)) (a range, not data: not counted)"
    }
    lines.append(bytesLine)
    if s.cpuWorkNs > 0 { lines.append("cpu work:    \(Self.seconds(s.cpuWorkNs))") }
    if s.spanNs > 0 {
      let seconds = Double(s.spanNs) / 1e9
      lines.append(
        "mean rate:   \(Self.fixed(Double(s.events) / seconds, 1)) events/s, \(Self.bytes(UInt64(min(Double(s.payloadBytes) / seconds, 1.8e19))))/s"
      )
    }
    if !importNotes.isEmpty {
      lines.append("import:")
      for note in importNotes { lines.append("  \(note)") }
    }
    if reordered > 0 {
      lines.append(
        "reordered:   \(reordered) events arrived out of time order and were put in order (window \(reorderWindow))"
      )
    }
    // Metadata, file and task names come from the trace: escape what could steer a terminal.
    return lines.map(\.escapingControlCharacters).joined(separator: "\n") + "\n"
  }

  /// The same facts as JSON.
  public var json: JSONValue {
    let s = statistics
    return .object(
      [
        ("file", .string(file)),
        ("format", .string(format.rawValue)),
        ("compression", .string(compression.rawValue)),
        ("file_bytes", .uint(fileBytes)),
        ("decoded_bytes", .uint(decodedBytes)),
        ("metadata", .object(metadata.entries.map { ($0.key, .string($0.value)) })),
      ] + s.jsonMembers + [
        ("events_per_s", .double(s.spanNs > 0 ? Double(s.events) * 1e9 / Double(s.spanNs) : 0)),
        ("reordered", .uint(reordered)),
        ("skipped_records", .uint(skipped)),
        ("import_notes", .array(importNotes.map { .string($0) })),
      ])
  }

  static func bytes(_ n: UInt64) -> String {
    let units = ["B", "KiB", "MiB", "GiB", "TiB"]
    var value = Double(n)
    var unit = 0
    while value >= 1024 && unit < units.count - 1 {
      value /= 1024
      unit += 1
    }
    return unit == 0 ? "\(n) B" : "\(fixed(value, 2)) \(units[unit])"
  }

  static func seconds(_ ns: UInt64) -> String {
    if ns >= 1_000_000_000 { return "\(fixed(Double(ns) / 1e9, 3)) s" }
    if ns >= 1_000_000 { return "\(fixed(Double(ns) / 1e6, 3)) ms" }
    if ns >= 1_000 { return "\(fixed(Double(ns) / 1e3, 3)) us" }
    return "\(ns) ns"
  }

  /// `value` with exactly `digits` decimals, rounded half away from zero.
  public static func fixed(_ value: Double, _ digits: Int) -> String {
    // Beyond what the integer formatting below holds (2^64 / 10^digits), or not finite.
    var limit = 1.8e19
    for _ in 0..<digits { limit /= 10 }
    guard value.isFinite, abs(value) < limit else { return String(value) }
    var scale = 1.0
    for _ in 0..<digits { scale *= 10 }
    let scaled = (abs(value) * scale).rounded()
    let whole = UInt64(scaled / scale)
    let fraction = UInt64(scaled - Double(whole) * scale)
    var text = (value < 0 && scaled != 0 ? "-" : "") + String(whole)
    if digits > 0 {
      let f = String(fraction)
      text += "." + String(repeating: "0", count: digits - f.count) + f
    }
    return text
  }
}
