import Histogram

/// The CPU schedulers hvreplay has.
public enum SchedulerKind: String, CaseIterable, Sendable, CustomStringConvertible {
  /// Xen's credit scheduler (credit1): proportional share by weight.
  case credit
  /// Fair share: every runnable vCPU gets an equal timeslice in turn.
  case fair

  public var description: String { rawValue }

  /// A simulation of this scheduler for `model`.
  func make(model: Model, horizon: UInt64?) -> any CPUScheduler {
    switch self {
    case .credit:
      CreditScheduler(
        simulation: SchedulerSimulation(
          model: model, policy: CreditPolicy(model: model), horizon: horizon))
    case .fair:
      FairShareScheduler(
        simulation: SchedulerSimulation(model: model, policy: FairSharePolicy(), horizon: horizon))
    }
  }

  /// One line on the scheduler.
  public var summary: String {
    switch self {
    case .credit:
      "Xen credit1: credits by weight each period, BOOST > UNDER > OVER, caps, credit bounds"
    case .fair: "fair share: a FIFO run queue, an equal timeslice per runnable vCPU in turn"
    }
  }
}

/// A CPU scheduler fed by the replay engine with the trace's cpu events.
protocol CPUScheduler {
  var name: String { get }
  /// Replays a chunk of events in time order; it uses the cpu bursts and ignores the rest.
  mutating func replay(_ events: UnsafeBufferPointer<TraceEvent>) throws(HVReplayError)
  /// Ends the schedule: at the horizon, if there is one (work still queued is unserved),
  /// else when every burst's work is done; the window ends there, and never before
  /// `windowEnd`, the trace's last event (docs/MODEL.md, CPU rule 7).
  mutating func finish(windowStart: UInt64, windowEnd: UInt64) throws(HVReplayError)
    -> SchedulerResult
}

/// What one scheduler measured, per VM.
public struct SchedulerResult: Sendable {
  /// `credit` or `fair` for the trace's bursts alone (the reference without
  /// virtualization); `<backend>/<scheduler>` (`para/credit`) for one host simulation,
  /// whose guests also run their I/O paths and whose driver domain or device models run
  /// beside them (docs/MODEL.md, "One host").
  public var name: String
  /// The scheduler (`credit`, `fair`).
  public var policy: String = ""
  /// The backend of a host simulation; `nil` for the bursts-alone reference.
  public var backend: String?
  /// Per VM, in VM order.
  public var vms: [VMCPUMetrics]
  /// The measurement window in ns, and the pCPUs' capacity over it.
  public var windowStart: UInt64
  public var windowEnd: UInt64
  public var pcpus: UInt64
  /// pCPU time spent switching between vCPUs, in ns.
  public var switchingNs: UInt64
  /// pCPU time idle while a vCPU that no cap held back waited to run (0 when work-conserving).
  public var idleWhileRunnableNs: UInt64
  /// Every VM's waits from runnable to running, at full precision.
  public var wait: Histogram<UInt64>
  /// The tick (`cpu.tick_ns`) the tick bills were made with, in ns.
  public var tickNs: UInt64

  /// Model rule "Billing ticks" (docs/MODEL.md, CPU rule 6): the ticks a billing error over
  /// `vms` rests on, the larger of the ticks billed and the ticks' worth of CPU the exact
  /// bill holds (whole ticks).
  public func billingTicks(_ vms: [VMCPUMetrics]) -> UInt64 {
    let billed = vms.map(\.billedTicks).saturatingSum()
    let exact = vms.map(\.billedExactNs).saturatingSum() / max(tickNs, 1)
    return max(billed, exact)
  }

  /// Jain's fairness index over the received-to-entitled ratios of the VMs entitled to CPU.
  public var jainIndex: Double {
    FairAllocation.jainIndex(
      vms.filter { $0.entitledShare > 0 }.map { $0.share / $0.entitledShare })
  }

  /// Fills in each VM's share and entitled share (docs/MODEL.md, CPU rule 10): its
  /// entitlement per accounting period over the capacity, or, for a report.json written
  /// before entitlements were kept, the whole window's water-filling.
  mutating func entitle() {
    let window = Double(windowNs)
    let capacity = Double(capacityNs)
    guard capacity > 0 else { return }
    if vms.allSatisfy({ $0.entitledNs != nil }) {
      for i in vms.indices {
        vms[i].entitledShare = vms[i].entitledNs! / capacity
        vms[i].share = Double(vms[i].cpuNs) / capacity
      }
      return
    }
    let limits = vms.map { vm -> Double in
      var limit = min(Double(vm.demandNs), Double(vm.vcpus) * window)
      if vm.capPercent > 0 { limit = min(limit, Double(vm.capPercent) / 100 * window) }
      return limit
    }
    let allocation = FairAllocation.waterFill(
      capacity: capacity, weights: vms.map { Double($0.weight) }, limits: limits)
    for i in vms.indices {
      vms[i].entitledShare = allocation[i] / capacity
      vms[i].share = Double(vms[i].cpuNs) / capacity
    }
  }

  /// The window's length in ns.
  public var windowNs: UInt64 { windowEnd - windowStart }
  /// The pCPUs' capacity over the window, in ns.
  public var capacityNs: UInt64 {
    let (product, overflow) = windowNs.multipliedReportingOverflow(by: pcpus)
    return overflow ? .max : product
  }
}

/// What a scheduling entity of the host is (docs/MODEL.md, "One host").
public enum CPUDomain: UInt8, Sendable, CaseIterable {
  /// A guest VM of the trace.
  case guest
  /// The driver domain (Xen's dom0) that runs paravirtualization's backends.
  case driverDomain
  /// One guest's device model (QEMU's emulator thread) under full virtualization.
  case deviceModel

  /// The name in reports: `dom0`, `dm` (followed by the guest's id).
  public var name: String {
    switch self {
    case .guest: "guest"
    case .driverDomain: "dom0"
    case .deviceModel: "dm"
    }
  }
}

/// One guest's CPU figures under one scheduler.
public struct VMCPUMetrics: Sendable {
  /// The guest's id; for a device model, the id of the guest it emulates devices for; 0
  /// for the driver domain.
  public var vm: UInt16
  public var domain = CPUDomain.guest
  /// CPU time this guest's vCPUs spent on its I/O path (driver code, exits and their
  /// handling, interrupts), in ns; 0 for the driver domain and device models.
  public var virtGuestNs: UInt64 = 0
  /// CPU time the driver domain or this guest's device model spent on this guest's I/O,
  /// in ns (for the driver domain's and device models' own rows: all they ran).
  public var virtBackendNs: UInt64 = 0
  /// The trace's cpu bursts of this VM whose work completed in the window, and the sum of
  /// their response times (arrival to the end of their work), in ns.
  public var burstsDone: UInt64 = 0
  public var burstResponseNs: UInt64 = 0
  /// The same sum under the same scheduler for the bursts alone (no I/O path, no backend):
  /// the reference burst slowdown divides by; `nil` without one.
  public var referenceBurstResponseNs: UInt64?
  public var vcpus: Int
  public var weight: UInt64
  public var capPercent: UInt64
  /// Work that arrived in the window, in ns.
  public var demandNs: UInt64 = 0
  /// CPU time received in the window, in ns.
  public var cpuNs: UInt64 = 0
  /// Work still queued at the window's end, in ns.
  public var unservedNs: UInt64 = 0
  /// Time charged under exact accounting (equal to ``cpuNs``) and under tick accounting.
  public var billedExactNs: UInt64 = 0
  public var billedTickNs: UInt64 = 0
  /// The ticks billed (``billedTickNs`` / `cpu.tick_ns`).
  public var billedTicks: UInt64 = 0
  /// Switches of a pCPU to one of this VM's vCPUs from another vCPU.
  public var contextSwitches: UInt64 = 0
  /// Wait from runnable to running, in ns, at per-channel precision.
  public var wait = ChannelHistogram()
  /// CPU time the VM is entitled to over the window, summed over accounting periods, in ns;
  /// `nil` when read from a report.json that did not keep it.
  public var entitledNs: Double?
  /// The share of the pCPUs' capacity the VM's weight and cap entitle it to.
  public var entitledShare: Double = 0
  /// The share it received.
  public var share: Double = 0

  init(vm: UInt16, config: Model.VM) {
    self.vm = vm
    vcpus = 0
    weight = config.weight
    capPercent = config.capPercent
  }

  /// The fewest ticks a billing error rests on for a verdict to quote it.
  public static let billingTicksToQuote: UInt64 = 100

  /// The name in reports: the guest's id, `dom0`, or `dm` and the guest's id.
  public var label: String {
    switch domain {
    case .guest: "\(vm)"
    case .driverDomain: "dom0"
    case .deviceModel: "dm\(vm)"
    }
  }

  /// Model rule "burst slowdown" (docs/MODEL.md, "One host"): the bursts' mean response
  /// time over their mean response time with the bursts alone; `nil` without a reference
  /// or bursts.
  public var burstSlowdown: Double? {
    guard let reference = referenceBurstResponseNs, reference > 0, burstsDone > 0 else {
      return nil
    }
    return Double(burstResponseNs) / Double(reference)
  }

  /// The mean time each burst finished later than with the bursts alone, in ns.
  public var burstLateNs: Double? {
    guard let reference = referenceBurstResponseNs, burstsDone > 0 else { return nil }
    return (Double(burstResponseNs) - Double(reference)) / Double(burstsDone)
  }

  /// (tick - exact) / exact, in percent; 0 when nothing was billed.
  public var billingErrorPercent: Double {
    billedExactNs > 0
      ? (Double(billedTickNs) - Double(billedExactNs)) / Double(billedExactNs) * 100 : 0
  }
}

// Concrete (non-generic) wrappers: calls through `any CPUScheduler` then reach code
// specialized for each policy instead of unspecialized generic code.

/// The credit scheduler.
struct CreditScheduler: CPUScheduler {
  var simulation: SchedulerSimulation<CreditPolicy>
  var name: String { simulation.name }
  mutating func replay(_ events: UnsafeBufferPointer<TraceEvent>) throws(HVReplayError) {
    try simulation.replay(events)
  }
  mutating func finish(windowStart: UInt64, windowEnd: UInt64) throws(HVReplayError)
    -> SchedulerResult
  {
    try simulation.finish(windowStart: windowStart, windowEnd: windowEnd)
  }
}

/// The fair-share scheduler.
struct FairShareScheduler: CPUScheduler {
  var simulation: SchedulerSimulation<FairSharePolicy>
  var name: String { simulation.name }
  mutating func replay(_ events: UnsafeBufferPointer<TraceEvent>) throws(HVReplayError) {
    try simulation.replay(events)
  }
  mutating func finish(windowStart: UInt64, windowEnd: UInt64) throws(HVReplayError)
    -> SchedulerResult
  {
    try simulation.finish(windowStart: windowStart, windowEnd: windowEnd)
  }
}
