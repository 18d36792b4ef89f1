// Model rules "full virtualization" (docs/MODEL.md): the guest's unmodified driver
// programs an emulated controller; every register access traps (Sugerman et al.,
// USENIX ATC 2001). Submitting costs `submit_traps` traps; the payload is copied
// once (writes and tx before the device, reads and rx after it); each completion
// injects one interrupt and the guest's handler costs `completion_traps` traps.
// No batching, no coalescing. Interrupt delivery is guest-side work on the driver's
// serial timeline, as in paravirtualization ("interrupt delivery"); so are the emulation's
// copies, which run in the context of the vCPU it emulates the device for.

/// Trap-and-emulate device virtualization.
struct FullVirtualizationBackend: DeviceBackend {
  private struct Completion {
    var arrival: UInt64
    var bytes: UInt32
    var op: EventOp
    var channel: Int32
    var tag: UInt32
  }

  let name = "full"
  private let model: Model
  private var pending = EventQueue<Completion>()
  /// When each channel's guest driver is free (its work is serialized, as under the driver lock).
  private var guestFree: [UInt64] = []
  private var devices: [DeviceQueue] = []
  private var kinds: [EventKind] = []
  private(set) var metrics = BackendMetrics()
  var completions = CompletionLog()

  init(model: Model) { self.model = model }

  mutating func addChannel(_ channel: Channel) {
    guestFree.append(0)
    devices.append(DeviceQueue(servers: model.device(channel.kind).queueDepth))
    kinds.append(channel.kind)
    metrics.channels.append(ChannelMetrics())
  }

  mutating func replay(
    _ events: UnsafeBufferPointer<TraceEvent>, channels: UnsafeBufferPointer<Int32>,
    driver: inout RequestDriver
  ) {
    driver.feed(events, channels: channels, into: &self)
  }

  mutating func finish(driver: inout RequestDriver) { driver.drain(&self) }

  var nextStepTime: UInt64 {
    @inline(__always) get { pending.nextTime }
  }

  var isIdle: Bool { pending.isEmpty }

  @inline(__always)
  mutating func runNextStep() { complete(pending.pop()) }

  @inline(__always)
  mutating func submit(_ event: TraceEvent, channel c: Int, at time: UInt64, tag: UInt32) {
    let kind = kinds[c]
    var ready = time
    metrics.issue(c, at: time)
    if event.op != .rx {
      // The guest programs the emulated controller: each register access traps.
      let traps = model.traps(kind).submitTraps
      let copy = Self.copiesBeforeDevice(event.op) ? model.copyNs(UInt64(event.bytes)) : 0
      let cost = traps &* model.costs.trapNs &+ copy
      let start = max(ready, guestFree[c])
      ready = start.adding(saturating: cost)
      guestFree[c] = ready
      metrics.channels[c].submitTraps &+= traps
      metrics.channels[c].notificationsSent &+= 1  // the doorbell register write
      if Self.copiesBeforeDevice(event.op) {
        metrics.channels[c].bytesCopied &+= UInt64(event.bytes)
      }
      metrics.channels[c].overheadNs.add(saturating: cost)
    }
    let service =
      event.serviceNs != 0 ? event.serviceNs : metrics.assumed(c, model.serviceNs(for: event))
    let (_, done) = devices[c].serve(ready: ready, service: service, ordering: event.op.isOrdering)
    pending.schedule(
      Completion(arrival: time, bytes: event.bytes, op: event.op, channel: Int32(c), tag: tag),
      at: done)
  }

  @inline(__always)
  private mutating func complete(_ entry: EventQueue<Completion>.Entry) {
    let r = entry.payload
    let c = Int(r.channel)
    // The hypervisor copies read and received data into the guest, injects one
    // interrupt, and the guest's handler reads status and acknowledges (traps).
    let copies = r.op == .read || r.op == .rx
    let copy = copies ? model.copyNs(UInt64(r.bytes)) : 0
    let traps = model.traps(kinds[c]).completionTraps
    let cost = copy &+ model.costs.irqInjectNs &+ traps &* model.costs.trapNs
    let end = max(entry.time, guestFree[c]).adding(saturating: cost)
    guestFree[c] = end
    metrics.channels[c].completionTraps &+= traps
    metrics.channels[c].interrupts &+= 1
    metrics.channels[c].notificationsSent &+= 1
    if copies { metrics.channels[c].bytesCopied &+= UInt64(r.bytes) }
    metrics.channels[c].overheadNs.add(saturating: cost)
    metrics.complete(c, op: r.op, bytes: r.bytes, issued: r.arrival, done: end)
    completions.record(r.tag, at: end)
  }

  /// Whether an op's payload is copied before the device (writes and transmits).
  @inline(__always)
  static func copiesBeforeDevice(_ op: EventOp) -> Bool { op == .write || op == .tx }
}
