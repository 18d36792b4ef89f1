import Testing

@testable import HVReplay

/// A review of the host timeline (issue 11): each test states its input, the figure a
/// closed form gives, and how that form is derived from the model rules.
@Suite struct HostTimelineReviewTests {
  // The inputs HostTimelineTests uses: 4 KiB reads served in 55.9 us, one pCPU by default.
  static let read = HostTimelineTests.read
  static let service = HostTimelineTests.service
  static let switchNs = HostTimelineTests.switchNs
  static func model(pcpus: UInt64 = 1) -> Model { HostTimelineTests.model(pcpus: pcpus) }

  /// `count` 4 KiB reads of `vm`, the first at `first`, then one every `every` ns, each at
  /// its own offset.
  static func reads(vm: UInt16, first: UInt64, every: UInt64, count: UInt64) -> [TraceEvent] {
    (0..<count).map { k in
      TraceEvent(
        timeNs: first + k * every, vm: vm, op: .read, offset: k << 20, bytes: read,
        serviceNs: service)
    }
  }

  static func cpu(_ result: ReplayResult, _ name: String) -> SchedulerResult {
    result.schedulers.first { $0.name == name }!
  }

  static func guest(_ s: SchedulerResult, _ vm: UInt16) -> VMCPUMetrics {
    s.vms.first { $0.domain == .guest && $0.vm == vm }!
  }

  /// `events` replayed open loop, coupled, through `backends` with a horizon.
  static func replay(
    _ events: [TraceEvent], model: Model, backends: [BackendKind] = [.full, .para],
    horizon: UInt64?
  ) throws -> ReplayResult {
    var model = model
    model.replay.loop = .open
    model.cpu.coupled = true
    let dir = TemporaryDirectory()
    let path = dir.file("t.hvt")
    try writeTrace(events, to: path, type: .hvt)
    var reader = try TraceReader(path: path)
    return try ReplayEngine(model: model, backends: backends, horizon: horizon).run(&reader)
  }

  // Input: two pCPUs; one burst of 1 ms at t = 0 on vm 1 and one disk read of vm 2 at 0,
  // whose path (about 100 us) ends long before the burst. CPU rule 7: the window runs to
  // the end of the work, the burst's: 367 (switch) + 1,000,000 = 1,000,367 ns, on its own
  // pCPU in every host as in the reference. (The host used to keep ticking after its work
  // until an accounting pass made it quiet, and took that moment, 30 ms, as the window's
  // end: every share, capacity and backend utilisation was divided by 30 ms.) With no I/O
  // at all a host is its bursts' schedule: only the references are reported.
  @Test("a host's CPU window ends with its work, where the bursts-only reference's does")
  func windowEndsWithTheWork() throws {
    let burst = TraceEvent(timeNs: 0, vm: 1, op: .burst, serviceNs: 1_000_000)
    let read = TraceEvent(
      timeNs: 0, vm: 2, op: .read, offset: 0, bytes: Self.read, serviceNs: Self.service)
    let result = try HVReplayTests.replay(
      [burst, read], model: Self.model(pcpus: 2), coupled: true)
    for policy in ["credit", "fair"] {
      let reference = Self.cpu(result, policy)
      #expect(reference.windowEnd == Self.switchNs + 1_000_000)
      for design in ["full", "para"] {
        let host = Self.cpu(result, "\(design)/\(policy)")
        #expect(host.windowEnd == reference.windowEnd, "\(design)/\(policy)")
        #expect(Self.guest(host, 1).share == Self.guest(reference, 1).share)
      }
    }
    let alone = try HVReplayTests.replay([burst], model: Self.model(), coupled: true)
    #expect(alone.schedulers.map(\.name) == ["credit", "fair"])
  }

  // Input: three CPU hogs of 100 ms each at t = 0 on one pCPU, --horizon 50 ms, and one
  // read after the horizon.
  // Without I/O the host must give the reference's figures. Reference: credit runs vm 1
  // (switch), vm 2, vm 3 in 10 ms ticks, then vm 1 again: 4 switches; fair: 2 (vm 1 for 30
  // ms, then vm 2 up to the horizon). The host's dropBursts(at:) released each running vCPU
  // and dispatch(p)es the next queued one before that one's burst is dropped too (the loop
  // over vCPUs), charging a context switch (and its 367 ns of switching, which lies past
  // the window) for a vCPU that then does nothing; that dispatch also leaves a stale pCPU
  // step at horizon + 367 + 30 ms, which keeps the host stepping, so the window ends at
  // 80,000,367 ns instead of the horizon.
  @Test("at the horizon a host with no I/O in its window charges no extra switch and ends there")
  func horizonChargesNoSwitch() throws {
    var events = (1...3 as ClosedRange<UInt16>).map {
      TraceEvent(timeNs: 0, vm: $0, op: .burst, serviceNs: 100_000_000)
    }
    // One read after the horizon, so that the hosts have I/O (outside the window).
    events.append(
      TraceEvent(
        timeNs: 60_000_000, vm: 4, op: .read, offset: 0, bytes: Self.read,
        serviceNs: Self.service))
    let result = try Self.replay(events, model: Self.model(), horizon: 50_000_000)
    for policy in ["credit", "fair"] {
      let reference = Self.cpu(result, policy)
      #expect(reference.windowEnd == 50_000_000)
      let switches = reference.vms.map(\.contextSwitches).reduce(0, +)
      #expect(switches == (policy == "credit" ? 4 : 2))
      for design in ["full", "para"] {
        let host = Self.cpu(result, "\(design)/\(policy)")
        #expect(host.windowEnd == 50_000_000, "\(design)/\(policy)")
        #expect(host.vms.map(\.contextSwitches).reduce(0, +) == switches, "\(design)/\(policy)")
        #expect(host.switchingNs == reference.switchingNs, "\(design)/\(policy)")
      }
    }
  }

  // Input: one pCPU, a 500 us burst at 0 on vm 1; 100 disk reads of vm 2 from 2 ms on,
  // 100 us apart; --horizon 1 ms. CPU rule 7 and model rule "host horizon": "With --horizon ... CPU figures count only
  // time inside the window." The window is [0, 1 ms]; vm 2 does nothing in it, so its CPU
  // is 0 and the window ends at the horizon, as the reference's does. The host's scheduler was
  // built without the horizon (HostSimulation.swift, GenericRun.host:
  // `SchedulerSimulation(model: model, policy: policy)`), so finish() runs to "done": the
  // window ends at 30 ms (the pass after the last read) and vm 2 is given 100 x 42,803 ns
  // of CPU that all lies after the horizon.
  @Test("with a horizon a host's CPU window ends there and counts no work after it")
  func horizonWindow() throws {
    let events =
      [TraceEvent(timeNs: 0, vm: 1, op: .burst, serviceNs: 500_000)]
      + Self.reads(vm: 2, first: 2_000_000, every: 100_000, count: 100)
    let result = try Self.replay(events, model: Self.model(), horizon: 1_000_000)
    for name in ["full/credit", "full/fair", "para/credit", "para/fair"] {
      let host = Self.cpu(result, name)
      #expect(host.windowEnd == 1_000_000, "\(name)")
      let vm2 = host.vms.first { $0.domain == .guest && $0.vm == 2 }
      #expect((vm2?.cpuNs ?? 0) == 0, "\(name)")
      // Conservation: no more CPU than the pCPU had in the window.
      let busy = host.vms.map(\.cpuNs).reduce(0, +) + host.switchingNs
      #expect(busy <= host.windowNs * host.pcpus, "\(name)")
    }
  }

  // Input: one pCPU; vm 1 a CPU hog of 100 ms at 0; vm 2 20 disk reads, one every 2 ms from
  // 1 ms. The hog is runnable from 0 to its finish F, so the pCPU is never idle before F,
  // and the I/O is done long before F (it ends near 40 ms). So the pCPU's busy time up to F,
  // the sum of every context's cpuNs plus the switching, is exactly F; and F is the hog's
  // burst response (it arrived at 0). Also the backend contexts' CPU is all I/O work: dom0's
  // (para) or the device models' (full) cpuNs equals their virtBackendNs, which equals the
  // sum of the guests' virtBackendNs; each guest's virtGuestNs plus its bursts' CPU is its
  // cpuNs.
  @Test("CPU is conserved: every context's CPU plus switching is the busy pCPU's time")
  func conservation() throws {
    let events =
      [TraceEvent(timeNs: 0, vm: 1, op: .burst, serviceNs: 100_000_000)]
      + Self.reads(vm: 2, first: 1_000_000, every: 2_000_000, count: 20)
    let result = try HVReplayTests.replay(events, model: Self.model(), coupled: true)
    for name in ["full/credit", "full/fair", "para/credit", "para/fair"] {
      let host = Self.cpu(result, name)
      let hog = Self.guest(host, 1)
      #expect(hog.burstsDone == 1)
      let busy = host.vms.map(\.cpuNs).reduce(0, +) + host.switchingNs
      if name.hasSuffix("credit") {
        #expect(busy == hog.burstResponseNs, "\(name)")
      } else {
        // Fair share gives vm 2 a turn only after each 30 ms slice of the hog: its I/O runs
        // on after the hog's finish, while the pCPU idles between pieces.
        #expect(busy > hog.burstResponseNs && busy <= host.windowEnd, "\(name)")
      }
      #expect(hog.cpuNs == 100_000_000)
      let backends = host.vms.filter { $0.domain != .guest }
      let guests = host.vms.filter { $0.domain == .guest }
      #expect(
        backends.map(\.cpuNs).reduce(0, +) == backends.map(\.virtBackendNs).reduce(0, +))
      #expect(
        guests.map(\.virtBackendNs).reduce(0, +) == backends.map(\.virtBackendNs).reduce(0, +))
      let vm2 = Self.guest(host, 2)
      #expect(vm2.cpuNs == vm2.virtGuestNs)
    }
  }

  // Input: trace times within 1 ms of 2^64 - 1: a 10 ms burst and a disk read of vm 1 at
  // 2^64 - 10^6, an rx packet of vm 2 1 us later and a tx packet at 2^64 - 1. Every request
  // completes exactly once (the uncoupled replay completes all three), or the replay ends in
  // one clear error. The coupled hosts complete 2 of the 3 and say nothing: the tx's CPU
  // work is queued at the saturated clock (UInt64.max), where runUntilDone's
  // `guard next < .max` stops, so the request never completes.
  @Test("near 2^64 every request still completes once, or the replay fails clearly")
  func nearTheEndOfTime() throws {
    let t = UInt64.max - 1_000_000
    let events = [
      TraceEvent(timeNs: t, vm: 1, op: .burst, serviceNs: 10_000_000),
      TraceEvent(timeNs: t, vm: 1, op: .read, offset: 0, bytes: Self.read, serviceNs: Self.service),
      TraceEvent(timeNs: t + 1_000, vm: 2, op: .rx, bytes: 1500),
      TraceEvent(timeNs: .max, vm: 2, op: .tx, bytes: 1500),
    ]
    let uncoupled = try HVReplayTests.replay(events, model: Self.model(pcpus: 2))
    #expect(uncoupled.total("full").requests == 3)
    do {
      let result = try HVReplayTests.replay(events, model: Self.model(pcpus: 2), coupled: true)
      for name in ["full/credit", "full/fair", "para/credit", "para/fair"] {
        #expect(result.total(name).requests == 3, "\(name)")
      }
    } catch let error as HVReplayError {
      #expect(error.category == .badData)
      #expect(error.description.contains("2^64 - 1 ns"))
    }
  }

  // Input: 1,000 I/O-only guests, guest k reading 4 KiB once at k x 10 ms (10 s of trace,
  // 1,000 requests), timeslice 1 ms. The uncoupled replay does it at once; the host
  // refuses it with the work-budget error (exit 65), because every accounting pass
  // (SchedulerSimulation.pass) visits every vCPU and VM ever seen, blocked or not, and
  // counts each against the budget: about 10,000 passes x 4,000 contexts and VMs = 4 x 10^7
  // steps > 2 x 10^7 + 16 per item. The real credit1 accounts only active vCPUs
  // (csched_acct walks the active list), so a pass should cost what is active.
  @Test("many idle guests do not exhaust the host's work budget")
  func manyIdleGuests() throws {
    var events: [TraceEvent] = []
    for k in 1...1_000 as ClosedRange<UInt64> {
      events.append(
        TraceEvent(
          timeNs: k * 10_000_000, vm: UInt16(k), op: .read, offset: 0, bytes: Self.read,
          serviceNs: Self.service))
    }
    var model = Self.model()
    model.cpu.timesliceNs = 1_000_000
    model.cpu.tickNs = 1_000_000
    let result = try HVReplayTests.replay(events, model: model, backends: [.full], coupled: true)
    #expect(result.total("full/credit").requests == 1_000)
  }

  // Input: one pCPU, vm 1 a CPU hog (1 s at 0), vm 2 two disk reads at 10 ms on a para
  // ring of one entry (para.ring_entries = 1), so the second read waits for the first's
  // slot. In blkfront the interrupt handler that consumes the response restarts the queue
  // before the vCPU goes idle, so vm 2's vCPU wakes three times (push of A; interrupt of A,
  // then the push of B in the same run; interrupt of B) and is dispatched three times: 3
  // context switches. The host's `handled` used to schedule the push of B as a backend step
  // instead of chaining it (model rule "chains"), so settle() first blocks vm 2's vCPU and gives
  // the pCPU to the hog, and the push then wakes vm 2 again with a fresh BOOST that
  // preempts the hog: 4 switches for vm 2 and one more for the hog.
  @Test("para: the push of a request that waited for a slot chains on the handler's run")
  func stalledPushChains() throws {
    let events = [
      TraceEvent(timeNs: 0, vm: 1, op: .burst, serviceNs: 1_000_000_000),
      TraceEvent(
        timeNs: 10_000_000, vm: 2, op: .read, offset: 0, bytes: Self.read,
        serviceNs: Self.service),
      TraceEvent(
        timeNs: 10_000_000, vm: 2, op: .read, offset: 1 << 20, bytes: Self.read,
        serviceNs: Self.service),
    ]
    var model = Self.model()
    model.para.ringEntries = 1
    let result = try HVReplayTests.replay(events, model: model, backends: [.para], coupled: true)
    let host = Self.cpu(result, "para/credit")
    #expect(result.total("para/credit").requests == 2)
    #expect(Self.guest(host, 2).contextSwitches == 3)
  }

  // Input: two pCPUs, no bursts; vm 1 reads at 1, 2, ..., 10 ms, vm 2 at 1.5, 2.5, ...,
  // 10.5 ms (full virtualization, default costs; each read's path is about 99 us, so no two
  // overlap). Model rule "wake affinity" (an idle pCPU is given to the vCPU it
  // last ran, else to a pCPU no vCPU has run) keeps each guest vCPU on its own pCPU: 2
  // context switches in all (each vCPU's first dispatch). The host's dispatchIdle() took
  // the lowest-numbered idle pCPU for whatever vCPU is next, so both guests share pCPU 0
  // and every submission after the first pays a switch: 20 switches. (docs/MODEL.md listed
  // affinity as left out, but the "ample pCPUs give the uncoupled figures" then only
  // holds with context_switch_ns = 0, which is how HostTimelineTests.ampleEqualsUncoupled
  // is written.)
  @Test("ample pCPUs: each woken vCPU goes back to the idle pCPU it last ran on")
  func wakeAffinity() throws {
    var events: [TraceEvent] = []
    for k in 1...10 as ClosedRange<UInt64> {
      events.append(
        TraceEvent(
          timeNs: k * 1_000_000, vm: 1, op: .read, offset: k << 20, bytes: Self.read,
          serviceNs: Self.service))
      events.append(
        TraceEvent(
          timeNs: k * 1_000_000 + 500_000, vm: 2, op: .read, offset: k << 20, bytes: Self.read,
          serviceNs: Self.service))
    }
    let result = try HVReplayTests.replay(
      events, model: Self.model(pcpus: 2), backends: [.full], coupled: true)
    for policy in ["credit", "fair"] {
      let host = Self.cpu(result, "full/\(policy)")
      #expect(host.vms.map(\.contextSwitches).reduce(0, +) == 2, "\(policy)")
    }
  }
}
