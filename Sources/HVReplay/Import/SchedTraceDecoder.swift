// Scheduler traces as text: ftrace (`comm-pid [cpu] flags ts: sched_switch: prev_comm=X
// prev_pid=N prev_prio=P prev_state=S ==> next_comm=Y next_pid=M next_prio=Q`), and the
// `X:N [P] S ==> Y:M [Q]` payload trace-cmd report and newer perf script print.
// Each task's running intervals become cpu bursts (docs/IMPORTERS.md):
// - a burst's service_ns is the interval from switch-in to switch-out;
// - its time_ns is when the task became runnable: its wake-up (sched_wakeup), or the
//   switch-out that preempted it (prev_state R), or else the switch-in;
// - intervals cut by the start or end of the recording are left out; the idle task too.
// - ftrace's header states the CPUs it recorded (`#P:4`): the import says so as the trace
//   metadata `model.cpu.pcpus`, which a replay applies before --model and --set.

/// How tasks map to VMs.
public enum TaskGrouping: String, Sendable, CaseIterable {
  /// One VM per task (thread).
  case pid
  /// One VM per process (thread group); its threads are the VM's vCPUs.
  case tgid
  /// One VM per command name; its tasks are the VM's vCPUs.
  case comm
}

/// Imports sched_switch / sched_wakeup text from ftrace, perf script or trace-cmd report.
///
/// At most ``maximumTasks`` distinct pids, with names (comm) of at most
/// ``maximumCommBytes`` bytes: a line beyond either is bad.
struct SchedTraceDecoder: ImportingDecoder {
  /// The most distinct tasks (pids) a trace may name: about 230 bytes of state each with
  /// the dictionary's slack, 250 MiB at the limit (measured).
  static let maximumTasks = 1 << 20
  /// The longest task name accepted, in bytes (the kernel's are at most 15).
  static let maximumCommBytes = 64

  /// What the import knows of one task.
  private struct Task {
    var comm: String?
    var tgid: UInt32?
    /// Since when the task runs, while it does.
    var running: UInt64?
    /// When the running burst became runnable.
    var burstStart: UInt64?
    /// When the task became runnable, while it waits to run.
    var runnableSince: UInt64?
    var slot: (vm: UInt16, vcpu: UInt16)?
    /// Grouped by pid under `--group-by tgid` for want of its thread group.
    var tgidUnknown = false
  }

  private var lines: LineScanner
  private var budget: BadRecordBudget
  private let grouping: TaskGrouping
  private var origin: UInt64?
  private var tasks: [UInt32: Task] = [:]
  private var vcpusPerGroup: [String: UInt16] = [:]
  private var vms = VMAssigner()
  private var cutAtStart: UInt64 = 0
  private var bursts: UInt64 = 0
  let metadata: TraceMetadata
  /// The `#P:` value of ftrace's header, when it has one.
  private let statedCPUs: UInt64?
  var skipped: UInt64 { budget.skipped }

  /// The most distinct tasks this import keeps (``maximumTasks`` unless a test says less).
  private let taskLimit: Int

  init(
    input: ByteInput, grouping: TaskGrouping, skipBad: UInt64, maximumTasks: Int = Self.maximumTasks
  ) {
    taskLimit = maximumTasks
    lines = LineScanner(input: input)
    budget = BadRecordBudget(limit: skipBad)
    self.grouping = grouping
    statedCPUs = Self.statedCPUs(
      in: UnsafeRawBufferPointer(start: input.base, count: input.end))
    var entries = [
      ("imported-from", "scheduler trace"), ("file", input.name), ("group-by", grouping.rawValue),
    ]
    if let p = statedCPUs, Self.pcpuRange.contains(p) {
      entries.append(("model.cpu.pcpus", "\(p)"))
    }
    metadata = TraceMetadata(entries)
  }

  /// The pCPU counts `cpu.pcpus` takes.
  static let pcpuRange: ClosedRange<UInt64> = 1...4096

  /// The CPU count ftrace's header states (`# entries-in-buffer/entries-written: 194480/194480
  /// #P:4`), from the comment lines that open `prefix`; `nil` when none says.
  static func statedCPUs(in prefix: UnsafeRawBufferPointer) -> UInt64? {
    var start = 0
    while start < prefix.count && prefix[start] == UInt8(ascii: "#") {
      var stop = start
      while stop < prefix.count && prefix[stop] != 0x0A { stop += 1 }
      let line = UnsafeRawBufferPointer(rebasing: prefix[start..<stop])
      if let at = Bytes.find("#P:", in: line) {
        var value: UInt64 = 0
        var digits = 0
        for byte in line[(at + 3)...] {
          guard byte >= 0x30 && byte <= 0x39, digits < 10 else { break }
          value = value * 10 + UInt64(byte - 0x30)
          digits += 1
        }
        return digits > 0 ? value : nil
      }
      start = stop + 1
    }
    return nil
  }

  var location: HVReplayError.Location { .line(lines.line) }

  /// Whether `line` carries a sched_switch or sched_wakeup event, or is ftrace's header.
  static func matches(_ line: UnsafeRawBufferPointer) -> Bool {
    Bytes.hasPrefix(line, "# tracer:") || Bytes.find("sched_switch: ", in: line) != nil
      || Bytes.find("sched_wakeup: ", in: line) != nil
      || Bytes.find("sched_wakeup_new: ", in: line) != nil
  }

  private func fail(_ message: String) -> HVReplayError {
    HVReplayError(.badData, file: lines.input.name, location: .line(lines.line), message)
  }

  mutating func next() throws(HVReplayError) -> TraceEvent? {
    while let line = try lines.next() {
      if line.isEmpty || line.first == UInt8(ascii: "#") { continue }
      do {
        if let event = try parse(line) { return event }
      } catch {
        try budget.skip(error)
      }
    }
    return nil
  }

  private mutating func parse(_ line: UnsafeRawBufferPointer) throws(HVReplayError) -> TraceEvent? {
    let isSwitch: Bool
    let marker: Int
    let markerLength: Int
    if let m = Bytes.find("sched_switch: ", in: line) {
      (isSwitch, marker, markerLength) = (true, m, 14)
    } else if let m = Bytes.find("sched_wakeup: ", in: line) {
      (isSwitch, marker, markerLength) = (false, m, 14)
    } else if let m = Bytes.find("sched_wakeup_new: ", in: line) {
      (isSwitch, marker, markerLength) = (false, m, 18)
    } else {
      return nil  // another event
    }
    // Header: `comm-pid [(tgid)] [cpu] [flags] seconds: [sched:]`
    var header = Bytes.string(UnsafeRawBufferPointer(rebasing: line[..<marker]))
    if header.hasSuffix("sched:") { header.removeLast(6) }
    var tokens = header.split(separator: " ")
    guard let last = tokens.popLast(), last.hasSuffix(":"),
      let t = Bytes.secondsAsNanosecondsString(String(last.dropLast()))
    else { throw fail("expected a timestamp in seconds before the event name") }
    if origin == nil { origin = t }
    guard t >= origin! else { throw fail("the timestamp is earlier than the first event's") }
    let time = t - origin!
    if let cpuIndex = tokens.lastIndex(where: { $0.hasPrefix("[") && $0.hasSuffix("]") }) {
      try learnTGID(Array(tokens[..<cpuIndex]))
    }
    let payload = Bytes.string(UnsafeRawBufferPointer(rebasing: line[(marker + markerLength)...]))
      .trimmingCharacters(in: " ")
    if isSwitch {
      let (prev, prevComm, state, next, nextComm) = try parseSwitch(payload)
      for comm in [prevComm, nextComm] {
        if let comm, comm.utf8.count > Self.maximumCommBytes {
          throw fail(
            "a task name of \(comm.utf8.count) bytes; expected at most \(Self.maximumCommBytes) (the kernel's are at most 15)"
          )
        }
      }
      try know(prev)
      try know(next)
      if let nextComm { tasks[next]!.comm = nextComm }
      if let prevComm, tasks[prev]!.comm == nil { tasks[prev]!.comm = prevComm }
      var event: TraceEvent?
      if prev != 0 {
        if let start = tasks[prev]!.running {
          let burstStart = tasks[prev]!.burstStart ?? start
          tasks[prev]!.running = nil
          tasks[prev]!.burstStart = nil
          event = try burst(prev, start: burstStart, runFrom: start, to: time)
        } else {
          cutAtStart += 1
        }
        if state.hasPrefix("R") { tasks[prev]!.runnableSince = time }
      }
      if next != 0 {
        tasks[next]!.running = time
        tasks[next]!.burstStart = tasks[next]!.runnableSince ?? time
        tasks[next]!.runnableSince = nil
      }
      return event
    }
    let pid = try parseWakeup(payload)
    try know(pid)
    if tasks[pid]!.running == nil && tasks[pid]!.runnableSince == nil {
      tasks[pid]!.runnableSince = time
    }
    return nil
  }

  /// Starts keeping state for `pid`, unless it has it already.
  ///
  /// - Throws: a bad-line error when ``taskLimit`` tasks are known already.
  private mutating func know(_ pid: UInt32) throws(HVReplayError) {
    guard tasks[pid] == nil else { return }
    guard tasks.count < taskLimit else {
      throw fail(
        "pid \(pid) would be task \(taskLimit + 1); a trace may name at most \(taskLimit) distinct tasks"
      )
    }
    tasks[pid] = Task()
  }

  /// Learns a task's thread group from a header `comm-pid (tgid)`.
  private mutating func learnTGID(_ tokens: [Substring]) throws(HVReplayError) {
    guard let last = tokens.last, last.hasPrefix("("), last.hasSuffix(")"),
      let tgid = UInt32(last.dropFirst().dropLast()), tokens.count >= 2
    else { return }
    let task = tokens[tokens.count - 2]
    if let dash = task.lastIndex(of: "-"), let pid = UInt32(task[task.index(after: dash)...]) {
      try know(pid)
      tasks[pid]!.tgid = tgid
    }
  }

  private func number(after key: String, in s: String) -> UInt32? {
    guard let r = s.firstRange(of: key) else { return nil }
    return UInt32(s[r.upperBound...].prefix { $0.isNumber })
  }

  private func text(after key: String, until stop: String, in s: String) -> String? {
    guard let r = s.firstRange(of: key) else { return nil }
    let rest = s[r.upperBound...]
    guard let e = rest.firstRange(of: stop) else { return nil }
    return String(rest[..<e.lowerBound])
  }

  private func parseSwitch(_ p: String) throws(HVReplayError) -> (
    UInt32, String?, String, UInt32, String?
  ) {
    if p.contains("prev_pid=") {
      guard let prev = number(after: "prev_pid=", in: p),
        let next = number(after: "next_pid=", in: p),
        let stateRange = p.firstRange(of: "prev_state=")
      else { throw fail("expected prev_pid=, prev_state= and next_pid= in sched_switch") }
      let state = String(p[stateRange.upperBound...].prefix { $0 != " " })
      return (
        prev, text(after: "prev_comm=", until: " prev_pid=", in: p), state, next,
        text(after: "next_comm=", until: " next_pid=", in: p)
      )
    }
    // `comm:pid [prio] state ==> comm:pid [prio]`
    guard let arrow = p.firstRange(of: " ==> ") else {
      throw fail("expected ` ==> ` in sched_switch")
    }
    func task(_ s: Substring) -> (UInt32, String)? {
      guard let bracket = s.ranges(of: " [").last else { return nil }
      let name = s[..<bracket.lowerBound]
      guard let colon = name.lastIndex(of: ":"), let pid = UInt32(name[name.index(after: colon)...])
      else {
        return nil
      }
      return (pid, String(name[..<colon]))
    }
    let left = p[..<arrow.lowerBound]
    let right = p[arrow.upperBound...]
    guard let close = left.lastIndex(of: "]"), let prev = task(left[...close]),
      let next = task(right)
    else {
      throw fail("expected `comm:pid [prio] state ==> comm:pid [prio]` in sched_switch")
    }
    let state = String(left[left.index(after: close)...]).trimmingCharacters(in: " ")
    return (prev.0, prev.1, state, next.0, next.1)
  }

  private func parseWakeup(_ p: String) throws(HVReplayError) -> UInt32 {
    if let pid = number(after: " pid=", in: " " + p) { return pid }
    if let bracket = p.firstRange(of: " ["),
      let colon = p[..<bracket.lowerBound].lastIndex(of: ":"),
      let pid = UInt32(p[p.index(after: colon)..<bracket.lowerBound])
    {
      return pid
    }
    throw fail("expected pid= or comm:pid in sched_wakeup")
  }

  private mutating func burst(_ pid: UInt32, start: UInt64, runFrom: UInt64, to end: UInt64)
    throws(HVReplayError)
    -> TraceEvent
  {
    let slot: (vm: UInt16, vcpu: UInt16)
    if let s = tasks[pid]!.slot {
      slot = s
    } else {
      let comm = tasks[pid]!.comm ?? "?"
      let tgid = tasks[pid]!.tgid
      let group: String
      switch grouping {
      case .pid: group = "\(comm) (pid \(pid))"
      case .tgid:
        if tgid == nil { tasks[pid]!.tgidUnknown = true }
        group = "tgid \(tgid ?? pid)"
      case .comm: group = comm
      }
      guard let vm = vms.vm(for: group) else { throw fail(vms.refusal("task groups")) }
      let vcpu = vcpusPerGroup[group, default: 0]
      guard vcpu < UInt16.max else { throw fail("more than 65535 tasks in \(group)") }
      vcpusPerGroup[group] = vcpu + 1
      slot = (vm, vcpu)
      tasks[pid]!.slot = slot
    }
    guard end >= runFrom else {
      throw fail("the task switches out before it switched in; the lines are not in time order")
    }
    bursts += 1
    return TraceEvent(
      timeNs: start, vm: slot.vm, vcpu: slot.vcpu, op: .burst, serviceNs: end - runFrom)
  }

  var notes: [String] {
    var n = [
      "each task's running interval (switch-in to switch-out) is a cpu burst: \(bursts) bursts",
      "a burst's time_ns is when the task became runnable (its wake-up, or the preemption that switched it out), else its switch-in",
      "group-by \(grouping.rawValue): \(vms.describe(""))",
    ]
    if let p = statedCPUs {
      n.append(
        Self.pcpuRange.contains(p)
          ? "cpu.pcpus = \(p) from the header's #P:\(p) (the CPUs ftrace recorded); --model or --set cpu.pcpus overrides it"
          : "the header's #P:\(p) is no pCPU count hvreplay takes (1-4096): cpu.pcpus not taken from it"
      )
    }
    if cutAtStart > 0 { n.append("\(cutAtStart) intervals began before the recording (left out)") }
    let running = tasks.values.count { $0.running != nil }
    if running > 0 {
      n.append("\(running) tasks still running at the end (their last interval left out)")
    }
    let tgidUnknown = tasks.values.count { $0.tgidUnknown }
    if tgidUnknown > 0 {
      let grouped = tasks.values.count { $0.slot != nil }
      n.append(
        "group-by tgid fell back to pids for \(tgidUnknown) of \(grouped) tasks: the trace gives them no thread group (ftrace prints `(tgid)` after the task with its record-tgid option), so each is grouped as if its pid were its thread group"
      )
    }
    if budget.skipped > 0 { n.append("\(budget.skipped) unreadable lines skipped (--skip-bad)") }
    return n
  }
}

extension Bytes {
  static func secondsAsNanosecondsString(_ s: String) -> UInt64? {
    var s = s
    return s.withUTF8 { secondsAsNanoseconds(UnsafeRawBufferPointer($0)) }
  }
}
