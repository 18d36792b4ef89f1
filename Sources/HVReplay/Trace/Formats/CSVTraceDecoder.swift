#if canImport(Glibc)
  import Glibc
#elseif canImport(Musl)
  import Musl
#elseif canImport(Darwin)
  import Darwin
#endif

/// Reads events from a CSV trace with a byte scanner, streaming.
///
/// Line 1 is exactly ``header``; blank lines and lines starting with `#` are
/// ignored, except that `# meta key=value` lines before the first event carry
/// the trace's metadata. Lines may end in `\n` or `\r\n`; fields may be padded
/// with spaces.
struct CSVTraceDecoder: TraceDecoder {
  /// The required first line.
  static let header = "time_ns,vm,vcpu,kind,op,device,offset,bytes,service_ns"
  /// The prefix of a metadata comment line.
  static let metadataPrefix = "# meta "
  static let columns = header.split(separator: ",").map(String.init)

  private let input: ByteInput
  private let base: UnsafeMutableRawPointer
  private var lines: LineScanner
  /// The 1-based number of the line last read.
  var line: Int { lines.line }
  private(set) var metadata = TraceMetadata()
  /// The first event line, found while reading the leading comments.
  private var firstLine: (start: Int, count: Int)?

  /// Whether `prefix` starts like a CSV trace (its header's first bytes).
  static func matches(_ prefix: UnsafeRawBufferPointer) -> Bool {
    prefix.starts(with: header.utf8.prefix(prefix.count))
  }

  init(input: ByteInput) throws(HVReplayError) {
    self.input = input
    base = input.base
    lines = LineScanner(input: input)
    // Line 1: the header.
    guard let first = try nextLine() else {
      throw HVReplayError(.badData, file: input.name, location: .line(1), "the file is empty")
    }
    var text = String(
      decoding: UnsafeRawBufferPointer(start: base + first.start, count: first.count), as: UTF8.self
    )
    if text.hasPrefix("\u{FEFF}") { text.removeFirst() }
    guard text == Self.header else {
      let binary = text.unicodeScalars.contains {
        $0 == "\u{FFFD}" || ($0.value < 0x20 && $0 != "\t" && $0 != "\r")
      }
      let shown =
        binary
        ? "binary data"
        : "\"" + (text.count > 80 ? String(text.prefix(80)) + "..." : text) + "\""
      let others = TraceFormat.allCases.filter { $0 != .csv }.map(\.rawValue)
      throw HVReplayError(
        .badData, file: input.name, location: .line(1),
        "expected the CSV header \"\(Self.header)\" or another trace hvreplay reads (\(others.joined(separator: ", "))): name its format with --from where the content does not tell (`hvreplay formats` describes each); found \(shown)"
      )
    }
    // Leading comments: metadata.
    while true {
      guard let next = try nextLine() else { break }
      if next.count == 0 { continue }
      if base.load(fromByteOffset: next.start, as: UInt8.self) != UInt8(ascii: "#") {
        firstLine = next
        break
      }
      let comment = String(
        decoding: UnsafeRawBufferPointer(start: base + next.start, count: next.count), as: UTF8.self
      )
      if comment.hasPrefix(Self.metadataPrefix) {
        let pair = comment.dropFirst(Self.metadataPrefix.count)
        if let eq = pair.firstIndex(of: "=") {
          let key = String(pair[..<eq])
          let value = String(pair[pair.index(after: eq)...])
          if let violation = metadata.limitViolation(setting: key, to: value) {
            throw HVReplayError(
              .badData, file: input.name, location: .line(line), "`# meta` line: \(violation)")
          }
          metadata[key] = value
        }
      }
    }
  }

  var location: HVReplayError.Location { .line(line) }

  mutating func next() throws(HVReplayError) -> TraceEvent? {
    if let first = firstLine {
      firstLine = nil
      return try parseEvent(first.start, first.start + first.count)
    }
    while let next = try nextLine() {
      if next.count == 0
        || base.load(fromByteOffset: next.start, as: UInt8.self) == UInt8(ascii: "#")
      {
        continue
      }
      return try parseEvent(next.start, next.start + next.count)
    }
    return nil
  }

  /// Finds the next line, without its line ending, and moves past it.
  ///
  /// - Returns: the line's start offset in the window and its length, or `nil` at the end.
  @inline(__always)
  private mutating func nextLine() throws(HVReplayError) -> (start: Int, count: Int)? {
    guard let next = try lines.next() else { return nil }
    return (next.baseAddress.map { UnsafeRawPointer(base).distance(to: $0) } ?? 0, next.count)
  }

  /// Parses one event line `base[start..<stop]`.
  @inline(__always)
  private func parseEvent(_ start: Int, _ stop: Int) throws(HVReplayError) -> TraceEvent {
    var i = start
    let time = try number(&i, stop, column: 0, maximum: UInt64.max)
    let vm = try number(&i, stop, column: 1, maximum: UInt64(UInt16.max))
    let vcpu = try number(&i, stop, column: 2, maximum: UInt64(UInt16.max))
    let kind = try word(&i, stop, column: 3)
    let op = try word(&i, stop, column: 4)
    let device = try number(&i, stop, column: 5, maximum: UInt64(UInt16.max))
    let offset = try number(&i, stop, column: 6, maximum: UInt64.max)
    let bytes = try number(&i, stop, column: 7, maximum: UInt64(UInt32.max))
    let service = try number(&i, stop, column: 8, maximum: UInt64.max, last: true)

    guard let eventKind = self.kind(kind) else {
      throw fail(
        "column \"kind\": expected disk, net or cpu, found \"\(text(kind))\"")
    }
    guard let eventOp = self.op(op), eventOp.kind == eventKind else {
      let ops = eventKind.ops.map(\.description).joined(separator: ", ")
      throw fail(
        "column \"op\": expected one of \(ops) for kind \(eventKind), found \"\(text(op))\"")
    }
    let event = TraceEvent(
      timeNs: time, vm: UInt16(truncatingIfNeeded: vm), vcpu: UInt16(truncatingIfNeeded: vcpu),
      op: eventOp, device: UInt16(truncatingIfNeeded: device), offset: offset,
      bytes: UInt32(truncatingIfNeeded: bytes), serviceNs: service)
    if let violation = event.violation { throw fail(violation) }
    return event
  }

  /// Parses an unsigned decimal field ending at a comma (or the line's end when `last`).
  @inline(__always)
  private func number(
    _ i: inout Int, _ stop: Int, column: Int, maximum: UInt64, last: Bool = false
  ) throws(HVReplayError) -> UInt64 {
    let (fieldStart, fieldStop) = try field(&i, stop, column: column, last: last)
    var value: UInt64 = 0
    var j = fieldStart
    guard j < fieldStop else {
      throw fail("column \"\(Self.columns[column])\": expected an unsigned integer, found nothing")
    }
    while j < fieldStop {
      let digit = base.load(fromByteOffset: j, as: UInt8.self) &- 0x30
      guard digit < 10 else {
        throw fail(
          "column \"\(Self.columns[column])\": expected an unsigned integer, found \"\(text((fieldStart, fieldStop)))\""
        )
      }
      let (times10, o1) = value.multipliedReportingOverflow(by: 10)
      let (sum, o2) = times10.addingReportingOverflow(UInt64(digit))
      guard !o1 && !o2 && sum <= maximum else {
        throw fail(
          "column \"\(Self.columns[column])\": \(text((fieldStart, fieldStop))) is out of range (at most \(maximum))"
        )
      }
      value = sum
      j += 1
    }
    return value
  }

  /// Returns the bounds of a word field, trimmed.
  @inline(__always)
  private func word(_ i: inout Int, _ stop: Int, column: Int) throws(HVReplayError) -> (Int, Int) {
    try field(&i, stop, column: column, last: false)
  }

  /// Finds the field starting at `i`, moves `i` past its comma, and trims spaces.
  @inline(__always)
  private func field(_ i: inout Int, _ stop: Int, column: Int, last: Bool) throws(HVReplayError)
    -> (Int, Int)
  {
    var j = i
    while j < stop && base.load(fromByteOffset: j, as: UInt8.self) != UInt8(ascii: ",") { j += 1 }
    if last {
      guard j == stop else {
        throw fail("expected 9 columns (\(Self.header)), found more")
      }
    } else if j == stop {
      throw fail("expected 9 columns (\(Self.header)), found \(column + 1)")
    }
    var a = i
    var b = j
    while a < b && base.load(fromByteOffset: a, as: UInt8.self) == 0x20 { a += 1 }
    while b > a && base.load(fromByteOffset: b - 1, as: UInt8.self) == 0x20 { b -= 1 }
    i = j + 1
    return (a, b)
  }

  private func text(_ bounds: (Int, Int)) -> String {
    let count = min(bounds.1 - bounds.0, 40)
    return String(
      decoding: UnsafeRawBufferPointer(start: base + bounds.0, count: count), as: UTF8.self)
  }

  private func equals(_ bounds: (Int, Int), _ literal: StaticString) -> Bool {
    let n = bounds.1 - bounds.0
    guard n == literal.utf8CodeUnitCount else { return false }
    return memcmp(base + bounds.0, literal.utf8Start, n) == 0
  }

  private func kind(_ bounds: (Int, Int)) -> EventKind? {
    if equals(bounds, "disk") { return .disk }
    if equals(bounds, "net") { return .net }
    if equals(bounds, "cpu") { return .cpu }
    return nil
  }

  private func op(_ bounds: (Int, Int)) -> EventOp? {
    switch bounds.1 - bounds.0 {
    case 2:
      if equals(bounds, "tx") { return .tx }
      if equals(bounds, "rx") { return .rx }
    case 4: if equals(bounds, "read") { return .read }
    case 5:
      if equals(bounds, "write") { return .write }
      if equals(bounds, "flush") { return .flush }
      if equals(bounds, "burst") { return .burst }
    case 7:
      if equals(bounds, "barrier") { return .barrier }
      if equals(bounds, "discard") { return .discard }
    default: break
    }
    return nil
  }

  private func fail(_ message: String) -> HVReplayError {
    HVReplayError(.badData, file: input.name, location: .line(line), message)
  }
}
