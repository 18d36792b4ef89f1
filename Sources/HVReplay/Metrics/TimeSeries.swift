// Model rule "time series" (docs/MODEL.md): each host simulation cuts its replay into
// intervals of trace time and keeps, per channel and interval, what completed in it
// (requests, bytes, their latencies), the exits and notifications counted in it and the
// ring's mean occupancy over it. An interval holds what the simulation did at steps
// dated inside it. With `--interval` the width is fixed and at most
// `TimeSeriesRecorder.maximumIntervals` intervals are kept (the rest is cut, noted);
// without, the width starts at 1 us and grows tenfold (ten neighbouring intervals merged,
// exactly: counts add, histograms add) whenever more than 1,000 would be needed, so a
// report has 100 to 1,000 intervals of a round width, or whenever more than 250,000
// (channel, interval) figures are held in 100 or more intervals (many channels: then
// possibly 10 to 100). Memory: the kept intervals times the channels active in each,
// whatever the trace's length.

/// What one channel did in one interval.
///
/// Kept small, as a report holds one per active channel and interval: the latencies of an
/// interval that completed one request are that request's latency (`maxNs`, which the
/// histogram, like every channel's, clamps to an hour); only an interval that completed
/// more keeps a histogram, out of line.
public struct IntervalFigures: Sendable {
  public var requests: UInt64 = 0
  public var bytes: UInt64 = 0
  public var exits: UInt64 = 0
  public var notifications: UInt64 = 0
  /// The exact maximum latency of the requests that completed.
  public var maxNs: UInt64 = 0
  /// The integral of the ring's occupancy over the interval, in entry-ns; nil without a
  /// ring.
  public var occupancyNs: UInt64?
  /// The latencies, when more than one request completed.
  private var spread: SharedHistogram?

  public init() {}

  /// The latencies of the requests that completed.
  public var latency: ChannelHistogram {
    if let spread { return spread.histogram }
    var h = ChannelHistogram()
    if requests == 1 { h.record(min(maxNs, ChannelMetrics.highestLatencyNs)) }
    return h
  }

  /// Sets the requests that completed: their latencies and their exact maximum.
  mutating func setCompleted(_ latencies: ChannelHistogram, maxNs: UInt64) {
    requests = latencies.totalCount
    self.maxNs = maxNs
    spread = latencies.totalCount > 1 ? SharedHistogram(latencies) : nil
  }

  mutating func add(_ o: IntervalFigures) {
    let requests = self.requests.adding(saturating: o.requests)
    var merged: ChannelHistogram?
    if requests > 1 {
      var h = latency
      // Let go of the shared copy first: h is then the only holder, added to in place.
      spread = nil
      h.add(o.latency)
      merged = h
    }
    self.requests = requests
    bytes = bytes.adding(saturating: o.bytes)
    exits = exits.adding(saturating: o.exits)
    notifications = notifications.adding(saturating: o.notifications)
    if let n = o.occupancyNs { occupancyNs = (occupancyNs ?? 0).adding(saturating: n) }
    maxNs = max(maxNs, o.maxNs)
    spread = merged.map(SharedHistogram.init)
  }
}

/// A histogram held by reference and never changed (an interval's latencies).
final class SharedHistogram: Sendable {
  let histogram: ChannelHistogram
  init(_ histogram: ChannelHistogram) { self.histogram = histogram }
}

/// A host simulation's time series: intervals of one width from a multiple of it.
public struct TimeSeries: Sendable {
  /// The width of every interval, in trace ns.
  public var widthNs: UInt64
  /// The first interval's start (a multiple of the width) and the end of the replay.
  public var startNs: UInt64
  public var endNs: UInt64
  /// Per interval, from `startNs`: the active channels' figures, by channel index.
  public var intervals: [[(channel: Int32, figures: IntervalFigures)]] = []
  /// CPU time per VM (by the host's VM labels) per interval, in ns; empty uncoupled.
  public var cpu: [[(vm: String, ns: UInt64)]] = []
  /// The host's pCPUs, for CPU shares.
  public var pcpus: UInt64 = 0
  /// Whether intervals beyond ``TimeSeriesRecorder/maximumIntervals`` were cut.
  public var cut = false

  /// The start of interval `i` and the time its rates are over: the whole width, also for
  /// the last interval, which the replay may end inside (its rates are then low, never
  /// the spike a sliver of an interval would give).
  public func span(of i: Int) -> (start: UInt64, ns: UInt64) {
    (startNs &+ UInt64(i) &* widthNs, widthNs)
  }
}

/// Cuts a host simulation into intervals as its clock passes their ends.
struct TimeSeriesRecorder {
  /// The most intervals a fixed width keeps.
  static let maximumIntervals = 10_000
  /// Without a fixed width: the most intervals before they merge tenfold.
  static let adaptiveLimit = 1_000
  /// The most (channel, interval) figures kept in all: beyond, the series stops (noted),
  /// so that thousands of channels at a fine width stay within memory.
  static let maximumEntries = 2_000_000
  /// Without a fixed width: the most (channel, interval) figures held before the intervals
  /// merge tenfold (many channels at a fine width widen the series, rather than stop it).
  static let adaptiveEntryLimit = 250_000
  /// The fewest intervals held for ``adaptiveEntryLimit`` to widen them (so a widened
  /// series keeps at least a tenth of them; beyond, ``maximumEntries`` bounds it).
  static let entryWideningFloor = 100

  private(set) var series: TimeSeries
  private let fixed: Bool
  private var started = false
  /// The open interval's index from `series.startNs / widthNs`, and its end.
  private var current: UInt64 = 0
  private(set) var nextBoundary: UInt64 = 0
  /// Each channel's counters when the open interval began.
  private var last: [(bytes: UInt64, exits: UInt64, notifications: UInt64, occupancyNs: UInt64)] =
    []
  /// Each VM's CPU time (by the host's VM index) when the open interval began.
  private var lastCPU: [UInt64] = []
  /// The (channel, interval) figures kept.
  private var entries = 0
  /// The open interval's figures as they are gathered (kept for its capacity: each
  /// interval's are then copied at their exact size).
  private var gathered: [(channel: Int32, figures: IntervalFigures)] = []

  init(widthNs: UInt64?) {
    fixed = widthNs != nil
    series = TimeSeries(widthNs: max(widthNs ?? 1_000, 1), startNs: 0, endNs: 0)
  }

  /// Closes every interval that ends at or before `time` (the simulation is about to run
  /// a step dated `time`), one by one: each takes the figures of the open interval out
  /// of `metrics`, and the ring occupancy and CPU (`cpu`, each VM's CPU up to a time, by
  /// the host's VM index; `label`, a VM's cpu.csv label) up to its own end; intervals
  /// without a step get what ran through them.
  mutating func close(
    upTo time: UInt64, metrics: inout BackendMetrics, cpu: (UInt64) -> [UInt64],
    label: (Int) -> String
  ) {
    if !started {
      started = true
      let w = series.widthNs
      current = time / w
      series.startNs = current &* w
      nextBoundary = current &+ 1 == 0 ? .max : (current &+ 1) &* w
      take(&metrics, cpu: cpu(time), label: label, at: time, keep: false)
      return
    }
    while time >= nextBoundary && !series.cut {
      take(&metrics, cpu: cpu(nextBoundary), label: label, at: nextBoundary, keep: true)
      current &+= 1
      let (next, overflow) = (current &+ 1).multipliedReportingOverflow(by: series.widthNs)
      nextBoundary = overflow ? .max : next
      let count = current - series.startNs / series.widthNs
      if fixed || entries >= Self.maximumEntries {
        if count >= UInt64(Self.maximumIntervals) || entries >= Self.maximumEntries {
          series.cut = true
          nextBoundary = .max
        }
      } else if count >= UInt64(Self.adaptiveLimit)
        || (entries > Self.adaptiveEntryLimit && count >= UInt64(Self.entryWideningFloor))
      {
        widen()
      }
      // A long stretch without steps: the intervals in it are alike, so jump to where the
      // width makes them few (adaptive), keeping every one's figures.
      while !fixed && !series.cut
        && time / series.widthNs - series.startNs / series.widthNs >= UInt64(Self.adaptiveLimit)
      {
        widen()
      }
    }
  }

  /// The open interval's figures, up to `end`, added to what its slot holds (a slot
  /// merged tenfold may already hold the figures of the intervals before it).
  private mutating func take(
    _ metrics: inout BackendMetrics, cpu: [UInt64], label: (Int) -> String, at end: UInt64,
    keep: Bool
  ) {
    let w = series.widthNs
    let index = Int(current - series.startNs / w)
    gathered.removeAll(keepingCapacity: true)
    if last.count < metrics.channels.count {
      let zero: (bytes: UInt64, exits: UInt64, notifications: UInt64, occupancyNs: UInt64) = (
        0, 0, 0, 0
      )
      last.append(contentsOf: repeatElement(zero, count: metrics.channels.count - last.count))
    }
    for c in metrics.channels.indices {
      var f = IntervalFigures()
      // Each figure read in place: a copy of the channel's metrics would retain every
      // histogram it holds, per channel and interval.
      let bytes = metrics.channels[c].bytes
      let exits = metrics.channels[c].exits
      let notifications = metrics.channels[c].notificationsSent
      let occupancy = metrics.channels[c].occupancy?.integral(upTo: end)
      f.bytes = bytes &- last[c].bytes
      f.exits = exits &- last[c].exits
      f.notifications = notifications &- last[c].notifications
      if let o = occupancy { f.occupancyNs = o &- last[c].occupancyNs }
      last[c] = (bytes, exits, notifications, occupancy ?? 0)
      if metrics.channels[c].intervalLatency.totalCount > 0 {
        f.setCompleted(
          metrics.channels[c].intervalLatency, maxNs: metrics.channels[c].intervalMaxNs)
        metrics.channels[c].startInterval()
      }
      guard keep else { continue }
      if f.requests > 0 || f.exits > 0 || f.notifications > 0 || (f.occupancyNs ?? 0) > 0 {
        gathered.append((Int32(c), f))
      }
    }
    var used: [(vm: String, ns: UInt64)] = []
    if lastCPU.count < cpu.count {
      lastCPU.append(contentsOf: repeatElement(0, count: cpu.count - lastCPU.count))
    }
    // A VM's label is made only for an interval in which it ran.
    for (vm, ns) in cpu.enumerated() where ns > lastCPU[vm] {
      used.append((label(vm), ns - lastCPU[vm]))
      lastCPU[vm] = ns
    }
    guard keep else { return }
    while series.intervals.count <= index {
      series.intervals.append([])
      series.cpu.append([])
    }
    if series.intervals[index].isEmpty {
      var exact: [(channel: Int32, figures: IntervalFigures)] = []
      exact.reserveCapacity(gathered.count)
      exact.append(contentsOf: gathered)
      series.intervals[index] = exact
      entries += exact.count
    } else {
      entries -= series.intervals[index].count
      var merged = Dictionary(
        uniqueKeysWithValues: series.intervals[index].map { ($0.channel, $0.figures) })
      for (c, f) in gathered { merged[c, default: IntervalFigures()].add(f) }
      series.intervals[index] = merged.sorted { $0.key < $1.key }.map { ($0.key, $0.value) }
      entries += series.intervals[index].count
    }
    if series.cpu[index].isEmpty {
      series.cpu[index] = used
    } else {
      var order = series.cpu[index].map(\.vm)
      var sums = Dictionary(uniqueKeysWithValues: series.cpu[index].map { ($0.vm, $0.ns) })
      for (vm, ns) in used {
        if sums[vm] == nil { order.append(vm) }
        sums[vm, default: 0] &+= ns
      }
      series.cpu[index] = order.map { ($0, sums[$0]!) }
    }
  }

  /// Ten neighbouring intervals become one, exactly.
  private mutating func widen() {
    let w = series.widthNs
    // Near the end of time a tenfold width would not fit: the series stops there.
    guard w <= UInt64.max / 10 else {
      series.cut = true
      nextBoundary = .max
      return
    }
    let first = series.startNs / w
    let newFirst = first / 10
    var intervals: [[Int32: IntervalFigures]] = []
    var cpu: [[String: UInt64]] = []
    var cpuOrder: [[String]] = []
    for (i, slot) in series.intervals.enumerated() {
      let j = Int((first + UInt64(i)) / 10 - newFirst)
      while intervals.count <= j {
        intervals.append([:])
        cpu.append([:])
        cpuOrder.append([])
      }
      for (c, f) in slot { intervals[j][c, default: IntervalFigures()].add(f) }
      for (vm, ns) in series.cpu[i] {
        if cpu[j][vm] == nil { cpuOrder[j].append(vm) }
        cpu[j][vm, default: 0] &+= ns
      }
    }
    series.intervals = intervals.map { slot in
      slot.sorted { $0.key < $1.key }.map { ($0.key, $0.value) }
    }
    entries = series.intervals.reduce(0) { $0 + $1.count }
    series.cpu = zip(cpu, cpuOrder).map { slot, order in order.map { ($0, slot[$0]!) } }
    series.widthNs = w &* 10
    series.startNs = newFirst &* series.widthNs
    current /= 10
    let (next, overflow) = (current &+ 1).multipliedReportingOverflow(by: series.widthNs)
    nextBoundary = overflow ? .max : next
  }

  /// Ends the series with the replay at `end`: the open interval closes there.
  mutating func finish(
    at end: UInt64, metrics: inout BackendMetrics, cpu: [UInt64], label: (Int) -> String
  )
    -> TimeSeries
  {
    guard started else { return series }
    if !series.cut {
      take(&metrics, cpu: cpu, label: label, at: max(end, series.startNs), keep: true)
    }
    series.endNs = max(end, series.startNs)
    return series
  }
}
