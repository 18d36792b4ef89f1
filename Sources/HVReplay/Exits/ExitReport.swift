/// What `hvreplay exits` found in a recording: exits per VM, vCPU, host CPU and reason,
/// with counts, rates, shares and durations, the accesses behind I/O exits, and a time
/// series of exits per reason.
public struct ExitReport: Sendable {
  /// One scope's figures for one reason (`all` for every reason).
  public struct Row: Sendable {
    public var vm: String
    public var vcpu: String
    public var reason: String
    public var figures: ExitFigures
    /// This reason's share of the scope's exits and of their time, in percent.
    public var sharePercent: Double
    public var timeSharePercent: Double?
  }

  public var file: String
  public var layout: KVMRecordingLayout
  /// The recording's span (rule E5), or nil for a summary without times.
  public var spanNs: UInt64?
  public var intervalNs: UInt64?
  /// Per VM and vCPU, per VM (vcpu `all`) and in total (vm and vcpu `all`).
  public var rows: [Row] = []
  /// Per host CPU (vm `host`, vcpu `pcpu N`).
  public var pcpuRows: [Row] = []
  /// The accesses of I/O exits (rule E2), as perf kvm stat names them (`mmio:0x...:W`).
  public var accessRows: [Row] = []
  /// Exits handled in the kernel and in userspace (rule E3), per reason.
  public var handlerRows: [Row] = []
  /// The time series: interval start (from the first event), VM, reason, count, time.
  public var series: [(startNs: UInt64, vm: String, reason: String, count: UInt64, ns: UInt64)] =
    []
  /// Counts of each KVM event read.
  public var events: [(name: String, count: UInt64)] = []
  /// Sentences on how the figures were made, and on what the recording lacked.
  public var notes: [String] = []
  /// Whether durations are known one by one (a recording with kvm_entry).
  public var hasDurations = false

  init(analysis a: ExitAnalysis, layout: KVMRecordingLayout, file: String, skipped: UInt64) {
    self.file = file
    self.layout = layout
    let first = a.firstTime ?? 0
    spanNs = a.lastTime - first
    intervalNs = a.intervalNs
    var perThread: [Int: [Int: ExitFigures]] = [:]
    var perPCPU: [UInt64: [Int: ExitFigures]] = [:]
    var handler: [UInt64: [Int: ExitFigures]] = [:]
    var access: [(Int, ExitFigures)] = []
    for (key, f) in a.figures {
      switch key.scope {
      case .thread: perThread[Int(key.index), default: [:]][key.reason] = f
      case .pcpu: perPCPU[key.index, default: [:]][key.reason] = f
      case .handler: handler[key.index, default: [:]][key.reason] = f
      case .access: access.append((Int(key.index), f))
      }
    }
    let reasons = a.reasons
    var total: [Int: ExitFigures] = [:]
    for vm in a.vmLabels.indices {
      var vmFigures: [Int: ExitFigures] = [:]
      let threads = a.threads.indices.filter { a.threadVM[$0] == vm && perThread[$0] != nil }
      for t in threads.sorted(by: { Self.vcpuOrder(a.threads[$0], a.threads[$1]) }) {
        let label = a.threads[t].vcpu.map { "\($0)" } ?? "tid \(a.threads[t].pid)"
        rows += Self.rows(vm: a.vmLabels[vm], vcpu: label, perThread[t]!, reasons)
        for (r, f) in perThread[t]! { vmFigures[r, default: ExitFigures()].add(f) }
      }
      guard !vmFigures.isEmpty else { continue }
      rows += Self.rows(vm: a.vmLabels[vm], vcpu: "all", vmFigures, reasons)
      for (r, f) in vmFigures { total[r, default: ExitFigures()].add(f) }
    }
    rows += Self.rows(vm: "all", vcpu: "all", total, reasons)
    for cpu in perPCPU.keys.sorted() {
      pcpuRows += Self.rows(vm: "host", vcpu: "pcpu \(cpu)", perPCPU[cpu]!, reasons)
    }
    for (index, name) in [(UInt64(0), "kernel"), (1, "userspace")] {
      if let h = handler[index] {
        handlerRows += Self.rows(vm: "all", vcpu: name, h, reasons, withAll: false)
      }
    }
    let accessTotal = access.reduce(into: ExitFigures()) { $0.add($1.1) }
    for (i, f) in access.sorted(by: { ($0.1.count, $1.0) > ($1.1.count, $0.0) }) {
      accessRows.append(
        Self.row(vm: "all", vcpu: "all", reason: a.accesses[i].label, f, of: accessTotal))
    }
    series = a.series.map {
      ($0.start - first, a.vmLabels[$0.vm], reasons[$0.reason], $0.count, $0.ns)
    }
    events = KVMEventKind.allCases.compactMap { k in
      let n = a.eventCounts[Int(k.rawValue)]
      return n > 0 ? (k.name, n) : nil
    }
    let entries = a.eventCounts[Int(KVMEventKind.entry.rawValue)]
    hasDurations = entries > 0
    notes.append(
      "read as \(layout.rawValue): \(a.eventCounts.reduce(0, &+)) kvm events, \(a.otherEvents) lines of other events ignored"
    )
    notes.append(
      hasDurations
        ? "an exit lasts from its kvm_exit to the next kvm_entry of the same thread (percentiles: HdrHistogram's buckets at two significant digits, within 0.78%; min and max exact)"
        : "the recording has no kvm_entry lines: counts and rates only; exit durations need kvm_entry (`trace-cmd record -e kvm:kvm_exit -e kvm:kvm_entry`, or `-e kvm`)"
    )
    if a.sawGroups || a.grouping != .tgid {
      notes.append("VMs grouped by \(a.grouping.rawValue)")
    } else {
      notes.append(
        "the recording shows no thread groups, so each vCPU thread is its own VM (record with ftrace's record-tgid option, or `perf script -F comm,pid,tid,cpu,time,event,trace`, to group a VM's threads; or pass --group-by comm)"
      )
    }
    let unpaired = a.unpairedByExit + a.unpairedByLoss + a.openAtEnd
    if hasDurations && unpaired > 0 {
      notes.append(
        "\(unpaired) exits have no duration: \(a.unpairedByExit) followed by another exit of their thread, \(a.unpairedByLoss) cut by lost events, \(a.openAtEnd) open at the end"
      )
    }
    if a.lostEventLines > 0 {
      notes.append("\(a.lostEventLines) lines report lost events: the counts are lower bounds")
    }
    if a.otherAccesses > 0 {
      notes.append(
        "\(a.otherAccesses) accesses beyond \(ExitAnalysis.maximumAddresses) distinct addresses are not itemised"
      )
    }
    if skipped > 0 { notes.append("\(skipped) unreadable lines skipped (--skip-bad)") }
  }

  init(table: PerfKVMStatTable, file: String, skipped: UInt64) {
    self.file = file
    layout = .perfKVMStat
    let vcpu = table.vcpu.map { "\($0)" } ?? "all"
    var exits: [String: ExitFigures] = [:]
    var order: [String] = []
    var accesses: [(String, ExitFigures)] = []
    for row in table.rows {
      switch row.kind {
      case .exits:
        if exits[row.name] == nil { order.append(row.name) }
        exits[row.name, default: ExitFigures()].add(row.figures)
      case .mmio: accesses.append(("mmio:" + row.name, row.figures))
      case .ioport: accesses.append(("pio:" + row.name, row.figures))
      }
    }
    let indexed = Dictionary(
      uniqueKeysWithValues: order.enumerated().map { ($0.offset, exits[$0.element]!) })
    rows = Self.rows(vm: "all", vcpu: vcpu, indexed, order)
    let accessTotal = accesses.reduce(into: ExitFigures()) { $0.add($1.1) }
    accessRows = accesses.map {
      Self.row(vm: "all", vcpu: vcpu, reason: $0.0, $0.1, of: accessTotal)
    }
    notes.append(
      "read as perf kvm stat report: counts and min, max and mean durations per reason as perf measured them (from each exit to its entry); no percentiles, per-VM or per-pCPU split, or time series (those need the recording itself: `perf script` or `trace-cmd report` of kvm events)"
    )
    notes.append(
      "the mean is given to 10 ns, so each reason's total time is the mean times the count")
    if skipped > 0 { notes.append("\(skipped) unreadable lines skipped (--skip-bad)") }
  }

  /// vCPUs in id order, threads without an id after them by thread id.
  private static func vcpuOrder(_ a: ExitAnalysis.Thread, _ b: ExitAnalysis.Thread) -> Bool {
    (a.vcpu ?? .max, a.pid) < (b.vcpu ?? .max, b.pid)
  }

  /// One scope's rows: each reason by count (most first, then name), then `all`.
  private static func rows(
    vm: String, vcpu: String, _ figures: [Int: ExitFigures], _ reasons: [String],
    withAll: Bool = true
  ) -> [Row] {
    let all = figures.values.reduce(into: ExitFigures()) { $0.add($1) }
    let ordered = figures.sorted {
      ($0.value.count, reasons[$1.key]) > ($1.value.count, reasons[$0.key])
    }
    var result = ordered.map { row(vm: vm, vcpu: vcpu, reason: reasons[$0.key], $0.value, of: all) }
    if withAll { result.append(row(vm: vm, vcpu: vcpu, reason: "all", all, of: all)) }
    return result
  }

  private static func row(
    vm: String, vcpu: String, reason: String, _ f: ExitFigures, of all: ExitFigures
  ) -> Row {
    Row(
      vm: vm, vcpu: vcpu, reason: reason, figures: f,
      sharePercent: all.count > 0 ? Double(f.count) / Double(all.count) * 100 : 0,
      timeSharePercent: all.totalNs > 0 ? Double(f.totalNs) / Double(all.totalNs) * 100 : nil)
  }

  /// The exits of every VM, by reason (vm `all`), most first, without `all`.
  public var totals: [Row] { rows.filter { $0.vm == "all" && $0.reason != "all" } }

  /// Exits per second over the span, or nil without one.
  public func rate(_ f: ExitFigures) -> Double? {
    guard let s = spanNs, s > 0 else { return nil }
    return Double(f.count) / (Double(s) / 1e9)
  }
}
