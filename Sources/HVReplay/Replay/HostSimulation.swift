// Model rules "One host" (docs/MODEL.md): a backend's I/O paths and the trace's cpu bursts
// share the host's `cpu.pcpus` pCPUs under one scheduler, on one clock. At one instant the
// trace's arrivals come first, then the driver's releases, then backend steps, then
// scheduling steps; the continuation of CPU work that ended runs before the vCPU that ran
// it blocks or goes on ("chains").

/// What the engine runs for each backend: a target behind a request driver.
protocol HostTarget: ReplayTarget {
  var backendName: String { get }
  mutating func addChannel(_ channel: Channel)
  var metrics: BackendMetrics { get }
  /// After the driver drained: the host's CPU figures (none uncoupled).
  mutating func finish(windowStart: UInt64, windowEnd: UInt64) throws(HVReplayError)
    -> SchedulerResult?
  var failure: HVReplayError? { get }
}

/// One host: `Backend`'s I/O paths and the bursts on pCPUs under `Policy`.
struct HostSimulation<Backend: DeviceBackend, Policy: SchedulingPolicy>: HostTarget {
  static var takesBursts: Bool { true }
  private var backend: Backend
  private var cpu: SchedulerSimulation<Policy>
  private let horizon: UInt64?
  private(set) var failure: HVReplayError?

  init(backend: Backend, cpu: SchedulerSimulation<Policy>, horizon: UInt64?) {
    self.backend = backend
    self.cpu = cpu
    self.horizon = horizon
  }

  var backendName: String { "\(backend.name)/\(cpu.name)" }
  var metrics: BackendMetrics { backend.metrics }
  mutating func addChannel(_ channel: Channel) { backend.addChannel(channel) }

  var nextStepTime: UInt64 {
    @inline(__always) get {
      failure == nil ? min(backend.nextStepTime, cpu.hostNextStepTime) : backend.nextStepTime
    }
  }

  var isIdle: Bool { backend.isIdle && (failure != nil || cpu.hostNextStepTime == .max) }

  var completions: CompletionLog {
    get { backend.completions }
    _modify { yield &backend.completions }
  }

  @inline(__always)
  mutating func runNextStep() {
    if failure != nil || backend.nextStepTime <= cpu.hostNextStepTime {
      backend.runNextStep(cpu: &cpu)
      deliver()
      return
    }
    do {
      try cpu.hostStep()
    } catch {
      failure = error
      return
    }
    deliver()
    cpu.settle()
  }

  /// Hands finished CPU work back to the backend, in the order it finished.
  @inline(__always)
  private mutating func deliver() {
    while let f = cpu.finished.popFirst() {
      backend.resume(f.continuation, channel: f.channel, at: f.time, cpu: &cpu)
      if f.ordered { cpu.releaseLock(f.channel) }
    }
  }

  @inline(__always)
  mutating func submit(_ event: TraceEvent, channel: Int, at time: UInt64, tag: UInt32) {
    backend.submit(event, channel: channel, at: time, tag: tag, cpu: &cpu)
  }

  mutating func arriveBurst(_ event: TraceEvent, at time: UInt64) {
    guard failure == nil else { return }
    // Model rule "host horizon": bursts at or after the horizon are not replayed.
    if let horizon, time >= horizon { return }
    do {
      try cpu.arriveBurst(event, at: time)
    } catch {
      failure = error
    }
  }

  mutating func finish(windowStart: UInt64, windowEnd: UInt64) throws(HVReplayError)
    -> SchedulerResult?
  {
    backend.finish()
    if let failure { throw failure }
    var result = try cpu.finish(windowStart: windowStart, windowEnd: windowEnd)
    result.name = backendName
    result.backend = backend.name
    return result
  }
}

/// Model rule "uncoupled" (`cpu.coupled = false`): a backend on CPUs of its own.
struct UncoupledBackend<Backend: DeviceBackend>: HostTarget {
  static var takesBursts: Bool { false }
  private var backend: Backend
  private var cpu = DedicatedCPUs()
  var failure: HVReplayError? { nil }

  init(backend: Backend) { self.backend = backend }

  var backendName: String { backend.name }
  var metrics: BackendMetrics { backend.metrics }
  mutating func addChannel(_ channel: Channel) { backend.addChannel(channel) }

  var nextStepTime: UInt64 {
    @inline(__always) get { backend.nextStepTime }
  }

  var isIdle: Bool { backend.isIdle }

  var completions: CompletionLog {
    get { backend.completions }
    _modify { yield &backend.completions }
  }

  @inline(__always)
  mutating func runNextStep() { backend.runNextStep(cpu: &cpu) }

  @inline(__always)
  mutating func submit(_ event: TraceEvent, channel: Int, at time: UInt64, tag: UInt32) {
    backend.submit(event, channel: channel, at: time, tag: tag, cpu: &cpu)
  }

  mutating func arriveBurst(_ event: TraceEvent, at time: UInt64) {}

  mutating func finish(windowStart: UInt64, windowEnd: UInt64) throws(HVReplayError)
    -> SchedulerResult?
  {
    backend.finish()
    return nil
  }
}

/// A target and its driver, replayed chunk by chunk: one dynamic call per chunk, the
/// per-event loop specialised for the target.
protocol ReplayRun {
  mutating func replay(
    _ events: UnsafeBufferPointer<TraceEvent>, channels: UnsafeBufferPointer<Int32>,
    newChannels: [Channel]) -> HVReplayError?
  /// Drains the driver and ends the run: what the backend measured, and the host's CPU.
  mutating func finish(windowStart: UInt64, windowEnd: UInt64) throws(HVReplayError)
    -> (BackendResult, SchedulerResult?)
}

/// The ``ReplayRun`` of one target.
struct DrivenRun<Target: HostTarget>: ReplayRun {
  var target: Target
  var driver: RequestDriver
  let design: String
  let scheduler: String?

  init(target: Target, model: Model, design: String, scheduler: String?) {
    self.target = target
    self.design = design
    self.scheduler = scheduler
    driver = RequestDriver(model: model)
    self.target.completions.enabled = driver.closed
  }

  mutating func replay(
    _ events: UnsafeBufferPointer<TraceEvent>, channels: UnsafeBufferPointer<Int32>,
    newChannels: [Channel]
  ) -> HVReplayError? {
    for channel in newChannels { target.addChannel(channel) }
    driver.feed(events, channels: channels, into: &target)
    return driver.failure ?? target.failure
  }

  mutating func finish(windowStart: UInt64, windowEnd: UInt64) throws(HVReplayError)
    -> (BackendResult, SchedulerResult?)
  {
    driver.drain(&target)
    if let f = driver.failure { throw f }
    let cpu = try target.finish(windowStart: windowStart, windowEnd: windowEnd)
    let m = target.metrics
    var result = BackendResult(
      name: target.backendName, channels: m.channels, latency: m.latency,
      streams: UInt64(driver.streamCount), depthStreams: driver.depthStreams,
      issuedLate: driver.issuedLate)
    result.design = design
    result.scheduler = scheduler
    return (result, cpu)
  }
}

extension BackendKind {
  /// The run of this backend for `model`: one host simulation under `scheduler`, or, with
  /// `scheduler` nil, the backend on CPUs of its own.
  func run(model: Model, scheduler: SchedulerKind?, horizon: UInt64?) -> any ReplayRun {
    let design = rawValue
    guard let scheduler else {
      switch self {
      case .full:
        return DrivenRun(
          target: UncoupledBackend(backend: FullVirtualizationBackend(model: model)), model: model,
          design: design, scheduler: nil)
      case .para:
        return DrivenRun(
          target: UncoupledBackend(backend: ParavirtualizationBackend(model: model)), model: model,
          design: design, scheduler: nil)
      }
    }
    let name = scheduler.rawValue
    switch (self, scheduler) {
    case (.full, .credit):
      return DrivenRun(
        target: HostSimulation(
          backend: FullVirtualizationBackend(model: model),
          cpu: SchedulerSimulation(model: model, policy: CreditPolicy(model: model)),
          horizon: horizon), model: model, design: design, scheduler: name)
    case (.full, .fair):
      return DrivenRun(
        target: HostSimulation(
          backend: FullVirtualizationBackend(model: model),
          cpu: SchedulerSimulation(model: model, policy: FairSharePolicy()), horizon: horizon),
        model: model, design: design, scheduler: name)
    case (.para, .credit):
      return DrivenRun(
        target: HostSimulation(
          backend: ParavirtualizationBackend(model: model),
          cpu: SchedulerSimulation(model: model, policy: CreditPolicy(model: model)),
          horizon: horizon), model: model, design: design, scheduler: name)
    case (.para, .fair):
      return DrivenRun(
        target: HostSimulation(
          backend: ParavirtualizationBackend(model: model),
          cpu: SchedulerSimulation(model: model, policy: FairSharePolicy()), horizon: horizon),
        model: model, design: design, scheduler: name)
    }
  }
}
