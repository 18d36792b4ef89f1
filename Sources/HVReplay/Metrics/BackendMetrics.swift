import Histogram

/// Latency per op at full precision (HdrHistogram, three significant digits).
public struct OpLatency: Sendable {
  /// Indexed by ``EventOp/rawValue``; `nil` for an op with no request.
  public var byOp: [Histogram<UInt64>?] = Array(repeating: nil, count: EventOp.allCases.count)
  /// The sum of each op's latencies as recorded (clamped ones at an hour), in ns, for the
  /// exact mean; indexed like ``byOp``.
  public var sumNs = [UInt64](repeating: 0, count: EventOp.allCases.count)
  /// Whether ``sumNs`` holds every value recorded; false for latencies read from a
  /// report.json written before the sums were (the mean then comes from the histogram).
  public var sumsKnown = true

  public init() {}

  /// The exact mean latency of `op` in ns, or `nil` without requests or known sums.
  public func meanNs(_ op: EventOp) -> Double? {
    let index = Int(op.rawValue)
    guard sumsKnown, let h = byOp[index], h.totalCount > 0 else { return nil }
    return Double(sumNs[index]) / Double(h.totalCount)
  }

  /// Records one latency of `op` (already clamped to ``ChannelMetrics/highestLatencyNs``).
  @inline(__always)
  mutating func record(_ op: EventOp, _ value: UInt64, count: UInt64 = 1) {
    let index = Int(op.rawValue)
    let (product, overflow) = value.multipliedReportingOverflow(by: count)
    sumNs[index] = sumNs[index].adding(saturating: overflow ? .max : product)
    if byOp[index]?.record(value, count: count) == nil {
      var histogram = ChannelMetrics.makeHistogram()
      histogram.record(value, count: count)
      byOp[index] = histogram
    }
  }

  /// Values recorded over every op.
  var totalCount: UInt64 { byOp.reduce(0) { $0.adding(saturating: $1?.totalCount ?? 0) } }

  /// Every op's latencies in one histogram, or `nil` when nothing completed.
  var all: Histogram<UInt64>? {
    var merged: Histogram<UInt64>?
    for case let h? in byOp {
      if merged == nil { merged = h } else { merged!.add(h) }
    }
    return merged
  }

  /// The most values a histogram may hold, so that no count can wrap when merged.
  static let countLimit: UInt64 = 1 << 60

  /// Adds `other`'s latencies.
  ///
  /// - Throws: ``HVReplayError`` `.badData` when a merged histogram would hold more than
  ///   ``countLimit`` values (HdrHistogram's counts would wrap).
  mutating func add(_ other: OpLatency) throws(HVReplayError) {
    guard totalCount.adding(saturating: other.totalCount) <= Self.countLimit else {
      throw HVReplayError(
        .badData, "the merged latency histograms would hold more than 2^60 requests")
    }
    for i in byOp.indices {
      guard let h = other.byOp[i] else { continue }
      if byOp[i] == nil { byOp[i] = h } else { byOp[i]!.add(h) }
      sumNs[i] = sumNs[i].adding(saturating: other.sumNs[i])
    }
    sumsKnown = sumsKnown && other.sumsKnown
  }
}

/// What one backend measured: per channel at per-channel precision, and its latency over
/// every channel at full precision.
public struct BackendMetrics: Sendable {
  /// By channel index.
  public var channels: [ChannelMetrics] = []
  /// Latency over every channel, per op.
  public var latency = OpLatency()
  /// The requests' phases, instants and counters of the timeline window (model rule
  /// "timeline"), when one is recorded.
  public var timeline = TimelineLog()

  public init() {}

  /// Counts a request of channel `c` served for the model's assumed service time `ns`.
  ///
  /// - Returns: `ns`.
  @inline(__always)
  public mutating func assumed(_ c: Int, _ ns: UInt64) -> UInt64 {
    channels[c].assumedService &+= 1
    return ns
  }

  /// Notes that a request of channel `c` was issued at `time`.
  @inline(__always)
  public mutating func issue(_ c: Int, at time: UInt64) {
    if time < channels[c].firstIssueNs { channels[c].firstIssueNs = time }
  }

  /// Notes that `event` of channel `c` was issued at `time`, and gives its service time:
  /// the recorded one, or the model's assumed one (counted).
  @inline(__always)
  public mutating func admit(_ event: TraceEvent, channel c: Int, at time: UInt64, model: Model)
    -> UInt64
  {
    issue(c, at: time)
    return event.serviceNs != 0 ? event.serviceNs : assumed(c, model.serviceNs(for: event))
  }

  /// Records one request of channel `c`, issued at `issued`, completed at `done`.
  ///
  /// A completion time saturated at 2^64 - 1 has lost its true value: its latency counts
  /// as clamped.
  @inline(__always)
  public mutating func complete(
    _ c: Int, op: EventOp, bytes: UInt32, issued: UInt64, done: UInt64
  ) {
    if done > channels[c].lastCompletionNs { channels[c].lastCompletionNs = done }
    let latencyNs = done == .max ? .max : done &- issued
    latency.record(op, channels[c].complete(op: op, bytes: bytes, latencyNs: latencyNs))
  }
}
