// The metric registry (docs/REPORT-FORMAT.md, "Metrics"): every figure hvreplay reports is
// one `Metric` here, with its unit, its decimals, the way it gets worse, its default
// regression threshold and whether sweeps carry it. summary.csv's and cpu.csv's rows (and
// report.json's figures, which are the same rows), report.md's figure tables, compare's
// thresholds and sweep.csv's columns all come from this one list.

/// One figure hvreplay reports, and how it is read, compared and swept.
public struct Metric: Sendable {
  /// Which way a figure gets worse.
  public enum Direction: Sendable {
    case higherIsWorse
    case lowerIsWorse
  }

  /// Which rows carry it: a backend's device figures (`summary.csv`) or a host's or
  /// scheduler's CPU figures (`cpu.csv`).
  public enum Table: Sendable {
    case device
    case cpu
  }

  /// The name in summary.csv, cpu.csv, report.json, compare and sweep.
  public let name: String
  public let unit: String
  /// Decimals printed (0 for whole numbers).
  public let decimals: Int
  public let table: Table
  /// Which way it gets worse; `nil` when a change is neither better nor worse (a setting).
  public let worse: Direction?
  /// The default regression threshold in percent; `nil` gates only with `--threshold`.
  public let threshold: Double?
  /// Whether sweep.csv (device) or sweep-cpu.csv (CPU) has a column for it.
  public let swept: Bool
  /// The column heading of report.md's per-device table, when the table shows it.
  public let column: String?
  /// The figure of a device group (device metrics) or of a host's VM or total (CPU
  /// metrics); `nil` where it has no meaning there (the row is left out).
  let value: @Sendable (MetricScope) -> Double?

  /// A metric of the registry, or one a backend declares for its own counters.
  public init(
    _ name: String, unit: String, decimals: Int = 0, table: Table = .device,
    worse: Direction? = .higherIsWorse, threshold: Double? = nil, swept: Bool = false,
    column: String? = nil, value: @escaping @Sendable (MetricScope) -> Double?
  ) {
    self.name = name
    self.unit = unit
    self.decimals = decimals
    self.table = table
    self.worse = worse
    self.threshold = threshold
    self.swept = swept
    self.column = column
    self.value = value
  }

  /// The row of this metric in `scope`, or `nil` where it has no meaning.
  func row(_ scope: MetricScope) -> Figures.Row? {
    value(scope).map { Figures.Row(metric: name, value: $0, unit: unit, decimals: decimals) }
  }
}

/// What a metric's value is read from.
public enum MetricScope {
  /// A backend's figures on a device or in total; `host` is the backend's host simulation
  /// on its total row (none per device, and none uncoupled).
  case device(Figures, host: SchedulerResult?)
  /// A scheduler's figures for one VM (by index), or in total (`nil`).
  case cpu(CPUScope)
}

/// A scheduler's figures for one VM or in total, with what several metrics share.
public struct CPUScope {
  public let result: SchedulerResult
  /// The VM's index, or `nil` for the totals.
  public let index: Int?
  let selected: [VMCPUMetrics]
  let wait: PercentileIndex?
  /// The guests among `selected` (a host's virtualization figures are the guests').
  let guests: [VMCPUMetrics]

  init(_ result: SchedulerResult, index: Int?) {
    self.result = result
    self.index = index
    selected = index.map { [result.vms[$0]] } ?? result.vms
    if let index {
      let h = result.vms[index].wait
      wait = h.totalCount > 0 ? PercentileIndex(h) : nil
    } else {
      wait = result.wait.totalCount > 0 ? PercentileIndex(result.wait) : nil
    }
    guests = selected.filter { $0.domain == .guest }
  }

  func sum(_ field: (VMCPUMetrics) -> UInt64) -> Double {
    Double(selected.map(field).saturatingSum())
  }

  /// Whether this is a host's row of a guest or of the guests in total (the
  /// virtualization figures), rather than of dom0 or a device model.
  var hostGuests: Bool {
    result.backend != nil && (index == nil || selected[0].domain == .guest)
  }

  /// The guests' burst responses and their references, when every guest that finished
  /// bursts has a reference (model rule "burst slowdown").
  var bursts: (done: UInt64, response: Double, reference: Double)? {
    guard result.backend != nil else { return nil }
    let done = guests.map(\.burstsDone).saturatingSum()
    let references = guests.compactMap(\.referenceBurstResponseNs)
    guard done > 0, !references.isEmpty,
      references.count == guests.filter({ $0.burstsDone > 0 }).count
    else { return nil }
    return (
      done, Double(guests.map(\.burstResponseNs).saturatingSum()),
      Double(references.saturatingSum())
    )
  }
}

extension Metric {
  /// A device count from the backend's counters.
  private static func count(
    _ name: String, unit: String = "count", worse: Direction? = .higherIsWorse,
    threshold: Double? = nil, swept: Bool = false, column: String? = nil,
    _ field: @escaping @Sendable (ChannelMetrics) -> UInt64
  ) -> Metric {
    Metric(
      name, unit: unit, worse: worse, threshold: threshold, swept: swept, column: column
    ) {
      guard case .device(let f, _) = $0, f.reports(name) else { return nil }
      return Double(field(f.metrics))
    }
  }

  /// A device figure.
  private static func figure(
    _ name: String, unit: String, decimals: Int = 0, worse: Direction? = .higherIsWorse,
    threshold: Double? = nil, swept: Bool = false, column: String? = nil,
    _ read: @escaping @Sendable (Figures) -> Double?
  ) -> Metric {
    Metric(
      name, unit: unit, decimals: decimals, worse: worse, threshold: threshold, swept: swept,
      column: column
    ) {
      guard case .device(let f, _) = $0, f.reports(name) else { return nil }
      return read(f)
    }
  }

  /// A ring figure: only for backends with rings (those that declare it).
  private static func ring(
    _ name: String, unit: String, decimals: Int = 0, threshold: Double? = nil,
    swept: Bool = false, _ read: @escaping @Sendable (Figures) -> Double
  ) -> Metric {
    figure(name, unit: unit, decimals: decimals, threshold: threshold, swept: swept, read)
  }

  /// A host's virtualization CPU for its guests, on a backend's total row.
  private static func hostTotal(
    _ name: String, _ field: @escaping @Sendable (VMCPUMetrics) -> UInt64
  )
    -> Metric
  {
    Metric(name, unit: "ns") {
      guard case .device(_, let host?) = $0 else { return nil }
      return Double(host.vms.filter { $0.domain == .guest }.map(field).saturatingSum())
    }
  }

  /// A CPU figure.
  private static func cpu(
    _ name: String, unit: String = "ns", decimals: Int = 0, worse: Direction? = .higherIsWorse,
    threshold: Double? = nil, swept: Bool = false,
    _ read: @escaping @Sendable (CPUScope) -> Double?
  ) -> Metric {
    Metric(
      name, unit: unit, decimals: decimals, table: .cpu, worse: worse, threshold: threshold,
      swept: swept
    ) {
      guard case .cpu(let s) = $0 else { return nil }
      return read(s)
    }
  }

  /// A CPU figure of one VM only.
  private static func vm(
    _ name: String, unit: String, _ field: @escaping @Sendable (VMCPUMetrics) -> UInt64
  )
    -> Metric
  {
    cpu(name, unit: unit, worse: nil) { s in s.index.map { Double(field(s.result.vms[$0])) } }
  }

  /// A CPU figure of the totals only.
  private static func total(
    _ name: String, unit: String = "ns", decimals: Int = 0, worse: Direction? = .higherIsWorse,
    threshold: Double? = nil, swept: Bool = false,
    _ read: @escaping @Sendable (SchedulerResult) -> Double
  ) -> Metric {
    cpu(name, unit: unit, decimals: decimals, worse: worse, threshold: threshold, swept: swept) {
      $0.index == nil ? read($0.result) : nil
    }
  }

  /// Every device figure, in summary.csv's order (docs/MODEL.md, "What is measured").
  public static let deviceMetrics: [Metric] = {
    var m: [Metric] = [
      count("requests", worse: nil, swept: true, column: "requests") { $0.requests },
      count("requests_assumed_service", worse: nil) { $0.assumedService },
      count("traps", threshold: 1, swept: true, column: "traps") { $0.traps },
      count("traps_submit") { $0.submitTraps },
      count("traps_completion") { $0.completionTraps },
      count("hypercalls", threshold: 1, swept: true, column: "hypercalls") { $0.hypercalls },
      count("interrupts", threshold: 1, swept: true, column: "interrupts") { $0.interrupts },
      // VM exits by reason, in perf kvm stat's vocabulary (docs/MODEL.md, "Exits by reason").
      count("exits", threshold: 1, swept: true) { $0.exits },
      count("exits_mmio") { $0.exitsMMIO },
      count("exits_io_instruction") { $0.exitsPIO },
      count("exits_eoi") { $0.exitsEOI },
      count("exits_vmcall") { $0.exitsVMCALL },
      count("notifications_sent", threshold: 1, swept: true) { $0.notificationsSent },
      count("notifications_suppressed", worse: .lowerIsWorse, swept: true) {
        $0.notificationsSuppressed
      },
      count("bytes_copied", unit: "bytes", threshold: 1, swept: true, column: "bytes copied") {
        $0.bytesCopied
      },
      count("copies_avoided", worse: .lowerIsWorse, threshold: 1) { $0.copiesAvoided },
      count("bytes_copy_avoided", unit: "bytes", worse: .lowerIsWorse, threshold: 1) {
        $0.bytesCopyAvoided
      },
      count("grants_mapped") { $0.grantsMapped },
      count("backend_wakeups") { $0.backendWakeups },
      count("backend_poll_ns", unit: "ns", swept: true) { $0.pollNs },
      ring("ring_full_stalls", unit: "count", threshold: 5, swept: true) {
        Double($0.metrics.ringFullStalls)
      },
      ring("ring_full_ns", unit: "ns", threshold: 5, swept: true) { Double($0.metrics.ringFullNs) },
      ring("ring_occupancy_mean", unit: "entries", decimals: 3, swept: true) {
        $0.metrics.occupancy?.mean ?? 0
      },
      ring("ring_occupancy_max", unit: "entries", swept: true) {
        Double($0.metrics.occupancy?.maximum ?? 0)
      },
      ring("ring_full_fraction", unit: "fraction", decimals: 6) {
        $0.metrics.occupancy?.fullFraction ?? 0
      },
      figure("latency_mean_ns", unit: "ns", decimals: 1, threshold: 2, swept: true) {
        $0.latencyMeanNs
      },
    ]
    let thresholds = [5.0, 5, 5, 5, 10]
    for ((p, suffix), threshold) in zip(Figures.percentiles, thresholds) {
      m.append(
        figure(
          "latency_\(suffix)_ns", unit: "ns", threshold: threshold,
          swept: ["p50", "p99", "p999"].contains(suffix),
          column: suffix == "p99" ? "p99 latency" : nil
        ) { Double($0.latency(p)) })
    }
    m += [
      figure("latency_max_ns", unit: "ns", swept: true) { Double($0.latencyMaxNs) },
      count("latency_clamped") { $0.latencyClamped },
      // Achieved rates: completions over the replay's span (first issue to last completion);
      // offered: the same requests over the recorded schedule's span.
      figure("iops", unit: "1/s", decimals: 1, worse: .lowerIsWorse, swept: true) {
        Figures.rate($0.metrics.requests, $0.metrics.spanNs)
      },
      figure("bytes_per_s", unit: "bytes/s", decimals: 1, worse: .lowerIsWorse) {
        Figures.rate($0.metrics.bytes, $0.metrics.spanNs)
      },
      figure("offered_iops", unit: "1/s", decimals: 1, worse: nil, swept: true) {
        Figures.rate($0.metrics.requests, $0.metrics.offeredSpanNs)
      },
      figure("slowdown", unit: "ratio", decimals: 4, swept: true) {
        $0.loop == .closed ? $0.slowdown : nil
      },
      count("overhead_cpu_ns", unit: "ns", threshold: 2, swept: true, column: "overhead CPU") {
        $0.overheadNs
      },
      // Model rule "virtualization CPU" (docs/MODEL.md, "One host"), on a host's total row.
      hostTotal("virt_guest_ns") { $0.virtGuestNs },
      hostTotal("virt_backend_ns") { $0.virtBackendNs },
    ]
    return m
  }()

  /// Every CPU figure, in cpu.csv's order (docs/MODEL.md, "What is measured").
  public static let cpuMetrics: [Metric] = [
    cpu("demand_ns", worse: nil) { $0.sum(\.demandNs) },
    cpu("cpu_ns", worse: .lowerIsWorse, swept: true) { $0.sum(\.cpuNs) },
    cpu("unserved_ns", threshold: 5, swept: true) { $0.sum(\.unservedNs) },
    cpu("share", unit: "fraction", decimals: 6, worse: .lowerIsWorse) {
      $0.selected.reduce(0) { $0 + $1.share }
    },
    cpu("entitled_share", unit: "fraction", decimals: 6, worse: nil) {
      $0.selected.reduce(0) { $0 + $1.entitledShare }
    },
    cpu("wait_p50_ns", threshold: 5, swept: true) { Double($0.wait?.value(at: 50) ?? 0) },
    cpu("wait_p99_ns", threshold: 5, swept: true) { Double($0.wait?.value(at: 99) ?? 0) },
    cpu("wait_p999_ns", threshold: 10) { Double($0.wait?.value(at: 99.9) ?? 0) },
    cpu("wait_max_ns") { Double($0.wait?.maxRecorded ?? 0) },
    cpu("billed_exact_ns", worse: nil) { $0.sum(\.billedExactNs) },
    cpu("billed_tick_ns", swept: true) { $0.sum(\.billedTickNs) },
    cpu("billing_error_pct", unit: "percent", decimals: 3, worse: nil, swept: true) { s in
      let exact = s.sum(\.billedExactNs)
      return exact > 0 ? (s.sum(\.billedTickNs) - exact) / exact * 100 : 0
    },
    cpu("billing_ticks", unit: "count", worse: nil) {
      Double($0.result.billingTicks($0.selected))
    },
    cpu("context_switches", unit: "count", swept: true) { $0.sum(\.contextSwitches) },
    // Model rule "virtualization CPU" (docs/MODEL.md, "One host"): a guest's I/O path on its
    // own vCPUs and, for it, in the driver domain or its device model; the totals sum the
    // guests (a backend context's own row holds all it ran).
    cpu("virt_guest_ns") { s in
      s.hostGuests ? Double(s.guests.map(\.virtGuestNs).saturatingSum()) : nil
    },
    cpu("virt_backend_ns") { s in
      s.hostGuests ? Double(s.guests.map(\.virtBackendNs).saturatingSum()) : nil
    },
    cpu("virt_cpu_ns", threshold: 2, swept: true) { s in
      guard s.hostGuests else { return nil }
      return Double(
        s.guests.map { $0.virtGuestNs.adding(saturating: $0.virtBackendNs) }.saturatingSum())
    },
    cpu("backend_utilisation_pct", unit: "percent", decimals: 3) { s in
      guard s.result.backend != nil, let i = s.index, s.selected[0].domain != .guest else {
        return nil
      }
      return s.result.backendUtilisation(s.result.vms[i]) * 100
    },
    cpu("burst_late_ns", decimals: 1) { s in
      s.bursts.map { ($0.response - $0.reference) / Double($0.done) }
    },
    cpu("burst_slowdown", unit: "ratio", decimals: 4, threshold: 2, swept: true) { s in
      s.bursts.flatMap { $0.reference > 0 ? $0.response / $0.reference : nil }
    },
    vm("weight", unit: "weight") { $0.weight },
    vm("cap_pct", unit: "percent") { $0.capPercent },
    vm("vcpus", unit: "count") { UInt64($0.vcpus) },
    total("jain_index", unit: "index", decimals: 6, worse: .lowerIsWorse, threshold: 1, swept: true)
    { $0.jainIndex },
    total("window_ns", worse: nil) { Double($0.windowNs) },
    total("capacity_ns", worse: nil) { Double($0.capacityNs) },
    total("switching_ns") { Double($0.switchingNs) },
    total("idle_while_runnable_ns") { Double($0.idleWhileRunnableNs) },
  ]

  /// The ring figures: a design with rings declares them (``DeviceBackend/reportedMetrics``).
  public static let ringMetrics = [
    "ring_full_stalls", "ring_full_ns", "ring_occupancy_mean", "ring_occupancy_max",
    "ring_full_fraction",
  ]

  /// The device figures every design reports (a count of what a design never does is 0):
  /// all but the ring figures and the host's.
  public static let commonDeviceMetrics = deviceMetrics.map(\.name).filter {
    !ringMetrics.contains($0) && !$0.hasPrefix("virt_")
  }

  /// Every metric, device figures first.
  public static let all: [Metric] = deviceMetrics + cpuMetrics
}

extension Metric {
  /// `value` as report.md prints this metric: times in their unit, bytes in binary units,
  /// counts grouped, other figures with the metric's decimals.
  func markdown(_ value: Double) -> String {
    let whole = Figures.Row(metric: name, value: value, unit: unit, decimals: decimals).whole
    switch unit {
    case "ns": return TraceInspection.seconds(whole)
    case "bytes": return ReplayReport.bytes(whole)
    case "count": return ReplayReport.grouped(whole)
    default: return TraceInspection.fixed(value, decimals)
    }
  }
}
