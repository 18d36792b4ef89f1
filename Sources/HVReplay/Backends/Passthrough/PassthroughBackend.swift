// Model rules "passthrough" (docs/MODEL.md): device assignment (VFIO, an SR-IOV virtual
// function). The guest's driver programs the device through its BARs mapped into the guest:
// - T1: submitting takes no exit. With a per-request IOMMU mapping
//   (`passthrough.iommu_map_ns` > 0: a guest vIOMMU whose map is an exit to the VMM), the
//   map runs on the issuing vCPU first, one MMIO exit; else the guest's memory is mapped
//   once, when the VM starts (VFIO's static mapping), and costs nothing per request.
// - T2: the device serves the request under the shared device rules, as for native.
// - T3: completions of a channel at the same instant share one interrupt. Posted
//   (`passthrough.posted_interrupts`, VT-d posted interrupts) it reaches the running vCPU
//   with no exit; else it is injected and the guest's EOI exits (`costs.irq_inject_ns`, one
//   EOI exit). With a per-request IOMMU mapping each request's unmap runs in the handler
//   (another exit each). The interrupt's work runs on `guest.irq_vcpu` (default the
//   issuer) and completes the batch when done.

import DequeModule

/// Device assignment: the guest drives the device itself.
struct PassthroughBackend: SteppedBackend {
  private struct Request {
    var arrival: UInt64
    var service: UInt64
    var bytes: UInt32
    var op: EventOp
    var vcpu: UInt16
    var tag: UInt32
  }

  /// A step of the backend: the request's IOMMU map ended, the device finished, the
  /// interrupt is taken, or its work ended (the value: how many requests it completes).
  private enum Step: UInt8 { case mapped, deviceDone, interrupt, handled }

  let name = "passthrough"
  private let model: Model
  private let mapNs: UInt64
  private let posted: Bool
  var pending = EventQueue<ChannelStep>()
  private var devices: [DeviceQueue] = []
  private var vms: [UInt16] = []
  private var requests = RequestPool<Request>()
  /// Per channel: completions of the current instant, and those whose interrupt runs.
  private var batch: [Deque<Int32>] = []
  private var delivering: [Deque<Int32>] = []
  /// Per channel: whether an interrupt is being taken (raised and its work not done).
  private var taking: [Bool] = []
  var metrics = BackendMetrics()
  var completions = CompletionLog()

  init(model: Model) {
    self.model = model
    mapNs = model.passthrough.iommuMapNs
    posted = model.passthrough.postedInterrupts
  }

  mutating func addChannel(_ channel: Channel) {
    devices.append(DeviceQueue(servers: model.device(channel.kind).queueDepth))
    vms.append(channel.vm)
    batch.append(Deque())
    delivering.append(Deque())
    taking.append(false)
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
        tag: tag))
    let maps = mapNs > 0 && Self.maps(event.op, event.bytes) && event.op != .rx
    metrics.timeline.request(
      id, channel: c, op: event.op, bytes: event.bytes, at: time, phase: maps ? .driver : .device)
    // T1: with a per-request IOMMU mapping a request with a payload maps it first, on its
    // vCPU (a received packet's buffer was mapped when it was posted; flushes, barriers
    // and discards carry none).
    guard maps else {
      device(c, id, at: time)
      return
    }
    metrics.channels[c].exitsMMIO &+= 1
    metrics.timeline.instant(.exitMMIO, channel: c, at: time)
    metrics.channels[c].overheadNs.add(saturating: mapNs)
    let work = CPUWork(
      context: .guest(vms[c], event.vcpu), ns: mapNs, channel: Int32(c), owner: vms[c],
      ordered: true, continuation: Self.pack(.mapped, id))
    if let done = cpu.run(work, at: time) { mapped(c, id, at: done) }
  }

  @inline(__always)
  mutating func step<C: CPUExecutor>(
    _ packed: UInt64, channel c: Int, at now: UInt64, cpu: inout C
  ) {
    let (step, value) = ChannelStep.unpack(packed)
    switch Step(rawValue: step)! {
    case .mapped: mapped(c, value, at: now)
    case .deviceDone: deviceDone(c, value, at: now)
    case .interrupt: interrupt(c, at: now, raised: true, cpu: &cpu)
    case .handled:
      for _ in 0..<value { complete(c, delivering[c].removeFirst(), at: now) }
      // The handler reads the completion queue until it is empty: completions posted while
      // the interrupt was taken are handled in the same run, with no interrupt of their own.
      if batch[c].isEmpty {
        taking[c] = false
      } else {
        interrupt(c, at: now, raised: false, cpu: &cpu)
      }
    }
  }

  /// T1 done: the mapping's work ran (its last `mapNs` before `time`).
  private mutating func mapped(_ c: Int, _ id: Int32, at time: UInt64) {
    metrics.timeline.phase(id, channel: c, .submit, at: time &- mapNs)
    device(c, id, at: time)
  }

  /// T2: the device serves the request.
  private mutating func device(_ c: Int, _ id: Int32, at time: UInt64) {
    let r = requests[id]
    metrics.timeline.phase(id, channel: c, .device, at: time)
    let (_, done) = devices[c].serve(ready: time, service: r.service, ordering: r.op.isOrdering)
    pending.schedule(
      ChannelStep(continuation: Self.pack(.deviceDone, id), channel: Int32(c)), at: done)
  }

  /// T3: the first completion of an instant raises the channel's interrupt; the others of
  /// the instant share it.
  private mutating func deviceDone(_ c: Int, _ id: Int32, at now: UInt64) {
    // An interrupt already being taken covers it (its handler reads the queue to the end).
    let first = batch[c].isEmpty && !taking[c]
    batch[c].append(id)
    metrics.timeline.phase(id, channel: c, .interrupt, at: now)
    guard first else { return }
    metrics.channels[c].interrupts &+= 1
    metrics.timeline.instant(.interrupt, channel: c, at: now)
    // The interrupt is taken once every completion of this instant has joined it.
    pending.schedule(
      ChannelStep(continuation: Self.pack(.interrupt, 0), channel: Int32(c)), at: now)
  }

  /// The interrupt of this instant's completions: posted, it costs nothing; injected, its
  /// EOI exits; a per-request IOMMU mapping unmaps each request (an exit each).
  private mutating func interrupt<C: CPUExecutor>(
    _ c: Int, at now: UInt64, raised: Bool, cpu: inout C
  ) {
    taking[c] = true
    let n = batch[c].count
    let first = batch[c][0]
    delivering[c].append(contentsOf: batch[c])
    batch[c].removeAll(keepingCapacity: true)
    var cost: UInt64 = 0
    if raised && !posted {
      cost &+= model.costs.irqInjectNs
      metrics.channels[c].exitsEOI &+= 1
      metrics.timeline.instant(.exitEOI, channel: c, at: now)
    }
    if metrics.timeline.enabled {
      for id in delivering[c].suffix(n) {
        metrics.timeline.phase(id, channel: c, .completion, at: now)
      }
    }
    // Each payload's unmap; a received packet's buffer is unmapped and a fresh one mapped
    // and posted in its place.
    let unmaps = delivering[c].suffix(n).reduce(0) { sum, id in
      let r = requests[id]
      return sum + (Self.maps(r.op, r.bytes) ? (r.op == .rx ? 2 : 1) : 0)
    }
    if mapNs > 0 && unmaps > 0 {
      cost &+= UInt64(unmaps) &* mapNs
      metrics.channels[c].exitsMMIO &+= UInt64(unmaps)
      metrics.timeline.instant(.exitMMIO, channel: c, at: now, count: UInt64(unmaps))
    }
    metrics.channels[c].overheadNs.add(saturating: cost)
    let vcpu = model.guest.irqVCPU ?? requests[first].vcpu
    let work = CPUWork(
      context: .guest(vms[c], vcpu), ns: cost, channel: Int32(c), owner: vms[c], ordered: true,
      continuation: Self.pack(.handled, Int32(n)))
    pending.run(work, at: now, on: &cpu)
  }

  private mutating func complete(_ c: Int, _ id: Int32, at now: UInt64) {
    let r = requests[id]
    metrics.complete(c, op: r.op, bytes: r.bytes, issued: r.arrival, done: now)
    metrics.timeline.complete(id, channel: c, at: now)
    completions.record(r.tag, at: now)
    requests.release(id)
  }

  /// Whether a request of `op` with `bytes` of payload has DMA to map: flushes, barriers
  /// and discards carry no data (shared rules 3 and 8).
  @inline(__always)
  private static func maps(_ op: EventOp, _ bytes: UInt32) -> Bool {
    bytes > 0 && op != .flush && op != .barrier && op != .discard
  }

  /// A step and its value as a continuation.
  @inline(__always)
  private static func pack(_ step: Step, _ value: Int32) -> UInt64 {
    ChannelStep.pack(step.rawValue, value)
  }
}
