// Any block-trace CSV, read by a column mapping (`--columns`, docs/IMPORTERS.md, "Column
// mapping"): time, op, offset and bytes from named (header) or numbered columns, each
// with a unit or scale; service time and the VM's source optional. time_ns is relative
// to the first record; a record earlier than the first is bad, as in the other CSVs.

/// Which columns of a CSV hold an event's fields, and in what units.
public struct ColumnMapping: Sendable, Equatable {
  /// A column by its header name, or by its 1-based number (a file without a header).
  public enum Column: Sendable, Equatable, CustomStringConvertible {
    case name(String)
    case number(Int)

    public var description: String {
      switch self {
      case .name(let n): n
      case .number(let i): "#\(i)"
      }
    }
  }

  /// A column and the factor its (decimal) values are multiplied by: nanoseconds per
  /// unit for times, bytes per unit for offsets and sizes.
  public struct Field: Sendable, Equatable {
    public var column: Column
    public var factor: UInt64
  }

  public var time: Field
  public var op: Column
  public var offset: Field
  public var bytes: Field
  public var service: Field?
  /// The column naming each request's source (a volume, device or host): one VM each.
  public var vm: Column?

  static let units: [(String, UInt64)] = [
    ("ns", 1), ("us", 1_000), ("ms", 1_000_000), ("s", 1_000_000_000),
  ]

  /// Parses `time=COL[:unit],op=COL,offset=COL[:scale],bytes=COL[:scale]` with optional
  /// `service=COL[:unit]` and `vm=COL`; units ns (default), us, ms, s; scales a whole
  /// number (512 for sectors; default 1). COL is a header name or `#N`. Throws a sentence
  /// on what is wrong.
  public static func parse(_ text: String) throws(HVReplayError) -> ColumnMapping {
    func fail(_ why: String) -> HVReplayError {
      HVReplayError(
        .usage,
        "--columns \(why); expected time=COL[:unit],op=COL,offset=COL[:scale],bytes=COL[:scale] (optional service=COL[:unit], vm=COL), COL a header name or #N, unit ns, us, ms or s"
      )
    }
    var fields: [String: (Column, String?)] = [:]
    for item in text.split(separator: ",", omittingEmptySubsequences: false) {
      let kv = item.split(separator: "=", maxSplits: 1)
      guard kv.count == 2, !kv[1].isEmpty else { throw fail("has \"\(item)\", not key=COL") }
      let key = String(kv[0])
      guard ["time", "op", "offset", "bytes", "service", "vm"].contains(key) else {
        throw fail("has an unknown key \"\(key)\"")
      }
      guard fields[key] == nil else { throw fail("names \(key) twice") }
      let parts = kv[1].split(separator: ":", maxSplits: 1, omittingEmptySubsequences: false)
      let name = String(parts[0])
      let column: Column
      if name.hasPrefix("#") {
        guard let n = Int(name.dropFirst()), n >= 1, n <= 1024 else {
          throw fail("has a column number \"\(name)\" outside #1 to #1024")
        }
        column = .number(n)
      } else {
        guard !name.isEmpty else { throw fail("has an empty column name for \(key)") }
        column = .name(name)
      }
      fields[key] = (column, parts.count == 2 ? String(parts[1]) : nil)
    }
    func time(_ key: String) throws(HVReplayError) -> Field? {
      guard let (column, unit) = fields[key] else { return nil }
      guard let factor = units.first(where: { $0.0 == (unit ?? "ns") })?.1 else {
        throw fail("gives \(key) the unit \"\(unit!)\"")
      }
      return Field(column: column, factor: factor)
    }
    func scaled(_ key: String) throws(HVReplayError) -> Field? {
      guard let (column, scale) = fields[key] else { return nil }
      guard let factor = UInt64(scale ?? "1"), factor >= 1, factor <= 1 << 20 else {
        throw fail("gives \(key) the scale \"\(scale!)\", not a whole number from 1 to 1048576")
      }
      return Field(column: column, factor: factor)
    }
    guard let t = try time("time"), let op = fields["op"]?.0, let offset = try scaled("offset"),
      let bytes = try scaled("bytes")
    else { throw fail("lacks one of time, op, offset and bytes") }
    if fields["op"]?.1 != nil || fields["vm"]?.1 != nil { throw fail("gives op or vm a unit") }
    return ColumnMapping(
      time: t, op: op, offset: offset, bytes: bytes, service: try time("service"),
      vm: fields["vm"]?.0)
  }

  var columns: [Column] {
    [time.column, op, offset.column, bytes.column] + [service?.column, vm].compactMap { $0 }
  }
}

/// Imports a CSV by a ``ColumnMapping``.
struct ColumnCSVDecoder: ImportingDecoder {
  private var lines: LineScanner
  private var budget: BadRecordBudget
  private let mapping: ColumnMapping
  /// Each field's 0-based index: time, op, offset, bytes, service (-1: none), vm (-1).
  private var index: [Int] = []
  private var separator = UInt8(ascii: ",")
  private var vms = VMAssigner()
  private var origin: UInt64?
  private var started = false
  let metadata: TraceMetadata
  var skipped: UInt64 { budget.skipped }

  init(input: ByteInput, mapping: ColumnMapping, skipBad: UInt64) throws(HVReplayError) {
    lines = LineScanner(input: input)
    budget = BadRecordBudget(limit: skipBad)
    self.mapping = mapping
    metadata = TraceMetadata([("imported-from", "csv by --columns"), ("file", input.name)])
  }

  var location: HVReplayError.Location { .line(lines.line) }

  private func fail(_ message: String) -> HVReplayError {
    HVReplayError(.badData, file: lines.input.name, location: .line(lines.line), message)
  }

  /// Finds the columns: by the header's names, or by number.
  private mutating func start(_ first: UnsafeRawBufferPointer) throws(HVReplayError) -> Bool {
    started = true
    // A tab-separated file: tabs and no comma on the first line.
    if first.contains(UInt8(ascii: "\t")) && !first.contains(UInt8(ascii: ",")) {
      separator = UInt8(ascii: "\t")
    }
    let named = mapping.columns.contains { if case .name = $0 { true } else { false } }
    // Names as the header gives them: without a byte-order mark or surrounding quotes.
    var header =
      named ? Bytes.fields(first, separator: separator).map { Bytes.string(Bytes.trim($0)) } : []
    header = header.map {
      $0.count >= 2 && $0.hasPrefix("\"") && $0.hasSuffix("\"")
        ? String($0.dropFirst().dropLast()) : $0
    }
    func position(_ c: ColumnMapping.Column?) throws(HVReplayError) -> Int {
      switch c {
      case nil: return -1
      case .number(let n): return n - 1
      case .name(let name):
        guard header.filter({ $0 == name }).count <= 1 else {
          throw fail(
            "the header has two columns named \"\(name)\": name the one --columns means by number (#N)"
          )
        }
        guard let i = header.firstIndex(of: name) else {
          throw fail(
            "--columns names the column \"\(name)\", which the header does not have (its columns: \(header.prefix(20).joined(separator: ", ")))"
          )
        }
        return i
      }
    }
    let m = mapping
    index = [
      try position(m.time.column), try position(m.op), try position(m.offset.column),
      try position(m.bytes.column), try position(m.service?.column), try position(m.vm),
    ]
    return named
  }

  mutating func next() throws(HVReplayError) -> TraceEvent? {
    while var line = try lines.next() {
      if line.isEmpty || line.first == UInt8(ascii: "#") { continue }
      // A byte-order mark before the first line, header or data.
      if !started && line.count >= 3 && line[0] == 0xEF && line[1] == 0xBB && line[2] == 0xBF {
        line = UnsafeRawBufferPointer(rebasing: line[3...])
      }
      if !started, try start(line) { continue }
      do {
        return try parse(Bytes.fields(line, separator: separator))
      } catch {
        try budget.skip(error)
      }
    }
    return nil
  }

  private func field(_ f: [UnsafeRawBufferPointer], _ i: Int, _ name: String, factor: UInt64)
    throws(HVReplayError) -> UInt64
  {
    guard i < f.count else { throw fail("expected at least \(i + 1) columns, found \(f.count)") }
    let text = Bytes.trim(f[i])
    guard let v = Bytes.decimal(text, times: factor) else {
      throw fail(
        "column \(i + 1) (\(name)): expected a non-negative number, found \"\(Bytes.string(text).prefix(40))\""
      )
    }
    return v
  }

  /// `R`, `read`, `0`; `W`, `write`, `1`; `flush`, `sync`; `discard`, `trim`: any case.
  static func op(_ s: String) -> EventOp? {
    switch s.lowercased() {
    case "r", "read", "rs", "0": .read
    case "w", "write", "ws", "1": .write
    case "f", "flush", "sync", "fsync": .flush
    case "d", "discard", "trim", "unmap": .discard
    default: nil
    }
  }

  private mutating func parse(_ f: [UnsafeRawBufferPointer]) throws(HVReplayError) -> TraceEvent {
    let m = mapping
    let time = try field(f, index[0], "time", factor: m.time.factor)
    guard index[1] < f.count else {
      throw fail("expected at least \(index[1] + 1) columns, found \(f.count)")
    }
    let code = Bytes.string(Bytes.trim(f[index[1]]))
    guard let op = Self.op(code) else {
      throw fail(
        "column \(index[1] + 1) (op): expected R/read/0, W/write/1, flush/sync or discard/trim, found \"\(code.prefix(20))\""
      )
    }
    let offset = try field(f, index[2], "offset", factor: m.offset.factor)
    var bytes = try field(f, index[3], "bytes", factor: m.bytes.factor)
    if op == .flush { bytes = 0 }
    guard bytes <= UInt64(UInt32.max) else {
      throw fail("size \(bytes) is out of range (at most 4294967295 bytes)")
    }
    let service = index[4] >= 0 ? try field(f, index[4], "service", factor: m.service!.factor) : 0
    var source = "trace"
    if index[5] >= 0 {
      guard index[5] < f.count else {
        throw fail("expected at least \(index[5] + 1) columns, found \(f.count)")
      }
      source = Bytes.string(Bytes.trim(f[index[5]]))
    }
    if origin == nil { origin = time }
    guard time >= origin! else {
      throw fail("the timestamp is earlier than the first record's; sort the file by time")
    }
    guard let vm = vms.vm(for: source) else { throw fail(vms.refusal("sources")) }
    return TraceEvent(
      timeNs: time - origin!, vm: vm, op: op, offset: op == .flush ? 0 : offset,
      bytes: UInt32(bytes), serviceNs: service)
  }

  var notes: [String] {
    var n = [
      "columns by --columns: time \(mapping.time.column), op \(mapping.op), offset \(mapping.offset.column) x \(mapping.offset.factor), bytes \(mapping.bytes.column) x \(mapping.bytes.factor)"
    ]
    n.append("time_ns is relative to the first record")
    n.append(
      mapping.vm == nil ? "one VM (no vm column)" : "one VM per source (\(vms.describe("")))")
    if mapping.service == nil { n.append("no service time: service_ns = 0 (the model's default)") }
    n.append("no vCPU or device: vcpu 0, device 0")
    if budget.skipped > 0 { n.append("\(budget.skipped) unreadable lines skipped (--skip-bad)") }
    return n
  }
}
