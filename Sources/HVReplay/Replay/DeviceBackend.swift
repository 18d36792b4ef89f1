/// A virtualization design's model of the I/O path, driven by a ``RequestDriver``.
///
/// Backends are interchangeable: the driver hands every backend the same requests and
/// decides when each one is issued (at its recorded time, open loop; or after the request
/// it depended on completed, closed loop), running the backend's own steps in time order in
/// between. A new design (passthrough, polling) is a new conforming type and a
/// ``BackendKind`` case.
public protocol DeviceBackend {
  /// The name used in reports and on the command line.
  var name: String { get }
  /// Registers channel number `count` (channels arrive in index order).
  mutating func addChannel(_ channel: Channel)
  /// When the earliest pending step runs, or `UInt64.max` when none is pending.
  var nextStepTime: UInt64 { get }
  /// Whether no step is pending (a step may be pending at `UInt64.max`).
  var isIdle: Bool { get }
  /// Runs the earliest pending step; its CPU work goes to `cpu`.
  mutating func runNextStep<C: CPUExecutor>(cpu: inout C)
  /// Request `event` of channel `channel` is issued at `time` (never earlier than a step
  /// already run); `tag` comes back in ``completions`` when it completes.
  mutating func submit<C: CPUExecutor>(
    _ event: TraceEvent, channel: Int, at time: UInt64, tag: UInt32, cpu: inout C)
  /// CPU work the backend asked `cpu` for, with `continuation`, completed at `time`:
  /// continue now (before the context that ran it blocks or goes on).
  mutating func resume<C: CPUExecutor>(
    _ continuation: UInt64, channel: Int32, at time: UInt64, cpu: inout C)
  /// The requests completed since the driver last emptied it, when it is enabled.
  var completions: CompletionLog { get set }
  /// After the last step: closes what runs to the end of the replay (ring occupancy).
  mutating func finish()
  /// What was measured, per channel (by channel index) and over every channel.
  var metrics: BackendMetrics { get set }
  /// The device figures of the metric registry this design reports (docs/REPORT-FORMAT.md,
  /// "Metrics"); reports leave out the rows of the others (report.md says "n/a"). By
  /// default ``Metric/commonDeviceMetrics``: a design with rings adds ``Metric/ringMetrics``.
  var reportedMetrics: [String] { get }
}

extension DeviceBackend {
  public var reportedMetrics: [String] { Metric.commonDeviceMetrics }
}

/// The requests a backend completed, by tag, for a driver that issues requests in turn.
public struct CompletionLog: Sendable {
  /// One completed request.
  public struct Entry: Sendable {
    public var tag: UInt32
    public var timeNs: UInt64
  }

  /// Off for open-loop replay, which issues nothing in response to a completion.
  var enabled = false
  var entries: [Entry] = []

  public init() {}

  /// Notes that the request tagged `tag` completed at `time`.
  @inline(__always)
  public mutating func record(_ tag: UInt32, at time: UInt64) {
    if enabled { entries.append(Entry(tag: tag, timeNs: time)) }
  }
}

/// The backends hvreplay has.
public enum BackendKind: String, CaseIterable, Sendable, CustomStringConvertible {
  /// No hypervisor: the reference design.
  case native
  /// Full virtualization: trap and emulate.
  case full
  /// Paravirtualization: Xen split drivers over shared rings.
  case para
  /// KVM with virtio and QEMU's userspace backend.
  case virtio
  /// KVM with virtio and in-kernel vhost workers.
  case vhost
  /// Device assignment (VFIO, SR-IOV): the guest drives the device.
  case passthrough

  public var description: String { rawValue }

  /// The designs replayed when `--backends` is not given: all of them, bare metal first,
  /// so that one report frames every design against native (the default baseline).
  public static let defaults: [BackendKind] = allCases

  /// A backend of this kind for `model`.
  func make(model: Model) -> any DeviceBackend {
    switch self {
    case .native: NativeBackend(model: model)
    case .full: FullVirtualizationBackend(model: model)
    case .para: ParavirtualizationBackend(model: model)
    case .virtio: ParavirtualizationBackend(model: model, design: .virtio)
    case .vhost: ParavirtualizationBackend(model: model, design: .vhost)
    case .passthrough: PassthroughBackend(model: model)
    }
  }

  /// One line on the design.
  public var summary: String {
    switch self {
    case .native:
      "native (no hypervisor): the driver programs the device, one interrupt per completion instant"
    case .full:
      "full virtualization (trap and emulate): traps, one copy and one interrupt per request"
    case .para:
      "paravirtualization (Xen shared rings): grants instead of copies, notification suppression"
    case .virtio:
      "virtio (KVM, QEMU backend): split virtqueues with EVENT_IDX, ioeventfd kicks, irqfd MSIs"
    case .vhost:
      "vhost (KVM, in-kernel backend): virtio's queues served by a kernel worker per queue"
    case .passthrough:
      "passthrough (VFIO, SR-IOV): the guest drives the device; posted interrupts, no exits"
    }
  }
}
