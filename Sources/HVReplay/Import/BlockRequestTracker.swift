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
  /// The process that caused the record (a Q's pid is the process that queued the I/O).
  var pid: UInt32 = 0
  var action: UInt16
  var category: Category
  var sector: UInt64
  var bytes: UInt32

  /// `259,0`.
  static func deviceName(_ d: UInt32) -> String { "\(d >> 20),\(d & 0xFFFFF)" }
}

/// Matches Q, M, F, D, R and C records into one event per completed request.
///
/// Requests on one device and sector are matched in order: D issues the earliest waiting
/// one, C completes the earliest issued one, M and F take the latest waiting one, R sends the
/// earliest issued one back to the front of the queue. At most ``capacity`` requests are
/// held; beyond that the oldest is dropped and counted in ``evicted``.
///
/// - Complexity: O(1) per record (amortized, as dictionaries are), however many requests
///   share a sector.
struct BlockRequestTracker {
  /// The most requests held while they wait for their completion (docs/IMPORTERS.md): at
  /// about 250 bytes each with the dictionaries' slack, 260 MiB at the limit (measured).
  static let maximumOutstanding = 1 << 20
  /// The largest sector whose byte offset (sector x 512) fits in 64 bits.
  static let maximumSector = UInt64.max >> 9

  private struct Key: Hashable {
    var device: UInt32
    var sector: UInt64
  }

  /// The serial standing for no request.
  private static let none = UInt64.max

  /// A held request, in 56 bytes.
  private struct Request {
    var sector: UInt64
    /// The neighbours in its sector's waiting or issued list (``none`` at the ends).
    var previous = BlockRequestTracker.none
    var next = BlockRequestTracker.none
    private var queuedTime: UInt64 = 0
    private var issuedTime: UInt64 = 0
    var device: UInt32
    /// The CPU that queued it, as the event's vcpu keeps it.
    let cpu: UInt16
    /// The process that queued it: the request's stream in closed-loop replay.
    let pid: UInt32
    private var hasQueue = false
    private var isIssued = false

    init(_ key: Key, queued: UInt64?, issued: UInt64?, cpu: UInt32, pid: UInt32) {
      sector = key.sector
      device = key.device
      self.cpu = UInt16(truncatingIfNeeded: cpu)
      self.pid = pid
      self.queued = queued
      self.issued = issued
    }

    /// Where the request is now (a front merge moves it to the bio's sector).
    var key: Key {
      get { Key(device: device, sector: sector) }
      set {
        device = newValue.device
        sector = newValue.sector
      }
    }
    /// Its Q time, or `nil` when the recording began after it.
    var queued: UInt64? {
      get { hasQueue ? queuedTime : nil }
      set {
        hasQueue = newValue != nil
        queuedTime = newValue ?? 0
      }
    }
    /// Its D time, while it is issued.
    var issued: UInt64? {
      get { isIssued ? issuedTime : nil }
      set {
        isIssued = newValue != nil
        issuedTime = newValue ?? 0
      }
    }
  }

  /// The first and last request of a doubly linked list, by serial.
  private struct Ends {
    var first = BlockRequestTracker.none
    var last = BlockRequestTracker.none
  }

  /// The requests of one device and sector in matching order: waiting (queued, or sent
  /// back by a requeue) and issued.
  private struct Lists {
    var waiting = Ends()
    var issued = Ends()
    var isEmpty: Bool {
      waiting.first == BlockRequestTracker.none && issued.first == BlockRequestTracker.none
    }
  }

  /// Outstanding requests by serial number (the order they appeared in), each linked
  /// into its sector's list.
  private var live: [UInt64: Request] = [:]
  private var lists: [Key: Lists] = [:]
  private var nextSerial: UInt64 = 0
  /// No outstanding request has a serial below this.
  private var oldestSerial: UInt64 = 0
  private var vms = VMAssigner()
  private(set) var completed: UInt64 = 0
  private(set) var merged: UInt64 = 0
  private(set) var withoutQueue: UInt64 = 0
  private(set) var withoutIssue: UInt64 = 0
  private(set) var noDirection: UInt64 = 0
  private(set) var records: UInt64 = 0
  /// Requests dropped unfinished because ``capacity`` were outstanding.
  private(set) var evicted: UInt64 = 0
  /// Completions on a device beyond the 65,535th, which has no VM id.
  private(set) var tooManyDevices: UInt64 = 0
  /// The C time of the request last returned (its Q2C latency is this minus its time_ns).
  private(set) var lastCompletion: UInt64 = 0

  /// A CPU's consecutive records further apart than this, either way, are a clock anomaly
  /// (docs/IMPORTERS.md): 10^6 s, 11.6 days, longer than a blktrace session runs and far
  /// shorter than the jumps of a broken clock (10^9 s and more).
  static let clockJumpNs: UInt64 = 1_000_000 * 1_000_000_000
  /// The CPUs whose clocks are followed: numbers below this (the rest are not checked).
  static let clockCPUs = 4096
  /// Each followed CPU's last record time; `UInt64.max` before its first record.
  private var lastTimeByCPU = [UInt64](repeating: .max, count: clockCPUs)
  /// Records whose time jumped by more than ``clockJumpNs`` from their CPU's previous one,
  /// and the largest such jump: its size in ns, its CPU and the time it jumped from.
  private(set) var clockJumps: UInt64 = 0
  private var largestJump: (ns: UInt64, cpu: UInt32, from: UInt64, forward: Bool)?

  /// The most requests held at once.
  let capacity: Int

  /// Requests that have not completed (yet).
  var outstanding: Int { live.count }

  init(capacity: Int = Self.maximumOutstanding) { self.capacity = max(1, capacity) }

  /// Whether a record of `action` locates a request by its sector.
  static func usesSector(_ action: UInt16) -> Bool {
    guard let a = BlockTraceRecord.Action(rawValue: action) else { return false }
    switch a {
    case .queue, .backMerge, .frontMerge, .issue, .requeue, .complete: return true
    default: return false
    }
  }

  /// Takes one record; returns the event of a request it completes.
  ///
  /// The record's sector is at most ``maximumSector`` (the decoders refuse others).
  mutating func process(_ r: BlockTraceRecord) -> TraceEvent? {
    records &+= 1
    checkClock(r)
    guard !r.category.contains(.notify), let action = BlockTraceRecord.Action(rawValue: r.action)
    else { return nil }
    let key = Key(device: r.device, sector: r.sector)
    switch action {
    case .queue:
      add(Request(key, queued: r.time, issued: nil, cpu: r.cpu, pid: r.pid))
    case .backMerge:
      // The bio joins the request that ends where it starts: only its own entry goes.
      if let s = take(key, issued: false, last: true) {
        live[s] = nil
        merged &+= 1
      }
    case .frontMerge:
      // The bio joins the request that starts where it ends; that request, queued
      // earlier, now starts at the bio's sector.
      if let s = take(key, issued: false, last: true) { live[s] = nil }
      let next = Key(device: r.device, sector: r.sector &+ UInt64(r.bytes >> 9))
      if let s = take(next, issued: false, last: false) {
        live[s]!.key = key
        link(s, issued: false, front: false)
        merged &+= 1
      }
    case .issue:
      if let s = take(key, issued: false, last: false) {
        live[s]!.issued = r.time
        link(s, issued: true, front: false)
      } else {
        add(Request(key, queued: nil, issued: r.time, cpu: r.cpu, pid: r.pid))
      }
    case .requeue:
      if let s = take(key, issued: true, last: false) {
        live[s]!.issued = nil
        link(s, issued: false, front: true)
      }
    case .complete:
      guard let s = take(key, issued: true, last: false) ?? take(key, issued: false, last: false),
        let request = live.removeValue(forKey: s)
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
      guard let vm = vms.vm(for: BlockTraceRecord.deviceName(r.device)) else {
        tooManyDevices &+= 1
        return nil
      }
      completed &+= 1
      lastCompletion = r.time
      return TraceEvent(
        timeNs: queued, vm: vm, vcpu: request.cpu, op: op,
        device: 0, offset: op.hasNoPayload ? 0 : r.sector << 9,
        bytes: op.hasNoPayload ? 0 : r.bytes, serviceNs: service,
        stream: request.pid == .max ? .max : request.pid + 1)
    default:
      break
    }
    return nil
  }

  /// Counts a jump of more than ``clockJumpNs`` from the previous record of `r`'s CPU.
  @inline(__always)
  private mutating func checkClock(_ r: BlockTraceRecord) {
    guard r.cpu < Self.clockCPUs else { return }
    let last = lastTimeByCPU[Int(r.cpu)]
    lastTimeByCPU[Int(r.cpu)] = r.time
    guard last != .max else { return }
    let forward = r.time >= last
    let jump = forward ? r.time - last : last - r.time
    guard jump > Self.clockJumpNs else { return }
    clockJumps &+= 1
    if jump > largestJump?.ns ?? 0 {
      largestJump = (jump, r.cpu, last, forward)
    }
  }

  /// Holds a new request, dropping the oldest one when too many are outstanding.
  private mutating func add(_ request: Request) {
    let s = nextSerial
    nextSerial &+= 1
    live[s] = request
    link(s, issued: request.issued != nil, front: false)
    if live.count > capacity {
      while live[oldestSerial] == nil { oldestSerial &+= 1 }
      unlink(oldestSerial)
      live[oldestSerial] = nil
      evicted &+= 1
    }
  }

  /// Links the held request `s` at the end (or `front`) of its sector's waiting or issued
  /// list.
  private mutating func link(_ s: UInt64, issued: Bool, front: Bool) {
    let key = live[s]!.key
    var l = lists[key] ?? Lists()
    var ends = issued ? l.issued : l.waiting
    if ends.first == Self.none {
      ends = Ends(first: s, last: s)
      live[s]!.previous = Self.none
      live[s]!.next = Self.none
    } else if front {
      live[s]!.previous = Self.none
      live[s]!.next = ends.first
      live[ends.first]!.previous = s
      ends.first = s
    } else {
      live[s]!.previous = ends.last
      live[s]!.next = Self.none
      live[ends.last]!.next = s
      ends.last = s
    }
    if issued { l.issued = ends } else { l.waiting = ends }
    lists[key] = l
  }

  /// Unlinks the held request `s` from its sector's list; it stays held.
  private mutating func unlink(_ s: UInt64) {
    let r = live[s]!
    var l = lists[r.key]!
    var ends = r.issued != nil ? l.issued : l.waiting
    if r.previous == Self.none { ends.first = r.next } else { live[r.previous]!.next = r.next }
    if r.next == Self.none { ends.last = r.previous } else { live[r.next]!.previous = r.previous }
    if r.issued != nil { l.issued = ends } else { l.waiting = ends }
    lists[r.key] = l.isEmpty ? nil : l
  }

  /// Unlinks and returns the first (or `last`) waiting or issued request of `key`; it
  /// stays held.
  private mutating func take(_ key: Key, issued: Bool, last: Bool) -> UInt64? {
    guard let l = lists[key] else { return nil }
    let ends = issued ? l.issued : l.waiting
    let s = last ? ends.last : ends.first
    guard s != Self.none else { return nil }
    unlink(s)
    return s
  }

  /// The op the category bits name, or `nil` for a request with no data direction.
  static func op(_ c: BlockTraceRecord.Category, bytes: UInt32) -> EventOp? {
    if c.contains(.discard) { return .discard }
    if c.contains(.write) { return bytes == 0 && c.contains(.flush) ? .flush : .write }
    if c.contains(.read) { return .read }
    if c.contains(.flush) && bytes == 0 { return .flush }
    return nil
  }

  /// What the import did, for `inspect`.
  var notes: [String] {
    var n = [
      "one event per request from its Q to its C: time_ns = Q, service_ns = C - D (\(completed) requests from \(records) records)",
      "no VM ids in blktrace: one VM per device (\(vms.describe("device")))",
      "vcpu = the CPU that queued the request; device = 0; the pid of its Q is its stream in closed-loop replay",
    ]
    if merged > 0 { n.append("\(merged) bios merged into other requests") }
    if !live.isEmpty {
      n.append("\(live.count) requests never completed in the recording (not replayed)")
    }
    if evicted > 0 {
      n.append(
        "\(evicted) requests evicted unfinished (requests_evicted): more than \(capacity) were outstanding at once, so the oldest were dropped (not replayed)"
      )
    }
    if tooManyDevices > 0 {
      n.append("\(tooManyDevices) requests on devices beyond the 65,535th (not replayed)")
    }
    if withoutQueue > 0 { n.append("\(withoutQueue) completions without their Q (not replayed)") }
    if withoutIssue > 0 {
      n.append(
        "\(withoutIssue) requests completed without a D: service_ns = 0 (the model's default)")
    }
    if noDirection > 0 { n.append("\(noDirection) requests with no data direction (not replayed)") }
    if let j = largestJump {
      n.append(
        "clock anomaly: \(clockJumps) record\(clockJumps == 1 ? "" : "s") \(clockJumps == 1 ? "jumps" : "jump") more than 10^6 s from the previous record of its CPU; the largest: CPU \(j.cpu) \(j.forward ? "forward" : "back") by \(TraceInspection.seconds(j.ns)) after \(TraceInspection.seconds(j.from)) (spans and rates include such gaps; check the recording's clock)"
      )
    }
    return n
  }
}
