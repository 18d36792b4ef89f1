import Testing

@testable import HVReplay

/// Replays `events` through the CPU schedulers only.
func schedule(
  _ events: [TraceEvent], model: Model, schedulers: [SchedulerKind] = SchedulerKind.allCases,
  horizon: UInt64? = nil
) throws -> [String: SchedulerResult] {
  let dir = TemporaryDirectory()
  try writeTrace(events, to: dir.file("c.hvt"), type: .hvt)
  var reader = try TraceReader(path: dir.file("c.hvt"))
  let result = try ReplayEngine(
    model: model, backends: [], schedulers: schedulers, horizon: horizon
  )
  .run(&reader)
  return Dictionary(uniqueKeysWithValues: result.schedulers.map { ($0.name, $0) })
}

/// Bursts of `burst` ns every `period` ns on (vm, vcpu) from `start` until `end`.
func periodic(
  vm: UInt16, vcpu: UInt16 = 0, burst: UInt64, period: UInt64, start: UInt64 = 0, end: UInt64
)
  -> [TraceEvent]
{
  stride(from: start, to: end, by: Int(period)).map {
    TraceEvent(timeNs: $0, vm: vm, vcpu: vcpu, op: .burst, serviceNs: burst)
  }
}

func merged(_ streams: [TraceEvent]...) -> [TraceEvent] {
  streams.flatMap { $0 }.enumerated().sorted {
    ($0.element.timeNs, $0.offset) < ($1.element.timeNs, $1.offset)
  }
  .map(\.element)
}

@Suite("CPU schedulers")
struct SchedulerTests {
  @Test("weights 512 and 256 on one pCPU, both always runnable: credit 2/3 and 1/3, fair 1/2 each")
  func proportionalShare() throws {
    var model = Model()
    model.cpu.pcpus = 1
    model.vms[1] = Model.VM(weight: 512)
    model.vms[2] = Model.VM(weight: 256)
    let end: UInt64 = 60_000_000_000
    let events = merged(
      periodic(vm: 1, burst: 10_000_000, period: 10_000_000, end: end + 1),
      periodic(vm: 2, burst: 10_000_000, period: 10_000_000, end: end + 1))
    // The horizon keeps the window to the contended minute (without one, the backlog drains).
    let results = try schedule(events, model: model, horizon: end)
    let credit = results["credit"]!
    #expect(credit.windowNs == end)
    #expect(abs(credit.vms[0].share / (2.0 / 3) - 1) < 0.01, "\(credit.vms[0].share)")
    #expect(abs(credit.vms[1].share / (1.0 / 3) - 1) < 0.01, "\(credit.vms[1].share)")
    #expect(abs(credit.vms[0].entitledShare - 2.0 / 3) < 1e-9)
    let fair = results["fair"]!
    #expect(abs(fair.vms[0].share / 0.5 - 1) < 0.01, "\(fair.vms[0].share)")
    #expect(abs(fair.vms[1].share / 0.5 - 1) < 0.01, "\(fair.vms[1].share)")
    // Received-to-entitled ratios: credit is fair by weight, fair share is not.
    #expect(credit.jainIndex > 0.999)
    #expect(fair.jainIndex < 0.97)
    // The backlog left at the end is unserved demand, not drained into the figures.
    for r in [credit, fair] {
      for vm in r.vms {
        #expect(vm.demandNs == vm.cpuNs + vm.unservedNs)
      }
    }
  }

  @Test("a capped VM never exceeds its cap in any period, and pCPUs idle only when a cap says so")
  func caps() throws {
    for kind in SchedulerKind.allCases {
      var model = Model()
      model.cpu.pcpus = 2
      model.vms[1] = Model.VM(weight: 256, capPercent: 30)
      model.vms[2] = Model.VM(weight: 256, capPercent: 50)
      // VM 1: 2 vCPUs always runnable; VM 2: 1 vCPU always runnable. Caps leave 1.2 pCPUs idle.
      // The window, 0 to 3 s, is 100 whole cap periods of 30 ms.
      let end: UInt64 = 3_000_000_000
      let events = merged(
        periodic(vm: 1, vcpu: 0, burst: 10_000_000, period: 10_000_000, end: end + 1),
        periodic(vm: 1, vcpu: 1, burst: 10_000_000, period: 10_000_000, end: end + 1),
        periodic(vm: 2, burst: 10_000_000, period: 10_000_000, end: end + 1))
      let r = try schedule(events, model: model, schedulers: [kind], horizon: end)[kind.rawValue]!
      let window = Double(r.windowNs)
      // At most 30% of one pCPU over every 30 ms period, so over the window too.
      #expect(r.windowNs == end)
      #expect(Double(r.vms[0].cpuNs) <= 0.30 * window, "\(kind)")
      #expect(Double(r.vms[1].cpuNs) <= 0.50 * window, "\(kind)")
      // And they get what the caps allow: the caps, not the scheduler, hold them back.
      #expect(Double(r.vms[0].cpuNs) >= 0.299 * window, "\(kind)")
      #expect(Double(r.vms[1].cpuNs) >= 0.499 * window, "\(kind)")
    }
  }

  @Test("work conservation: with no cap, an idle pCPU never coexists with a runnable vCPU")
  func workConserving() throws {
    var p = SynthesisParameters(profile: .cpuContention)
    p.vms = 5
    p.vcpus = 2
    p.durationNs = 5_000_000_000
    var model = Model()
    model.cpu.pcpus = 3
    model.vms[1] = Model.VM(weight: 1024)
    let results = try schedule(Array(SyntheticTrace(p)), model: model)
    for (name, r) in results {
      #expect(r.idleWhileRunnableNs == 0, "\(name)")
      let used = r.vms.reduce(0) { $0 + $1.cpuNs } + r.switchingNs
      // Demand exceeds capacity (3 CPU-bound VMs with 2 vCPUs each on 3 pCPUs): no idle time.
      #expect(Double(used) >= Double(r.capacityNs) * 0.995, "\(name)")
      #expect(used <= r.capacityNs + 3 * model.cpu.contextSwitchNs, "\(name)")
    }
  }

  @Test("exact accounting bills exactly the time run; tick accounting bills whole ticks")
  func billing() throws {
    var p = SynthesisParameters(profile: .cpuContention)
    p.vms = 3
    p.durationNs = 2_000_000_000
    let model = Model()
    for (name, r) in try schedule(Array(SyntheticTrace(p)), model: model) {
      var ticksCharged: UInt64 = 0
      for vm in r.vms {
        #expect(vm.billedExactNs == vm.cpuNs, "\(name)")
        #expect(vm.billedTickNs % model.cpu.tickNs == 0, "\(name)")
        ticksCharged += vm.billedTickNs / model.cpu.tickNs
      }
      // At most one charge per pCPU per tick in the window.
      #expect(ticksCharged <= r.windowNs / model.cpu.tickNs * model.cpu.pcpus)
      #expect(ticksCharged >= r.windowNs / model.cpu.tickNs * model.cpu.pcpus * 9 / 10)
    }
  }

  /// One evader on vCPU (1, 0) and two honest CPU-bound guests, on one pCPU.
  static func tickEvasion(accounting: Model.Accounting) throws -> SchedulerResult {
    var p = SynthesisParameters(profile: .tickEvasion)
    p.vms = 3
    p.durationNs = 30_000_000_000
    var model = Model()
    model.cpu.pcpus = 1
    model.cpu.accounting = accounting
    return try schedule(
      Array(SyntheticTrace(p)), model: model, schedulers: [.credit], horizon: p.durationNs)[
        "credit"]!
  }

  @Test(
    "tick-evasion: with tick-driven credit the evader takes the CPU and is billed almost nothing")
  func tickEvasionAttack() throws {
    let r = try Self.tickEvasion(accounting: .tick)
    let evader = r.vms[0]
    #expect(evader.share > 0.9, "\(evader.share)")
    #expect(Double(evader.billedTickNs) < 0.02 * Double(evader.cpuNs))
    #expect(evader.billingErrorPercent < -98)
    // The honest guests are billed for every tick, more than they got.
    for honest in r.vms.dropFirst() { #expect(honest.billedTickNs >= honest.cpuNs) }
  }

  @Test("tick-evasion: with exact accounting the evader gets its fair share")
  func tickEvasionDefeated() throws {
    let r = try Self.tickEvasion(accounting: .exact)
    let evader = r.vms[0]
    #expect(
      abs(evader.share - evader.entitledShare) < 0.03,
      "\(evader.share) against \(evader.entitledShare)")
    #expect(r.jainIndex > 0.99)
  }

  @Test("Jain's index is 1 for equal ratios and 1/n when one VM gets everything")
  func jain() {
    #expect(FairAllocation.jainIndex([0.7, 0.7, 0.7, 0.7]) == 1)
    #expect(abs(FairAllocation.jainIndex([1, 0, 0, 0, 0]) - 0.2) < 1e-12)
    #expect(abs(FairAllocation.jainIndex([1, 2]) - 0.9) < 1e-12)
  }

  @Test("water-filling: capped or sated VMs leave their part to the others by weight")
  func waterFilling() {
    let a = FairAllocation.waterFill(capacity: 100, weights: [1, 1, 2], limits: [10, 100, 100])
    #expect(a.map { ($0 * 1000).rounded() / 1000 } == [10, 30, 60])
    let b = FairAllocation.waterFill(capacity: 100, weights: [1, 3], limits: [1000, 1000])
    #expect(b == [25, 75])
    let c = FairAllocation.waterFill(capacity: 100, weights: [1, 1], limits: [20, 30])
    #expect(c == [20, 30])
  }
}

@Suite("CPU schedulers on hostile traces")
struct SchedulerBoundTests {
  @Test("a burst that would keep a pCPU busy for centuries stops with an error, not a hang")
  func busyBound() throws {
    var sim = SchedulerSimulation(
      model: Model(), policy: FairSharePolicy(), horizon: nil, baseSteps: 1000)
    let events = [
      TraceEvent(timeNs: 0, vm: 1, op: .burst, serviceNs: .max),
      TraceEvent(timeNs: .max, vm: 1, op: .burst, serviceNs: .max),
    ]
    let error = #expect(throws: HVReplayError.self) {
      try events.withUnsafeBufferPointer { try sim.replay($0) }
    }
    #expect(error?.description.contains("--horizon") == true)
    #expect(error?.exitCode == 65)
  }
}
