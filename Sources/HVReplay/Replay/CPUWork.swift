// Model rules "One host" (docs/MODEL.md): a backend describes its I/O path as CPU work on
// contexts (a guest's vCPU, the driver domain, a guest's device model) and device service;
// a CPU executor runs the work, on the host's pCPUs under its scheduler, or, uncoupled, on
// a CPU of each context's own.

/// Where a piece of an I/O path's CPU work runs.
public struct CPUContext: Hashable, Sendable {
  public var domain: CPUDomain
  /// guest, deviceModel: the guest VM's id; driverDomain: 0.
  public var vm: UInt16
  /// guest: the vCPU; driverDomain: a vCPU of the driver domain; deviceModel: 0.
  public var vcpu: UInt16

  public init(domain: CPUDomain, vm: UInt16, vcpu: UInt16) {
    self.domain = domain
    self.vm = vm
    self.vcpu = vcpu
  }

  /// vCPU `vcpu` of guest `vm`.
  public static func guest(_ vm: UInt16, _ vcpu: UInt16) -> CPUContext {
    CPUContext(domain: .guest, vm: vm, vcpu: vcpu)
  }
}

/// CPU work a backend asks for: `ns` on `context` for channel `channel` of guest `owner`,
/// after which the backend continues with `continuation` (opaque to the executor).
public struct CPUWork: Sendable {
  public var context: CPUContext
  public var ns: UInt64
  public var channel: Int32
  /// The guest whose I/O this is (its virtualization CPU figures count the work).
  public var owner: UInt16
  /// Guest-side work of the channel's driver, which runs one piece at a time in the order
  /// asked for (model rule "the channel lock").
  public var ordered: Bool
  public var continuation: UInt64

  public init(
    context: CPUContext, ns: UInt64, channel: Int32, owner: UInt16, ordered: Bool,
    continuation: UInt64
  ) {
    self.context = context
    self.ns = ns
    self.channel = channel
    self.owner = owner
    self.ordered = ordered
    self.continuation = continuation
  }
}

/// Runs the CPU work of I/O paths.
public protocol CPUExecutor {
  /// Asks for `work` at `time`. Returns when it completes when that is known now (a CPU of
  /// its own, or no work); `nil` when the host hands the continuation back to the backend
  /// (``DeviceBackend/resume(_:channel:at:cpu:)``) once the work has run.
  mutating func run(_ work: CPUWork, at time: UInt64) -> UInt64?
}

/// Model rule "uncoupled" (docs/MODEL.md, `cpu.coupled = false`): every context has a CPU
/// of its own; a channel's guest-side work runs one piece at a time, the rest at once.
struct DedicatedCPUs: CPUExecutor {
  /// When each channel's guest driver is free.
  private var lockFree: [UInt64] = []
  /// What the contexts ran in the timeline window (model rule "timeline"), when recorded.
  var timeline = TimelineLog()

  @inline(__always)
  mutating func run(_ work: CPUWork, at time: UInt64) -> UInt64? {
    guard work.ordered else {
      let done = time.adding(saturating: work.ns)
      if timeline.enabled {
        timeline.ran(work.context, channel: work.channel, from: time, to: done)
      }
      return done
    }
    let c = Int(work.channel)
    if c >= lockFree.count {
      lockFree.append(contentsOf: repeatElement(0, count: c + 1 - lockFree.count))
    }
    let start = max(time, lockFree[c])
    let done = start.adding(saturating: work.ns)
    lockFree[c] = done
    if timeline.enabled { timeline.ran(work.context, channel: work.channel, from: start, to: done) }
    return done
  }
}
