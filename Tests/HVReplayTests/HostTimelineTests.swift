import Testing

@testable import HVReplay

/// Model rules "One host" (docs/MODEL.md): the I/O path's CPU work shares the pCPUs with the
/// bursts under one scheduler; each figure below is worked out by hand from the rules.
@Suite struct HostTimelineTests {
  static let read = 4096 as UInt32
  static let service = 55_900 as UInt64
  static let switchNs = Model().cpu.contextSwitchNs

  /// Full virtualization's guest-side work per 4 KiB disk read with the defaults: F1, 8
  /// traps; F4, the interrupt with its EOI and 1 status read; no copy.
  static let fullGuestNs = 8 * 4_700 + 503 + 4_700 as UInt64

  static func model(pcpus: UInt64 = 1) -> Model {
    var m = Model()
    m.cpu.pcpus = pcpus
    return m
  }

  static func host(
    _ result: ReplayResult, _ name: String
  ) -> (io: BackendResult, cpu: SchedulerResult) {
    (
      result.backends.first { $0.name == name }!,
      result.schedulers.first { $0.name == name }!
    )
  }

  // (a) One VM, one pCPU: a burst and five reads on the same vCPU. The reads' guest-side
  // work pre-empts the burst inside the vCPU, so the burst ends exactly 5 x 42,803 ns
  // later than with the bursts alone, and each read's latency is its path alone.
  @Test(
    "a burst on the vCPU that also does I/O finishes later by exactly the I/O path's guest-side time"
  )
  func burstLateByGuestSideTime() throws {
    var events = [TraceEvent(timeNs: 0, vm: 1, op: .burst, serviceNs: 100_000_000)]
    for k in 1...5 as ClosedRange<UInt64> {
      events.append(
        TraceEvent(
          timeNs: k * 10_000_000, vm: 1, op: .read, offset: k << 20, bytes: Self.read,
          serviceNs: Self.service))
    }
    let result = try replay(events, model: Self.model(), backends: [.full], coupled: true)
    for policy in ["credit", "fair"] {
      let (io, cpu) = Self.host(result, "full/\(policy)")
      let vm = cpu.vms.first { $0.domain == .guest && $0.vm == 1 }!
      #expect(vm.burstsDone == 1)
      #expect(vm.burstResponseNs == Self.switchNs + 100_000_000 + 5 * Self.fullGuestNs)
      #expect(vm.referenceBurstResponseNs == Self.switchNs + 100_000_000)
      #expect(vm.burstLateNs == Double(5 * Self.fullGuestNs))
      #expect(vm.virtGuestNs == 5 * Self.fullGuestNs)
      #expect(vm.virtBackendNs == 0)
      var total = ChannelMetrics()
      for c in io.channels { total.add(c) }
      #expect(total.latencySumNs == 5 * (Self.fullGuestNs + Self.service))
    }
  }

  // (b) Para, one pCPU, a CPU hog and a dom0 of weight 1 under credit. A 1 MiB write at
  // 1 ms (256 grants and the indirect page that lists them) leaves dom0 72,683 ns charged;
  // the pass at 30 ms gives it 30 ms x 1/513 = 58,479,
  // so it is OVER and not boosted when the read at 45 ms notifies it: dom0 waits behind
  // the hog until the pass at 60 ms makes it UNDER. With weight 256 it stays UNDER and is
  // boosted: the read's latency is its path plus 4 switches.
  @Test("para: a low-weight dom0 behind a CPU hog adds its scheduling delay to I/O latency")
  func lowWeightDom0() throws {
    let events = [
      TraceEvent(timeNs: 0, vm: 1, op: .burst, serviceNs: 10_000_000_000),
      TraceEvent(
        timeNs: 1_000_000, vm: 2, op: .write, offset: 0, bytes: 1 << 20, serviceNs: 300_000),
      TraceEvent(
        timeNs: 45_000_000, vm: 2, op: .read, offset: 1 << 30, bytes: Self.read,
        serviceNs: Self.service),
    ]
    var model = Self.model()
    model.backend.weight = 1
    let low = try replay(
      events, model: model, backends: [.para], coupled: true)
    let (io, cpu) = Self.host(low, "para/credit")
    let path = 2 + 515 + 1_233 + 2 + 278 + Self.service + 2 + 503 + 2 as UInt64
    #expect(path == 58_437)
    #expect(io.latency.meanNs(.read) == 15_059_021)
    let dom0 = cpu.vms.first { $0.domain == .driverDomain }!
    #expect(dom0.wait.max >= 14_999_116)
    let guest = cpu.vms.first { $0.domain == .guest && $0.vm == 2 }!
    #expect(guest.virtBackendNs == 72_405 + 278 + 1_515)
    model.backend.weight = 256
    let fair = try replay(events, model: model, backends: [.para], coupled: true)
    #expect(
      Self.host(fair, "para/credit").io.latency.meanNs(.read)
        == Double(path + 4 * Self.switchNs))
  }

  // (c) An rpc-like VM sharing one pCPU with two CPU-bound VMs (Ongaro, Cox and Rixner,
  // VEE 2008). Under credit the rpc VM is UNDER and BOOSTed on each wake: its read's
  // latency is the path plus 2 switches. Under fair share each of its two wakes waits for
  // the running slice's rest and the other hog's whole slice.
  @Test(
    "credit's BOOST keeps an I/O VM's latency near its path; fair share makes it wait behind timeslices"
  )
  func boostAgainstFairShare() throws {
    let events = [
      TraceEvent(timeNs: 0, vm: 1, op: .burst, serviceNs: 10_000_000_000),
      TraceEvent(timeNs: 0, vm: 2, op: .burst, serviceNs: 10_000_000_000),
      TraceEvent(
        timeNs: 45_000_000, vm: 3, op: .read, offset: 0, bytes: Self.read,
        serviceNs: Self.service),
    ]
    let result = try replay(events, model: Self.model(), backends: [.full], coupled: true)
    let path = Self.fullGuestNs + Self.service
    #expect(
      Self.host(result, "full/credit").io.latency.meanNs(.read)
        == Double(path + 2 * Self.switchNs))
    #expect(Self.host(result, "full/fair").io.latency.meanNs(.read) == 105_045_372)
  }

  /// Four guests, one channel each, a request every millisecond: disk reads; writes with
  /// a flush; packets sent; packets received on vCPU 1.
  static func spacedTrace() -> [TraceEvent] {
    var events: [TraceEvent] = []
    for k in 0..<40 as Range<UInt64> {
      let t = 1_000_000 + k * 1_000_000
      events.append(
        TraceEvent(timeNs: t, vm: 1, op: .read, offset: k << 20, bytes: 8192, serviceNs: 60_000))
      events.append(
        TraceEvent(
          timeNs: t + 1_000, vm: 2, op: k % 10 == 9 ? .flush : .write, offset: k << 20,
          bytes: k % 10 == 9 ? 0 : 4096))
      events.append(TraceEvent(timeNs: t + 2_000, vm: 3, op: .tx, bytes: 1500))
      events.append(TraceEvent(timeNs: t + 3_000, vm: 4, vcpu: 1, op: .rx, bytes: 1500))
    }
    return events
  }

  // With a pCPU for every context, nothing waits for a CPU: every I/O figure equals the
  // uncoupled replay's (context switches set to 0, as a dedicated CPU has none).
  @Test(
    "with ample pCPUs and no bursts the host timeline gives the uncoupled figures",
    arguments: [Model.Loop.open, .closed])
  func ampleEqualsUncoupled(loop: Model.Loop) throws {
    var model = Model()
    model.cpu.pcpus = 16
    model.cpu.contextSwitchNs = 0
    model.backend.vcpus = 8
    let events = Self.spacedTrace()
    let uncoupled = try replay(events, model: model, loop: loop)
    let coupled = try replay(events, model: model, loop: loop, coupled: true)
    for design in ["full", "para"] {
      let reference = uncoupled.backends.first { $0.name == design }!
      for policy in ["credit", "fair"] {
        let host = coupled.backends.first { $0.name == "\(design)/\(policy)" }!
        #expect(host.channels.count == reference.channels.count)
        for (a, b) in zip(host.channels, reference.channels) {
          #expect(a.requests == b.requests && a.requests == 40)
          #expect(a.latencySumNs == b.latencySumNs, "\(design)/\(policy)")
          #expect(a.overheadNs == b.overheadNs)
          #expect(a.traps == b.traps && a.hypercalls == b.hypercalls)
          #expect(a.interrupts == b.interrupts)
          #expect(a.notificationsSent == b.notificationsSent)
          #expect(a.notificationsSuppressed == b.notificationsSuppressed)
          #expect(a.bytesCopied == b.bytesCopied)
          #expect(a.firstIssueNs == b.firstIssueNs && a.lastCompletionNs == b.lastCompletionNs)
          #expect(a.occupancy?.timeAtLevel == b.occupancy?.timeAtLevel)
        }
        #expect(host.latency.sumNs == reference.latency.sumNs)
      }
    }
    // The same hosts with context switches: each wake of a context costs one, so the
    // figures part (the comparison above can fail).
    model.cpu.contextSwitchNs = 367
    let switching = try replay(events, model: model, loop: loop, coupled: true)
    let para = switching.backends.first { $0.name == "para/credit" }!
    let reference = uncoupled.backends.first { $0.name == "para" }!
    #expect(
      para.latency.sumNs[Int(EventOp.read.rawValue)]
        > reference.latency.sumNs[Int(EventOp.read.rawValue)])
  }

  // At the horizon the bursts' queued work is unserved and dropped; the I/O still
  // completes, every request exactly once, and the CPU figures are the window's: the
  // second read, after the horizon, runs outside them.
  @Test("at the horizon a host drops the bursts' queued work and finishes its I/O")
  func hostHorizon() throws {
    let events = [
      TraceEvent(timeNs: 0, vm: 1, op: .burst, serviceNs: 100_000_000),
      TraceEvent(
        timeNs: 10_000_000, vm: 2, op: .read, offset: 0, bytes: Self.read,
        serviceNs: Self.service),
      TraceEvent(
        timeNs: 60_000_000, vm: 2, op: .read, offset: 1 << 20, bytes: Self.read,
        serviceNs: Self.service),
      TraceEvent(timeNs: 70_000_000, vm: 1, op: .burst, serviceNs: 5_000_000),
    ]
    var model = Self.model()
    model.cpu.coupled = true
    let dir = TemporaryDirectory()
    let path = dir.file("t.hvt")
    try writeTrace(events, to: path, type: .hvt)
    var reader = try TraceReader(path: path)
    let result = try ReplayEngine(
      model: model, backends: [.full], schedulers: [.credit], horizon: 50_000_000
    ).run(&reader)
    let (io, cpu) = Self.host(result, "full/credit")
    var total = ChannelMetrics()
    for c in io.channels { total.add(c) }
    #expect(total.requests == 2)
    let hog = cpu.vms.first { $0.domain == .guest && $0.vm == 1 }!
    // The burst at 70 ms is past the horizon: only the first one's 100 ms was demanded.
    #expect(hog.cpuNs + hog.unservedNs == 100_000_000)
    #expect(hog.burstsDone == 0)
    let rpc = cpu.vms.first { $0.domain == .guest && $0.vm == 2 }!
    #expect(rpc.virtGuestNs == Self.fullGuestNs)
    #expect(cpu.windowEnd == 50_000_000)
    // The hog ran from its switch to the horizon, less the first read's guest-side work
    // and the switches to and from vm 2 (the second read comes after the horizon).
    #expect(hog.cpuNs == 50_000_000 - Self.switchNs - Self.fullGuestNs - 4 * Self.switchNs)
  }

  // Every piece of I/O work costs a few scheduling steps; the budget grants 16 per piece.
  @Test("half a million pieces of I/O work on one vCPU stay within the work budget")
  func itemsWithinBudget() throws {
    var events: [TraceEvent] = []
    for k in 0..<100_000 as Range<UInt64> {
      events.append(
        TraceEvent(
          timeNs: k * 200_000, vm: 1, op: .read, offset: k << 12, bytes: Self.read,
          serviceNs: Self.service))
    }
    var model = Self.model()
    model.cpu.tickNs = 1_000
    model.cpu.timesliceNs = 3_000
    let result = try replay(events, model: model, backends: [.para], coupled: true)
    #expect(result.backends.allSatisfy { $0.channels[0].requests == 100_000 })
  }
}
