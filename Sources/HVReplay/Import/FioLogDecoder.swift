// fio's I/O log (iolog.c): a header line `fio version 2 iolog` or `fio version 3 iolog`, then
//   v2: `filename action [offset length]`    (`filename wait usec` advances time)
//   v3: `timestamp filename action [offset length]`, the timestamp in microseconds since
//       the job started.
// Actions read, write, trim, sync and datasync become events; add, open and close do not.

/// Imports a fio iolog, version 2 or 3.
///
/// File names are at most ``maximumFileNameBytes`` long, and one VM each (``VMAssigner``
/// bounds their number and total size).
struct FioLogDecoder: ImportingDecoder {
  /// The longest file name accepted, in bytes (Linux's PATH_MAX).
  static let maximumFileNameBytes = 4096
  private var lines: LineScanner
  private var budget: BadRecordBudget
  private var vms = VMAssigner()
  private let version: Int
  /// v2: the time waits have added up to, in ns.
  private var clock: UInt64 = 0
  private var events: UInt64 = 0
  private var fileActions: UInt64 = 0
  let metadata: TraceMetadata
  var skipped: UInt64 { budget.skipped }

  init(input: ByteInput, skipBad: UInt64) throws(HVReplayError) {
    lines = LineScanner(input: input)
    budget = BadRecordBudget(limit: skipBad)
    guard let header = try lines.next() else {
      throw HVReplayError(.badData, file: input.name, location: .line(1), "the file is empty")
    }
    let text = Bytes.string(header)
    switch text {
    case "fio version 2 iolog": version = 2
    case "fio version 3 iolog": version = 3
    default:
      throw HVReplayError(
        .badData, file: input.name, location: .line(1),
        "expected `fio version 2 iolog` or `fio version 3 iolog`, found \"\(text.prefix(60))\"")
    }
    metadata = TraceMetadata([("imported-from", "fio iolog v\(version)"), ("file", input.name)])
  }

  var location: HVReplayError.Location { .line(lines.line) }

  private func fail(_ message: String) -> HVReplayError {
    HVReplayError(.badData, file: lines.input.name, location: .line(lines.line), message)
  }

  mutating func next() throws(HVReplayError) -> TraceEvent? {
    while let line = try lines.next() {
      let f = Bytes.fields(line)
      if f.isEmpty { continue }
      do {
        if let event = try parse(f) { return event }
      } catch {
        try budget.skip(error)
      }
    }
    return nil
  }

  private mutating func parse(_ fields: [UnsafeRawBufferPointer]) throws(HVReplayError)
    -> TraceEvent?
  {
    var f = fields[...]
    var time = clock
    if version == 3 {
      guard let first = f.first, let us = Bytes.uint(first) else {
        throw fail("expected a timestamp in microseconds first (fio version 3 iolog)")
      }
      guard let ns = us.multiplied(checked: 1000) else {
        throw fail("timestamp \(us) us is out of range (at most \(UInt64.max / 1000) us)")
      }
      time = ns
      f = f.dropFirst()
    }
    guard f.count >= 2 else { throw fail("expected `filename action [offset length]`") }
    let name = f[f.startIndex]
    guard name.count <= Self.maximumFileNameBytes else {
      throw fail(
        "a file name of \(name.count) bytes; expected at most \(Self.maximumFileNameBytes) (PATH_MAX)"
      )
    }
    let file = Bytes.string(name)
    let action = Bytes.string(f[f.startIndex + 1])
    let numbers = f.dropFirst(2).map { Bytes.uint($0) }
    switch action {
    case "add", "open", "close":
      fileActions += 1
      return nil
    case "wait":
      guard let us = numbers.first ?? nil else {
        throw fail("expected `filename wait microseconds`")
      }
      guard let ns = us.multiplied(checked: 1000) else { throw fail("wait \(us) is out of range") }
      clock = clock.adding(saturating: ns)
      return nil
    case "read", "write", "trim", "sync", "datasync":
      let op: EventOp =
        action == "read" ? .read : action == "write" ? .write : action == "trim" ? .discard : .flush
      var offset: UInt64 = 0
      var length: UInt64 = 0
      if op != .flush {
        guard numbers.count >= 2, let o = numbers[0], let l = numbers[1] else {
          throw fail("expected `\(action) offset length` with whole numbers")
        }
        guard l <= UInt64(UInt32.max) else {
          throw fail("length \(l) is out of range (at most 4294967295)")
        }
        offset = o
        length = l
      }
      guard let vm = vms.vm(for: file) else { throw fail(vms.refusal("files")) }
      events += 1
      return TraceEvent(
        timeNs: time, vm: vm, op: op, offset: offset, bytes: UInt32(length))
    default:
      throw fail(
        "unknown action \"\(action)\"; expected read, write, trim, sync, datasync, wait, add, open or close"
      )
    }
  }

  var notes: [String] {
    var n = [
      version == 3
        ? "time_ns = the log's timestamp (microseconds since the job started) x 1000"
        : "time_ns = the sum of the `wait` lines so far (version 2 logs have no timestamps)",
      "no VM ids: one VM per file (\(vms.describe("file"))); vcpu 0, device 0",
      "service_ns = 0 (the model's default); trim = discard, sync and datasync = flush",
    ]
    if fileActions > 0 { n.append("\(fileActions) add/open/close lines carry no I/O") }
    if budget.skipped > 0 { n.append("\(budget.skipped) unreadable lines skipped (--skip-bad)") }
    return n
  }
}
