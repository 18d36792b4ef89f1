// Model rules "native" (docs/MODEL.md): no hypervisor. The guest's own driver programs the
// device (a doorbell write that does not trap) and takes the device's interrupt directly:
// - N1: a request goes to the device at its issue time; a received packet reaches the NIC
//   at its time.
// - N2: the device serves it under the device rules every design shares (its queue depth,
//   service time, ordering).
// - N3: completions of a channel at the same instant share one interrupt, which completes
//   them at once.
// The driver's and the handler's own CPU time is the workload's in every design: no design
// prices it (each prices what virtualization adds), so native runs no CPU work and its
// latency is the device's service and queueing alone. It is the baseline the others'
// overheads are measured against.

/// Bare metal: the reference design.
struct NativeBackend: DeviceBackend {
  private struct Request {
    var arrival: UInt64
    var bytes: UInt32
    var op: EventOp
    var tag: UInt32
    var channel: Int32
  }

  let name = "native"
  private let model: Model
  private var pending = EventQueue<Int32>()
  private var devices: [DeviceQueue] = []
  private var requests = RequestPool<Request>()
  /// Per channel: the instant of its last interrupt (model rule N3).
  private var lastInterrupt: [UInt64?] = []
  var metrics = BackendMetrics()
  var completions = CompletionLog()

  init(model: Model) { self.model = model }

  mutating func addChannel(_ channel: Channel) {
    devices.append(DeviceQueue(servers: model.device(channel.kind).queueDepth))
    lastInterrupt.append(nil)
    metrics.channels.append(ChannelMetrics())
  }

  var nextStepTime: UInt64 {
    @inline(__always) get { pending.nextTime }
  }

  var isIdle: Bool { pending.isEmpty }

  mutating func finish() {}

  @inline(__always)
  mutating func submit<C: CPUExecutor>(
    _ event: TraceEvent, channel c: Int, at time: UInt64, tag: UInt32, cpu: inout C
  ) {
    let service = metrics.admit(event, channel: c, at: time, model: model)
    // N1, N2: straight to the device.
    let (_, done) = devices[c].serve(ready: time, service: service, ordering: event.op.isOrdering)
    let request = Request(
      arrival: time, bytes: event.bytes, op: event.op, tag: tag, channel: Int32(c))
    let id = requests.allocate(request)
    metrics.timeline.request(
      id, channel: c, op: event.op, bytes: event.bytes, at: time, phase: .device)
    pending.schedule(id, at: done)
  }

  /// N3: the device completes a request; the first completion of an instant raises the
  /// channel's interrupt.
  @inline(__always)
  mutating func runNextStep<C: CPUExecutor>(cpu: inout C) {
    let entry = pending.pop()
    let r = requests[entry.payload]
    let c = Int(r.channel)
    if lastInterrupt[c] != entry.time {
      lastInterrupt[c] = entry.time
      metrics.channels[c].interrupts &+= 1
      metrics.timeline.instant(.interrupt, channel: c, at: entry.time)
    }
    metrics.complete(c, op: r.op, bytes: r.bytes, issued: r.arrival, done: entry.time)
    metrics.timeline.complete(entry.payload, channel: c, at: entry.time)
    completions.record(r.tag, at: entry.time)
    requests.release(entry.payload)
  }

  mutating func resume<C: CPUExecutor>(
    _ continuation: UInt64, channel: Int32, at time: UInt64, cpu: inout C
  ) {}
}
