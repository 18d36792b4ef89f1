/// A backend's own step: a continuation of one channel, as a backend's `EventQueue` holds it.
public struct ChannelStep: Sendable {
  /// The step and its value, as ``ChannelStep/pack(_:_:)`` packs them.
  public var continuation: UInt64
  public var channel: Int32

  public init(continuation: UInt64, channel: Int32) {
    self.continuation = continuation
    self.channel = channel
  }

  /// A step's number in the top byte and a 32-bit value (a request's id, a count) below.
  @inline(__always)
  public static func pack(_ step: UInt8, _ value: Int32) -> UInt64 {
    UInt64(step) << 56 | UInt64(UInt32(bitPattern: value))
  }

  /// The step number and the value of a packed continuation.
  @inline(__always)
  public static func unpack(_ continuation: UInt64) -> (step: UInt8, value: Int32) {
    (UInt8(continuation >> 56), Int32(truncatingIfNeeded: continuation))
  }
}

extension EventQueue where Payload == ChannelStep {
  /// Asks `cpu` for `work`; work that ends at once (no CPU, or CPUs of its own) has its
  /// continuation scheduled here, the rest comes back through the backend's `resume`.
  @inline(__always)
  public mutating func run<C: CPUExecutor>(_ work: CPUWork, at time: UInt64, on cpu: inout C) {
    if let done = cpu.run(work, at: time) {
      schedule(ChannelStep(continuation: work.continuation, channel: work.channel), at: done)
    }
  }
}

/// A backend whose own steps are ``ChannelStep``s in one queue, each continued by ``step``:
/// its scheduled steps and the CPU work it asked for end in the same place.
protocol SteppedBackend: DeviceBackend {
  var pending: EventQueue<ChannelStep> { get set }
  /// Continues `continuation` of channel `c` at `now`.
  mutating func step<C: CPUExecutor>(
    _ continuation: UInt64, channel c: Int, at now: UInt64, cpu: inout C)
}

extension SteppedBackend {
  var nextStepTime: UInt64 {
    @inline(__always) get { pending.nextTime }
  }

  var isIdle: Bool { pending.isEmpty }

  @inline(__always)
  mutating func runNextStep<C: CPUExecutor>(cpu: inout C) {
    let entry = pending.pop()
    step(entry.payload.continuation, channel: Int(entry.payload.channel), at: entry.time, cpu: &cpu)
  }

  @inline(__always)
  mutating func resume<C: CPUExecutor>(
    _ continuation: UInt64, channel: Int32, at time: UInt64, cpu: inout C
  ) {
    step(continuation, channel: Int(channel), at: time, cpu: &cpu)
  }
}
