// Model rule "timeline" (docs/MODEL.md, docs/TIMELINE.md): with `--timeline`, each host
// simulation records, for the requests issued within a window of trace time, when each
// entered each phase of its design's I/O path; the CPU work its contexts ran; the exits,
// notifications and interrupts its steps counted; and its ring occupancy and busy pCPUs.
// Recording is bounded by the window and by a cap on records: once the cap is reached no
// new request, slice, instant or counter is taken (requests already taken keep their
// phases to completion), and the file says where it stopped.

/// Which stretch of trace time a timeline covers, and how much it may hold.
public struct TimelineWindow: Sendable, Equatable {
  /// The window's start in (scaled) trace ns, or `nil` for the first event's time (a request or a burst).
  public var startNs: UInt64?
  public var lengthNs: UInt64
  /// The most records each host simulation keeps (requests' phases, CPU slices, instants
  /// and counter values together).
  public var recordLimit: Int

  /// The default window: 10 ms from the first event.
  public static let defaultLengthNs: UInt64 = 10_000_000
  /// The default cap per host simulation: about 25 MB of JSON each at most.
  public static let defaultRecordLimit = 200_000

  public init(
    startNs: UInt64? = nil, lengthNs: UInt64 = defaultLengthNs,
    recordLimit: Int = defaultRecordLimit
  ) {
    self.startNs = startNs
    self.lengthNs = lengthNs
    self.recordLimit = recordLimit
  }

  /// `START+LEN` (`2s+10ms`), or `+LEN` from the first event; nil when malformed or the
  /// length is zero.
  public static func parse(_ text: String) -> TimelineWindow? {
    guard let plus = text.firstIndex(of: "+") else { return nil }
    let start = String(text[..<plus])
    let length = String(text[text.index(after: plus)...])
    guard let len = Duration.parseNanoseconds(length), len > 0 else { return nil }
    if start.isEmpty { return TimelineWindow(lengthNs: len) }
    guard let s = Duration.parseNanoseconds(start) else { return nil }
    return TimelineWindow(startNs: s, lengthNs: len)
  }
}

/// The phases of a request's path, in the order a path passes them; each design uses those
/// of its path (docs/TIMELINE.md, "Phases").
public enum TimelinePhase: UInt8, CaseIterable, Sendable {
  /// Issued, waiting for the guest driver (the channel's driver busy with earlier work).
  case driver
  /// Waiting in the guest for a ring slot (Xen, virtio) or an emulated command slot (full).
  case slotWait
  /// The guest driver submits: ring slots or register writes, and their exits.
  case submit
  /// Published in the ring, waiting for the backend to take it.
  case ring
  /// The backend takes it: grant maps, copies, the device model's emulation.
  case backend
  /// At the device: its queue and its service.
  case device
  /// The backend or device model completes it: copies, the response written.
  case response
  /// Waiting for the interrupt (throttling, suppression, the backend's response push).
  case interrupt
  /// The guest takes the interrupt and its handler reads the completion.
  case completion

  /// The name a timeline shows.
  public var label: String {
    switch self {
    case .driver: "waiting for the guest driver"
    case .slotWait: "waiting for a slot (ring full)"
    case .submit: "guest driver submits (exits)"
    case .ring: "in the ring, waiting for the backend"
    case .backend: "backend"
    case .device: "device (queue and service)"
    case .response: "backend completes"
    case .interrupt: "waiting for the interrupt"
    case .completion: "interrupt and completion handler"
    }
  }
}

/// What an instant event marks.
public enum TimelineInstant: UInt8, CaseIterable, Sendable {
  case exitPIO, exitMMIO, exitVMCALL, exitEOI
  case notification, suppressed, interrupt, wakeup

  public var label: String {
    switch self {
    case .exitPIO: "exit: PIO"
    case .exitMMIO: "exit: MMIO"
    case .exitVMCALL: "exit: VMCALL"
    case .exitEOI: "exit: EOI"
    case .notification: "notification sent"
    case .suppressed: "notification suppressed"
    case .interrupt: "interrupt"
    case .wakeup: "backend wake-up"
    }
  }
}

/// One thing a timeline recorded (32 bytes).
public struct TimelineRecord: Sendable, Equatable {
  public enum Kind: UInt8, Sendable {
    /// A request is issued: `id` its number, `value` its bytes, `detail` its op.
    case begin
    /// Request `id` enters phase `detail`.
    case phase
    /// Request `id` completes.
    case end
    /// Context `id` (an index into ``TimelineLog/contexts``) ran from `time` to `value`:
    /// `channel`'s I/O work, or a burst (`channel` -1).
    case cpu
    /// `count` (in `value`) of instant `detail` on `channel`.
    case instant
    /// Counter `detail` (0: a channel's ring occupancy; 1: busy pCPUs; 2: a VM's running
    /// vCPUs, `id` its index in ``TimelineLog/vms``) is `value` from `time` on.
    case counter
  }

  public var kind: Kind
  public var detail: UInt8
  public var channel: Int32
  public var id: UInt32
  public var time: UInt64
  public var value: UInt64
  /// A counter's value held from before the window, written at its start: context for the
  /// window, not one of its records (the record limit does not count it).
  public var held = false
}

/// A host simulation's timeline as it is recorded; disabled (and free) unless asked for.
public struct TimelineLog: Sendable {
  /// Counter kinds (``TimelineRecord/Kind/counter``).
  static let ringCounter: UInt8 = 0
  static let pcpuCounter: UInt8 = 1
  static let vmCounter: UInt8 = 2
  /// A phase record that would last 0 ns, to be left out when the log is taken.
  static let droppedPhase = UInt8.max

  public private(set) var enabled = false
  public private(set) var window = TimelineWindow()
  public private(set) var records: [TimelineRecord] = []
  /// The contexts ``TimelineRecord/Kind/cpu`` records name, and the VMs counters name.
  public private(set) var contexts: [CPUContext] = []
  public private(set) var vms: [(domain: CPUDomain, id: UInt16)] = []
  /// When recording stopped taking new things: the window's end, or where the cap was
  /// reached.
  public private(set) var recordedUntilNs: UInt64 = .max
  /// Whether the cap cut the window short.
  public private(set) var cut = false
  /// Requests taken and not yet complete, by their backend's key (their number and the
  /// index of their latest phase record), and the next number.
  private var open: [UInt64: (number: UInt32, last: Int)] = [:]
  private var nextRequest: UInt32 = 0
  /// The start of the window (the first event's time when not given).
  public private(set) var startNs: UInt64 = .max
  /// Records that will be shown (a phase record dropped as 0 ns long is not), and the
  /// latest time one was dated.
  private var live = 0
  private var latestNs: UInt64 = 0
  /// Per counter: its latest record.
  private var lastCounter: [UInt64: Int] = [:]
  /// Per counter that changed before the window's start: its latest value there, which
  /// the timeline shows from the start on until the counter's first change in the window.
  private var beforeWindow: [UInt64: TimelineRecord] = [:]
  /// Per context: its last CPU record, to extend when the next piece continues it.
  private var lastSlice: [Int] = []
  private var contextIndex: [CPUContext: Int] = [:]

  public init() {}

  /// The most records this log keeps.
  private var limit = Int.max

  /// A log recording `window`, keeping at most `limit` records.
  init(window: TimelineWindow, limit: Int) {
    enabled = true
    self.window = window
    self.limit = max(limit, 1)
    if let s = window.startNs { begin(at: s) }
  }

  /// The logs of a host simulation's backend and CPU recording `window`: each may take
  /// up to the limit while recording (so neither is starved), and ``take(_:_:)`` cuts the
  /// two together to the limit.
  static func pair(_ window: TimelineWindow) -> (backend: TimelineLog, cpu: TimelineLog) {
    (
      TimelineLog(window: window, limit: window.recordLimit),
      TimelineLog(window: window, limit: window.recordLimit)
    )
  }

  /// The backend's log with the CPU's in it, both left empty; nil when none was recorded.
  static func take(_ backend: inout TimelineLog, _ cpu: inout TimelineLog) -> TimelineLog? {
    guard backend.enabled else { return nil }
    var log = backend
    var scheduler = cpu
    log.writeValuesBeforeWindow()
    scheduler.writeValuesBeforeWindow()
    log.absorb(scheduler)
    // Held values alone are no window: one in which nothing was issued or ran, nor any
    // counter changed, stays empty.
    if !log.records.contains(where: { !$0.held }) { log.records.removeAll() }
    backend = TimelineLog()
    cpu = TimelineLog()
    return log
  }

  /// Fixes the window's start at `time` if it is not fixed yet: the host calls it for
  /// both of its logs at each arrival, a request's or a burst's.
  @inline(__always)
  mutating func start(at time: UInt64) {
    if enabled && startNs == .max { begin(at: time) }
  }

  private mutating func begin(at time: UInt64) {
    startNs = time
    recordedUntilNs = time.adding(saturating: window.lengthNs)
  }

  /// Whether something at `time` is recorded.
  @inline(__always)
  private func inWindow(_ time: UInt64) -> Bool { time >= startNs && time < recordedUntilNs }

  /// Takes `record`; past the limit (records that will be shown), recording stops at the
  /// latest time recorded so far (CPU slices are taken when they are accounted, after
  /// others that began later), and ``absorb(_:)`` places the cut where the limit falls.
  private mutating func append(_ record: TimelineRecord) {
    records.append(record)
    live += 1
    if record.time > latestNs { latestNs = record.time }
    if live > limit && !cut {
      cut = true
      recordedUntilNs = min(recordedUntilNs, max(latestNs, startNs))
    }
  }

  /// Counter record `key` (its kind, channel and VM) is `value` from `time` on: a change at
  /// the instant of its latest record replaces that one (a timeline shows one value per
  /// instant). A counter that changed before the window holds its value there from the
  /// window's start on: that value is written at the start, unless the counter changes at
  /// that very instant.
  private mutating func counter(_ record: TimelineRecord) {
    let key =
      UInt64(record.detail) << 56 | UInt64(UInt32(bitPattern: record.channel)) << 24
      | UInt64(record.id & 0xFF_FFFF)
    if record.time < startNs {
      // The start is fixed before anything is recorded (``start(at:)``).
      if startNs != .max { beforeWindow[key] = record }
      return
    }
    // (The callers took only what comes before ``recordedUntilNs``.)
    if !beforeWindow.isEmpty, let held = beforeWindow.removeValue(forKey: key),
      record.time > startNs
    {
      appendHeld(held, key: key)
    }
    if let last = lastCounter[key], records[last].time == record.time {
      records[last].value = record.value
      return
    }
    lastCounter[key] = records.count
    append(record)
  }

  // MARK: Requests

  /// Request `key` of channel `c` (the backend's own key, unique while it is in flight) is
  /// issued at `time`.
  @inline(__always)
  mutating func request(
    _ key: Int32, channel c: Int, op: EventOp, bytes: UInt32, at time: UInt64,
    phase: TimelinePhase
  ) {
    guard enabled else { return }
    takeRequest(Self.key(key, c), channel: c, op: op, bytes: bytes, at: time, phase: phase)
  }

  private mutating func takeRequest(
    _ key: UInt64, channel c: Int, op: EventOp, bytes: UInt32, at time: UInt64,
    phase: TimelinePhase
  ) {
    // The host fixed the window's start at this arrival (``start(at:)``).
    guard inWindow(time) else { return }
    let n = nextRequest
    nextRequest &+= 1
    open[key] = (n, records.count + 1)
    append(
      TimelineRecord(
        kind: .begin, detail: op.rawValue, channel: Int32(c), id: n, time: time,
        value: UInt64(bytes)))
    append(
      TimelineRecord(
        kind: .phase, detail: phase.rawValue, channel: Int32(c), id: n, time: time, value: 0))
  }

  /// Request `key` of channel `c` enters `phase` at `time`. A mark of the phase it is in
  /// changes nothing; a mark no later than its latest one replaces that one (which would
  /// last 0 ns), so the records are the phases a timeline shows.
  @inline(__always)
  mutating func phase(_ key: Int32, channel c: Int, _ phase: TimelinePhase, at time: UInt64) {
    guard enabled && !open.isEmpty else { return }
    let k = Self.key(key, c)
    guard let (n, last) = open[k], records[last].detail != phase.rawValue else { return }
    if time <= records[last].time {
      records[last].detail = phase.rawValue
      return
    }
    open[k] = (n, records.count)
    live += 1
    records.append(
      TimelineRecord(
        kind: .phase, detail: phase.rawValue, channel: Int32(c), id: n, time: time, value: 0))
  }

  /// Request `key` of channel `c` completes at `time`; a latest phase that would last 0 ns
  /// goes, when it is the latest record.
  @inline(__always)
  mutating func complete(_ key: Int32, channel c: Int, at time: UInt64) {
    guard enabled && !open.isEmpty, let (n, last) = open.removeValue(forKey: Self.key(key, c))
    else { return }
    if records[last].time >= time {
      if last == records.count - 1 {
        records.removeLast()
      } else {
        records[last].detail = Self.droppedPhase
      }
      live -= 1
    }
    live += 1
    records.append(
      TimelineRecord(kind: .end, detail: 0, channel: Int32(c), id: n, time: time, value: 0))
  }

  @inline(__always)
  private static func key(_ key: Int32, _ c: Int) -> UInt64 {
    UInt64(UInt32(truncatingIfNeeded: c)) << 32 | UInt64(UInt32(bitPattern: key))
  }

  // MARK: Instants and counters

  /// `count` of `instant` on channel `c` at `time`.
  @inline(__always)
  mutating func instant(
    _ instant: TimelineInstant, channel c: Int, at time: UInt64, count: UInt64 = 1
  ) {
    guard enabled && count > 0 && inWindow(time) else { return }
    append(
      TimelineRecord(
        kind: .instant, detail: instant.rawValue, channel: Int32(c), id: 0, time: time,
        value: count))
  }

  /// Channel `c`'s ring holds `level` from `time` on.
  @inline(__always)
  mutating func occupancy(channel c: Int, _ level: UInt64, at time: UInt64) {
    guard enabled && time < recordedUntilNs else { return }
    counter(
      TimelineRecord(
        kind: .counter, detail: Self.ringCounter, channel: Int32(c), id: 0, time: time,
        value: level))
  }

  /// `busy` pCPUs run a vCPU from `time` on.
  @inline(__always)
  mutating func busyPCPUs(_ busy: Int, at time: UInt64) {
    guard enabled && time < recordedUntilNs else { return }
    counter(
      TimelineRecord(
        kind: .counter, detail: Self.pcpuCounter, channel: -1, id: 0, time: time,
        value: UInt64(busy)))
  }

  /// VM `index` (of `domain`, id `id`) has `running` vCPUs on pCPUs from `time` on.
  @inline(__always)
  mutating func runningVCPUs(
    vm index: Int, domain: CPUDomain, id: UInt16, _ running: Int, at time: UInt64
  ) {
    guard enabled && time < recordedUntilNs else { return }
    while vms.count <= index { vms.append((.guest, 0)) }
    vms[index] = (domain, id)
    counter(
      TimelineRecord(
        kind: .counter, detail: Self.vmCounter, channel: -1, id: UInt32(index), time: time,
        value: UInt64(running)))
  }

  // MARK: CPU

  /// `context` ran `channel`'s I/O work (`channel` -1: a burst) from `start` to `end`;
  /// a piece continuing the context's last one extends it.
  @inline(__always)
  mutating func ran(_ context: CPUContext, channel: Int32, from start: UInt64, to end: UInt64) {
    guard enabled && end > start && end > startNs && start < recordedUntilNs else { return }
    recordRun(context, channel: channel, from: start, to: end)
  }

  private mutating func recordRun(
    _ context: CPUContext, channel: Int32, from start: UInt64, to end: UInt64
  ) {
    let index: Int
    if let found = contextIndex[context] {
      index = found
    } else {
      index = contexts.count
      contextIndex[context] = index
      contexts.append(context)
      lastSlice.append(-1)
    }
    let last = lastSlice[index]
    if last >= 0 && records[last].value == start && records[last].channel == channel {
      records[last].value = end
      return
    }
    lastSlice[index] = records.count
    append(
      TimelineRecord(
        kind: .cpu, detail: 0, channel: channel, id: UInt32(index), time: start, value: end))
  }

  /// The counters that changed before the window and not in it: their value from the
  /// start on, written at the start (in the order of their keys, the same on every run).
  private mutating func writeValuesBeforeWindow() {
    guard !beforeWindow.isEmpty && startNs < recordedUntilNs else { return }
    for (key, record) in beforeWindow.sorted(by: { $0.key < $1.key }) {
      appendHeld(record, key: key)
    }
    beforeWindow = [:]
  }

  /// Counter `key`'s value held from before the window, at the window's start (not counted
  /// against the limit).
  private mutating func appendHeld(_ record: TimelineRecord, key: UInt64) {
    var r = record
    r.time = startNs
    r.held = true
    lastCounter[key] = records.count
    records.append(r)
  }

  /// Takes `other`'s CPU slices and counters (the host's scheduler's log) into this one,
  /// then keeps the two within the limit: where they hold more, recording ends at the
  /// earliest instant before which they hold at most the limit (a request counts with all
  /// its records), and what either took from that instant on goes, requests issued then
  /// included, so no request begins after ``recordedUntilNs``.
  mutating func absorb(_ other: TimelineLog) {
    if other.enabled { merge(other) }
    // Slices clipped to the window first, so each counts where it is shown.
    clipSlices()
    if records.count > limit, let until = limitInstant() {
      cut = true
      recordedUntilNs = min(recordedUntilNs, until)
    }
    trim()
  }

  private mutating func merge(_ other: TimelineLog) {
    let offset = UInt32(contexts.count)
    var vmOffset: [UInt32] = []
    for vm in other.vms.indices {
      vmOffset.append(UInt32(vms.count))
      vms.append(other.vms[vm])
    }
    for context in other.contexts {
      contextIndex[context] = contexts.count
      contexts.append(context)
      lastSlice.append(-1)
    }
    records.reserveCapacity(records.count + other.records.count)
    for var r in other.records {
      if r.kind == .cpu { r.id &+= offset }
      if r.kind == .counter && r.detail == Self.vmCounter { r.id = vmOffset[Int(r.id)] }
      records.append(r)
    }
    if other.cut {
      cut = true
      recordedUntilNs = min(recordedUntilNs, other.recordedUntilNs)
    }
  }

  /// The earliest instant before which the records number at most the limit, a request
  /// counted at its issue with all its records; nil when they all fit.
  private func limitInstant() -> UInt64? {
    var perRequest = [Int](repeating: 0, count: Int(nextRequest))
    for r in records where r.kind == .begin || r.kind == .phase || r.kind == .end {
      if r.kind != .phase || r.detail != Self.droppedPhase { perRequest[Int(r.id)] += 1 }
    }
    var units: [(time: UInt64, count: Int)] = []
    units.reserveCapacity(records.count)
    for r in records where !r.held {
      switch r.kind {
      case .begin: units.append((r.time, perRequest[Int(r.id)]))
      case .phase, .end: break
      case .cpu, .instant, .counter: units.append((r.time, 1))
      }
    }
    units.sort { $0.time < $1.time }
    var total = 0
    var k = 0
    while k < units.count {
      // Everything of one instant is kept or goes together.
      var j = k
      var atInstant = 0
      while j < units.count && units[j].time == units[k].time {
        atInstant += units[j].count
        j += 1
      }
      if total + atInstant > limit { return units[k].time }
      total += atInstant
      k = j
    }
    return nil
  }

  /// Drops what was recorded from ``recordedUntilNs`` on (requests issued then with all
  /// their records; requests issued before keep theirs) and clips CPU slices to the window
  /// (a slice begun before it starts at its start).
  private mutating func trim() {
    let until = recordedUntilNs
    var dropped = [Bool](repeating: false, count: Int(nextRequest))
    for r in records where r.kind == .begin && r.time >= until { dropped[Int(r.id)] = true }
    records.removeAll { r in
      switch r.kind {
      case .cpu, .instant, .counter: r.time >= until
      case .phase: dropped[Int(r.id)] || r.detail == Self.droppedPhase
      case .begin, .end: dropped[Int(r.id)]
      }
    }
    clipSlices()
  }

  /// CPU slices clipped to the window as recorded so far.
  private mutating func clipSlices() {
    let until = recordedUntilNs
    for k in records.indices where records[k].kind == .cpu {
      if records[k].value > until { records[k].value = until }
      if records[k].time < startNs { records[k].time = startNs }
    }
  }
}
