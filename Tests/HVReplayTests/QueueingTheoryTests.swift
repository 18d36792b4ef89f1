import Testing

@testable import HVReplay

/// With every cost 0, one device server and a ring too large to fill, both backends
/// are a single-server FIFO queue, so queueing theory gives the mean latency.
@Suite("Queueing theory")
struct QueueingTheoryTests {
  static let serviceNs = 100_000.0
  static let utilization = 0.6
  static let requests = 400_000

  static func model() -> Model {
    var m = zeroCostModel()
    m.devices.disk.queueDepth = 1
    m.para.ringEntries = 1 << 20
    return m
  }

  /// Poisson arrivals at rate utilization / service; `service` draws each service time.
  static func trace(_ service: (inout Xoshiro256) -> UInt64) -> [TraceEvent] {
    var rng = Xoshiro256(seed: 2024)
    var t = 0.0
    return (0..<requests).map { _ in
      t += rng.exponential(mean: serviceNs / utilization)
      return TraceEvent(timeNs: UInt64(t), vm: 1, op: .read, bytes: 4096, serviceNs: service(&rng))
    }
  }

  @Test("M/D/1: mean latency within 2% of Pollaczek-Khinchine, S + rho S / (2 (1 - rho))")
  func md1() throws {
    let events = Self.trace { _ in UInt64(Self.serviceNs) }
    let rho = Self.utilization
    let expected = Self.serviceNs + rho * Self.serviceNs / (2 * (1 - rho))
    let result = try replay(events, model: Self.model())
    for name in ["full", "para"] {
      let t = result.total(name)
      let mean = Double(t.latencySumNs) / Double(t.requests)
      #expect(abs(mean / expected - 1) < 0.02, "\(name): \(mean) against \(expected)")
    }
  }

  @Test("M/M/1: mean latency within 2% of S / (1 - rho)")
  func mm1() throws {
    let events = Self.trace { rng in max(UInt64(rng.exponential(mean: Self.serviceNs)), 1) }
    let expected = Self.serviceNs / (1 - Self.utilization)
    let result = try replay(events, model: Self.model())
    for name in ["full", "para"] {
      let t = result.total(name)
      let mean = Double(t.latencySumNs) / Double(t.requests)
      #expect(abs(mean / expected - 1) < 0.02, "\(name): \(mean) against \(expected)")
    }
  }
}
