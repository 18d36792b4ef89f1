import Histogram

/// The figures of one backend on one group of channels (a device, or everything).
public struct Figures: Sendable {
  /// One named figure with its unit.
  public struct Row: Sendable {
    public var metric: String
    public var value: Double
    public var unit: String
    /// Decimals printed (0 for counts).
    public var decimals: Int

    /// The value as `summary.csv` prints it.
    public var text: String { TraceInspection.fixed(value, decimals) }

    /// The value as a whole number, saturating at the ends of `UInt64`.
    public var whole: UInt64 {
      guard value.isFinite, value > 0 else { return 0 }
      return value >= 18_446_744_073_709_551_615.0 ? .max : UInt64(value)
    }
  }

  public let metrics: ChannelMetrics
  /// How the requests were issued: slowdown is a closed-loop figure.
  public let loop: Model.Loop
  /// The device figures the backend declares (``DeviceBackend/reportedMetrics``): the
  /// rows of others are left out.
  public let reported: Set<String>
  /// Whether the backend has rings (it declares the ring figures).
  public var hasRings: Bool { reported.contains(Metric.ringMetrics[0]) }
  /// Latency percentiles per op (indexed by ``EventOp/rawValue``) and over every op.
  let latencyByOp: [PercentileIndex?]
  let percentiles: PercentileIndex?
  /// Mean latency per op in ns (indexed by ``EventOp/rawValue``): exact where the latency sums
  /// are known, else from the histogram's buckets.
  let latencyMeanByOp: [Double?]

  /// The figures of a channel or a group of channels, with latency at per-channel precision.
  public init(metrics: ChannelMetrics, loop: Model.Loop, reported: Set<String>) {
    self.metrics = metrics
    self.loop = loop
    self.reported = reported
    latencyByOp = metrics.latency.map { $0.map(PercentileIndex.init) }
    percentiles = metrics.allLatency.map(PercentileIndex.init)
    latencyMeanByOp = latencyByOp.map { $0?.mean }
  }

  /// The figures of a group of channels whose latency is known at full precision.
  public init(
    metrics: ChannelMetrics, latency: OpLatency, loop: Model.Loop, reported: Set<String>
  ) {
    self.metrics = metrics
    self.loop = loop
    self.reported = reported
    let byOp = latency.byOp.map { $0.map(PercentileIndex.init) }
    latencyByOp = byOp
    percentiles = latency.all.map(PercentileIndex.init)
    latencyMeanByOp = EventOp.allCases.map { latency.meanNs($0) ?? byOp[Int($0.rawValue)]?.mean }
  }

  /// The figures of a design with rings (`hasRings`: every device figure) or without.
  public init(metrics: ChannelMetrics, loop: Model.Loop, hasRings: Bool) {
    let names = Metric.commonDeviceMetrics + (hasRings ? Metric.ringMetrics : [])
    self.init(metrics: metrics, loop: loop, reported: Set(names))
  }

  /// Whether the backend declares `metric` (``DeviceBackend/reportedMetrics``).
  @inline(__always)
  func reports(_ metric: String) -> Bool { reported.contains(metric) }

  /// The latency percentiles reported, with their metric suffixes.
  public static let percentiles: [(Double, String)] = [
    (50, "p50"), (90, "p90"), (99, "p99"), (99.9, "p999"), (99.99, "p9999"),
  ]

  /// Mean latency in ns, exact (from the sum).
  public var latencyMeanNs: Double {
    metrics.requests > 0 ? Double(metrics.latencySumNs) / Double(metrics.requests) : 0
  }

  /// The largest latency recorded, in ns: exact, not its histogram bucket's bound (0 with no
  /// request).
  public var latencyMaxNs: UInt64 { percentiles?.maxRecorded ?? 0 }

  /// The fraction of the requests served for the model's assumed service time (0 with no
  /// request).
  public var assumedServiceFraction: Double {
    metrics.requests > 0 ? Double(metrics.assumedService) / Double(metrics.requests) : 0
  }

  /// Latency at `percentile` over every op, in ns.
  public func latency(_ percentile: Double) -> UInt64 {
    percentiles?.value(at: percentile) ?? 0
  }

  /// Every figure, in the order `summary.csv` lists them (the metric registry's), leaving
  /// out those without meaning here. `host`: on a host simulation's total row, its CPU
  /// figures (the guests' virtualization CPU).
  public func rows(host: SchedulerResult? = nil) -> [Row] {
    Metric.deviceMetrics.compactMap { $0.row(.device(self, host: host)) }
  }

  /// Every figure without the host's, in the order `summary.csv` lists them.
  public var rows: [Row] { rows() }

  /// The replay's span over the recorded schedule's (1 when it reproduces the recording;
  /// 0 when either span is empty).
  public var slowdown: Double {
    let offered = metrics.offeredSpanNs
    return offered > 0 ? Double(metrics.spanNs) / Double(offered) : 0
  }

  /// `count` per second over `spanNs`; 0 over an empty span.
  static func rate(_ count: UInt64, _ spanNs: UInt64) -> Double {
    spanNs > 0 ? Double(count) * 1e9 / Double(spanNs) : 0
  }
}

/// A report's view of a replay: figures per backend, per device and in total.
public struct ReplayReport: Sendable {
  /// A guest device: all channels of one (VM, kind, device).
  public struct DeviceKey: Hashable, Comparable, Sendable {
    public var vm: UInt16
    public var kind: EventKind
    public var device: UInt16
    public var name: String { "\(kind)\(device)" }
    public static func < (a: DeviceKey, b: DeviceKey) -> Bool {
      (a.vm, a.kind.rawValue, a.device) < (b.vm, b.kind.rawValue, b.device)
    }
  }

  public struct BackendFigures: Sendable {
    public var name: String
    public var total: Figures
    public var devices: [(key: DeviceKey, figures: Figures)]
    /// Per ring (channel) figures, in channel order.
    public var rings: [(channel: Channel, figures: Figures)]
  }

  public let result: ReplayResult
  public let backends: [BackendFigures]

  public init(_ result: ReplayResult) {
    self.result = result
    let loop = result.model.replay.loop
    var groups: [DeviceKey: [Int]] = [:]
    for (i, c) in result.channels.enumerated() {
      groups[DeviceKey(vm: c.vm, kind: c.kind, device: c.device), default: []].append(i)
    }
    let keys = groups.keys.sorted()
    let order = result.channels.indices.sorted { result.channels[$0] < result.channels[$1] }
    backends = result.backends.map { backend in
      let rings = Set(backend.metrics)
      var total = ChannelMetrics()
      for m in backend.channels { total.add(m, latency: false) }
      let devices = keys.map { key -> (DeviceKey, Figures) in
        var merged = ChannelMetrics()
        for i in groups[key]! { merged.add(backend.channels[i]) }
        return (key, Figures(metrics: merged, loop: loop, reported: rings))
      }
      let ringFigures = order.map {
        (result.channels[$0], Figures(metrics: backend.channels[$0], loop: loop, reported: rings))
      }
      return BackendFigures(
        name: backend.name,
        total: Figures(metrics: total, latency: backend.latency, loop: loop, reported: rings),
        devices: devices, rings: rings.contains(Metric.ringMetrics[0]) ? ringFigures : [])
    }
  }

  /// The backend named `name`, if it was replayed.
  public func backend(_ name: String) -> BackendFigures? { backends.first { $0.name == name } }
}
