@testable import HVReplay

/// Replays `events` (in time order) through `backends` with `model`, open loop unless
/// `loop` says otherwise (the backend tests give each request's arrival time).
func replay(
  _ events: [TraceEvent], model: Model = Model(), backends: [BackendKind] = BackendKind.allCases,
  loop: Model.Loop = .open
) throws -> ReplayResult {
  var model = model
  model.replay.loop = loop
  let dir = TemporaryDirectory()
  let path = dir.file("t.hvt")
  try writeTrace(events, to: path, type: .hvt)
  var reader = try TraceReader(path: path)
  return try ReplayEngine(model: model, backends: backends).run(&reader)
}

/// A model with every cost set to 0.
func zeroCostModel() -> Model {
  var m = Model()
  m.costs = Model.Costs(
    trapNs: 0, hypercallNs: 0, irqInjectNs: 0, copyNsPerKiB: 0, grantMapNs: 0, ringSlotNs: 0,
    backendWakeupNs: 0)
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
