import Histogram

/// What one backend measured on one channel. Counters add up across channels.
public struct ChannelMetrics: Sendable {
  /// Highest latency the histograms track: one hour, in nanoseconds.
  public static let highestLatencyNs: UInt64 = 3_600_000_000_000

  /// Completed requests.
  public var requests: UInt64 = 0
  /// Payload bytes of completed requests; a discard carries a range, not data, and adds none.
  public var bytes: UInt64 = 0
  /// Requests whose trace gave no service time, served for the model's assumed one
  /// (``Model/serviceNs(for:)``).
  public var assumedService: UInt64 = 0
  /// Trapped register accesses when submitting.
  public var submitTraps: UInt64 = 0
  /// Trapped register accesses in completion handlers.
  public var completionTraps: UInt64 = 0
  /// Hypercalls (event-channel sends) from the guest.
  public var hypercalls: UInt64 = 0
  /// VM exits by reason, in `perf kvm stat`'s vocabulary (docs/MODEL.md, "Exits by
  /// reason"): MMIO (EPT_MISCONFIG), port I/O (IO_INSTRUCTION), the EOI of a virtual
  /// interrupt (EOI_INDUCED) and hypercalls (VMCALL).
  public var exitsMMIO: UInt64 = 0
  public var exitsPIO: UInt64 = 0
  public var exitsEOI: UInt64 = 0
  public var exitsVMCALL: UInt64 = 0
  /// Virtual interrupts injected into the guest.
  public var interrupts: UInt64 = 0
  /// Notifications sent to the other side (either direction).
  public var notificationsSent: UInt64 = 0
  /// Pushes that did not need to notify because the other side was already working.
  public var notificationsSuppressed: UInt64 = 0
  /// Bytes copied between guest and hypervisor buffers.
  public var bytesCopied: UInt64 = 0
  /// Payloads not copied (mapped by grant instead), and their bytes.
  public var copiesAvoided: UInt64 = 0
  public var bytesCopyAvoided: UInt64 = 0
  /// Grant pages mapped.
  public var grantsMapped: UInt64 = 0
  /// Backend wake-ups from sleep.
  public var backendWakeups: UInt64 = 0
  /// Requests that found the ring full, and the total time they waited, in ns.
  public var ringFullStalls: UInt64 = 0
  public var ringFullNs: UInt64 = 0
  /// Hypervisor and guest CPU time spent on virtualization overhead, in ns.
  public var overheadNs: UInt64 = 0
  /// Of that, the time vhost's workers busy-polled, in ns.
  public var pollNs: UInt64 = 0
  /// Sum of latencies in ns (for the exact mean).
  public var latencySumNs: UInt64 = 0
  /// Latencies above ``highestLatencyNs``, recorded (in the histograms and the sum) at that
  /// value.
  public var latencyClamped: UInt64 = 0
  /// Latency per op (indexed by ``EventOp/rawValue``), created on first use, at the
  /// per-channel precision of ``ChannelHistogram``.
  public var latency: [ChannelHistogram?] = Array(repeating: nil, count: EventOp.allCases.count)
  /// Ring occupancy over time (para only).
  public var occupancy: OccupancyMetrics?
  /// The requests completed in the open time-series interval (model rule "time series"):
  /// their latencies and exact maximum; emptied as each interval closes.
  public private(set) var intervalLatency = ChannelHistogram()
  public private(set) var intervalMaxNs: UInt64 = 0
  /// When the first request was issued and the last completed, in trace ns: the span the
  /// achieved rates divide by (`UInt64.max` and 0 while there is none).
  public var firstIssueNs = UInt64.max
  public var lastCompletionNs: UInt64 = 0

  /// The schedule as recorded, at the replay's time scale: the first request's recorded
  /// issue time and the latest recorded completion (issue + service, recorded or assumed).
  public var offeredFirstNs = UInt64.max
  public var offeredLastNs: UInt64 = 0

  /// From the first issue to the last completion in the replay, in ns (0 with no request).
  public var spanNs: UInt64 {
    lastCompletionNs > firstIssueNs ? lastCompletionNs - firstIssueNs : 0
  }
  /// From the first recorded issue to the last recorded completion, in ns.
  public var offeredSpanNs: UInt64 {
    offeredLastNs > offeredFirstNs ? offeredLastNs - offeredFirstNs : 0
  }

  public init() {}

  /// A latency histogram: 1 ns to 1 hour, 3 significant digits.
  public static func makeHistogram() -> Histogram<UInt64> {
    Histogram<UInt64>(
      lowestDiscernibleValue: 1, highestTrackableValue: highestLatencyNs,
      numberOfSignificantValueDigits: .three)
  }

  /// Records one completed request.
  ///
  /// - Returns: the latency as recorded: clamped to ``highestLatencyNs``.
  @inline(__always)
  @discardableResult
  public mutating func complete(op: EventOp, bytes: UInt32, latencyNs: UInt64) -> UInt64 {
    requests &+= 1
    if op != .discard { self.bytes = self.bytes.adding(saturating: UInt64(bytes)) }
    var value = latencyNs
    if value > Self.highestLatencyNs {
      value = Self.highestLatencyNs
      latencyClamped &+= 1
    }
    // The sum, like the histogram, counts a clamped latency as one hour.
    latencySumNs = latencySumNs.adding(saturating: value)
    intervalLatency.record(value)
    if latencyNs > intervalMaxNs { intervalMaxNs = latencyNs }
    let index = Int(op.rawValue)
    // Optional chaining records in place; a histogram is made on an op's first request.
    if latency[index]?.record(value) == nil {
      var histogram = ChannelHistogram()
      histogram.record(value)
      latency[index] = histogram
    }
    return value
  }

  /// Opens the next time-series interval.
  mutating func startInterval() {
    intervalLatency = ChannelHistogram()
    intervalMaxNs = 0
  }

  /// Total traps.
  public var traps: UInt64 { submitTraps.adding(saturating: completionTraps) }

  /// All ops' latencies in one histogram, or `nil` when nothing completed.
  public var allLatency: ChannelHistogram? {
    var merged: ChannelHistogram?
    for case let h? in latency {
      if merged == nil { merged = h } else { merged!.add(h) }
    }
    return merged
  }

  /// Every counter, by the name report.json gives it.
  static let counters: [(name: String, key: WritableKeyPath<ChannelMetrics, UInt64> & Sendable)] = [
    ("requests", \.requests), ("bytes", \.bytes), ("traps_submit", \.submitTraps),
    ("traps_completion", \.completionTraps), ("hypercalls", \.hypercalls),
    ("interrupts", \.interrupts), ("notifications_sent", \.notificationsSent),
    ("notifications_suppressed", \.notificationsSuppressed), ("bytes_copied", \.bytesCopied),
    ("copies_avoided", \.copiesAvoided), ("bytes_copy_avoided", \.bytesCopyAvoided),
    ("grants_mapped", \.grantsMapped), ("backend_wakeups", \.backendWakeups),
    ("ring_full_stalls", \.ringFullStalls), ("ring_full_ns", \.ringFullNs),
    ("overhead_cpu_ns", \.overheadNs), ("latency_sum_ns", \.latencySumNs),
    ("latency_clamped", \.latencyClamped), ("requests_assumed_service", \.assumedService),
    ("exits_mmio", \.exitsMMIO), ("exits_io_instruction", \.exitsPIO), ("exits_eoi", \.exitsEOI),
    ("exits_vmcall", \.exitsVMCALL), ("backend_poll_ns", \.pollNs),
  ]

  /// Counters report.json files of earlier versions lack; read as 0 when absent.
  static let laterCounters: Set<String> = [
    "requests_assumed_service", "exits_mmio", "exits_io_instruction", "exits_eoi", "exits_vmcall",
    "backend_poll_ns",
  ]

  /// VM exits of every reason.
  public var exits: UInt64 {
    exitsMMIO.adding(saturating: exitsPIO).adding(saturating: exitsEOI)
      .adding(saturating: exitsVMCALL)
  }

  /// Adds `other`'s counts, occupancy and, unless `latency` is false, histograms.
  public mutating func add(_ other: ChannelMetrics, latency addLatency: Bool = true) {
    for (_, key) in Self.counters {
      self[keyPath: key] = self[keyPath: key].adding(saturating: other[keyPath: key])
    }
    for i in latency.indices where addLatency {
      guard let h = other.latency[i] else { continue }
      if latency[i] == nil { latency[i] = h } else { latency[i]!.add(h) }
    }
    if let o = other.occupancy {
      if occupancy == nil { occupancy = o } else { occupancy!.add(o) }
    }
    firstIssueNs = min(firstIssueNs, other.firstIssueNs)
    lastCompletionNs = max(lastCompletionNs, other.lastCompletionNs)
    offeredFirstNs = min(offeredFirstNs, other.offeredFirstNs)
    offeredLastNs = max(offeredLastNs, other.offeredLastNs)
  }
}

/// Ring occupancy over time: how long the ring held each number of outstanding requests.
public struct OccupancyMetrics: Sendable {
  /// Nanoseconds spent at each occupancy level `0...maximum` (summed over rings when merged);
  /// levels above the highest seen take no memory.
  public private(set) var timeAtLevel: [UInt64] = [0]
  /// The ring's size in entries (the largest ring's, when merged).
  public private(set) var entries: UInt64
  /// Time spent full, in ns (summed over rings when merged).
  public private(set) var fullNs: UInt64 = 0
  /// The highest occupancy seen.
  public private(set) var maximum: UInt64 = 0
  private var level: UInt64 = 0
  private var since: UInt64 = 0
  private var started = false
  /// The occupancy's integral up to `since`, in entry-ns.
  private var levelNs: UInt64 = 0

  public init(entries: UInt64) {
    self.entries = entries
  }

  /// Occupancy read back from a report.
  init(entries: UInt64, timeAtLevel: [UInt64], maximum: UInt64, fullNs: UInt64) {
    self.entries = entries
    self.timeAtLevel = timeAtLevel
    self.maximum = maximum
    self.fullNs = fullNs
  }

  /// The occupancy becomes `newLevel` at `time`.
  @inline(__always)
  mutating func change(to newLevel: UInt64, at requested: UInt64) {
    // Guest-side and backend-side steps can date a change slightly before the last one.
    let time = max(requested, since)
    if started {
      timeAtLevel[Int(level)] &+= time &- since
      if level == entries { fullNs &+= time &- since }
      levelNs &+= level &* (time &- since)
    } else {
      started = true
    }
    since = time
    level = newLevel
    if newLevel > maximum {
      maximum = newLevel
      if Int(newLevel) >= timeAtLevel.count {
        timeAtLevel.append(
          contentsOf: repeatElement(0, count: Int(newLevel) + 1 - timeAtLevel.count))
      }
    }
  }

  /// The occupancy's integral from the first change up to `time`, in entry-ns.
  func integral(upTo time: UInt64) -> UInt64 {
    started && time > since ? levelNs &+ level &* (time - since) : levelNs
  }

  /// Closes the measurement at `time` (the end of the replay).
  mutating func close(at time: UInt64) {
    if started && time > since {
      timeAtLevel[Int(level)] &+= time - since
      if level == entries { fullNs &+= time - since }
    }
    since = time
  }

  /// Adds `ns` of time empty to a ring that was used (`maximum` > 0), observed to the end
  /// of its replay: a replay ends with every request completed, so its rings are empty.
  mutating func extendEmpty(by ns: UInt64) {
    guard maximum > 0 else { return }
    timeAtLevel[0] = timeAtLevel[0].adding(saturating: ns)
  }

  /// Total observed time in ns.
  public var observedNs: UInt64 { timeAtLevel.saturatingSum() }

  /// Time-weighted mean occupancy in entries.
  public var mean: Double {
    let total = observedNs
    guard total > 0 else { return 0 }
    var weighted = 0.0
    for (l, t) in timeAtLevel.enumerated() { weighted += Double(l) * Double(t) }
    return weighted / Double(total)
  }

  /// Fraction of the observed time the ring was full (of ring-time, when merged).
  public var fullFraction: Double {
    let total = observedNs
    return total > 0 ? Double(fullNs) / Double(total) : 0
  }

  /// Adds `other`'s time at each level (rings of the same size add level by level;
  /// rings of different sizes add by level, with the larger size kept).
  mutating func add(_ other: OccupancyMetrics) {
    if other.timeAtLevel.count > timeAtLevel.count {
      timeAtLevel += Array(repeating: 0, count: other.timeAtLevel.count - timeAtLevel.count)
    }
    for (l, t) in other.timeAtLevel.enumerated() {
      timeAtLevel[l] = timeAtLevel[l].adding(saturating: t)
    }
    maximum = max(maximum, other.maximum)
    entries = max(entries, other.entries)
    fullNs = fullNs.adding(saturating: other.fullNs)
  }
}
