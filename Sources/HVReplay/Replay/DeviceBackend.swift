/// A virtualization design's model of the I/O path, fed by the replay engine.
///
/// Backends are interchangeable: the engine hands every backend the same chunks
/// of events, in time order, and collects per-channel metrics at the end. A new
/// design (passthrough, polling) is a new conforming type and a ``BackendKind`` case.
public protocol DeviceBackend {
  /// The name used in reports and on the command line.
  var name: String { get }
  /// Registers channel number `count` (channels arrive in index order).
  mutating func addChannel(_ channel: Channel)
  /// Replays a chunk of events in time order; `channels[i]` is the channel index
  /// of `events[i]`, or -1 for an event no device serves (cpu).
  mutating func replay(
    _ events: UnsafeBufferPointer<TraceEvent>, channels: UnsafeBufferPointer<Int32>)
  /// Runs every pending step to completion; every request completes exactly once.
  mutating func finish()
  /// What was measured, per channel (by channel index) and over every channel.
  var metrics: BackendMetrics { get }
}

/// The backends hvreplay has.
public enum BackendKind: String, CaseIterable, Sendable, CustomStringConvertible {
  /// Full virtualization: trap and emulate.
  case full
  /// Paravirtualization: Xen split drivers over shared rings.
  case para

  public var description: String { rawValue }

  /// A backend of this kind for `model`.
  func make(model: Model) -> any DeviceBackend {
    switch self {
    case .full: FullVirtualizationBackend(model: model)
    case .para: ParavirtualizationBackend(model: model)
    }
  }

  /// One line on the design.
  public var summary: String {
    switch self {
    case .full:
      "full virtualization (trap and emulate): traps, one copy and one interrupt per request"
    case .para:
      "paravirtualization (Xen shared rings): grants instead of copies, notification suppression"
    }
  }
}
