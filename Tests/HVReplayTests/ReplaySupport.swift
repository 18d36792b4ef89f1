@testable import HVReplay

/// Replays `events` (in time order) through `backends` with `model`, open loop unless
/// `loop` says otherwise (the backend tests give each request's arrival time), and
/// uncoupled unless `coupled` (the backend suites' hand-worked figures are each design's
/// I/O path on CPUs of its own; the host suites couple).
/// `schedulers` and `configure` (a timeline, an interval) shape the engine.
func replay(
  _ events: [TraceEvent], model: Model = Model(), backends: [BackendKind] = [.full, .para],
  loop: Model.Loop = .open, coupled: Bool = false,
  schedulers: [SchedulerKind] = SchedulerKind.allCases,
  configure: (inout ReplayEngine) -> Void = { _ in }
) throws -> ReplayResult {
  var model = model
  model.replay.loop = loop
  model.cpu.coupled = coupled
  let dir = TemporaryDirectory()
  let path = dir.file("t.hvt")
  try writeTrace(events, to: path, type: .hvt)
  var reader = try TraceReader(path: path)
  var engine = ReplayEngine(model: model, backends: backends, schedulers: schedulers)
  configure(&engine)
  return try engine.run(&reader)
}

/// A model with every cost set to 0 (virtio's kick too).
func zeroCostModel() -> Model {
  var m = Model()
  m.costs = Model.Costs(
    trapNs: 0, hypercallNs: 0, irqInjectNs: 0, copyNsPerKiB: 0, grantMapNs: 0, ringSlotNs: 0,
    backendWakeupNs: 0, grantCopyRxNs: 0)
  m.virtio.kickNs = 0
  return m
}

extension ReplayResult {
  /// All channels' metrics of backend `name`, merged.
  func total(_ name: String) -> ChannelMetrics {
    var total = ChannelMetrics()
    for m in backends.first(where: { $0.name == name })!.channels { total.add(m) }
    return total
  }
}

extension ReplayResult {
  /// Every latency of `op` backend `name` recorded, at full precision: exact below 2048 ns
  /// and, above, each value as its 3-significant-digit bucket's lowest value.
  func latencies(_ name: String, _ op: EventOp) -> [UInt64] {
    guard let h = backends.first(where: { $0.name == name })!.latency.byOp[Int(op.rawValue)]
    else { return [] }
    var values: [UInt64] = []
    for v in h.recordedValues() {
      values += Array(repeating: v.value, count: Int(v.count))
    }
    return values
  }
}

/// A backend wrapper that notes every request a driver issues (tagged or not) and, for
/// tagged ones (closed loop tags every request it issues), when each completed. The
/// backend runs uncoupled, on CPUs of its own.
struct RequestProbe<Inner: DeviceBackend>: ReplayTarget {
  struct Request {
    var event: TraceEvent
    var issued: UInt64
    var done: UInt64
  }

  static var takesBursts: Bool { false }
  var inner: Inner
  private var cpu = DedicatedCPUs()
  private var open: [UInt32: (TraceEvent, UInt64)] = [:]
  /// Tagged requests, in completion order.
  private(set) var requests: [Request] = []
  /// Every submit, in order: the event and its issue time.
  private(set) var issues: [(event: TraceEvent, time: UInt64)] = []

  init(_ inner: Inner) { self.inner = inner }

  var name: String { inner.name }
  mutating func addChannel(_ channel: Channel) { inner.addChannel(channel) }
  var nextStepTime: UInt64 { inner.nextStepTime }
  var isIdle: Bool { inner.isIdle }
  var metrics: BackendMetrics { inner.metrics }
  var completions: CompletionLog {
    get { inner.completions }
    set { inner.completions = newValue }
  }

  mutating func runNextStep() {
    let before = inner.completions.entries.count
    inner.runNextStep(cpu: &cpu)
    for entry in inner.completions.entries[before...] {
      guard let (event, issued) = open.removeValue(forKey: entry.tag) else { continue }
      requests.append(Request(event: event, issued: issued, done: entry.timeNs))
    }
  }

  mutating func submit(_ event: TraceEvent, channel: Int, at time: UInt64, tag: UInt32) {
    issues.append((event, time))
    if tag != .max { open[tag] = (event, time) }
    inner.submit(event, channel: channel, at: time, tag: tag, cpu: &cpu)
  }

  mutating func arriveBurst(_ event: TraceEvent, at time: UInt64) {}
}

/// Replays `events` through `backend` wrapped in a ``RequestProbe``, with `model`'s loop
/// (and, for tests of the bound, another held-request limit).
func probeReplay<B: DeviceBackend>(
  _ backend: B, _ events: [TraceEvent], model: Model, heldLimit: Int? = nil
) -> (probe: RequestProbe<B>, driver: RequestDriver) {
  var probe = RequestProbe(backend)
  var driver = RequestDriver(model: model, heldLimit: heldLimit)
  probe.completions.enabled = driver.closed
  var table = ChannelTable()
  var channels: [Int32] = []
  for e in events {
    let (index, isNew) = table.index(of: e)
    if isNew { probe.addChannel(table.channels[Int(index)]) }
    channels.append(index)
  }
  events.withUnsafeBufferPointer { ev in
    channels.withUnsafeBufferPointer { ch in
      driver.feed(ev, channels: ch, into: &probe)
    }
  }
  driver.drain(&probe)
  probe.inner.finish()
  return (probe, driver)
}
