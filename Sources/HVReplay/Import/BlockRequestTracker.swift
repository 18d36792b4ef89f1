// A block request's lifecycle in a blktrace recording, as blkparse and btt read it:
// Q (queued) ... D (issued to the device) ... C (completed). docs/IMPORTERS.md:
// - one event per request from its Q to its C: time_ns is the Q time, service_ns is C - D;
// - back merges (M) fold a bio into the request before it; front merges (F) fold it into
//   the request after it, which keeps the earlier Q time; requeues (R) send an issued
//   request back to the queue;
// - the op comes from the RWBS category bits: discard; write (a write of no data with the
//   preflush bit is a flush); read; a no-data flush;
// - no VM id: one VM per device, numbered in order of appearance; vcpu is the CPU that
//   queued the request.

/// One record of a blktrace recording, from the binary files or blkparse's text.
struct BlockTraceRecord {
  /// blktrace action codes (blktrace_api.h `__BLK_TA_*`).
  enum Action: UInt16 {
    case queue = 1, backMerge = 2, frontMerge = 3, getRequest = 4, sleepRequest = 5
    case requeue = 6, issue = 7, complete = 8, plug = 9, unplugIO = 10, unplugTimer = 11
    case insert = 12, split = 13, bounce = 14, remap = 15, abort = 16, driverData = 17
  }

  /// blktrace category bits (blktrace_api.h `BLK_TC_*`).
  struct Category: OptionSet {
    let rawValue: UInt16
    static let read = Category(rawValue: 1 << 0)
    static let write = Category(rawValue: 1 << 1)
    static let flush = Category(rawValue: 1 << 2)
    static let sync = Category(rawValue: 1 << 3)
    static let notify = Category(rawValue: 1 << 10)
    static let discard = Category(rawValue: 1 << 13)
    static let fua = Category(rawValue: 1 << 15)
  }

  /// Nanoseconds since the start of the recording.
  var time: UInt64
  /// The device as the kernel's dev_t: major << 20 | minor.
  var device: UInt32
  var cpu: UInt32
  var action: UInt16
  var category: Category
  var sector: UInt64
  var bytes: UInt32

  /// `259,0`.
  static func deviceName(_ d: UInt32) -> String { "\(d >> 20),\(d & 0xFFFFF)" }
}

/// Matches Q, M, F, D, R and C records into one event per completed request.
struct BlockRequestTracker {
  private struct Key: Hashable {
    var device: UInt32
    var sector: UInt64
  }

  private struct Request {
    var queued: UInt64?
    var issued: UInt64?
    var bytes: UInt32
    var cpu: UInt32
  }

  private var requests: [Key: [Request]] = [:]
  private var vms = VMAssigner()
  private(set) var completed: UInt64 = 0
  private(set) var merged: UInt64 = 0
  private(set) var withoutQueue: UInt64 = 0
  private(set) var withoutIssue: UInt64 = 0
  private(set) var noDirection: UInt64 = 0
  private(set) var records: UInt64 = 0
  /// The C time of the request last returned (its Q2C latency is this minus its time_ns).
  private(set) var lastCompletion: UInt64 = 0

  /// Takes one record; returns the event of a request it completes.
  mutating func process(_ r: BlockTraceRecord) -> TraceEvent? {
    records &+= 1
    guard !r.category.contains(.notify), let action = BlockTraceRecord.Action(rawValue: r.action)
    else { return nil }
    let key = Key(device: r.device, sector: r.sector)
    switch action {
    case .queue:
      requests[key, default: []].append(Request(queued: r.time, bytes: r.bytes, cpu: r.cpu))
    case .backMerge:
      // The bio joins the request that ends where it starts: only its own entry goes.
      if removeLast(key, where: { $0.issued == nil }) != nil { merged &+= 1 }
    case .frontMerge:
      // The bio joins the request that starts where it ends; that request, queued
      // earlier, now starts at the bio's sector.
      _ = removeLast(key, where: { $0.issued == nil })
      let next = Key(device: r.device, sector: r.sector &+ UInt64(r.bytes >> 9))
      if var request = removeFirst(next, where: { $0.issued == nil }) {
        request.bytes &+= r.bytes
        requests[key, default: []].append(request)
        merged &+= 1
      }
    case .issue:
      if let i = requests[key]?.firstIndex(where: { $0.issued == nil }) {
        requests[key]![i].issued = r.time
        requests[key]![i].bytes = r.bytes
      } else {
        requests[key, default: []].append(
          Request(queued: nil, issued: r.time, bytes: r.bytes, cpu: r.cpu))
      }
    case .requeue:
      if let i = requests[key]?.firstIndex(where: { $0.issued != nil }) {
        requests[key]![i].issued = nil
      }
    case .complete:
      guard
        let request = removeFirst(key, where: { $0.issued != nil })
          ?? removeFirst(key, where: { _ in true })
      else {
        withoutQueue &+= 1
        return nil
      }
      guard let queued = request.queued else {
        withoutQueue &+= 1
        return nil
      }
      let service: UInt64
      if let issued = request.issued {
        service = r.time >= issued ? r.time - issued : 0
      } else {
        withoutIssue &+= 1
        service = 0
      }
      guard let op = Self.op(r.category, bytes: r.bytes) else {
        noDirection &+= 1
        return nil
      }
      guard let vm = vms.vm(for: BlockTraceRecord.deviceName(r.device)) else { return nil }
      completed &+= 1
      lastCompletion = r.time
      return TraceEvent(
        timeNs: queued, vm: vm, vcpu: UInt16(truncatingIfNeeded: request.cpu), op: op,
        device: 0, offset: op.hasNoPayload ? 0 : r.sector << 9,
        bytes: op.hasNoPayload ? 0 : r.bytes, serviceNs: service)
    default:
      break
    }
    return nil
  }

  /// The op the category bits name, or `nil` for a request with no data direction.
  static func op(_ c: BlockTraceRecord.Category, bytes: UInt32) -> EventOp? {
    if c.contains(.discard) { return .discard }
    if c.contains(.write) { return bytes == 0 && c.contains(.flush) ? .flush : .write }
    if c.contains(.read) { return .read }
    if c.contains(.flush) && bytes == 0 { return .flush }
    return nil
  }

  private mutating func removeFirst(_ key: Key, where match: (Request) -> Bool) -> Request? {
    guard var list = requests[key], let i = list.firstIndex(where: match) else { return nil }
    let request = list.remove(at: i)
    requests[key] = list.isEmpty ? nil : list
    return request
  }

  private mutating func removeLast(_ key: Key, where match: (Request) -> Bool) -> Request? {
    guard var list = requests[key], let i = list.lastIndex(where: match) else { return nil }
    let request = list.remove(at: i)
    requests[key] = list.isEmpty ? nil : list
    return request
  }

  /// What the import did, for `inspect`.
  var notes: [String] {
    var n = [
      "one event per request from its Q to its C: time_ns = Q, service_ns = C - D (\(completed) requests from \(records) records)",
      "no VM ids in blktrace: one VM per device (\(vms.describe("device")))",
      "vcpu = the CPU that queued the request; device = 0",
    ]
    if merged > 0 { n.append("\(merged) bios merged into other requests") }
    let open = requests.values.reduce(0) { $0 + $1.count }
    if open > 0 { n.append("\(open) requests never completed in the recording (not replayed)") }
    if withoutQueue > 0 { n.append("\(withoutQueue) completions without their Q (not replayed)") }
    if withoutIssue > 0 {
      n.append(
        "\(withoutIssue) requests completed without a D: service_ns = 0 (the model's default)")
    }
    if noDirection > 0 { n.append("\(noDirection) requests with no data direction (not replayed)") }
    return n
  }
}
