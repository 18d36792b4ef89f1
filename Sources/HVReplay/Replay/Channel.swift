/// One stream of requests of a guest's virtual device: a disk, or one direction of a NIC.
///
/// Each channel has its own FIFO device queue and, in paravirtualization, its own ring
/// (Xen: one blkif ring per disk; netif has separate tx and rx rings).
public struct Channel: Hashable, Sendable, Comparable {
  public var vm: UInt16
  public var kind: EventKind
  public var device: UInt16
  /// `true` for a NIC's receive direction.
  public var receive: Bool

  public init(vm: UInt16, kind: EventKind, device: UInt16, receive: Bool) {
    self.vm = vm
    self.kind = kind
    self.device = device
    self.receive = receive
  }

  /// The channel `event` belongs to.
  @inlinable
  public init(_ event: TraceEvent) {
    self.init(vm: event.vm, kind: event.kind, device: event.device, receive: event.op == .rx)
  }

  /// A dense number for hashing: vm, kind, direction, device.
  @inlinable
  var packed: UInt64 {
    UInt64(vm) << 32 | UInt64(kind.rawValue) << 24 | (receive ? 1 << 16 : 0) | UInt64(device)
  }

  /// The device name used in reports: `disk0`, `net1`.
  public var deviceName: String { "\(kind)\(device)" }

  /// The channel's name in reports: `disk0`, `net0.tx`, `net0.rx`.
  public var name: String { kind == .net ? "\(deviceName).\(receive ? "rx" : "tx")" : deviceName }

  public static func < (a: Channel, b: Channel) -> Bool { a.packed < b.packed }
}

/// Assigns dense indices to channels as the trace reveals them.
struct ChannelTable {
  private var indices: [UInt64: Int32] = [:]
  private var lastKey: UInt64 = .max
  private var lastIndex: Int32 = -1
  /// The channels in order of first appearance.
  private(set) var channels: [Channel] = []

  /// The index of `event`'s channel, and whether it is new.
  @inline(__always)
  mutating func index(of event: TraceEvent) -> (index: Int32, isNew: Bool) {
    let key = Channel(event).packed
    if key == lastKey { return (lastIndex, false) }
    lastKey = key
    if let found = indices[key] {
      lastIndex = found
      return (found, false)
    }
    let index = Int32(channels.count)
    indices[key] = index
    channels.append(Channel(event))
    lastIndex = index
    return (index, true)
  }
}
