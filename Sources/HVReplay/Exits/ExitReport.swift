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
    /// The span this row's rate is over, where it is not the report's: a merged part's
    /// own VMs and host CPUs (rule E6); 0 for none.
    public var spanNs: UInt64? = nil
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
  /// kvm_userspace_exit events by their reason (`KVM_EXIT_IO`; rule E3), vcpu
  /// `kvm_userspace_exit`.
  public var userspaceRows: [Row] = []

  /// exits.json's sections of rows, by name.
  public static let sectionNames = ["exits", "pcpus", "handlers", "accesses", "userspace"]

  /// The rows of each section, in ``sectionNames``' order.
  public var sections: [[Row]] {
    get { [rows, pcpuRows, handlerRows, accessRows, userspaceRows] }
    set {
      (rows, pcpuRows, handlerRows, accessRows, userspaceRows) = (
        newValue[0], newValue[1], newValue[2], newValue[3], newValue[4]
      )
    }
  }
  /// The time series: interval start (from the first event), VM, reason, count, time.
  public var series: [(startNs: UInt64, vm: String, reason: String, count: UInt64, ns: UInt64)] =
    []
  /// Counts of each KVM event read.
  public var events: [(name: String, count: UInt64)] = []
  /// Sentences on how the figures were made, and on what the recording lacked.
  public var notes: [String] = []
  /// Whether durations are known one by one (a recording with kvm_entry).
  public var hasDurations = false
  /// Accesses beyond the itemised addresses (rule E2), counted but under no address.
  public var unitemisedAccesses: UInt64 = 0

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
    var userspace: [Int: ExitFigures] = [:]
    for (key, f) in a.figures {
      switch key.scope {
      case .thread: perThread[Int(key.index), default: [:]][key.reason] = f
      case .pcpu: perPCPU[key.index, default: [:]][key.reason] = f
      case .handler: handler[key.index, default: [:]][key.reason] = f
      case .access: access.append((Int(key.index), f))
      case .userspace: userspace[key.reason] = f
      }
    }
    let reasons = a.reasons
    var total: [Int: ExitFigures] = [:]
    var threadsOf = [[Int]](repeating: [], count: a.vmLabels.count)
    for t in a.threads.indices where perThread[t] != nil { threadsOf[a.threadVM[t]].append(t) }
    for vm in a.vmLabels.indices {
      var vmFigures: [Int: ExitFigures] = [:]
      let threads = threadsOf[vm]
      // A vCPU id two threads of one VM share (--group-by comm) keeps its thread's id.
      var idCount: [UInt32: Int] = [:]
      for t in threads { if let v = a.threads[t].vcpu { idCount[v, default: 0] += 1 } }
      for t in threads.sorted(by: { Self.vcpuOrder(a.threads[$0], a.threads[$1]) }) {
        let pid = a.threads[t].pid
        let label =
          a.threads[t].vcpu.map { idCount[$0]! > 1 ? "\($0) (tid \(pid))" : "\($0)" }
          ?? "tid \(pid)"
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
    userspaceRows = Self.rows(
      vm: "all", vcpu: "kvm_userspace_exit", userspace, reasons, withAll: false)
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
    let exitLines = a.eventCounts[Int(KVMEventKind.exit.rawValue)]
    if exitLines == 0 {
      notes.append(
        "the recording has no kvm_exit lines, so no exits: only accesses (kvm_mmio, kvm_pio) and returns to userspace (kvm_userspace_exit) are counted (record `trace-cmd record -e kvm`; a host without hardware virtualization, such as KVM's PVM, emulates its guests' instructions and logs no kvm_exit)"
      )
    } else {
      notes.append(
        hasDurations
          ? "an exit lasts from its kvm_exit to the next kvm_entry of the same thread (percentiles: HdrHistogram's buckets at two significant digits, within 0.78%; min and max exact)"
          : "the recording has no kvm_entry lines: counts and rates only; exit durations need kvm_entry (`trace-cmd record -e kvm:kvm_exit -e kvm:kvm_entry`, or `-e kvm`)"
      )
    }
    if a.sawGroups || a.grouping != .tgid {
      notes.append("VMs grouped by \(a.grouping.rawValue)")
    } else {
      notes.append(
        "the recording shows no thread groups, so each vCPU thread is its own VM (record with ftrace's record-tgid option, or `perf script -F comm,pid,tid,cpu,time,event,trace`, to group a VM's threads)"
      )
    }
    let unpaired = a.unpairedByExit + a.unpairedByLoss + a.openAtEnd
    if hasDurations && unpaired > 0 {
      notes.append(
        "\(unpaired) exits have no duration: \(a.unpairedByExit) followed by another exit of their thread, \(a.unpairedByLoss) cut by lost events, \(a.openAtEnd) open at the end"
      )
    }
    if a.seriesCut {
      notes.append(
        "the time series stops at \(ExitAnalysis.maximumSeriesRows) rows: choose a longer --interval for the rest"
      )
    }
    if a.lostEventLines > 0 {
      notes.append("\(a.lostEventLines) lines report lost events: the counts are lower bounds")
    }
    unitemisedAccesses = a.otherAccesses
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
    // One set of rows per `Analyze events for ...` section's vCPU, in order; per-vCPU
    // sections without an all-vCPU one also sum to `all`.
    var sections: [String] = []
    var exits: [String: [String: ExitFigures]] = [:]
    var order: [String: [String]] = [:]
    var accesses: [(String, String, ExitFigures)] = []
    for row in table.rows {
      let vcpu = row.vcpu.map { "\($0)" } ?? "all"
      if exits[vcpu] == nil {
        sections.append(vcpu)
        exits[vcpu] = [:]
      }
      switch row.kind {
      case .exits:
        if exits[vcpu]![row.name] == nil { order[vcpu, default: []].append(row.name) }
        exits[vcpu]![row.name, default: ExitFigures()].add(row.figures)
      case .mmio: accesses.append((vcpu, "mmio:" + row.name, row.figures))
      case .ioport: accesses.append((vcpu, "pio:" + row.name, row.figures))
      }
    }
    if !sections.contains("all") && sections.count > 1 {
      var all: [String: ExitFigures] = [:]
      var allOrder: [String] = []
      for v in sections {
        for name in order[v] ?? [] {
          if all[name] == nil { allOrder.append(name) }
          all[name, default: ExitFigures()].add(exits[v]![name]!)
        }
      }
      sections.append("all")
      exits["all"] = all
      order["all"] = allOrder
    }
    for v in sections {
      let names = order[v] ?? []
      let indexed = Dictionary(
        uniqueKeysWithValues: names.enumerated().map { ($0.offset, exits[v]![$0.element]!) })
      rows += Self.rows(vm: "all", vcpu: v, indexed, names)
    }
    for v in Set(accesses.map(\.0)).sorted() {
      let mine = accesses.filter { $0.0 == v }
      let total = mine.reduce(into: ExitFigures()) { $0.add($1.2) }
      accessRows += mine.map { Self.row(vm: "all", vcpu: v, reason: $0.1, $0.2, of: total) }
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

  static func row(
    vm: String, vcpu: String, reason: String, _ f: ExitFigures, of all: ExitFigures
  ) -> Row {
    Row(
      vm: vm, vcpu: vcpu, reason: reason, figures: f,
      sharePercent: all.count > 0 ? Double(f.count) / Double(all.count) * 100 : 0,
      timeSharePercent: all.totalNs > 0 ? Double(f.totalNs) / Double(all.totalNs) * 100 : nil)
  }

  /// The exits of every VM, by reason (vm `all`), most first, without `all`.
  public var totals: [Row] {
    let scope = rows.contains { $0.vm == "all" && $0.vcpu == "all" } ? "all" : rows.first?.vcpu
    return rows.filter { $0.vm == "all" && $0.vcpu == scope && $0.reason != "all" }
  }

  /// Whether exits-timeseries.csv and exits.svg are written: a recording (with an interval)
  /// that has exits.
  var hasTimeSeries: Bool { intervalNs != nil && rows.contains { $0.figures.count > 0 } }

  /// Every VM's accesses once: a perf kvm stat report's sum over vCPUs where it has one.
  var everyVMAccesses: [Row] {
    accessRows.contains { $0.vcpu == "all" } ? accessRows.filter { $0.vcpu == "all" } : accessRows
  }

  /// Exits per second over the row's span (its own, else the report's), or nil without one.
  public func rate(_ r: Row) -> Double? {
    guard let s = r.spanNs ?? spanNs, s > 0 else { return nil }
    return Double(r.figures.count) / (Double(s) / 1e9)
  }
}
