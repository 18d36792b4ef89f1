// Model rules "paravirtualization" (docs/MODEL.md), after Xen's split drivers, and where
// each step runs on the host (docs/MODEL.md, "One host"):
// - P1: the frontend writes one ring slot per request (blkif, netif tx) on the vCPU of the
//   first waiting request; a request finding `ring_entries` requests outstanding waits in
//   the guest (a ring-full stall). Requests of one channel arriving at the same instant
//   are one batch, pushed once.
// - P2: the push notifies the backend (a hypercall, same vCPU) only under
//   RING_PUSH_REQUESTS_AND_CHECK_NOTIFY.
// - P3: the backend runs in the driver domain (dom0), on its vCPU `ring % backend.vcpus`.
//   Woken (`backend_wakeup_ns`), it consumes the published requests one by one, maps one
//   grant per 4 KiB page (no copy; netback grant-copies the first 128 bytes of a tx
//   packet), dispatches each, and with nothing left runs RING_FINAL_CHECK_FOR_REQUESTS
//   (arms req_event = req_cons + 1, looks again) and sleeps.
// - P4: completions at one instant are one response push by the backend (dom0).
// - P5: the guest is interrupted only under the rsp_event rule; the interrupt (its EOI
//   exit) runs on the vCPU that takes it (`guest.irq_vcpu`, default the batch's issuer).
// - P6: the handler it wakes consumes every published response (same vCPU; rx: at most
//   `para.net_napi_budget` per NAPI poll), then runs RING_FINAL_CHECK_FOR_RESPONSES.
// - netif rx: the guest keeps the rx ring stocked with posted buffers; a received packet
//   wakes netback, needs a posted buffer (or waits: a ring-full stall), is grant-copied
//   into it (`grant_copy_rx_ns`), and is delivered by a response as above. Its latency ends
//   when the guest has read it; the handler reposts the buffers it read once it is done,
//   and notifies netback when packets wait for buffers (netback armed req_event).
// - With notify_suppression false every push notifies and every response push interrupts.
// - Ring occupancy (for rx: filled buffers not yet read) runs from a ring's first push to
//   the backend's last completion on any ring.
// A channel's guest-side work runs one piece at a time ("the channel lock").

import DequeModule

/// Paravirtualized I/O over shared rings: Xen's split drivers, or virtio's split
/// virtqueues with QEMU's userspace backend or vhost (docs/MODEL.md, "virtio and vhost").
struct ParavirtualizationBackend: DeviceBackend {
  /// Which shared-ring design: the same protocol (producer and consumer indices, event
  /// indices armed before sleeping) with each design's notifications, backend and copies.
  enum Design: Sendable {
    /// Xen: blkfront/netfront and blkback/netback in the driver domain; grants.
    case xen
    /// KVM and QEMU: virtio-blk and virtio-net served by the guest's QEMU (its device model
    /// context); kicks are exits caught by ioeventfd, interrupts irqfd MSIs.
    case virtio
    /// KVM and vhost: the same virtqueues served by an in-kernel worker per queue.
    case vhost
  }

  /// A step of the simulation.
  private enum Step: UInt8 {
    case push, publishRequests, notified, backendRun, mapped
    case deviceDone, respond, publishResponses, guestHandler, handled, guestCheck
    /// rx: the guest's notification that it posted buffers reached netback.
    case refilled
    /// vhost: a busy poll's timeout (the value: the poll's number).
    case pollEnd
    /// Work whose end starts nothing (an interrupt the running handler absorbs).
    case none
  }

  /// A step of ring `ring`: `vcpu` is the guest vCPU the step's guest-side work runs on,
  /// `value` a request id or a slot count.
  private struct Scheduled {
    var step: Step
    var ring: Int32
    var vcpu: UInt16 = 0
    var value: Int32 = 0

    /// As a ``CPUWork`` continuation: the step in the top byte, the vCPU, the value.
    var continuation: UInt64 {
      UInt64(step.rawValue) << 56 | UInt64(vcpu) << 32 | UInt64(UInt32(bitPattern: value))
    }

    init(step: Step, ring: Int32, vcpu: UInt16 = 0, value: Int32 = 0) {
      self.step = step
      self.ring = ring
      self.vcpu = vcpu
      self.value = value
    }

    init(continuation c: UInt64, ring: Int32) {
      step = Step(rawValue: UInt8(c >> 56))!
      self.ring = ring
      vcpu = UInt16(truncatingIfNeeded: c >> 32)
      value = Int32(truncatingIfNeeded: c)
    }
  }

  private enum Side: UInt8 { case asleep, waking, running, polling }

  /// The state of one ring and the two ends that share it.
  private struct Ring {
    let size: UInt32
    let kind: EventKind
    let receive: Bool
    let vm: UInt16
    /// The context that runs the ring's backend: a driver-domain vCPU (Xen), the guest's
    /// device model (QEMU), or a vhost worker.
    let backend: CPUContext
    // Shared indices (ring.h), free-running.
    var reqProd: UInt32 = 0
    var reqEvent = XenRingRules.initialEvent
    var rspProd: UInt32 = 0
    var rspEvent = XenRingRules.initialEvent
    // Private indices.
    var reqCons: UInt32 = 0
    var rspCons: UInt32 = 0
    /// Requests holding a slot whose response the guest has not consumed; for rx, filled
    /// buffers the guest has not yet replaced by posting a fresh one.
    var outstanding: UInt32 = 0
    /// Requests not yet given a slot (arrived this instant, or stalled on a full ring);
    /// for rx, packets the device delivered that wait for a posted buffer.
    var waiting = Deque<Int32>()
    /// How many of `waiting`'s first entries are already counted as ring-full stalls (the
    /// counted ones are always a prefix: entries join at the back and leave at the front).
    var stalledPrefix = 0
    /// Requests written to slots, not yet consumed by the backend.
    var written = Deque<Int32>()
    /// Responses (request ids) the guest has not consumed: the first `rspProd - rspCons`
    /// are published; then come those written but not yet published; then, last,
    /// `completedNow` requests that completed this instant and wait for their response push.
    var responses = Deque<Int32>()
    var completedNow = 0
    var pushScheduled = false
    var respondScheduled = false
    var backendSide = Side.asleep
    var handler = Side.asleep
    /// Responses the running handler is reading (consumed, not yet handled).
    var handling: UInt32 = 0
    /// vhost's busy poll: when the current one began, and its number.
    var pollSince: UInt64 = 0
    var polls: Int32 = 0
    /// The occupancy as its changes are dated: slots written and not read back (rx: filled
    /// buffers not yet read).
    var occupied: UInt32 = 0

    init(size: UInt32, channel: Channel, backend: CPUContext) {
      self.size = size
      kind = channel.kind
      receive = channel.receive
      vm = channel.vm
      self.backend = backend
    }
  }

  /// A request in flight.
  private struct Request {
    var arrival: UInt64
    var service: UInt64
    var bytes: UInt32
    var op: EventOp
    /// When it began waiting for a slot or buffer, or `UInt64.max` when it never had to.
    var stalledSince: UInt64
    var tag: UInt32
    var vcpu: UInt16
  }

  let design: Design
  let name: String
  /// Every device figure: para has rings.
  var reportedMetrics: [String] { Metric.commonDeviceMetrics + Metric.ringMetrics }
  private let model: Model
  private let costs: Model.Costs
  private let suppression: Bool
  private let napiBudget: UInt32
  /// vhost's busy-poll timeout (0: none).
  private let pollNs: UInt64
  private var pending = EventQueue<Scheduled>()
  private var rings: [Ring] = []
  private var devices: [DeviceQueue] = []
  var metrics = BackendMetrics()
  var completions = CompletionLog()
  private var requests = RequestPool<Request>()

  /// vhost: workers per VM so far, and each device's worker (by VM, kind and device).
  private var queuesOfVM: [UInt16: UInt16] = [:]
  private var workers: [UInt64: UInt16] = [:]

  init(model: Model, design: Design = .xen) {
    self.model = model
    self.design = design
    costs = model.costs
    switch design {
    case .xen:
      name = "para"
      suppression = model.para.notifySuppression
    case .virtio, .vhost:
      name = design == .virtio ? "virtio" : "vhost"
      suppression = model.virtio.eventIdx
    }
    napiBudget = UInt32(truncatingIfNeeded: model.para.netNAPIBudget)
    pollNs = design == .vhost ? model.vhost.pollNs : 0
  }

  mutating func addChannel(_ channel: Channel) {
    let size: UInt64
    let backend: CPUContext
    switch design {
    case .xen:
      size = model.ringEntries(for: channel.kind)
      let home = UInt16(truncatingIfNeeded: UInt64(rings.count) % model.backend.vcpus)
      backend = CPUContext(domain: .driverDomain, vm: 0, vcpu: home)
    case .virtio:
      size = channel.kind == .net ? model.virtio.netQueueSize : model.virtio.queueSize
      // QEMU's main loop (or the disk's iothread): one thread per guest.
      backend = CPUContext(domain: .deviceModel, vm: channel.vm, vcpu: 0)
    case .vhost:
      size = channel.kind == .net ? model.virtio.netQueueSize : model.virtio.queueSize
      // A vhost worker per device (vhost-net's serves the NIC's tx and rx queues), beside
      // the guest's QEMU thread (vcpu 0).
      let key =
        UInt64(channel.vm) << 32 | UInt64(channel.kind.rawValue) << 16
        | UInt64(channel.device)
      let known = workers[key]
      let w = known ?? (queuesOfVM[channel.vm, default: 0] &+ 1)
      if known == nil {
        workers[key] = w
        queuesOfVM[channel.vm] = w
      }
      backend = CPUContext(domain: .deviceModel, vm: channel.vm, vcpu: w)
    }
    rings.append(Ring(size: UInt32(size), channel: channel, backend: backend))
    devices.append(DeviceQueue(servers: model.device(channel.kind).queueDepth))
    var m = ChannelMetrics()
    m.occupancy = OccupancyMetrics(entries: size)
    metrics.channels.append(m)
  }

  mutating func finish() {
    // Every ring's occupancy runs to the same end: the backend's last completion, on any
    // ring (no ring's occupancy changes after it).
    let end = metrics.channels.lazy.map(\.lastCompletionNs).max() ?? 0
    for r in metrics.channels.indices {
      metrics.channels[r].occupancy?.close(at: end)
    }
  }

  var nextStepTime: UInt64 {
    @inline(__always) get { pending.nextTime }
  }

  var isIdle: Bool { pending.isEmpty }

  @inline(__always)
  mutating func runNextStep<C: CPUExecutor>(cpu: inout C) {
    let entry = pending.pop()
    run(entry.payload, entry.time, cpu: &cpu)
  }

  @inline(__always)
  mutating func resume<C: CPUExecutor>(
    _ continuation: UInt64, channel: Int32, at time: UInt64, cpu: inout C
  ) {
    run(Scheduled(continuation: continuation, ring: channel), time, cpu: &cpu)
  }

  // MARK: Arrivals

  @inline(__always)
  mutating func submit<C: CPUExecutor>(
    _ event: TraceEvent, channel r: Int, at time: UInt64, tag: UInt32, cpu: inout C
  ) {
    let service = metrics.admit(event, channel: r, at: time, model: model)
    let id = requests.allocate(
      Request(
        arrival: time, service: service, bytes: event.bytes, op: event.op,
        stalledSince: .max, tag: tag, vcpu: event.vcpu))
    metrics.timeline.request(
      id, channel: r, op: event.op, bytes: event.bytes, at: time,
      phase: rings[r].receive ? .device : .driver)
    if rings[r].receive {
      // The packet reaches the host NIC; it needs a posted guest buffer after the device.
      let (_, done) = devices[r].serve(ready: time, service: service, ordering: false)
      pending.schedule(Scheduled(step: .deviceDone, ring: Int32(r), value: id), at: done)
      return
    }
    rings[r].waiting.append(id)
    if !rings[r].pushScheduled {
      rings[r].pushScheduled = true
      pending.schedule(Scheduled(step: .push, ring: Int32(r)), at: time)
    }
  }

  // MARK: Steps

  @inline(__always)
  private mutating func run<C: CPUExecutor>(_ s: Scheduled, _ now: UInt64, cpu: inout C) {
    let r = Int(s.ring)
    switch s.step {
    case .push: push(r, now, cpu: &cpu)
    case .publishRequests: publishRequests(r, UInt32(s.value), s.vcpu, now, cpu: &cpu)
    case .notified: notified(r, now, cpu: &cpu)
    case .backendRun: backendRun(r, now, wakeup: false, cpu: &cpu)
    case .mapped: mapped(r, s.value, now, cpu: &cpu)
    case .deviceDone: deviceDone(r, s.value, now)
    case .respond: respond(r, now, cpu: &cpu)
    case .publishResponses: publishResponses(r, UInt32(s.value), s.vcpu, now, cpu: &cpu)
    case .guestHandler: guestHandler(r, s.vcpu, now, cpu: &cpu)
    case .handled: handled(r, UInt32(s.value), s.vcpu, now, cpu: &cpu)
    case .guestCheck: guestCheck(r, s.vcpu, now, cpu: &cpu)
    case .refilled: refilled(r, now, cpu: &cpu)
    case .pollEnd:
      if rings[r].backendSide == .polling && rings[r].polls == s.value {
        endPoll(r, now)
        if rings[r].receive {
          rings[r].backendSide = .asleep
        } else {
          backendSleep(r, now, cpu: &cpu)
        }
      }
    case .none: break
    }
  }

  /// Asks `cpu` for `ns` of work on `context`; `then` runs when it is done.
  @inline(__always)
  private mutating func work<C: CPUExecutor>(
    _ context: CPUContext, _ ns: UInt64, ordered: Bool, then: Scheduled, at now: UInt64,
    cpu: inout C
  ) {
    let r = Int(then.ring)
    let w = CPUWork(
      context: context, ns: ns, channel: then.ring, owner: rings[r].vm, ordered: ordered,
      continuation: then.continuation)
    if let done = cpu.run(w, at: now) { pending.schedule(then, at: done) }
  }

  /// Guest vCPU `vcpu` of ring `r`'s VM.
  @inline(__always)
  private func guest(_ r: Int, _ vcpu: UInt16) -> CPUContext { .guest(rings[r].vm, vcpu) }

  /// The context that serves ring `r` (a driver-domain vCPU, QEMU, or a vhost worker).
  @inline(__always)
  private func dom0(_ r: Int) -> CPUContext { rings[r].backend }

  /// Whether moving a shared producer index from `old` to `new` notifies the other side,
  /// under the design's rule (ring.h's, or `vring_need_event` on u16 indices).
  @inline(__always)
  private func needsNotify(old: UInt32, new: UInt32, event: UInt32) -> Bool {
    guard suppression else { return true }
    return design == .xen
      ? XenRingRules.needsNotify(old: old, new: new, event: event)
      : VirtioRingRules.needsNotify(old: old, new: new, event: event)
  }

  /// The handler's work for one response of ring `r`: reading it (rx: and reposting its
  /// buffer), and with persistent grants a read's copy out of the granted pages (counted
  /// when `count`).
  @inline(__always)
  private mutating func responseCost(_ r: Int, _ id: Int32, count: Bool) -> UInt64 {
    var cost = rings[r].receive ? 2 &* costs.ringSlotNs : costs.ringSlotNs
    if persistent(r) && requests[id].op == .read {
      cost &+=
        count ? persistentCopy(r, requests[id]) : model.copyNs(UInt64(requests[id].bytes))
    }
    return cost
  }

  /// The handler's work for the first `n` published responses of ring `r`: a slot each
  /// (rx: two), and with persistent grants each read's copy (counted when `count`).
  @inline(__always)
  private mutating func handlerCost(_ r: Int, _ n: UInt32, count: Bool) -> UInt64 {
    guard persistent(r) else {
      return UInt64(n) &* (rings[r].receive ? 2 &* costs.ringSlotNs : costs.ringSlotNs)
    }
    var cost: UInt64 = 0
    for k in 0..<Int(n) { cost &+= responseCost(r, rings[r].responses[k], count: count) }
    return cost
  }

  /// Whether ring `r` uses blkif's persistent grants (Xen disks with
  /// `para.persistent_grants`).
  @inline(__always)
  private func persistent(_ r: Int) -> Bool {
    design == .xen && model.para.persistentGrants && rings[r].kind == .disk
  }

  /// The frontend's copy of `request`'s payload into or out of persistently granted
  /// pages, counted; its cost.
  @inline(__always)
  private mutating func persistentCopy(_ r: Int, _ request: Request) -> UInt64 {
    metrics.channels[r].bytesCopied.add(saturating: UInt64(request.bytes))
    return model.copyNs(UInt64(request.bytes))
  }

  /// The guest notifies the backend: an event-channel hypercall (Xen) or a kick, the
  /// notify-register write whose exit ioeventfd catches in the kernel (virtio, vhost).
  /// Returns its cost on the guest's vCPU.
  @inline(__always)
  private mutating func countGuestNotify(_ r: Int, at now: UInt64) -> UInt64 {
    metrics.channels[r].notificationsSent &+= 1
    metrics.timeline.instant(.notification, channel: r, at: now)
    let cost: UInt64
    if design == .xen {
      metrics.channels[r].hypercalls &+= 1
      metrics.channels[r].exitsVMCALL &+= 1
      metrics.timeline.instant(.exitVMCALL, channel: r, at: now)
      cost = costs.hypercallNs
    } else {
      // The notify register is in the device's MMIO BAR (virtio-pci's notify capability).
      metrics.channels[r].submitTraps &+= 1
      metrics.channels[r].exitsMMIO &+= 1
      metrics.timeline.instant(.exitMMIO, channel: r, at: now)
      cost = model.virtio.kickNs
    }
    metrics.channels[r].overheadNs.add(saturating: cost)
    return cost
  }

  /// P1: the frontend writes a slot for each waiting request the ring has room for.
  private mutating func push<C: CPUExecutor>(_ r: Int, _ now: UInt64, cpu: inout C) {
    rings[r].pushScheduled = false
    let room = Int(rings[r].size &- rings[r].outstanding)
    let n = min(room, rings[r].waiting.count)
    if n > 0 {
      let vcpu = requests[rings[r].waiting[0]].vcpu
      for _ in 0..<n {
        let id = rings[r].waiting.removeFirst()
        let since = requests[id].stalledSince
        if since != .max { metrics.channels[r].ringFullNs.add(saturating: now - since) }
        metrics.timeline.phase(id, channel: r, .driver, at: now)
        rings[r].written.append(id)
        rings[r].outstanding &+= 1
      }
      var cost = UInt64(n) &* costs.ringSlotNs
      // Persistent grants: blkfront copies each write's payload into its granted pages.
      if persistent(r) {
        for k in 0..<n {
          let w = requests[rings[r].written[rings[r].written.count - n + k]]
          if w.op == .write { cost &+= persistentCopy(r, w) }
        }
      }
      metrics.channels[r].overheadNs.add(saturating: cost)
      work(
        guest(r, vcpu), cost, ordered: true,
        then: Scheduled(step: .publishRequests, ring: Int32(r), vcpu: vcpu, value: Int32(n)),
        at: now, cpu: &cpu)
    }
    // Whatever did not fit waits for the guest to consume responses: a ring-full stall.
    markStalled(r, taken: n, now)
  }

  /// After `taken` requests left the front of ring `r`'s waiting queue, counts every
  /// request still waiting that was not counted yet as a ring-full stall starting `now`.
  ///
  /// - Complexity: O(requests newly stalled): each request is looked at once.
  @inline(__always)
  private mutating func markStalled(_ r: Int, taken: Int, _ now: UInt64) {
    let waiting = rings[r].waiting.count
    var i = max(rings[r].stalledPrefix - taken, 0)
    guard i < waiting else {
      rings[r].stalledPrefix = waiting
      return
    }
    metrics.channels[r].ringFullStalls &+= UInt64(waiting - i)
    while i < waiting {
      requests[rings[r].waiting[i]].stalledSince = now
      metrics.timeline.phase(rings[r].waiting[i], channel: r, .slotWait, at: now)
      i += 1
    }
    rings[r].stalledPrefix = waiting
  }

  /// The occupancy of ring `r` rises by one at each of `n` marks `step` apart, the last at
  /// `end` (model rule "marks": the sub-steps of one piece of work, dated back from its end).
  @inline(__always)
  private mutating func occupy(_ r: Int, _ n: UInt32, every step: UInt64, endingAt end: UInt64) {
    for k in 1...max(n, 1) where n > 0 {
      rings[r].occupied &+= 1
      let t = end &- UInt64(n &- k) &* step
      metrics.channels[r].occupancy!.change(to: UInt64(rings[r].occupied), at: t)
      metrics.timeline.occupancy(channel: r, UInt64(rings[r].occupied), at: t)
    }
  }

  /// P2, RING_PUSH_REQUESTS_AND_CHECK_NOTIFY, once the slots are written.
  private mutating func publishRequests<C: CPUExecutor>(
    _ r: Int, _ n: UInt32, _ vcpu: UInt16, _ now: UInt64, cpu: inout C
  ) {
    occupy(r, n, every: costs.ringSlotNs, endingAt: now)
    let old = rings[r].reqProd
    let new = old &+ n
    // A polling worker has notifications off (with or without EVENT_IDX: the used ring's
    // VRING_USED_F_NO_NOTIFY flag), so the publish does not kick.
    let polling = rings[r].backendSide == .polling
    let notifies = !polling && needsNotify(old: old, new: new, event: rings[r].reqEvent)
    if metrics.timeline.enabled { timelinePublished(r, n, now, notifies: notifies) }
    rings[r].reqProd = new
    guard notifies else {
      metrics.channels[r].notificationsSuppressed &+= 1
      metrics.timeline.instant(.suppressed, channel: r, at: now)
      // V7: the polling worker sees the request at once, with no kick and no wake-up.
      if rings[r].backendSide == .polling {
        endPoll(r, now)
        backendRun(r, now, wakeup: false, cpu: &cpu)
      }
      return
    }
    // The guest makes an event-channel hypercall or kicks; the backend wakes if it sleeps.
    let cost = countGuestNotify(r, at: now)
    work(
      guest(r, vcpu), cost, ordered: true,
      then: Scheduled(step: .notified, ring: Int32(r)), at: now, cpu: &cpu)
  }

  /// Timeline: the `n` requests the frontend wrote (the first unpublished ones) were
  /// written in the slot work that ended `now`, and are in the ring; when the guest
  /// notifies, its submission lasts until the notification is made (``notified(_:_:cpu:)``).
  private mutating func timelinePublished(
    _ r: Int, _ n: UInt32, _ now: UInt64, notifies: Bool
  ) {
    let first = Int(rings[r].reqProd &- rings[r].reqCons)
    let ids = rings[r].written.dropFirst(first).prefix(Int(n))
    var cost = UInt64(n) &* costs.ringSlotNs
    if persistent(r) {
      for id in ids where requests[id].op == .write {
        cost &+= model.copyNs(UInt64(requests[id].bytes))
      }
    }
    for id in ids {
      metrics.timeline.phase(id, channel: r, .submit, at: now &- cost)
      if !notifies { metrics.timeline.phase(id, channel: r, .ring, at: now) }
    }
  }

  /// The hypercall is made: a sleeping backend wakes.
  private mutating func notified<C: CPUExecutor>(_ r: Int, _ now: UInt64, cpu: inout C) {
    if metrics.timeline.enabled {
      // The notification is made: the requests published and not yet taken are in the
      // ring (those there already stay).
      for id in rings[r].written.prefix(Int(rings[r].reqProd &- rings[r].reqCons)) {
        metrics.timeline.phase(id, channel: r, .ring, at: now)
      }
    }
    guard rings[r].backendSide == .asleep else { return }
    rings[r].backendSide = .waking
    metrics.channels[r].backendWakeups &+= 1
    metrics.timeline.instant(.wakeup, channel: r, at: now)
    metrics.channels[r].overheadNs.add(saturating: costs.backendWakeupNs)
    backendRun(r, now, wakeup: true, cpu: &cpu)
  }

  /// P3: the backend consumes the next published request, maps its grants and
  /// dispatches it; with none left it runs its final check. The first piece of work after
  /// a wake-up includes the wake-up.
  private mutating func backendRun<C: CPUExecutor>(
    _ r: Int, _ now: UInt64, wakeup: Bool, cpu: inout C
  ) {
    rings[r].backendSide = .running
    guard rings[r].reqProd != rings[r].reqCons else {
      backendCheck(r, now, cpu: &cpu)
      return
    }
    let id = rings[r].written.removeFirst()
    rings[r].reqCons &+= 1
    metrics.timeline.phase(id, channel: r, .backend, at: now)
    let request = requests[id]
    let bytes = UInt64(request.bytes)
    var cost = costs.ringSlotNs
    var mappedBytes = bytes
    if design != .xen {
      // QEMU and vhost reach guest memory directly: virtio-blk's payloads are not copied;
      // virtio-net's packets are copied into the host's socket buffers (tap's write,
      // vhost-net's copy; its zero-copy transmit is off by default).
      if request.op == .tx {
        cost &+= model.copyNs(bytes)
        metrics.channels[r].bytesCopied.add(saturating: bytes)
      } else if request.op != .discard && bytes > 0 {
        metrics.channels[r].copiesAvoided &+= 1
        metrics.channels[r].bytesCopyAvoided.add(saturating: bytes)
      }
      mappedBytes = 0
    } else if request.op == .tx {
      // netback grant-copies the first 128 bytes of a packet and maps the rest.
      let header = min(bytes, 128)
      cost &+= model.copyNs(header)
      metrics.channels[r].bytesCopied.add(saturating: header)
      mappedBytes = bytes - header
    } else if request.op == .discard || persistent(r) {
      // A discard carries no data; with persistent grants the pages are mapped already.
      mappedBytes = 0
    }
    var pages = (mappedBytes &+ 4095) >> 12
    // Indirect descriptors: beyond blkif's 11 segments a request's segments are in indirect
    // pages of 512 descriptors each, which the backend maps too.
    if pages > XenRingRules.directSegments && !rings[r].receive && rings[r].kind == .disk {
      pages &+= (pages &+ XenRingRules.indirectPerPage &- 1) / XenRingRules.indirectPerPage
    }
    cost &+= pages &* costs.grantMapNs
    metrics.channels[r].grantsMapped &+= pages
    if pages > 0 {
      // Unmapping the grants flushes the other driver-domain vCPUs' TLBs: an IPI each.
      cost &+= (model.backend.vcpus &- 1) &* costs.backendWakeupNs
    }
    if mappedBytes > 0 && design == .xen {
      metrics.channels[r].copiesAvoided &+= 1
      metrics.channels[r].bytesCopyAvoided.add(saturating: mappedBytes)
    }
    metrics.channels[r].overheadNs.add(saturating: cost)
    if wakeup { cost &+= costs.backendWakeupNs }
    work(
      dom0(r), cost, ordered: false, then: Scheduled(step: .mapped, ring: Int32(r), value: id),
      at: now, cpu: &cpu)
  }

  /// A request's grants are mapped: it goes to the device; the backend goes on.
  private mutating func mapped<C: CPUExecutor>(
    _ r: Int, _ id: Int32, _ now: UInt64, cpu: inout C
  ) {
    let request = requests[id]
    metrics.timeline.phase(id, channel: r, .device, at: now)
    let (_, done) = devices[r].serve(
      ready: now, service: request.service, ordering: request.op.isOrdering)
    pending.schedule(Scheduled(step: .deviceDone, ring: Int32(r), value: id), at: done)
    backendRun(r, now, wakeup: false, cpu: &cpu)
  }

  /// RING_FINAL_CHECK_FOR_REQUESTS: keep working, or arm req_event and sleep.
  private mutating func backendCheck<C: CPUExecutor>(_ r: Int, _ now: UInt64, cpu: inout C) {
    if rings[r].reqProd != rings[r].reqCons {
      backendRun(r, now, wakeup: false, cpu: &cpu)
      return
    }
    // V7: a polling vhost worker keeps notifications off and looks again until its timeout.
    if design == .vhost && pollNs > 0 {
      startPoll(r, now)
      return
    }
    backendSleep(r, now, cpu: &cpu)
  }

  /// RING_FINAL_CHECK_FOR_REQUESTS' second half: arm req_event, look again, sleep.
  private mutating func backendSleep<C: CPUExecutor>(_ r: Int, _ now: UInt64, cpu: inout C) {
    rings[r].reqEvent = XenRingRules.armedEvent(consumer: rings[r].reqCons)
    if rings[r].reqProd != rings[r].reqCons {
      backendRun(r, now, wakeup: false, cpu: &cpu)
      return
    }
    rings[r].backendSide = .asleep
  }

  /// V7: the worker busy-polls its queue (rx: its socket) for up to `vhost.poll_ns`.
  private mutating func startPoll(_ r: Int, _ now: UInt64) {
    // A poll in progress goes on (rx: a second response push while it polls).
    guard rings[r].backendSide != .polling else { return }
    rings[r].backendSide = .polling
    rings[r].pollSince = now
    rings[r].polls &+= 1
    pending.schedule(
      Scheduled(step: .pollEnd, ring: Int32(r), value: rings[r].polls),
      at: now.adding(saturating: pollNs))
  }

  /// The poll ends (work arrived, or its timeout): the time it lasted is counted
  /// (`backend_poll_ns`), not scheduled (model rule V7: vhost's busy loop yields whenever
  /// another task wants the CPU, so it takes only CPU time the host would leave idle).
  private mutating func endPoll(_ r: Int, _ now: UInt64) {
    rings[r].backendSide = .running
    let ns = now - rings[r].pollSince
    metrics.channels[r].pollNs.add(saturating: ns)
  }

  /// The device finished a request: it joins this instant's response push.
  private mutating func deviceDone(_ r: Int, _ id: Int32, _ now: UInt64) {
    metrics.timeline.phase(id, channel: r, rings[r].receive ? .backend : .response, at: now)
    if rings[r].receive {
      rings[r].waiting.append(id)
    } else {
      rings[r].responses.append(id)
      rings[r].completedNow &+= 1
    }
    if !rings[r].respondScheduled {
      rings[r].respondScheduled = true
      pending.schedule(Scheduled(step: .respond, ring: Int32(r)), at: now)
    }
  }

  /// P4: the backend writes the responses of this instant (for rx: grant-copies packets
  /// into posted buffers; a packet finding netback asleep wakes it).
  private mutating func respond<C: CPUExecutor>(_ r: Int, _ now: UInt64, cpu: inout C) {
    rings[r].respondScheduled = false
    var cost: UInt64 = 0
    if rings[r].receive {
      // Each received packet takes a posted buffer, if the guest has one.
      let room = Int(rings[r].size &- rings[r].outstanding)
      let n = min(room, rings[r].waiting.count)
      for _ in 0..<n {
        let id = rings[r].waiting.removeFirst()
        let request = requests[id]
        if request.stalledSince != .max {
          metrics.channels[r].ringFullNs.add(saturating: now - request.stalledSince)
          metrics.timeline.phase(id, channel: r, .backend, at: now)
        }
        // netback's grant copy, or the host's copy into the posted guest buffer.
        cost &+= design == .xen ? costs.grantCopyRxNs : model.copyNs(UInt64(request.bytes))
        metrics.channels[r].bytesCopied.add(saturating: UInt64(request.bytes))
        rings[r].outstanding &+= 1
        rings[r].responses.append(id)
        rings[r].completedNow &+= 1
      }
      markStalled(r, taken: n, now)
    }
    let k = rings[r].completedNow
    guard k > 0 else { return }
    rings[r].completedNow = 0
    cost &+= UInt64(k) &* costs.ringSlotNs
    metrics.channels[r].overheadNs.add(saturating: cost)
    if rings[r].receive && rings[r].backendSide == .polling {
      // V7: the polling worker sees the packet at once.
      endPoll(r, now)
    } else if rings[r].receive && rings[r].backendSide == .asleep {
      // netback sleeps between packets: the packet's arrival wakes it.
      rings[r].backendSide = .running
      metrics.channels[r].backendWakeups &+= 1
      metrics.timeline.instant(.wakeup, channel: r, at: now)
      metrics.channels[r].overheadNs.add(saturating: costs.backendWakeupNs)
      cost &+= costs.backendWakeupNs
    }
    // The guest vCPU the response batch's interrupt goes to: its first request's issuer.
    let first = rings[r].responses[rings[r].responses.count - Int(k)]
    let vcpu = model.guest.irqVCPU ?? requests[first].vcpu
    work(
      dom0(r), cost, ordered: false,
      then: Scheduled(step: .publishResponses, ring: Int32(r), vcpu: vcpu, value: Int32(k)),
      at: now, cpu: &cpu)
  }

  /// RING_PUSH_RESPONSES_AND_CHECK_NOTIFY, once the responses are written.
  private mutating func publishResponses<C: CPUExecutor>(
    _ r: Int, _ k: UInt32, _ vcpu: UInt16, _ now: UInt64, cpu: inout C
  ) {
    if rings[r].receive {
      occupy(r, k, every: 0, endingAt: now)
      // netback sleeps again unless more packets wait for their response push (a polling
      // vhost worker polls its socket first).
      if !rings[r].respondScheduled {
        if design == .vhost && pollNs > 0 {
          startPoll(r, now)
        } else {
          rings[r].backendSide = .asleep
        }
      }
    }
    let old = rings[r].rspProd
    let new = old &+ k
    let interrupts = needsNotify(old: old, new: new, event: rings[r].rspEvent)
    if metrics.timeline.enabled {
      // The first unpublished responses: after those the handler is reading and the
      // published ones. An interrupt that starts the handler begins their completion (as
      // full virtualization's does); otherwise they wait for the running handler.
      let first = Int(rings[r].handling &+ rings[r].rspProd &- rings[r].rspCons)
      let phase: TimelinePhase =
        interrupts && rings[r].handler == .asleep ? .completion : .interrupt
      for id in rings[r].responses.dropFirst(first).prefix(Int(k)) {
        metrics.timeline.phase(id, channel: r, phase, at: now)
      }
    }
    rings[r].rspProd = new
    guard interrupts else {
      metrics.channels[r].notificationsSuppressed &+= 1
      metrics.timeline.instant(.suppressed, channel: r, at: now)
      return
    }
    metrics.channels[r].interrupts &+= 1
    metrics.channels[r].exitsEOI &+= 1
    metrics.channels[r].notificationsSent &+= 1
    metrics.timeline.instant(.interrupt, channel: r, at: now)
    metrics.timeline.instant(.exitEOI, channel: r, at: now)
    metrics.channels[r].overheadNs.add(saturating: costs.irqInjectNs)
    // P5: the interrupt is taken by the guest (its EOI exit); the handler runs once it is
    // delivered, unless it is running already.
    var then = Scheduled(step: .none, ring: Int32(r))
    if rings[r].handler == .asleep {
      rings[r].handler = .waking
      then = Scheduled(step: .guestHandler, ring: Int32(r), vcpu: vcpu)
    }
    work(guest(r, vcpu), costs.irqInjectNs, ordered: true, then: then, at: now, cpu: &cpu)
  }

  /// P6: the guest's interrupt handler consumes every published response.
  private mutating func guestHandler<C: CPUExecutor>(
    _ r: Int, _ vcpu: UInt16, _ now: UInt64, cpu: inout C
  ) {
    rings[r].handler = .running
    var n = rings[r].rspProd &- rings[r].rspCons
    // netfront's NAPI poll reads at most its budget, then reposts and polls again.
    if rings[r].receive { n = min(n, napiBudget) }
    guard n > 0 else {
      guestCheck(r, vcpu, now, cpu: &cpu)
      return
    }
    rings[r].rspCons &+= n
    rings[r].handling = n
    if metrics.timeline.enabled {
      for id in rings[r].responses.prefix(Int(n)) {
        metrics.timeline.phase(id, channel: r, .completion, at: now)
      }
    }
    let cost = handlerCost(r, n, count: true)
    metrics.channels[r].overheadNs.add(saturating: cost)
    work(
      guest(r, vcpu), cost, ordered: true,
      then: Scheduled(step: .handled, ring: Int32(r), vcpu: vcpu, value: Int32(bitPattern: n)),
      at: now, cpu: &cpu)
  }

  /// The handler has read `n` responses (each read ends its request's latency, dated back
  /// from the end of the handler's work); freed slots let stalled requests in; rx reposts
  /// the buffers it read.
  private mutating func handled<C: CPUExecutor>(
    _ r: Int, _ n: UInt32, _ vcpu: UInt16, _ now: UInt64, cpu: inout C
  ) {
    let receive = rings[r].receive
    rings[r].handling = 0
    let total = handlerCost(r, n, count: false)
    let uniform = !persistent(r)
    let perResponse = receive ? 2 &* costs.ringSlotNs : costs.ringSlotNs
    var elapsed: UInt64 = 0
    for _ in 1...n {
      let id = rings[r].responses.removeFirst()
      // Reading the response ends the request's latency (rx: then the buffer is reposted);
      // each read is dated by the handler's work up to it.
      elapsed &+= uniform ? perResponse : responseCost(r, id, count: false)
      var t = now &- (total &- elapsed)
      if receive { t &-= costs.ringSlotNs }
      let request = requests[id]
      metrics.complete(r, op: request.op, bytes: request.bytes, issued: request.arrival, done: t)
      metrics.timeline.complete(id, channel: r, at: t)
      requests.release(id)
      completions.record(request.tag, at: now)
      rings[r].occupied &-= 1
      metrics.channels[r].occupancy!.change(to: UInt64(rings[r].occupied), at: t)
      metrics.timeline.occupancy(channel: r, UInt64(rings[r].occupied), at: t)
      rings[r].outstanding &-= 1
    }
    if receive {
      refill(r, vcpu, now, cpu: &cpu)
    } else if !rings[r].waiting.isEmpty && !rings[r].pushScheduled {
      // blkfront's handler restarts the queue itself: the push of the requests waiting for
      // slots chains on the handler's run, on the same vCPU (model rule "chains").
      push(r, now, cpu: &cpu)
    }
    pending.schedule(Scheduled(step: .guestCheck, ring: Int32(r), vcpu: vcpu), at: now)
  }

  /// RING_FINAL_CHECK_FOR_RESPONSES: keep consuming, or arm rsp_event and return.
  private mutating func guestCheck<C: CPUExecutor>(
    _ r: Int, _ vcpu: UInt16, _ now: UInt64, cpu: inout C
  ) {
    if rings[r].rspProd != rings[r].rspCons {
      guestHandler(r, vcpu, now, cpu: &cpu)
      return
    }
    rings[r].rspEvent = XenRingRules.armedEvent(consumer: rings[r].rspCons)
    if rings[r].rspProd != rings[r].rspCons {
      guestHandler(r, vcpu, now, cpu: &cpu)
      return
    }
    rings[r].handler = .asleep
  }

  /// rx: the handler posted fresh buffers for those it read. netback, when packets wait
  /// for buffers, armed req_event and sleeps: the push notifies it (a hypercall).
  private mutating func refill<C: CPUExecutor>(
    _ r: Int, _ vcpu: UInt16, _ now: UInt64, cpu: inout C
  ) {
    guard !rings[r].waiting.isEmpty else {
      metrics.channels[r].notificationsSuppressed &+= 1
      metrics.timeline.instant(.suppressed, channel: r, at: now)
      return
    }
    let cost = countGuestNotify(r, at: now)
    work(
      guest(r, vcpu), cost, ordered: true,
      then: Scheduled(step: .refilled, ring: Int32(r)), at: now, cpu: &cpu)
  }

  /// The repost's hypercall: netback wakes and fills the new buffers.
  private mutating func refilled<C: CPUExecutor>(_ r: Int, _ now: UInt64, cpu: inout C) {
    if !rings[r].respondScheduled {
      rings[r].respondScheduled = true
      pending.schedule(Scheduled(step: .respond, ring: Int32(r)), at: now)
    }
  }

  // MARK: Requests

}
