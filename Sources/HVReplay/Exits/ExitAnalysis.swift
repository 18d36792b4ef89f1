// Rules "exit recordings" (docs/IMPORTERS.md, "KVM exit recordings"):
// - E1: an exit lasts from its kvm_exit to the next kvm_entry of the same thread (the vCPU's
//   thread); an exit followed by another exit of the thread, or cut by the end of the
//   recording or by lost events, is counted without a duration.
// - E2: every kvm_mmio, kvm_fast_mmio and kvm_pio counts as an access of its address or
//   port (read or write); the first of a thread's open exit names what the exit accessed,
//   and the exit's duration is the access's.
// - E3: a kvm_userspace_exit of a thread with an open exit marks it handled in userspace
//   (the VMM, e.g. QEMU); others were handled in the kernel. Every kvm_userspace_exit also
//   counts under its own reason (KVM_EXIT_IO, KVM_EXIT_MMIO, ...), with or without kvm_exit.
// - E4: a VM is the thread group (the VMM process) where the line shows it (ftrace's
//   record-tgid `(tgid)`, perf script's `pid/tid`), else the thread itself, unless
//   `--group-by comm` groups threads by name. A vCPU is the thread; its id is the `vcpu N`
//   of its kvm_exit or kvm_entry lines when they carry one.
// - E5: rates are per second of the recording's span (first to last event line); in the
//   time series an exit counts in the interval where it ended (its kvm_entry, or the line
//   that cut it).

/// Exit counts and durations of one scope and reason.
public struct ExitFigures: Sendable, Equatable {
  /// Exits counted, and those whose duration is known.
  public var count: UInt64 = 0
  public var timed: UInt64 = 0
  /// The durations' sum.
  public var totalNs: UInt64 = 0
  /// The durations, when the source has them one by one (a recording).
  var histogram = ChannelHistogram()
  /// The smallest and largest durations, exact: recorded (the histogram holds up to an
  /// hour), or a summary's (perf kvm stat report).
  public internal(set) var minNs: UInt64?
  public internal(set) var maxNs: UInt64?

  public init() {}

  mutating func record(_ durationNs: UInt64?) {
    count &+= 1
    guard let d = durationNs else { return }
    minNs = minNs.map { Swift.min($0, d) } ?? d
    maxNs = maxNs.map { Swift.max($0, d) } ?? d
    timed &+= 1
    totalNs = totalNs.adding(saturating: d)
    histogram.record(min(d, ChannelMetrics.highestLatencyNs))
  }

  mutating func add(_ other: ExitFigures) {
    count &+= other.count
    timed &+= other.timed
    totalNs = totalNs.adding(saturating: other.totalNs)
    histogram.add(other.histogram)
    if let m = other.minNs { minNs = minNs.map { Swift.min($0, m) } ?? m }
    if let m = other.maxNs { maxNs = maxNs.map { Swift.max($0, m) } ?? m }
  }

  /// `self` and `other` together, or nil where a count or the total would pass 2^64.
  func checkedSum(_ other: ExitFigures) -> ExitFigures? {
    let (count, o1) = self.count.addingReportingOverflow(other.count)
    let (timed, o2) = self.timed.addingReportingOverflow(other.timed)
    let (total, o3) = totalNs.addingReportingOverflow(other.totalNs)
    guard !o1 && !o2 && !o3 else { return nil }
    var sum = self
    sum.add(other)
    (sum.count, sum.timed, sum.totalNs) = (count, timed, total)
    return sum
  }

  /// The mean duration.
  public var meanNs: Double? { timed > 0 ? Double(totalNs) / Double(timed) : nil }
  /// Whether percentiles can be given (durations one by one).
  public var hasDistribution: Bool { histogram.totalCount > 0 }

  /// The duration at `percentile` (HdrHistogram's bucketing at two significant digits:
  /// within 0.78%, clamped to the exact extremes), or `nil` without a distribution.
  public func percentile(_ p: Double) -> UInt64? {
    hasDistribution ? PercentileIndex(histogram).value(at: p) : nil
  }
}

/// How exits' threads are grouped into VMs (rule E4).
public enum ExitGrouping: String, Sendable, CaseIterable {
  /// The thread group where the trace shows it, else the thread.
  case tgid
  /// Each thread a VM.
  case pid
  /// Threads by name.
  case comm
}

/// Streams a KVM recording's lines into exit figures (rules E1-E5).
struct ExitAnalysis {
  /// The most distinct threads, exit reasons and accessed addresses kept: beyond them a
  /// line is bad (threads, reasons) or the access is counted under `other` (addresses).
  static let maximumThreads = 1 << 16
  static let maximumReasons = 1024
  static let maximumAddresses = 4096

  struct Open {
    var time: UInt64
    var reason: Int
    var cpu: UInt32
    var access: Int = -1
    var userspace = false
  }

  struct Thread {
    var pid: UInt32
    var tgid: UInt32?
    var comm: String
    var vcpu: UInt32?
    var open: Open?
    /// Whether the thread is in ``mayBeOpen``.
    var listed = false
  }

  /// What an exit accessed (rule E2): MMIO or port I/O, the address, read or write.
  struct Access: Hashable {
    var space: UInt8  // 0 MMIO, 1 PIO, 2 fast MMIO
    var address: UInt64
    var write: Bool

    var label: String {
      let a = "0x" + String(address, radix: 16)
      switch space {
      case 0: return "mmio:\(a):\(write ? "W" : "R")"
      case 1: return "pio:\(a):\(write ? "POUT" : "PIN")"
      default: return "fast_mmio:\(a):W"
      }
    }
  }

  /// Which figures a key holds.
  enum Scope: UInt8 { case thread, pcpu, access, handler, userspace }

  struct Key: Hashable {
    var scope: Scope
    var index: UInt64
    var reason: Int
  }

  let grouping: ExitGrouping
  let intervalNs: UInt64
  private(set) var threads: [Thread] = []
  private var threadIndex: [UInt32: Int] = [:]
  /// Threads that opened an exit since open exits were last closed (lost events).
  private var mayBeOpen: [Int] = []
  private(set) var reasons: [String] = []
  private var reasonBytes: [[UInt8]] = []
  private var lastReason = 0
  private(set) var accesses: [Access] = []
  private var accessIndex: [Access: Int] = [:]
  /// Accesses beyond ``maximumAddresses`` distinct ones.
  private(set) var otherAccesses: UInt64 = 0
  private(set) var figures: [Key: ExitFigures] = [:]
  /// Counts of each event kind, and of lines of other events.
  private(set) var eventCounts = [UInt64](repeating: 0, count: KVMEventKind.allCases.count)
  private(set) var otherEvents: UInt64 = 0
  private(set) var lostEventLines: UInt64 = 0
  /// Exits without a duration (rule E1), by cause.
  private(set) var unpairedByExit: UInt64 = 0
  private(set) var unpairedByLoss: UInt64 = 0
  /// Entries that closed no exit (a vCPU's first entry, or its exit was lost).
  private(set) var entriesWithoutExit: UInt64 = 0
  private(set) var firstTime: UInt64?
  private(set) var lastTime: UInt64 = 0
  /// Whether any line showed a thread group.
  private(set) var sawGroups = false
  /// The time series (rows as intervals close): interval start, VM, reason, count, time.
  private(set) var series: [(start: UInt64, vm: Int, reason: Int, count: UInt64, ns: UInt64)] = []
  private var intervalStart: UInt64?
  private var current: [Int: (count: UInt64, ns: UInt64)] = [:]
  /// VM labels by key (rule E4), in order of appearance, and each thread's VM.
  private(set) var vmLabels: [String] = []
  private var vmIndex: [String: Int] = [:]
  private(set) var threadVM: [Int] = []

  init(grouping: ExitGrouping, intervalNs: UInt64) {
    self.grouping = grouping
    self.intervalNs = max(intervalNs, 1)
  }

  /// Accounts one event line; the error names what was wrong (the caller adds the line).
  mutating func add(_ line: KVMTraceLine) throws(ExitLineError) {
    guard let kind = KVMEventKind.named(line.event) else {
      otherEvents &+= 1
      note(time: line.timeNs)
      return
    }
    if line.timeNs < lastTime {
      throw ExitLineError(
        "the timestamp is earlier than the line before's; the lines are not in time order (sort them, e.g. `trace-cmd report` prints them in order)"
      )
    }
    note(time: line.timeNs)
    eventCounts[Int(kind.rawValue)] &+= 1
    let t = try thread(line)
    switch kind {
    case .exit:
      guard let reasonToken = KVMPayload.token(after: "reason", in: line.payload) else {
        throw ExitLineError("expected `reason NAME` in kvm_exit")
      }
      if let v = KVMPayload.vcpu(line.payload) { threads[t].vcpu = v }
      let reason = try intern(reasonToken)
      if let open = threads[t].open {
        unpairedByExit &+= 1
        close(t, open, duration: nil, at: line.timeNs)
      }
      threads[t].open = Open(time: line.timeNs, reason: reason, cpu: line.cpu)
      if !threads[t].listed {
        threads[t].listed = true
        mayBeOpen.append(t)
      }
    case .entry:
      if let v = KVMPayload.vcpu(line.payload) { threads[t].vcpu = v }
      guard let open = threads[t].open else {
        entriesWithoutExit &+= 1
        return
      }
      guard line.timeNs >= open.time else {
        throw ExitLineError(
          "kvm_entry is earlier than its thread's kvm_exit; the lines are not in time order")
      }
      close(t, open, duration: line.timeNs - open.time, at: line.timeNs)
    case .mmio, .fastMMIO, .pio:
      let access = index(of: try parseAccess(kind, line.payload))
      if threads[t].open != nil, threads[t].open!.access < 0, access >= 0 {
        threads[t].open!.access = access
      } else if access >= 0 {
        // Counted now; an exit's access is counted with the exit's duration when it closes.
        figures[Key(scope: .access, index: UInt64(access), reason: -1), default: ExitFigures()]
          .record(nil)
      }
    case .userspaceExit:
      if threads[t].open != nil { threads[t].open!.userspace = true }
      // `reason KVM_EXIT_IO (2)`
      guard let token = KVMPayload.token(after: "reason", in: line.payload) else {
        throw ExitLineError("expected `reason KVM_EXIT_NAME (N)` in kvm_userspace_exit")
      }
      figures[Key(scope: .userspace, index: 0, reason: try intern(token)), default: ExitFigures()]
        .record(nil)
    case .msiSetIRQ, .setIRQ, .injectVIRQ, .hypercall:
      break
    }
  }

  /// A `[LOST n EVENTS]` line: every open exit loses its duration (rule E1).
  mutating func lost(at time: UInt64) {
    lostEventLines &+= 1
    unpairedByLoss &+= closeOpenExits(at: time)
  }

  /// Ends the recording: open exits have no duration; the last interval closes.
  mutating func finish() {
    openAtEnd &+= closeOpenExits(at: lastTime)
    flushInterval()
  }

  /// Closes every open exit without a duration, visiting only the threads that opened one
  /// since the last such pass (each exit lists its thread once: linear work in all); returns
  /// how many were open.
  private mutating func closeOpenExits(at time: UInt64) -> UInt64 {
    var closed: UInt64 = 0
    for t in mayBeOpen {
      threads[t].listed = false
      if let open = threads[t].open {
        closed &+= 1
        close(t, open, duration: nil, at: time)
      }
    }
    mayBeOpen.removeAll(keepingCapacity: true)
    return closed
  }

  /// Exits still open when the recording ended.
  private(set) var openAtEnd: UInt64 = 0

  // MARK: Mechanics

  private mutating func note(time: UInt64) {
    if firstTime == nil { firstTime = time }
    if time > lastTime { lastTime = time }
  }

  private mutating func close(_ t: Int, _ open: Open, duration: UInt64?, at time: UInt64) {
    threads[t].open = nil
    figures[Key(scope: .thread, index: UInt64(t), reason: open.reason), default: ExitFigures()]
      .record(duration)
    figures[Key(scope: .pcpu, index: UInt64(open.cpu), reason: open.reason), default: ExitFigures()]
      .record(duration)
    figures[
      Key(scope: .handler, index: open.userspace ? 1 : 0, reason: open.reason),
      default: ExitFigures()
    ].record(duration)
    if open.access >= 0 {
      figures[Key(scope: .access, index: UInt64(open.access), reason: -1), default: ExitFigures()]
        .record(duration)
    }
    addToSeries(vm: threadVM[t], reason: open.reason, at: time, ns: duration ?? 0)
  }

  private mutating func addToSeries(vm: Int, reason: Int, at time: UInt64, ns: UInt64) {
    let origin = firstTime ?? 0
    let start = origin &+ (time &- origin) / intervalNs &* intervalNs
    // Lines come in time order, so intervals close in order.
    if let s = intervalStart, s != start { flushInterval() }
    intervalStart = start
    addCurrent(vm: vm, reason: reason, ns: ns)
  }

  private mutating func addCurrent(vm: Int, reason: Int, ns: UInt64) {
    let key = vm << 16 | reason
    let c = current[key] ?? (0, 0)
    current[key] = (c.count &+ 1, c.ns.adding(saturating: ns))
  }

  /// The most time-series rows kept (about 40 MiB); later intervals are left out, noted.
  static let maximumSeriesRows = 1_000_000
  private(set) var seriesCut = false

  private mutating func flushInterval() {
    guard let s = intervalStart else { return }
    for (key, value) in current.sorted(by: { $0.key < $1.key }) {
      guard series.count < Self.maximumSeriesRows else {
        seriesCut = true
        break
      }
      series.append((s, key >> 16, key & 0xFFFF, value.count, value.ns))
    }
    current.removeAll(keepingCapacity: true)
    intervalStart = nil
  }

  private mutating func thread(_ line: KVMTraceLine) throws(ExitLineError) -> Int {
    if let t = threadIndex[line.pid] {
      if threads[t].tgid == nil, let g = line.tgid { threads[t].tgid = g }
      return t
    }
    guard threads.count < Self.maximumThreads else {
      throw ExitLineError(
        "thread \(line.pid) would be thread \(Self.maximumThreads + 1); a recording may name at most \(Self.maximumThreads)"
      )
    }
    if line.tgid != nil { sawGroups = true }
    let comm = String(decoding: line.comm.prefix(64), as: UTF8.self)
    let t = threads.count
    threads.append(Thread(pid: line.pid, tgid: line.tgid, comm: comm))
    threadIndex[line.pid] = t
    let label: String =
      switch grouping {
      case .tgid: line.tgid.map { "pid \($0)" } ?? "\(comm) (tid \(line.pid))"
      case .pid: "\(comm) (tid \(line.pid))"
      case .comm: comm
      }
    if let vm = vmIndex[label] {
      threadVM.append(vm)
    } else {
      vmIndex[label] = vmLabels.count
      threadVM.append(vmLabels.count)
      vmLabels.append(label)
    }
    return t
  }

  private mutating func intern(_ token: UnsafeRawBufferPointer) throws(ExitLineError) -> Int {
    if lastReason < reasonBytes.count, token.elementsEqual(reasonBytes[lastReason]) {
      return lastReason
    }
    for (i, r) in reasonBytes.enumerated() where token.elementsEqual(r) {
      lastReason = i
      return i
    }
    guard reasons.count < Self.maximumReasons, token.count <= 64 else {
      throw ExitLineError(
        token.count > 64
          ? "an exit reason of \(token.count) bytes; expected at most 64"
          : "more than \(Self.maximumReasons) distinct exit reasons")
    }
    reasonBytes.append(Array(token))
    reasons.append(String(decoding: token, as: UTF8.self))
    lastReason = reasons.count - 1
    return lastReason
  }

  private func parseAccess(_ kind: KVMEventKind, _ p: UnsafeRawBufferPointer)
    throws(ExitLineError) -> Access
  {
    switch kind {
    case .mmio:
      // `mmio write len 4 gpa 0xfee000b0 val 0x0` (or read, unsatisfied-read)
      guard let op = KVMPayload.token(after: "mmio", in: p),
        let gpa = KVMPayload.token(after: "gpa", in: p).flatMap(KVMPayload.hex)
      else {
        throw ExitLineError("expected `mmio read|write len N gpa 0x... val 0x...` in kvm_mmio")
      }
      return Access(space: 0, address: gpa, write: Bytes.equals(op, "write"))
    case .fastMMIO:
      guard let gpa = KVMPayload.token(after: "gpa", in: p).flatMap(KVMPayload.hex) else {
        throw ExitLineError("expected `fast mmio at gpa 0x...` in kvm_fast_mmio")
      }
      return Access(space: 2, address: gpa, write: true)
    default:
      // `pio_read at 0xe9 size 1 count 1 val 0x31`
      let write = Bytes.hasPrefix(p, "pio_write")
      guard write || Bytes.hasPrefix(p, "pio_read"),
        let port = KVMPayload.token(after: "at", in: p).flatMap(KVMPayload.hex)
      else {
        throw ExitLineError("expected `pio_read|pio_write at 0x... size N count N` in kvm_pio")
      }
      return Access(space: 1, address: port, write: write)
    }
  }

  private mutating func index(of access: Access) -> Int {
    if let i = accessIndex[access] { return i }
    guard accesses.count < Self.maximumAddresses else {
      otherAccesses &+= 1
      return -1
    }
    accessIndex[access] = accesses.count
    accesses.append(access)
    return accesses.count - 1
  }
}

/// What was wrong with one line of a recording (the reader adds the file and line).
struct ExitLineError: Error {
  var message: String
  init(_ message: String) { self.message = message }
}
