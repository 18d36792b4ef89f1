// Model rules "full virtualization" (docs/MODEL.md): the guest's unmodified driver
// programs an emulated controller; every register access traps (Sugerman et al.,
// USENIX ATC 2001). On the host (docs/MODEL.md, "One host"), step by step:
// - F1: submitting costs `submit_traps` traps on the issuing vCPU (KVM runs the exit's
//   emulation in the vCPU's thread), plus the copy of a write's or packet's payload where
//   the emulated device copies (`full.<kind>.copy`).
// - F2: the emulated controller holds `full.<kind>.emulated_queue_depth` commands; a
//   request beyond them waits in the guest (a queue-full stall) and is submitted when one
//   completes. Received packets go to the NIC at their issue time.
// - F3: once the device is done, the device model (the guest's emulator thread) copies
//   read or received data where the device copies, and spends `full.device_model_ns`.
// - F4: the device model raises the interrupt, no sooner than `full.<kind>.irq_interval_ns`
//   after its last one (interrupt throttling; completions in between share it). The
//   interrupt (with its EOI exit, `irq_inject_ns`) and the handler's `completion_traps` run
//   on the vCPU that takes it (`guest.irq_vcpu`); then its requests complete and their
//   emulated slots free.
// A channel's guest-side work runs one piece at a time ("the channel lock").

import DequeModule

/// Trap-and-emulate device virtualization.
struct FullVirtualizationBackend: SteppedBackend {
  private enum Step: UInt8 {
    /// F1 done: the controller has the command; it goes to the device.
    case submitted
    /// The device finished.
    case deviceDone
    /// F3 done: the device model has the completion.
    case emulated
    /// The throttled interrupt is raised.
    case fire
    /// F4 done: the guest's handler has read the status (the value: how many requests).
    case completed
  }

  private struct Request {
    var arrival: UInt64
    var service: UInt64
    var bytes: UInt32
    var op: EventOp
    var vcpu: UInt16
    var tag: UInt32
    /// When it began waiting for the emulated controller, or `UInt64.max`.
    var stalledSince: UInt64
  }

  /// A channel's emulated controller.
  private struct Controller {
    let kind: EventKind
    let vm: UInt16
    let receive: Bool
    /// Commands the controller holds, and the requests waiting in the guest for room.
    var outstanding: UInt64 = 0
    var waiting = Deque<Int32>()
    /// Completions waiting for the next interrupt, and those whose interrupt the guest is
    /// taking.
    var batch = Deque<Int32>()
    var delivering = Deque<Int32>()
    var irqScheduled = false
    /// When the last interrupt was raised, if one was.
    var lastIrq: UInt64?
  }

  let name = "full"
  private let model: Model
  private let costs: Model.Costs
  var pending = EventQueue<ChannelStep>()
  private var controllers: [Controller] = []
  private var devices: [DeviceQueue] = []
  private var requests = RequestPool<Request>()
  var metrics = BackendMetrics()
  var completions = CompletionLog()

  init(model: Model) {
    self.model = model
    costs = model.costs
  }

  mutating func addChannel(_ channel: Channel) {
    controllers.append(Controller(kind: channel.kind, vm: channel.vm, receive: channel.receive))
    devices.append(DeviceQueue(servers: model.device(channel.kind).queueDepth))
    metrics.channels.append(ChannelMetrics())
  }

  mutating func finish() {}

  @inline(__always)
  mutating func submit<C: CPUExecutor>(
    _ event: TraceEvent, channel c: Int, at time: UInt64, tag: UInt32, cpu: inout C
  ) {
    let service = metrics.admit(event, channel: c, at: time, model: model)
    let id = requests.allocate(
      Request(
        arrival: time, service: service, bytes: event.bytes, op: event.op, vcpu: event.vcpu,
        tag: tag, stalledSince: .max))
    let receive = controllers[c].receive
    let room = controllers[c].outstanding < model.traps(controllers[c].kind).emulatedQueueDepth
    metrics.timeline.request(
      id, channel: c, op: event.op, bytes: event.bytes, at: time,
      phase: receive ? .device : room ? .driver : .slotWait)
    if receive {
      // A packet reaches the host NIC at its time.
      let (_, done) = devices[c].serve(ready: time, service: service, ordering: false)
      pending.schedule(
        ChannelStep(continuation: Self.pack(.deviceDone, id), channel: Int32(c)), at: done)
      return
    }
    if room {
      controllers[c].outstanding += 1
      program(c, id, at: time, cpu: &cpu)
    } else {
      requests[id].stalledSince = time
      metrics.channels[c].ringFullStalls &+= 1
      controllers[c].waiting.append(id)
    }
  }

  // MARK: Steps

  @inline(__always)
  mutating func step<C: CPUExecutor>(
    _ packed: UInt64, channel c: Int, at now: UInt64, cpu: inout C
  ) {
    let (step, id) = ChannelStep.unpack(packed)
    switch Step(rawValue: step)! {
    case .submitted:
      let r = requests[id]
      if metrics.timeline.enabled {
        metrics.timeline.phase(id, channel: c, .submit, at: now &- submitCost(c, r))
        metrics.timeline.phase(id, channel: c, .device, at: now)
      }
      let (_, done) = devices[c].serve(ready: now, service: r.service, ordering: r.op.isOrdering)
      pending.schedule(
        ChannelStep(continuation: Self.pack(.deviceDone, id), channel: Int32(c)), at: done)
    case .deviceDone:
      metrics.timeline.phase(id, channel: c, .backend, at: now)
      emulate(c, id, at: now, cpu: &cpu)
    case .emulated:
      metrics.timeline.phase(id, channel: c, .interrupt, at: now)
      raise(c, id, at: now, cpu: &cpu)
    case .fire: fire(c, at: now, cpu: &cpu)
    case .completed:
      for _ in 0..<id { complete(c, controllers[c].delivering.removeFirst(), at: now, cpu: &cpu) }
    }
  }

  /// F1: the guest programs the emulated controller; each register access traps.
  private mutating func program<C: CPUExecutor>(
    _ c: Int, _ id: Int32, at time: UInt64, cpu: inout C
  ) {
    let r = requests[id]
    let device = model.traps(controllers[c].kind)
    let copies = device.copy && (r.op == .write || r.op == .tx)
    let cost = submitCost(c, r)
    metrics.channels[c].submitTraps &+= device.submitTraps
    countTrapExits(c, device.submitTraps, at: time)
    metrics.channels[c].notificationsSent &+= 1  // the doorbell register write
    metrics.timeline.instant(.notification, channel: c, at: time)
    if copies { metrics.channels[c].bytesCopied &+= UInt64(r.bytes) }
    metrics.channels[c].overheadNs.add(saturating: cost)
    let work = CPUWork(
      context: .guest(controllers[c].vm, r.vcpu), ns: cost, channel: Int32(c),
      owner: controllers[c].vm, ordered: true, continuation: Self.pack(.submitted, id))
    pending.run(work, at: time, on: &cpu)
  }

  /// F1's work for request `r` of channel `c`: its traps, and its payload's copy where the
  /// emulated device copies.
  @inline(__always)
  private func submitCost(_ c: Int, _ r: Request) -> UInt64 {
    let device = model.traps(controllers[c].kind)
    let copies = device.copy && (r.op == .write || r.op == .tx)
    return device.submitTraps &* costs.trapNs &+ (copies ? model.copyNs(UInt64(r.bytes)) : 0)
  }

  /// F3: the device model completes the request and raises the interrupt.
  private mutating func emulate<C: CPUExecutor>(
    _ c: Int, _ id: Int32, at now: UInt64, cpu: inout C
  ) {
    let r = requests[id]
    let copies = model.traps(controllers[c].kind).copy && (r.op == .read || r.op == .rx)
    let copy = copies ? model.copyNs(UInt64(r.bytes)) : 0
    if copies { metrics.channels[c].bytesCopied &+= UInt64(r.bytes) }
    let cost = copy &+ model.full.deviceModelNs
    metrics.channels[c].overheadNs.add(saturating: cost)
    let vm = controllers[c].vm
    let work = CPUWork(
      context: CPUContext(domain: .deviceModel, vm: vm, vcpu: 0), ns: cost, channel: Int32(c),
      owner: vm, ordered: false, continuation: Self.pack(.emulated, id))
    pending.run(work, at: now, on: &cpu)
  }

  /// The completion waits for the device's next interrupt (model rule "interrupt
  /// throttling"): at once without throttling, else no sooner than the interval after the
  /// last one.
  private mutating func raise<C: CPUExecutor>(
    _ c: Int, _ id: Int32, at now: UInt64, cpu: inout C
  ) {
    controllers[c].batch.append(id)
    let interval = model.traps(controllers[c].kind).irqIntervalNs
    guard interval > 0 else {
      fire(c, at: now, cpu: &cpu)
      return
    }
    guard !controllers[c].irqScheduled else { return }
    controllers[c].irqScheduled = true
    let at = controllers[c].lastIrq.map { max(now, $0.adding(saturating: interval)) } ?? now
    pending.schedule(
      ChannelStep(continuation: Self.pack(.fire, 0), channel: Int32(c)), at: at)
  }

  /// The device raises its interrupt for every completion waiting for one.
  private mutating func fire<C: CPUExecutor>(_ c: Int, at now: UInt64, cpu: inout C) {
    controllers[c].irqScheduled = false
    controllers[c].lastIrq = now
    let first = controllers[c].batch[0]
    let n = controllers[c].batch.count
    if metrics.timeline.enabled {
      for id in controllers[c].batch {
        metrics.timeline.phase(id, channel: c, .completion, at: now)
      }
    }
    controllers[c].delivering.append(contentsOf: controllers[c].batch)
    controllers[c].batch.removeAll(keepingCapacity: true)
    interrupt(c, first, count: Int32(n), at: now, cpu: &cpu)
  }

  /// F4: the guest takes the interrupt (its EOI exit) and its handler reads the status.
  private mutating func interrupt<C: CPUExecutor>(
    _ c: Int, _ id: Int32, count: Int32, at now: UInt64, cpu: inout C
  ) {
    let traps = model.traps(controllers[c].kind).completionTraps
    let cost = costs.irqInjectNs &+ traps &* costs.trapNs
    metrics.channels[c].completionTraps &+= traps
    countTrapExits(c, traps, at: now)
    metrics.channels[c].exitsEOI &+= 1
    metrics.channels[c].interrupts &+= 1
    metrics.channels[c].notificationsSent &+= 1
    metrics.timeline.instant(.interrupt, channel: c, at: now)
    metrics.timeline.instant(.exitEOI, channel: c, at: now)
    metrics.channels[c].overheadNs.add(saturating: cost)
    let vm = controllers[c].vm
    let vcpu = model.guest.irqVCPU ?? requests[id].vcpu
    let work = CPUWork(
      context: .guest(vm, vcpu), ns: cost, channel: Int32(c), owner: vm, ordered: true,
      continuation: Self.pack(.completed, count))
    pending.run(work, at: now, on: &cpu)
  }

  /// The request completes; its emulated slot takes the next request waiting in the guest.
  private mutating func complete<C: CPUExecutor>(
    _ c: Int, _ id: Int32, at now: UInt64, cpu: inout C
  ) {
    let r = requests[id]
    metrics.complete(c, op: r.op, bytes: r.bytes, issued: r.arrival, done: now)
    metrics.timeline.complete(id, channel: c, at: now)
    completions.record(r.tag, at: now)
    requests.release(id)
    guard !controllers[c].receive else { return }
    if let next = controllers[c].waiting.popFirst() {
      metrics.channels[c].ringFullNs.add(saturating: now - requests[next].stalledSince)
      metrics.timeline.phase(next, channel: c, .driver, at: now)
      program(c, next, at: now, cpu: &cpu)
    } else {
      controllers[c].outstanding -= 1
    }
  }

  /// Exits by reason (docs/MODEL.md, "Exits by reason"): IDE's taskfile, bus-master and
  /// status registers are I/O ports; e1000's registers are in its MMIO BAR.
  @inline(__always)
  private mutating func countTrapExits(_ c: Int, _ n: UInt64, at time: UInt64) {
    if controllers[c].kind == .net {
      metrics.channels[c].exitsMMIO &+= n
      metrics.timeline.instant(.exitMMIO, channel: c, at: time, count: n)
    } else {
      metrics.channels[c].exitsPIO &+= n
      metrics.timeline.instant(.exitPIO, channel: c, at: time, count: n)
    }
  }

  // MARK: Requests

  /// A step and its request (or count) as a continuation.
  @inline(__always)
  private static func pack(_ step: Step, _ id: Int32) -> UInt64 {
    ChannelStep.pack(step.rawValue, id)
  }

}
