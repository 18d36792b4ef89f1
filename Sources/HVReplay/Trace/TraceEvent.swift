/// One guest activity of a trace (trace event version 1).
///
/// Every trace file format, native or CSV, is a stream of these events in
/// non-decreasing ``timeNs`` order. `docs/TRACE-FORMAT.md` defines each field.
public struct TraceEvent: Hashable, Sendable {
  /// Nanoseconds since the start of the trace at which the guest issues the
  /// request (disk, net tx), the packet reaches the host (net rx), or the vCPU
  /// becomes runnable (cpu).
  public var timeNs: UInt64
  /// Byte offset on the disk; 0 for net and cpu.
  public var offset: UInt64
  /// Disk and net: the device's recorded service time in nanoseconds, 0 meaning
  /// "use the model's default". CPU: the length of the burst of work in nanoseconds.
  public var serviceNs: UInt64
  /// Payload size in bytes; 0 for flush, barrier and cpu.
  public var bytes: UInt32
  /// Guest id.
  public var vm: UInt16
  /// The guest's virtual CPU that issued the event.
  public var vcpu: UInt16
  /// Device index within the VM and kind (disk 0, disk 1, net 0, ...).
  public var device: UInt16
  /// The recording's issuing process plus one, for recordings that name it (blktrace,
  /// blkparse); 0 when it does not, and the request's stream is its (vm, vcpu). Not part of
  /// the native and CSV formats.
  public var stream: UInt32
  /// The operation; its kind is ``EventOp/kind``.
  public var op: EventOp

  /// The kind of device or resource the event uses.
  @inlinable public var kind: EventKind { op.kind }

  @inlinable
  public init(
    timeNs: UInt64, vm: UInt16, vcpu: UInt16 = 0, op: EventOp, device: UInt16 = 0,
    offset: UInt64 = 0, bytes: UInt32 = 0, serviceNs: UInt64 = 0, stream: UInt32 = 0
  ) {
    self.timeNs = timeNs
    self.offset = offset
    self.serviceNs = serviceNs
    self.bytes = bytes
    self.vm = vm
    self.vcpu = vcpu
    self.device = device
    self.op = op
    self.stream = stream
  }
}

/// The kind of an event: which device class or resource it uses.
public enum EventKind: UInt8, CaseIterable, Sendable, CustomStringConvertible {
  case disk = 0
  case net = 1
  case cpu = 2

  /// The name used in CSV traces and reports.
  public var description: String {
    switch self {
    case .disk: "disk"
    case .net: "net"
    case .cpu: "cpu"
    }
  }

  /// The operations that belong to this kind.
  public var ops: [EventOp] { EventOp.allCases.filter { $0.kind == self } }
}

/// The operation of an event. Each operation belongs to exactly one ``EventKind``.
///
/// The raw values are the `op` codes of the native binary format.
public enum EventOp: UInt8, CaseIterable, Sendable, CustomStringConvertible {
  case read = 0
  case write = 1
  case flush = 2
  case barrier = 3
  case discard = 4
  case tx = 5
  case rx = 6
  case burst = 7

  /// The kind this operation belongs to.
  @inlinable public var kind: EventKind {
    switch self {
    case .read, .write, .flush, .barrier, .discard: .disk
    case .tx, .rx: .net
    case .burst: .cpu
    }
  }

  /// Whether the event of this op carries no payload (`bytes` must be 0).
  @inlinable public var hasNoPayload: Bool {
    switch self {
    case .flush, .barrier, .burst: true
    default: false
    }
  }

  /// Whether this op orders the device queue (blkif barrier semantics).
  @inlinable public var isOrdering: Bool { self == .flush || self == .barrier }

  /// The name used in CSV traces and reports.
  public var description: String {
    switch self {
    case .read: "read"
    case .write: "write"
    case .flush: "flush"
    case .barrier: "barrier"
    case .discard: "discard"
    case .tx: "tx"
    case .rx: "rx"
    case .burst: "burst"
    }
  }
}

extension TraceEvent {
  /// Why an event breaks a rule of the trace event definition, or `nil` when it is valid.
  ///
  /// The kind is implied by the op, so the op/kind pairing is checked by the readers.
  @inlinable
  public var violation: String? {
    if op.hasNoPayload && bytes != 0 {
      return "bytes must be 0 for \(op.kind) \(op), found \(bytes)"
    }
    if op.kind != .disk && offset != 0 {
      return "offset must be 0 for \(op.kind) events, found \(offset)"
    }
    return nil
  }
}
