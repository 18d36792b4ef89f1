// Model rules "paravirtualization" (docs/MODEL.md), after Xen's split drivers:
// - The frontend writes one ring slot per request (blkif, netif tx); a request finding
//   `ring_entries` requests outstanding waits in the guest (a ring-full stall).
// - Requests of one channel arriving at the same instant are one batch, pushed once; the
//   push notifies the backend (hypercall) only under RING_PUSH_REQUESTS_AND_CHECK_NOTIFY.
// - An idle backend, once notified, wakes (`backend_wakeup_ns`), consumes every published
//   request, maps one grant per 4 KiB page (no copy; netback grant-copies the first 128
//   bytes of a tx packet), dispatches them, and with nothing left runs
//   RING_FINAL_CHECK_FOR_REQUESTS (arms req_event = req_cons + 1, looks again) and sleeps.
// - Responses go back the same way: completions at one instant are one push; the guest is
//   interrupted only under the rsp_event rule. The interrupt is guest-side work, on the
//   driver's serial timeline as in full virtualization ("interrupt delivery"); the handler
//   it wakes then consumes every response, then runs RING_FINAL_CHECK_FOR_RESPONSES.
// - netif rx: the guest keeps the rx ring stocked with posted buffers; a received packet
//   needs one (or waits: a ring-full stall), is grant-copied into it by the backend, and is
//   delivered by a response as above. Its latency ends when the guest has read it; its
//   buffer takes another packet only once the guest has posted a fresh one in its place.
// - With notify_suppression false every push notifies and every response push interrupts.
// - Ring occupancy (for rx: filled buffers not yet read) runs from a ring's first push to
//   the backend's last completion on any ring.

import DequeModule

/// Paravirtualized I/O over Xen-style shared rings.
struct ParavirtualizationBackend: DeviceBackend {
  /// A step of the simulation.
  private enum Step: UInt8 {
    case push, publishRequests, backendRun, backendCheck
    case deviceDone, respond, publishResponses, guestHandler, guestCheck
    /// rx: the guest has posted a fresh buffer in place of one it read.
    case repost
  }

  private struct Scheduled {
    var step: Step
    var ring: Int32
    /// A request id (deviceDone) or a slot count (publish steps).
    var value: Int32
  }

  private enum Side: UInt8 { case asleep, waking, running }

  /// The state of one ring and the two ends that share it.
  private struct Ring {
    let size: UInt32
    let kind: EventKind
    let receive: Bool
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
    /// rx: buffers the guest has read but not yet reposted (the rest of `outstanding` are
    /// unread, which is the ring's occupancy).
    var reading: UInt32 = 0
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
    var backend = Side.asleep
    var handler = Side.asleep
    /// When the guest's driver for this ring is free (its work is serialized).
    var guestFree: UInt64 = 0

    init(size: UInt32, channel: Channel) {
      self.size = size
      kind = channel.kind
      receive = channel.receive
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
  }

  let name = "para"
  private let model: Model
  private let costs: Model.Costs
  private let suppression: Bool
  private var pending = EventQueue<Scheduled>()
  private var rings: [Ring] = []
  private var devices: [DeviceQueue] = []
  private(set) var metrics = BackendMetrics()
  var completions = CompletionLog()
  private var requests: [Request] = []
  private var freeRequests: [Int32] = []

  init(model: Model) {
    self.model = model
    costs = model.costs
    suppression = model.para.notifySuppression
  }

  mutating func addChannel(_ channel: Channel) {
    let size = model.ringEntries(for: channel.kind)
    rings.append(Ring(size: UInt32(size), channel: channel))
    devices.append(DeviceQueue(servers: model.device(channel.kind).queueDepth))
    var m = ChannelMetrics()
    m.occupancy = OccupancyMetrics(entries: size)
    metrics.channels.append(m)
  }

  mutating func replay(
    _ events: UnsafeBufferPointer<TraceEvent>, channels: UnsafeBufferPointer<Int32>,
    driver: inout RequestDriver
  ) {
    driver.feed(events, channels: channels, into: &self)
  }

  mutating func finish(driver: inout RequestDriver) {
    driver.drain(&self)
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
  mutating func runNextStep() { run(pending.pop()) }

  // MARK: Arrivals

  @inline(__always)
  mutating func submit(_ event: TraceEvent, channel r: Int, at time: UInt64, tag: UInt32) {
    let service =
      event.serviceNs != 0 ? event.serviceNs : metrics.assumed(r, model.serviceNs(for: event))
    metrics.issue(r, at: time)
    let id = allocate(
      Request(
        arrival: time, service: service, bytes: event.bytes, op: event.op,
        stalledSince: .max, tag: tag))
    if rings[r].receive {
      // The packet reaches the host NIC; it needs a posted guest buffer after the device.
      let (_, done) = devices[r].serve(ready: time, service: service, ordering: false)
      pending.schedule(Scheduled(step: .deviceDone, ring: Int32(r), value: id), at: done)
      return
    }
    rings[r].waiting.append(id)
    if !rings[r].pushScheduled {
      rings[r].pushScheduled = true
      pending.schedule(Scheduled(step: .push, ring: Int32(r), value: 0), at: time)
    }
  }

  // MARK: Steps

  @inline(__always)
  private mutating func run(_ entry: EventQueue<Scheduled>.Entry) {
    let r = Int(entry.payload.ring)
    let now = entry.time
    switch entry.payload.step {
    case .push: push(r, now)
    case .publishRequests: publishRequests(r, UInt32(entry.payload.value), now)
    case .backendRun: backendRun(r, now)
    case .backendCheck: backendCheck(r, now)
    case .deviceDone: deviceDone(r, entry.payload.value, now)
    case .respond: respond(r, now)
    case .publishResponses: publishResponses(r, UInt32(entry.payload.value), now)
    case .guestHandler: guestHandler(r, now)
    case .guestCheck: guestCheck(r, now)
    case .repost: repost(r, now)
    }
  }

  /// The frontend writes a slot for each waiting request the ring has room for.
  private mutating func push(_ r: Int, _ now: UInt64) {
    rings[r].pushScheduled = false
    let room = Int(rings[r].size &- rings[r].outstanding)
    let n = min(room, rings[r].waiting.count)
    let start = max(now, rings[r].guestFree)
    if n > 0 {
      var t = start
      for _ in 0..<n {
        let id = rings[r].waiting.removeFirst()
        let since = requests[Int(id)].stalledSince
        if since != .max { metrics.channels[r].ringFullNs.add(saturating: start - since) }
        t = t.adding(saturating: costs.ringSlotNs)
        rings[r].written.append(id)
        rings[r].outstanding &+= 1
        metrics.channels[r].occupancy!.change(to: UInt64(rings[r].outstanding), at: t)
      }
      metrics.channels[r].overheadNs.add(saturating: UInt64(n) &* costs.ringSlotNs)
      rings[r].guestFree = t
      pending.schedule(Scheduled(step: .publishRequests, ring: Int32(r), value: Int32(n)), at: t)
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
      requests[Int(rings[r].waiting[i])].stalledSince = now
      i += 1
    }
    rings[r].stalledPrefix = waiting
  }

  /// RING_PUSH_REQUESTS_AND_CHECK_NOTIFY.
  private mutating func publishRequests(_ r: Int, _ n: UInt32, _ now: UInt64) {
    let old = rings[r].reqProd
    let new = old &+ n
    rings[r].reqProd = new
    let notify =
      !suppression || XenRingRules.needsNotify(old: old, new: new, event: rings[r].reqEvent)
    guard notify else {
      metrics.channels[r].notificationsSuppressed &+= 1
      return
    }
    // The guest makes an event-channel hypercall; the backend wakes if it sleeps.
    metrics.channels[r].hypercalls &+= 1
    metrics.channels[r].notificationsSent &+= 1
    metrics.channels[r].overheadNs.add(saturating: costs.hypercallNs)
    let sent = max(now, rings[r].guestFree).adding(saturating: costs.hypercallNs)
    rings[r].guestFree = sent
    if rings[r].backend == .asleep {
      rings[r].backend = .waking
      metrics.channels[r].backendWakeups &+= 1
      metrics.channels[r].overheadNs.add(saturating: costs.backendWakeupNs)
      pending.schedule(
        Scheduled(step: .backendRun, ring: Int32(r), value: 0),
        at: sent.adding(saturating: costs.backendWakeupNs))
    }
  }

  /// The backend consumes every published request, maps their grants and dispatches them.
  private mutating func backendRun(_ r: Int, _ now: UInt64) {
    rings[r].backend = .running
    let n = rings[r].reqProd &- rings[r].reqCons
    var t = now
    for _ in 0..<n {
      let id = rings[r].written.removeFirst()
      let request = requests[Int(id)]
      let bytes = UInt64(request.bytes)
      var cost = costs.ringSlotNs
      var mappedBytes = bytes
      if request.op == .tx {
        // netback grant-copies the first 128 bytes of a packet and maps the rest.
        let header = min(bytes, 128)
        cost &+= model.copyNs(header)
        metrics.channels[r].bytesCopied.add(saturating: header)
        mappedBytes = bytes - header
      } else if request.op == .discard {
        mappedBytes = 0
      }
      let pages = (mappedBytes &+ 4095) >> 12
      cost &+= pages &* costs.grantMapNs
      metrics.channels[r].grantsMapped &+= pages
      if mappedBytes > 0 {
        metrics.channels[r].copiesAvoided &+= 1
        metrics.channels[r].bytesCopyAvoided.add(saturating: mappedBytes)
      }
      metrics.channels[r].overheadNs.add(saturating: cost)
      t = t.adding(saturating: cost)
      let (_, done) = devices[r].serve(
        ready: t, service: request.service, ordering: request.op.isOrdering)
      pending.schedule(Scheduled(step: .deviceDone, ring: Int32(r), value: id), at: done)
    }
    rings[r].reqCons &+= n
    if n == 0 {
      backendCheck(r, now)
    } else {
      pending.schedule(Scheduled(step: .backendCheck, ring: Int32(r), value: 0), at: t)
    }
  }

  /// RING_FINAL_CHECK_FOR_REQUESTS: keep working, or arm req_event and sleep.
  private mutating func backendCheck(_ r: Int, _ now: UInt64) {
    if rings[r].reqProd != rings[r].reqCons {
      backendRun(r, now)
      return
    }
    rings[r].reqEvent = XenRingRules.armedEvent(consumer: rings[r].reqCons)
    if rings[r].reqProd != rings[r].reqCons {
      backendRun(r, now)
      return
    }
    rings[r].backend = .asleep
  }

  /// The device finished a request: it joins this instant's response push.
  private mutating func deviceDone(_ r: Int, _ id: Int32, _ now: UInt64) {
    if rings[r].receive {
      rings[r].waiting.append(id)
    } else {
      rings[r].responses.append(id)
      rings[r].completedNow &+= 1
    }
    if !rings[r].respondScheduled {
      rings[r].respondScheduled = true
      pending.schedule(Scheduled(step: .respond, ring: Int32(r), value: 0), at: now)
    }
  }

  /// The backend writes the responses of this instant (for rx: fills posted buffers).
  private mutating func respond(_ r: Int, _ now: UInt64) {
    rings[r].respondScheduled = false
    var cost: UInt64 = 0
    if rings[r].receive {
      // Each received packet takes a posted buffer, if the guest has one, by grant copy.
      let room = Int(rings[r].size &- rings[r].outstanding)
      let n = min(room, rings[r].waiting.count)
      for _ in 0..<n {
        let id = rings[r].waiting.removeFirst()
        let request = requests[Int(id)]
        if request.stalledSince != .max {
          metrics.channels[r].ringFullNs.add(saturating: now - request.stalledSince)
        }
        cost &+= model.copyNs(UInt64(request.bytes))
        metrics.channels[r].bytesCopied.add(saturating: UInt64(request.bytes))
        rings[r].outstanding &+= 1
        let unread = rings[r].outstanding &- rings[r].reading
        metrics.channels[r].occupancy!.change(to: UInt64(unread), at: now)
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
    pending.schedule(
      Scheduled(step: .publishResponses, ring: Int32(r), value: Int32(k)),
      at: now.adding(saturating: cost))
  }

  /// RING_PUSH_RESPONSES_AND_CHECK_NOTIFY.
  private mutating func publishResponses(_ r: Int, _ k: UInt32, _ now: UInt64) {
    let old = rings[r].rspProd
    let new = old &+ k
    rings[r].rspProd = new
    let notify =
      !suppression || XenRingRules.needsNotify(old: old, new: new, event: rings[r].rspEvent)
    guard notify else {
      metrics.channels[r].notificationsSuppressed &+= 1
      return
    }
    metrics.channels[r].interrupts &+= 1
    metrics.channels[r].notificationsSent &+= 1
    metrics.channels[r].overheadNs.add(saturating: costs.irqInjectNs)
    // The interrupt is taken by the guest (its EOI exit): guest-side work, on the driver's
    // serial timeline, as in full virtualization; the handler runs once it is delivered.
    let delivered = max(now, rings[r].guestFree).adding(saturating: costs.irqInjectNs)
    rings[r].guestFree = delivered
    if rings[r].handler == .asleep {
      rings[r].handler = .waking
      pending.schedule(Scheduled(step: .guestHandler, ring: Int32(r), value: 0), at: delivered)
    }
  }

  /// The guest's interrupt handler consumes every published response.
  private mutating func guestHandler(_ r: Int, _ now: UInt64) {
    rings[r].handler = .running
    let n = rings[r].rspProd &- rings[r].rspCons
    var t = max(now, rings[r].guestFree)
    let receive = rings[r].receive
    for _ in 0..<n {
      let id = rings[r].responses.removeFirst()
      // Reading the response ends the request's latency.
      t = t.adding(saturating: costs.ringSlotNs)
      let request = requests[Int(id)]
      metrics.complete(r, op: request.op, bytes: request.bytes, issued: request.arrival, done: t)
      completions.record(request.tag, at: t)
      freeRequests.append(id)
      if receive {
        // rx: the buffer stays taken until the guest has posted a fresh one in its place.
        rings[r].reading &+= 1
        let unread = rings[r].outstanding &- rings[r].reading
        metrics.channels[r].occupancy!.change(to: UInt64(unread), at: t)
        t = t.adding(saturating: costs.ringSlotNs)
        pending.schedule(Scheduled(step: .repost, ring: Int32(r), value: 0), at: t)
      } else {
        rings[r].outstanding &-= 1
        metrics.channels[r].occupancy!.change(to: UInt64(rings[r].outstanding), at: t)
      }
    }
    let perResponse = receive ? 2 &* costs.ringSlotNs : costs.ringSlotNs
    metrics.channels[r].overheadNs.add(saturating: UInt64(n) &* perResponse)
    rings[r].rspCons &+= n
    rings[r].guestFree = t
    // Freed slots let stalled requests in (rx: each repost does).
    if !receive && !rings[r].waiting.isEmpty && n > 0 && !rings[r].pushScheduled {
      rings[r].pushScheduled = true
      pending.schedule(Scheduled(step: .push, ring: Int32(r), value: 0), at: t)
    }
    if n == 0 {
      guestCheck(r, t)
    } else {
      pending.schedule(Scheduled(step: .guestCheck, ring: Int32(r), value: 0), at: t)
    }
  }

  /// RING_FINAL_CHECK_FOR_RESPONSES: keep consuming, or arm rsp_event and return.
  private mutating func guestCheck(_ r: Int, _ now: UInt64) {
    if rings[r].rspProd != rings[r].rspCons {
      guestHandler(r, now)
      return
    }
    rings[r].rspEvent = XenRingRules.armedEvent(consumer: rings[r].rspCons)
    if rings[r].rspProd != rings[r].rspCons {
      guestHandler(r, now)
      return
    }
    rings[r].handler = .asleep
  }

  /// rx: a fresh buffer is posted; a packet waiting for one can take it.
  private mutating func repost(_ r: Int, _ now: UInt64) {
    rings[r].outstanding &-= 1
    rings[r].reading &-= 1
    if !rings[r].waiting.isEmpty && !rings[r].respondScheduled {
      rings[r].respondScheduled = true
      pending.schedule(Scheduled(step: .respond, ring: Int32(r), value: 0), at: now)
    }
  }

  // MARK: Requests

  @inline(__always)
  private mutating func allocate(_ request: Request) -> Int32 {
    if let id = freeRequests.popLast() {
      requests[Int(id)] = request
      return id
    }
    requests.append(request)
    return Int32(requests.count - 1)
  }
}
