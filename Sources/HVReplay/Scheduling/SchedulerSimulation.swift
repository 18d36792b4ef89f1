import DequeModule
import Histogram

// Model rules "CPU scheduling" (docs/MODEL.md): a cpu burst makes its vCPU runnable with
// that much work (queued behind any work it still has); it runs when the scheduler gives
// it a pCPU and blocks when its work is done. pCPUs are shared through one run queue and
// are work-conserving: a pCPU idles only when no vCPU is runnable, except where a cap
// holds a VM back. Every run is accounted exactly and by ticks at once. Without a horizon
// the schedule runs until every burst's work is done ("CPU window to the end of the work").

/// A discrete-event simulation of physical CPUs under a scheduling policy.
struct SchedulerSimulation<Policy: SchedulingPolicy>: CPUScheduler {
  private enum Step {
    /// A pCPU's vCPU finishes its work or its timeslice (valid for one generation).
    case pcpu(Int, generation: UInt64)
    /// A capped VM's budget for this period runs out (valid for one generation).
    case cap(Int, generation: UInt64)
  }

  private struct PCPU {
    var vcpu = -1
    var lastVCPU = -1
    /// When the running vCPU's work began (after the context switch) and was last accounted.
    var runStart: UInt64 = 0
    var accruedUntil: UInt64 = 0
    var generation: UInt64 = 0
    /// When the running vCPU's timeslice ends.
    var sliceEnd: UInt64 = 0
  }

  private typealias Item = IOWork

  /// The end of a queued burst's work, in the vCPU's cumulative burst work; `count` bursts
  /// arrived at `arrivals` (summed) end there (more than one only past ``burstMarkLimit``).
  private struct BurstMark {
    var end: UInt64
    var arrivals: UInt64
    var count: UInt64
  }

  /// Work that completed: the host hands `continuation` back to the backend.
  struct Finished {
    var continuation: UInt64
    var channel: Int32
    var time: UInt64
    var ordered: Bool
  }

  private struct VMState {
    var id: UInt16
    var weight: UInt64
    /// CPU budget per period in ns, or `UInt64.max` when uncapped.
    var budget: UInt64
    var usedThisPeriod: UInt64 = 0
    var running = 0
    var parked = false
    var capGeneration: UInt64 = 0
    var vcpus: [Int] = []
  }

  var name: String { policy.name }
  private var policy: Policy
  private let model: Model
  private let timeslice: UInt64
  private let tickNs: UInt64
  private let switchNs: UInt64
  private let tickDrivesCredit: Bool
  private let horizon: UInt64?

  private var vcpus: [VCPUState] = []
  /// Each vCPU's context (for the timeline).
  private var contexts: [CPUContext] = []
  /// What the vCPUs ran and how many pCPUs were busy, in the timeline window (model rule
  /// "timeline"), when one is recorded.
  var timeline = TimelineLog()
  private var vcpuIndex: [UInt64: Int] = [:]
  private static var cacheSlots: Int { 64 }
  private var contextCache = [(key: UInt64, index: Int)](
    repeating: (.max, 0), count: Self.cacheSlots)
  /// I/O work per vCPU, and how much of each vCPU's `remaining` it is.
  private var items = ItemLists()
  /// Each vCPU's list in ``items``.
  private var itemList: [ItemLists.List] = []
  private var itemLeft: [UInt64] = []
  /// Burst work per vCPU: served so far, queued so far, and where each queued burst ends.
  private var burstServed: [UInt64] = []
  private var burstQueued: [UInt64] = []
  private var burstMarks: [Deque<BurstMark>] = []
  /// The channel lock (model rule W3): held, and the ordered work waiting for it.
  private var lockHeld: [Bool] = []
  private var lockQueue: [ItemLists.List] = []
  /// Work completed since the host last took it.
  var finished = FIFO<Finished>()
  /// The pCPU each vCPU runs on, or -1.
  private var pcpuOf: [Int] = []
  /// The pCPU each vCPU last ran on, or -1.
  private var lastPCPU: [Int] = []
  /// While the host hands continuations back: arrivals wake vCPUs but dispatch nothing.
  private var settling = false
  /// Whether a vCPU woke while settling: its dispatch and preemption wait for ``settle()``.
  private var wokeWhileSettling = false
  /// The pCPU whose vCPU finished I/O work and waits for ``settle()``.
  private var unsettled = -1
  /// No vCPU has work and an accounting pass has run since: ticks and passes change
  /// nothing until the next arrival (host mode).
  private var quiet = true
  /// When the last vCPU with work blocked: the end of the work (CPU rule 7).
  private var workEnd: UInt64 = 0
  /// A host's figures of the window that ended at the horizon (model rule "host horizon").
  private var closed: SchedulerResult? {
    didSet { windowClosed = closed != nil }
  }
  /// Whether ``closed`` is set, asked per piece of work without copying the figures.
  private var windowClosed = false
  /// Where I/O work runs once the window has closed.
  private var pastWindow = DedicatedCPUs()
  private var vms: [VMState] = []
  private var vmIndex: [UInt32: Int] = [:]
  /// Guest VMs' indices by VM id (-1: not seen yet), sparing the owner's lookup a hash.
  private var guestVMs: [Int32] = []
  /// Each VM's weight, by VM index (kept beside `vms` for the accounting pass).
  private var weights: [UInt64] = []
  private var metrics: [VMCPUMetrics] = []
  /// Every VM's waits at full precision.
  private var wait = ChannelMetrics.makeHistogram()
  private var pcpus: [PCPU]
  private var steps = EventQueue<Step>()
  private var nextTick: UInt64
  private var nextPass: UInt64
  private var idleCount: Int
  private var queuedCount = 0
  /// vCPUs with work (queued, running or parked): not blocked.
  private var busyCount = 0
  /// Each VM's entitlement, period by period.
  private var entitlement: PeriodEntitlement
  private var now: UInt64 = 0
  private var switchingNs: UInt64 = 0
  private var idleWhileRunnableNs: UInt64 = 0
  /// Simulation steps taken (ticks, accounting passes, pCPU and cap steps) and the budget.
  private var work: UInt64 = 0
  private var workBudget: UInt64
  private let stepsPerBurst: UInt64
  private let stepsPerItem: UInt64
  private let stepsPerVCPU: UInt64

  init(
    model: Model, policy: Policy, horizon: UInt64? = nil,
    baseSteps: UInt64 = Self.defaultBaseSteps, stepsPerBurst: UInt64 = Self.defaultStepsPerBurst,
    stepsPerVCPU: UInt64 = Self.defaultStepsPerVCPU
  ) {
    workBudget = baseSteps
    self.stepsPerBurst = stepsPerBurst
    self.stepsPerVCPU = stepsPerVCPU
    self.model = model
    self.policy = policy
    self.horizon = horizon
    timeslice = model.cpu.timesliceNs
    tickNs = model.cpu.tickNs
    switchNs = model.cpu.contextSwitchNs
    tickDrivesCredit = model.cpu.accounting == .tick
    stepsPerItem = 16
    pcpus = Array(repeating: PCPU(), count: Int(model.cpu.pcpus))
    idleCount = pcpus.count
    nextTick = tickNs
    nextPass = timeslice
    entitlement = PeriodEntitlement(period: model.cpu.timesliceNs, pcpus: model.cpu.pcpus)
  }

  // MARK: Driving

  mutating func replay(_ events: UnsafeBufferPointer<TraceEvent>) throws(HVReplayError) {
    for event in events where event.op == .burst {
      // Model rule "scaled bursts": a burst arrives at its time at the replay's rate.
      let t = model.replay.scaled(event.timeNs)
      if let horizon, t >= horizon { continue }
      try run(until: t)
      workBudget = workBudget.adding(saturating: stepsPerBurst)
      try arrive(event, at: t)
    }
  }

  /// Model rule "CPU window to the end of the work" (docs/MODEL.md, CPU rule 7): with a
  /// horizon the window ends there and work still queued is unserved; without one the
  /// schedule runs until every burst's work is done, and the window ends at the later of
  /// `windowEnd` (the trace's last event) and the moment the last work completed.
  mutating func finish(windowStart: UInt64, windowEnd: UInt64) throws(HVReplayError)
    -> SchedulerResult
  {
    if var closed {
      closed.windowStart = windowStart
      closed.windowEnd = max(closed.windowEnd, windowStart)
      closed.entitle()
      return closed
    }
    let end: UInt64
    if let horizon {
      end = horizon
      try run(until: end)
    } else {
      try runUntilDone()
      // A host keeps ticking after its work until a pass finds it quiet; the work ended
      // when the last busy vCPU blocked.
      end = max(windowEnd, busyCount == 0 ? workEnd : now)
    }
    return try close(at: end, windowStart: windowStart)
  }

  /// Model rule "host horizon": a host's CPU window ends at the horizon, where every step
  /// before it has run. The figures are taken there (work still queued is unserved); the
  /// host goes on running the I/O paths in flight so that each request completes once,
  /// outside the window.
  mutating func closeWindow(at horizon: UInt64) throws(HVReplayError) {
    guard closed == nil else { return }
    closed = try close(at: horizon, windowStart: 0)
  }

  /// The figures of the window that ends at `end`, the simulation accounted up to it.
  private mutating func close(at end: UInt64, windowStart: UInt64) throws(HVReplayError)
    -> SchedulerResult
  {
    advanceClock(to: end)
    for p in pcpus.indices { accrue(p, to: end) }
    var metrics = metrics
    for (i, vm) in vms.enumerated() {
      metrics[i].unservedNs = Self.add(
        vm.vcpus.map { vcpus[$0].remaining }.saturatingSum(), metrics[i].unservedNs)
      metrics[i].vcpus = vm.vcpus.count
    }
    return try result(metrics, windowStart: windowStart, windowEnd: max(end, windowStart))
  }

  /// The figures of the window that ends at `windowEnd`.
  private mutating func result(
    _ metrics: [VMCPUMetrics], windowStart: UInt64, windowEnd: UInt64
  ) throws(HVReplayError) -> SchedulerResult {
    var metrics = metrics
    let (entitled, steps) = entitlement.finish(windowEnd: windowEnd)
    try count(steps)
    for i in metrics.indices { metrics[i].entitledNs = entitled[i] }
    var result = SchedulerResult(
      name: name, vms: metrics, windowStart: windowStart, windowEnd: windowEnd,
      pcpus: model.cpu.pcpus, switchingNs: switchingNs, idleWhileRunnableNs: idleWhileRunnableNs,
      wait: wait, tickNs: tickNs)
    result.policy = name
    result.entitle()
    result.vms.sort { ($0.domain.rawValue, $0.vm) < ($1.domain.rawValue, $1.vm) }
    return result
  }

  /// Model rule "CPU work budget" (docs/MODEL.md): the simulation may take 20 million
  /// steps plus 1,000 per burst, 16 per piece of I/O work and 1,000 per vCPU; ticks, pCPU
  /// and cap steps count one each, a tick one more per busy pCPU, an accounting pass one
  /// per pCPU, vCPU and VM it visits. One vCPU busy for days on 2 pCPUs stops at about
  /// 14 hours of trace time; beyond the budget a hostile or mistimed trace, or a tiny tick
  /// or timeslice, would take hours.
  static var defaultBaseSteps: UInt64 { 20_000_000 }
  static var defaultStepsPerBurst: UInt64 { 1_000 }
  /// Steps a vCPU adds to the budget: 500 accounting passes visiting it and its VM (15 s
  /// of 30 ms passes), as much as a burst adds.
  static var defaultStepsPerVCPU: UInt64 { 1_000 }

  /// The time of the next pCPU or cap step, tick or pass (two-argument `min`s: the
  /// variadic one allocates its rest array).
  private var nextScheduled: UInt64 {
    @inline(__always) get { min(steps.nextTime, min(nextTick, nextPass)) }
  }

  /// Runs every scheduling step before `time`.
  private mutating func run(until time: UInt64) throws(HVReplayError) {
    while true {
      skipIdleStretch(until: time)
      let next = nextScheduled
      guard next < time else { return }
      try step(at: next)
    }
  }

  /// Runs scheduling steps until no vCPU has work left (within the work budget).
  private mutating func runUntilDone() throws(HVReplayError) {
    while busyCount > 0 {
      let next = nextScheduled
      guard next < .max else { return }
      try step(at: next)
    }
  }

  /// Counts `n` steps against the work budget.
  private mutating func count(_ n: UInt64) throws(HVReplayError) {
    work = work.adding(saturating: n)
    if work > workBudget { throw overBudget() }
  }

  /// Takes the scheduling step (pCPU or cap step, tick or pass) due at `next`.
  private mutating func step(at next: UInt64) throws(HVReplayError) {
    try count(1)
    advanceClock(to: next)
    if steps.nextTime == next {
      let step = steps.pop().payload
      switch step {
      case .pcpu(let p, let generation):
        if pcpus[p].generation == generation { pcpuDone(p) }
      case .cap(let vm, let generation):
        if vms[vm].capGeneration == generation { capExhausted(vm) }
      }
    } else if nextTick == next {
      tick()
      nextTick = nextTick > .max - tickNs ? .max : nextTick + tickNs
    } else {
      pass()
      nextPass = nextPass > .max - timeslice ? .max : nextPass + timeslice
    }
  }

  /// A host whose I/O work could not finish: the clock saturated at 2^64 - 1 ns before it
  /// ended (model rule "the end of the clock"), or nil.
  var unfinishedIO: HVReplayError? {
    guard itemLeft.contains(where: { $0 > 0 }) || lockHeld.contains(true) else { return nil }
    return HVReplayError(
      .badData,
      "the \(name) host's I/O work cannot finish: it would end after trace time 2^64 - 1 ns (\(TraceInspection.seconds(.max))); the trace's times or service times are too close to the end of the clock"
    )
  }

  /// The error for a schedule that took more steps than its budget.
  private func overBudget() -> HVReplayError {
    HVReplayError(
      .badData,
      "the CPU schedule needs more than \(workBudget) simulation steps by trace time \(TraceInspection.seconds(now)) (a tick every cpu.tick_ns = \(tickNs) ns, an accounting pass and cap period every cpu.timeslice_ns = \(timeslice) ns, while vCPUs run or wait); raise cpu.tick_ns or cpu.timeslice_ns, or end the CPU window earlier with --horizon"
    )
  }

  /// Jumps over ticks and passes that can change nothing: no vCPU runs, waits or is
  /// parked, and every vCPU has had the pass after it last ran.
  private mutating func skipIdleStretch(until time: UInt64) {
    guard idleCount == pcpus.count && queuedCount == 0 && steps.isEmpty,
      time > nextPass && time - nextPass > 2 * timeslice, time > nextTick,
      !vcpus.contains(where: { $0.active || $0.state == .parked })
    else { return }
    // The last tick and pass before `time`, keeping their phase.
    nextTick += (time - nextTick) / tickNs * tickNs
    nextPass += (time - nextPass) / timeslice * timeslice
    if nextTick == time { nextTick -= tickNs }
    if nextPass == time { nextPass -= timeslice }
  }

  /// vCPU `v` has no work left.
  @inline(__always)
  private mutating func block(_ v: Int) {
    vcpus[v].state = .blocked
    busyCount -= 1
    if busyCount == 0 { workEnd = now }
  }

  /// Moves the clock, measuring idle pCPUs that coexisted with queued vCPUs.
  private mutating func advanceClock(to time: UInt64) {
    if time > now {
      if idleCount > 0 && queuedCount > 0 { idleWhileRunnableNs += time - now }
      now = time
    }
  }

  // MARK: Events

  private mutating func arrive(_ event: TraceEvent, at time: UInt64) throws(HVReplayError) {
    advanceClock(to: time)
    let v = vcpu(.guest(event.vm, event.vcpu))
    let vm = vcpus[v].vm
    metrics[vm].demandNs = Self.add(metrics[vm].demandNs, event.serviceNs)
    try count(entitlement.arrive(v, at: time, ns: event.serviceNs))
    guard event.serviceNs > 0 else { return }
    vcpus[v].remaining = Self.add(vcpus[v].remaining, event.serviceNs)
    burstQueued[v] = Self.add(burstQueued[v], event.serviceNs)
    // Model rule "burst slowdown": where this burst's work ends in the vCPU's burst work.
    if burstMarks[v].count < Self.burstMarkLimit {
      burstMarks[v].append(BurstMark(end: burstQueued[v], arrivals: time, count: 1))
    } else {
      burstMarks[v][burstMarks[v].count - 1].end = burstQueued[v]
      burstMarks[v][burstMarks[v].count - 1].arrivals &+= time
      burstMarks[v][burstMarks[v].count - 1].count &+= 1
    }
    wake(v)
  }

  /// Bursts queued on one vCPU whose finish times are kept one by one; later ones finish
  /// with the last kept (their response times are then bounded above).
  static var burstMarkLimit: Int { 1 << 16 }

  /// Work arrived for vCPU `v`: a blocked vCPU becomes runnable.
  private mutating func wake(_ v: Int) {
    guard vcpus[v].state == .blocked else { return }
    let vm = vcpus[v].vm
    busyCount += 1
    quiet = false
    vcpus[v].queuedSince = now
    if vms[vm].parked {
      vcpus[v].state = .parked
      return
    }
    makeRunnable(v, reason: .wake)
    guard !settling else {
      wokeWhileSettling = true
      return
    }
    dispatchIdle()
    preemptWhereOutranked()
  }

  /// A pCPU's vCPU finished its work or its timeslice.
  private mutating func pcpuDone(_ p: Int) {
    accrue(p, to: now)
    let v0 = pcpus[p].vcpu
    if !finished.isEmpty || (itemLeft[v0] > 0 && now < pcpus[p].sliceEnd) {
      // Model rule "chains": the backend continues before the vCPU blocks or goes on
      // (to its next I/O work, within its timeslice).
      unsettled = p
      settling = true
      return
    }
    let v = pcpus[p].vcpu
    release(p)
    if vcpus[v].remaining == 0 {
      block(v)
    } else {
      vcpus[v].queuedSince = now
      makeRunnable(v, reason: .requeue)
    }
    dispatch(p)
    dispatchIdle()
  }

  private mutating func tick() {
    for p in pcpus.indices where pcpus[p].vcpu >= 0 {
      // Each busy pCPU a tick visits counts against the work budget (4,096 of them at a
      // 1 us tick would otherwise be hours of work at one step each).
      work &+= 1
      accrue(p, to: now)
      let v = pcpus[p].vcpu
      metrics[vcpus[v].vm].billedTickNs &+= tickNs
      metrics[vcpus[v].vm].billedTicks &+= 1
      if tickDrivesCredit { policy.charge(v, ns: tickNs, vcpus: &vcpus) }
      policy.tick(v, vcpus: &vcpus)
    }
    preemptWhereOutranked()
  }

  /// The accounting pass: credit, and a new cap period.
  private mutating func pass() {
    // A pass visits every pCPU, vCPU and VM: each visit counts against the work budget.
    work &+= UInt64(pcpus.count + vcpus.count + vms.count)
    for p in pcpus.indices { accrue(p, to: now) }
    policy.account(vcpus: &vcpus, weights: weights)
    for vm in vms.indices {
      vms[vm].usedThisPeriod = 0
      if vms[vm].parked {
        vms[vm].parked = false
        for v in vms[vm].vcpus where vcpus[v].state == .parked {
          makeRunnable(v, reason: .unpark)
        }
      }
      rescheduleCap(vm)
    }
    // Every vCPU blocked through a pass: further ticks and passes change nothing.
    if busyCount == 0 { quiet = true }
    dispatchIdle()
    preemptWhereOutranked()
  }

  /// A capped VM used its budget: its vCPUs wait for the next period.
  private mutating func capExhausted(_ vm: Int) {
    for p in pcpus.indices where pcpus[p].vcpu >= 0 && vcpus[pcpus[p].vcpu].vm == vm {
      accrue(p, to: now)
    }
    // With n vCPUs running, a remainder under n ns cannot be split: the budget is spent.
    guard vms[vm].usedThisPeriod + UInt64(max(vms[vm].running, 1)) > vms[vm].budget else {
      rescheduleCap(vm)
      return
    }
    vms[vm].parked = true
    for v in vms[vm].vcpus where vcpus[v].state == .queued {
      policy.remove(v, vcpus: &vcpus)
      queuedCount -= 1
      vcpus[v].state = .parked
    }
    var freed: [Int] = []
    for p in pcpus.indices where pcpus[p].vcpu >= 0 && vcpus[pcpus[p].vcpu].vm == vm {
      let v = pcpus[p].vcpu
      release(p)
      vcpus[v].state = .parked
      vcpus[v].queuedSince = now
      freed.append(p)
    }
    for p in freed { dispatch(p) }
  }

  // MARK: Host (docs/MODEL.md, "One host")

  /// When the next scheduling step is due in a host simulation; `UInt64.max` while quiet.
  var hostNextStepTime: UInt64 {
    @inline(__always) get {
      if quiet && busyCount == 0 && steps.isEmpty { return .max }
      return nextScheduled
    }
  }

  /// Takes the next scheduling step of a host simulation. The work it completed is in
  /// ``finished``; the host hands it back to the backend, then calls ``settle()``.
  mutating func hostStep() throws(HVReplayError) {
    try step(at: nextScheduled)
  }

  /// After the continuations of ``finished`` ran: the vCPU whose work finished blocks,
  /// goes back to the run queue at the end of its timeslice, or goes on with its next work;
  /// then idle pCPUs take queued vCPUs and preemption is decided once.
  mutating func settle() {
    settling = false
    let p = unsettled
    unsettled = -1
    // A step that was not a chain made its own scheduling decisions, as the bursts alone
    // make them: nothing is left to decide.
    guard p >= 0 else { return }
    let v = pcpus[p].vcpu
    if vcpus[v].remaining == 0 {
      release(p)
      block(v)
      dispatch(p)
    } else if now >= pcpus[p].sliceEnd {
      release(p)
      vcpus[v].queuedSince = now
      makeRunnable(v, reason: .requeue)
      dispatch(p)
    } else {
      pcpus[p].generation += 1
      let start = max(now, pcpus[p].accruedUntil)
      steps.schedule(
        .pcpu(p, generation: pcpus[p].generation),
        at: min(pcpus[p].sliceEnd, Self.add(start, segment(v))))
    }
    // As a pCPU whose vCPU finished (``pcpuDone(_:)``): idle pCPUs take queued vCPUs; a
    // vCPU woken by the continuations is dispatched as any wake-up is.
    dispatchIdle()
    if wokeWhileSettling {
      wokeWhileSettling = false
      preemptWhereOutranked()
    }
  }

  /// A cpu burst arrives at `time` (scaled) in a host simulation.
  mutating func arriveBurst(_ event: TraceEvent, at time: UInt64) throws(HVReplayError) {
    leaveQuiet(at: time)
    workBudget = workBudget.adding(saturating: stepsPerBurst)
    try arrive(event, at: time)
  }

  /// Model rule "host horizon" (docs/MODEL.md, "One host"): at the horizon the bursts' work
  /// still queued is unserved and dropped; I/O work goes on until every request completes.
  mutating func dropBursts(at time: UInt64) {
    advanceClock(to: time)
    for p in pcpus.indices { accrue(p, to: time) }
    for v in vcpus.indices {
      let burst = vcpus[v].remaining - itemLeft[v]
      guard burst > 0 else { continue }
      let vm = vcpus[v].vm
      metrics[vm].unservedNs = Self.add(metrics[vm].unservedNs, burst)
      vcpus[v].remaining -= burst
      burstMarks[v].removeAll()
      guard vcpus[v].remaining == 0 else { continue }
      switch vcpus[v].state {
      case .running:
        let p = pcpuOf[v]
        release(p)
        block(v)
        dispatch(p)
      case .queued:
        policy.remove(v, vcpus: &vcpus)
        queuedCount -= 1
        block(v)
      case .parked:
        block(v)
      case .blocked: break
      }
    }
    // A running vCPU that keeps I/O work gets a step at that work's end.
    for p in pcpus.indices where pcpus[p].vcpu >= 0 {
      let v = pcpus[p].vcpu
      pcpus[p].generation += 1
      let start = max(now, pcpus[p].accruedUntil)
      steps.schedule(
        .pcpu(p, generation: pcpus[p].generation),
        at: min(pcpus[p].sliceEnd, Self.add(start, segment(v))))
    }
    dispatchIdle()
    preemptWhereOutranked()
  }

  /// The channel lock of `channel` is free again: its next ordered work goes to its vCPU.
  mutating func releaseLock(_ channel: Int32) {
    let c = Int(channel)
    lockHeld[c] = false
    guard let next = items.removeFirst(&lockQueue[c]) else { return }
    lockHeld[c] = true
    if next.left == 0 {
      finished.append(
        Finished(continuation: next.continuation, channel: channel, time: now, ordered: true))
    } else {
      arriveItem(Int(next.vcpu), next)
    }
  }

  /// Leaves a quiet stretch at `time`: the next tick and pass are the first at or after it,
  /// in their phase (an arrival comes before a step at the same instant).
  private mutating func leaveQuiet(at time: UInt64) {
    guard quiet && busyCount == 0 && steps.isEmpty else { return }
    if nextTick < time { nextTick = Self.ceiling(time, tickNs) }
    if nextPass < time { nextPass = Self.ceiling(time, timeslice) }
  }

  /// The first multiple of `unit` at or after `t`, saturating.
  private static func ceiling(_ t: UInt64, _ unit: UInt64) -> UInt64 {
    let (q, r) = t.quotientAndRemainder(dividingBy: unit)
    guard r > 0 else { return t }
    let (v, overflow) = (q + 1).multipliedReportingOverflow(by: unit)
    return overflow ? .max : v
  }

  /// I/O work for vCPU `v` (model rule "I/O work first"): it runs before the vCPU's burst
  /// work; arriving while the vCPU runs a burst, it takes over at once, with no switch.
  private mutating func arriveItem(_ v: Int, _ item: Item) {
    let p = pcpuOf[v]
    let preempts = p >= 0 && itemLeft[v] == 0 && p != unsettled
    if preempts { accrue(p, to: now) }
    items.append(item, to: &itemList[v])
    itemLeft[v] = Self.add(itemLeft[v], item.left)
    vcpus[v].remaining = Self.add(vcpus[v].remaining, item.left)
    if preempts {
      pcpus[p].generation += 1
      let start = max(now, pcpus[p].accruedUntil)
      steps.schedule(
        .pcpu(p, generation: pcpus[p].generation),
        at: min(pcpus[p].sliceEnd, Self.add(start, item.left)))
    } else if vcpus[v].state == .blocked {
      wake(v)
    }
  }

  // MARK: Mechanics

  /// `a + b`, saturating at `UInt64.max` (a hostile trace cannot overflow the clock).
  @inline(__always)
  static func add(_ a: UInt64, _ b: UInt64) -> UInt64 {
    let (sum, overflow) = a.addingReportingOverflow(b)
    return overflow ? .max : sum
  }

  /// The index of the vCPU of `context`, created on first sight.
  private mutating func vcpu(_ context: CPUContext) -> Int {
    let key =
      UInt64(context.domain.rawValue) << 32 | UInt64(context.vm) << 16 | UInt64(context.vcpu)
    // A direct-mapped cache of recent contexts spares most lookups their hashing.
    let slot = Int(truncatingIfNeeded: (key ^ key >> 29) & UInt64(Self.cacheSlots - 1))
    if contextCache[slot].key == key { return contextCache[slot].index }
    if let v = vcpuIndex[key] {
      contextCache[slot] = (key, v)
      return v
    }
    let vm = vmIndex(context.domain, context.vm)
    let v = vcpus.count
    vcpus.append(VCPUState(vm: vm))
    contexts.append(context)
    itemList.append(ItemLists.List())
    itemLeft.append(0)
    pcpuOf.append(-1)
    lastPCPU.append(-1)
    burstServed.append(0)
    burstQueued.append(0)
    burstMarks.append(Deque())
    entitlement.addVCPU(vm: vm)
    // Model rule "CPU work budget": passes visit each vCPU and its VM (a host of many VMs
    // takes a pass's steps for each).
    workBudget = workBudget.adding(saturating: stepsPerVCPU)
    vcpuIndex[key] = v
    vms[vm].vcpus.append(v)
    return v
  }

  /// The index of guest VM `id`, created on first sight.
  @inline(__always)
  private mutating func guestVM(_ id: UInt16) -> Int {
    let i = Int(id)
    if i < guestVMs.count, guestVMs[i] >= 0 { return Int(guestVMs[i]) }
    return vmIndex(.guest, id)
  }

  /// The index of VM `id` of `domain`, created on first sight: a guest has the model's
  /// `vms.<id>` parameters, the driver domain `backend.*`, a device model
  /// `full.device_model_weight` and no cap (docs/MODEL.md, "One host").
  private mutating func vmIndex(_ domain: CPUDomain, _ id: UInt16) -> Int {
    let key = UInt32(domain.rawValue) << 16 | UInt32(id)
    if let found = vmIndex[key] { return found }
    let vm = vms.count
    vmIndex[key] = vm
    if domain == .guest {
      if Int(id) >= guestVMs.count {
        guestVMs.append(contentsOf: repeatElement(-1, count: Int(id) + 1 - guestVMs.count))
      }
      guestVMs[Int(id)] = Int32(vm)
    }
    let config =
      switch domain {
      case .guest: model.vm(id)
      case .driverDomain:
        Model.VM(weight: model.backend.weight, capPercent: model.backend.capPercent)
      case .deviceModel: Model.VM(weight: model.full.deviceModelWeight, capPercent: 0)
      }
    let budget = config.capPercent == 0 ? UInt64.max : config.capPercent * timeslice / 100
    vms.append(VMState(id: id, weight: config.weight, budget: budget))
    entitlement.addVM(weight: config.weight, capPercent: config.capPercent)
    weights.append(config.weight)
    var m = VMCPUMetrics(vm: id, config: config)
    m.domain = domain
    metrics.append(m)
    return vm
  }

  private mutating func makeRunnable(_ v: Int, reason: EnqueueReason) {
    vcpus[v].state = .queued
    queuedCount += 1
    policy.enqueue(v, reason: reason, vcpus: &vcpus)
  }

  /// Gives pCPU `p` (now free) the next queued vCPU, or leaves it idle.
  private mutating func dispatch(_ p: Int) {
    guard let v = policy.dequeue(vcpus: vcpus) else { return }
    start(v, on: p)
  }

  /// Puts dequeued vCPU `v` on idle pCPU `p`.
  private mutating func start(_ v: Int, on p: Int) {
    queuedCount -= 1
    idleCount -= 1
    let vm = vcpus[v].vm
    vcpus[v].state = .running
    // Waits beyond the histogram's hour are recorded at an hour, as latencies are.
    let waited = min(now - vcpus[v].queuedSince, ChannelMetrics.highestLatencyNs)
    metrics[vm].wait.record(waited)
    wait.record(waited)
    var start = now
    if pcpus[p].lastVCPU != v {
      start = Self.add(start, switchNs)
      switchingNs += switchNs
      metrics[vm].contextSwitches += 1
    }
    pcpus[p].vcpu = v
    pcpuOf[v] = p
    lastPCPU[v] = p
    pcpus[p].lastVCPU = v
    pcpus[p].runStart = start
    pcpus[p].accruedUntil = start
    pcpus[p].generation += 1
    pcpus[p].sliceEnd = Self.add(start, timeslice)
    let end = Self.add(start, min(timeslice, segment(v)))
    steps.schedule(.pcpu(p, generation: pcpus[p].generation), at: end)
    vms[vm].running += 1
    if timeline.enabled { timelineCounters(vm) }
    rescheduleCap(vm)
  }

  /// Timeline: busy pCPUs and VM `vm`'s running vCPUs as they stand now.
  private mutating func timelineCounters(_ vm: Int) {
    timeline.busyPCPUs(pcpus.count - idleCount, at: now)
    timeline.runningVCPUs(
      vm: vm, domain: metrics[vm].domain, id: vms[vm].id, vms[vm].running, at: now)
  }

  /// Takes the running vCPU off pCPU `p` (already accrued).
  private mutating func release(_ p: Int) {
    let v = pcpus[p].vcpu
    let vm = vcpus[v].vm
    pcpus[p].vcpu = -1
    pcpuOf[v] = -1
    pcpus[p].generation += 1
    idleCount += 1
    vms[vm].running -= 1
    if timeline.enabled { timelineCounters(vm) }
    rescheduleCap(vm)
  }

  /// Model rule "wake affinity": each queued vCPU, in the policy's order, takes the idle
  /// pCPU it last ran on, else an idle pCPU no vCPU has run on, else the lowest idle one.
  private mutating func dispatchIdle() {
    while queuedCount > 0 && idleCount > 0 {
      guard let v = policy.dequeue(vcpus: vcpus) else { return }
      var p = lastPCPU[v]
      if p < 0 || pcpus[p].vcpu >= 0 {
        // One pass: the first idle pCPU no vCPU has run on, else the first idle one.
        p = -1
        for q in pcpus.indices where pcpus[q].vcpu < 0 {
          if p < 0 { p = q }
          if pcpus[q].lastVCPU < 0 {
            p = q
            break
          }
        }
      }
      start(v, on: p)
    }
  }

  /// Preempts the lowest-priority running vCPUs while a queued vCPU outranks them.
  ///
  /// Model rule "credit burned so far" (docs/MODEL.md, credit rule 4): under exact
  /// accounting the running vCPUs are accounted up to now first, so that their priorities
  /// and credit are the ones they have now, not the ones of their last tick.
  private mutating func preemptWhereOutranked() {
    guard queuedCount > 0 else { return }
    if !tickDrivesCredit {
      for p in pcpus.indices where pcpus[p].vcpu >= 0 { accrue(p, to: now) }
    }
    while queuedCount > 0 {
      let best = policy.bestQueuedRank(vcpus: vcpus)
      var worst = -1
      var worstRank = Int.min
      var worstStanding = Int64.max
      for p in pcpus.indices where pcpus[p].vcpu >= 0 {
        let v = pcpus[p].vcpu
        let r = policy.rank(v, vcpus: vcpus)
        let standing = policy.standing(v, vcpus: vcpus)
        if r > worstRank || (r == worstRank && standing < worstStanding) {
          worstRank = r
          worstStanding = standing
          worst = p
        }
      }
      guard worst >= 0 && best < worstRank else { return }
      accrue(worst, to: now)
      let v = pcpus[worst].vcpu
      release(worst)
      vcpus[v].queuedSince = now
      makeRunnable(v, reason: .requeue)
      dispatch(worst)
    }
  }

  /// CPU time each VM received up to `time` (model rule "time series"), by VM index:
  /// what was accounted, and what the running vCPUs have run since.
  func usageNs(at time: UInt64) -> [UInt64] {
    var ns = [UInt64](repeating: 0, count: metrics.count)
    // By index: iterating the metrics would copy each (and its wait histogram).
    for i in metrics.indices { ns[i] = metrics[i].cpuNs }
    for p in pcpus where p.vcpu >= 0 && time > p.accruedUntil {
      ns[vcpus[p.vcpu].vm] &+= min(time - p.accruedUntil, vcpus[p.vcpu].remaining)
    }
    return ns
  }

  /// VM `index`'s label in cpu.csv.
  func label(ofVM index: Int) -> String { metrics[index].label }

  /// The host's pCPUs.
  var pcpuCount: UInt64 { UInt64(pcpus.count) }

  /// Accounts the time pCPU `p`'s vCPU ran up to `time`.
  private mutating func accrue(_ p: Int, to time: UInt64) {
    let v = pcpus[p].vcpu
    guard v >= 0, time > pcpus[p].accruedUntil else { return }
    let from = pcpus[p].accruedUntil
    let ran = min(time - from, vcpus[v].remaining)
    pcpus[p].accruedUntil = time
    vcpus[v].remaining -= ran
    let vm = vcpus[v].vm
    metrics[vm].cpuNs &+= ran
    metrics[vm].billedExactNs &+= ran
    vms[vm].usedThisPeriod = vms[vm].usedThisPeriod.adding(saturating: ran)
    if !tickDrivesCredit { policy.charge(v, ns: ran, vcpus: &vcpus) }
    // Model rule "I/O work first": the vCPU's I/O work ran before its burst work.
    var left = ran
    var at = from
    while left > 0 && itemLeft[v] > 0 {
      let head = Int(itemList[v].head)
      let x = min(left, items.pool[head].left)
      if timeline.enabled {
        timeline.ran(contexts[v], channel: items.pool[head].channel, from: at, to: at + x)
      }
      items.pool[head].left -= x
      itemLeft[v] -= x
      left -= x
      at += x
      let owner = Int(items.pool[head].owner)
      if metrics[vm].domain == .guest {
        metrics[owner].virtGuestNs &+= x
      } else {
        metrics[vm].virtBackendNs &+= x
        if owner != vm { metrics[owner].virtBackendNs &+= x }
      }
      if items.pool[head].left == 0 {
        let item = items.removeFirst(&itemList[v])!
        finished.append(
          Finished(
            continuation: item.continuation, channel: item.channel, time: at,
            ordered: item.ordered))
      }
    }
    guard left > 0 else { return }
    if timeline.enabled { timeline.ran(contexts[v], channel: -1, from: at, to: at + left) }
    let before = burstServed[v]
    burstServed[v] &+= left
    while let mark = burstMarks[v].first, mark.end <= burstServed[v] {
      burstMarks[v].removeFirst()
      let finish = at &+ (mark.end &- before)
      metrics[vm].burstsDone &+= mark.count
      metrics[vm].burstResponseNs &+= mark.count &* finish &- mark.arrivals
    }
  }

  /// The length of vCPU `v`'s next stretch of one kind of work: its first I/O work, else
  /// its burst work.
  @inline(__always)
  private func segment(_ v: Int) -> UInt64 {
    itemLeft[v] > 0 ? items.pool[Int(itemList[v].head)].left : vcpus[v].remaining
  }

  /// Schedules the moment a capped VM's budget runs out at its current number of running vCPUs.
  private mutating func rescheduleCap(_ vm: Int) {
    guard vms[vm].budget != .max else { return }
    vms[vm].capGeneration += 1
    guard vms[vm].running > 0 else { return }
    for p in pcpus.indices where pcpus[p].vcpu >= 0 && vcpus[pcpus[p].vcpu].vm == vm {
      accrue(p, to: max(now, pcpus[p].accruedUntil))
    }
    let left = vms[vm].budget > vms[vm].usedThisPeriod ? vms[vm].budget - vms[vm].usedThisPeriod : 0
    // The moment the running vCPUs together use `left`: each runs from its start (after any
    // context switch) on, so with starts a_1 <= ... <= a_k it is the last t with
    // sum over a_i <= t of (t - a_i) <= left.
    var starts: [UInt64] = []
    for c in pcpus where c.vcpu >= 0 && vcpus[c.vcpu].vm == vm { starts.append(c.accruedUntil) }
    starts.sort()
    // Times are taken from the first start, so that sums stay far from 2^64 at any clock.
    let origin = starts[0]
    var sum: UInt64 = 0
    var at = UInt64.max
    for (k, a) in starts.enumerated() {
      sum = sum.adding(saturating: a - origin)
      let n = UInt64(k + 1)
      // Rounded down: never past the budget.
      let t = origin.adding(saturating: left.adding(saturating: sum) / n)
      if k + 1 == starts.count || t <= starts[k + 1] {
        at = max(max(t, a), now)
        break
      }
    }
    steps.schedule(.cap(vm, generation: vms[vm].capGeneration), at: at)
  }
}

extension SchedulerSimulation: CPUExecutor {
  /// Queues `work` on its context's vCPU; its continuation comes back through
  /// ``finished``. No work completes at once, unless it waits for the channel lock.
  mutating func run(_ work: CPUWork, at time: UInt64) -> UInt64? {
    let c = Int(work.channel)
    if work.ordered && c >= lockHeld.count {
      let grow = c + 1 - lockHeld.count
      lockHeld.append(contentsOf: repeatElement(false, count: grow))
      lockQueue.append(contentsOf: repeatElement(ItemLists.List(), count: grow))
    }
    // Model rule "zero work is free".
    if work.ns == 0 && !(work.ordered && lockHeld[c]) { return time }
    // Model rule "host horizon": past the window, new work runs on CPUs of its own (work
    // waiting for a channel lock held on the host waits for it there).
    if windowClosed && !(work.ordered && lockHeld[c]) { return pastWindow.run(work, at: time) }
    leaveQuiet(at: time)
    advanceClock(to: time)
    let v = vcpu(work.context)
    let vm = vcpus[v].vm
    let owner = work.context.domain == .guest ? vm : guestVM(work.owner)
    workBudget = workBudget.adding(saturating: stepsPerItem)
    metrics[vm].demandNs = Self.add(metrics[vm].demandNs, work.ns)
    if !windowClosed { self.work &+= entitlement.arrive(v, at: time, ns: work.ns) }
    let item = Item(
      left: work.ns, continuation: work.continuation, channel: work.channel,
      owner: Int32(owner), vcpu: Int32(v), ordered: work.ordered)
    if work.ordered {
      if lockHeld[c] {
        items.append(item, to: &lockQueue[c])
        return nil
      }
      lockHeld[c] = true
    }
    arriveItem(v, item)
    return nil
  }
}

/// FIFO lists of I/O work in one pool (a vCPU's work, a channel lock's waiting work): one
/// array access per step instead of a queue per list.
private struct ItemLists {
  struct List {
    var head: Int32 = -1
    var tail: Int32 = -1
  }

  var pool: [IOWork] = []
  private var free: Int32 = -1

  @inline(__always)
  mutating func append(_ item: IOWork, to list: inout List) {
    var item = item
    item.next = -1
    let i: Int32
    if free >= 0 {
      i = free
      free = pool[Int(i)].next
      pool[Int(i)] = item
    } else {
      i = Int32(pool.count)
      pool.append(item)
    }
    if list.tail >= 0 { pool[Int(list.tail)].next = i } else { list.head = i }
    list.tail = i
  }

  @inline(__always)
  mutating func removeFirst(_ list: inout List) -> IOWork? {
    guard list.head >= 0 else { return nil }
    let i = Int(list.head)
    let item = pool[i]
    list.head = item.next
    if list.head < 0 { list.tail = -1 }
    pool[i].next = free
    free = Int32(i)
    return item
  }
}

/// A piece of an I/O path's CPU work queued on a vCPU (model rule "I/O work first").
private struct IOWork {
  var left: UInt64
  var continuation: UInt64
  var channel: Int32
  /// The VM (index) whose I/O this is.
  var owner: Int32
  /// The vCPU (index) it runs on.
  var vcpu: Int32
  var ordered: Bool
  /// The next item of its list in ``ItemLists/pool``, or -1.
  var next: Int32 = -1
}
