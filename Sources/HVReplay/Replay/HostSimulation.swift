// Model rules "One host" (docs/MODEL.md): a backend's I/O paths and the trace's cpu bursts
// share the host's `cpu.pcpus` pCPUs under one scheduler, on one clock. At one instant the
// trace's arrivals come first, then the driver's releases, then backend steps, then
// scheduling steps; the continuation of CPU work that ended runs before the vCPU that ran
// it blocks or goes on ("chains").

/// What the engine runs for each backend: a target behind a request driver.
protocol HostTarget: ReplayTarget {
  var backendName: String { get }
  mutating func addChannel(_ channel: Channel)
  var metrics: BackendMetrics { get set }
  /// CPU time each VM of the host received up to `time`, by the host's VM index (none
  /// uncoupled); a VM's cpu.csv label; the host's pCPUs.
  func cpuNs(at time: UInt64) -> [UInt64]
  func cpuLabel(_ vm: Int) -> String
  var pcpus: UInt64 { get }
  /// Closes the time series' intervals that end at or before `time` (model rule "time
  /// series"), the backend's metrics moved out, the host's CPU read as it stands.
  mutating func closeIntervals(_ recorder: inout TimeSeriesRecorder, upTo time: UInt64)
  /// The device figures the backend declares.
  var reportedMetrics: [String] { get }
  /// Records the timeline of `window` (model rule "timeline").
  mutating func recordTimeline(_ window: TimelineWindow)
  /// The timeline recorded, the backend's and the CPU's in one, or nil when none was.
  mutating func takeTimeline() -> TimelineLog?
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
  /// Whether the bursts' work still queued at the horizon has been dropped.
  private var pastHorizon = false
  private(set) var failure: HVReplayError?

  init(backend: Backend, cpu: SchedulerSimulation<Policy>, horizon: UInt64?) {
    self.backend = backend
    self.cpu = cpu
    self.horizon = horizon
  }

  var backendName: String { "\(backend.name)/\(cpu.name)" }
  var metrics: BackendMetrics {
    get { backend.metrics }
    _modify { yield &backend.metrics }
  }
  func cpuNs(at time: UInt64) -> [UInt64] { cpu.usageNs(at: time) }
  func cpuLabel(_ vm: Int) -> String { cpu.label(ofVM: vm) }
  var pcpus: UInt64 { cpu.pcpuCount }
  mutating func closeIntervals(_ recorder: inout TimeSeriesRecorder, upTo time: UInt64) {
    // The scheduler is only read while the backend's metrics change: a copy of it shares
    // its storage and copies nothing.
    let cpu = self.cpu
    recorder.close(
      upTo: time, metrics: &backend.metrics, cpu: { cpu.usageNs(at: $0) },
      label: { cpu.label(ofVM: $0) })
  }
  var reportedMetrics: [String] { backend.reportedMetrics }
  mutating func recordTimeline(_ window: TimelineWindow) {
    (backend.metrics.timeline, cpu.timeline) = TimelineLog.pair(window)
  }
  mutating func takeTimeline() -> TimelineLog? {
    TimelineLog.take(&backend.metrics.timeline, &cpu.timeline)
  }
  mutating func addChannel(_ channel: Channel) { backend.addChannel(channel) }

  /// The default window starts at the first event, a request or a burst.
  @inline(__always)
  private mutating func startTimeline(at time: UInt64) {
    backend.metrics.timeline.start(at: time)
    cpu.timeline.start(at: time)
  }

  var nextStepTime: UInt64 {
    @inline(__always) get {
      failure == nil ? min(backend.nextStepTime, cpu.hostNextStepTime) : backend.nextStepTime
    }
  }

  var isIdle: Bool {
    @inline(__always) get {
      backend.isIdle && (failure != nil || cpu.hostNextStepTime == .max)
    }
  }

  var completions: CompletionLog {
    get { backend.completions }
    _modify { yield &backend.completions }
  }

  @inline(__always)
  mutating func runNextStep() {
    if !pastHorizon, let horizon, nextStepTime >= horizon { reachHorizon() }
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

  /// Model rule "host horizon": every step before the horizon has run; the bursts' work
  /// still queued is dropped.
  private mutating func reachHorizon() {
    guard !pastHorizon, let h = horizon else { return }
    pastHorizon = true
    do {
      try cpu.closeWindow(at: h)
    } catch {
      failure = error
      return
    }
    cpu.dropBursts(at: h)
    deliver()
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
    if !pastHorizon, let horizon, time >= horizon { reachHorizon() }
    startTimeline(at: time)
    backend.submit(event, channel: channel, at: time, tag: tag, cpu: &cpu)
  }

  mutating func arriveBurst(_ event: TraceEvent, at time: UInt64) {
    guard failure == nil else { return }
    // Model rule "host horizon": bursts at or after the horizon are not replayed.
    if let horizon, time >= horizon {
      reachHorizon()
      return
    }
    startTimeline(at: time)
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
    reachHorizon()
    if let failure { throw failure }
    if let unfinished = cpu.unfinishedIO { throw unfinished }
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
  var metrics: BackendMetrics {
    get { backend.metrics }
    _modify { yield &backend.metrics }
  }
  func cpuNs(at time: UInt64) -> [UInt64] { [] }
  func cpuLabel(_ vm: Int) -> String { "" }
  var pcpus: UInt64 { 0 }
  mutating func closeIntervals(_ recorder: inout TimeSeriesRecorder, upTo time: UInt64) {
    recorder.close(upTo: time, metrics: &backend.metrics, cpu: { _ in [] }, label: { _ in "" })
  }
  var reportedMetrics: [String] { backend.reportedMetrics }
  mutating func recordTimeline(_ window: TimelineWindow) {
    (backend.metrics.timeline, cpu.timeline) = TimelineLog.pair(window)
  }
  mutating func takeTimeline() -> TimelineLog? {
    TimelineLog.take(&backend.metrics.timeline, &cpu.timeline)
  }
  mutating func addChannel(_ channel: Channel) { backend.addChannel(channel) }

  var nextStepTime: UInt64 {
    @inline(__always) get { backend.nextStepTime }
  }

  var isIdle: Bool {
    @inline(__always) get { backend.isIdle }
  }

  var completions: CompletionLog {
    get { backend.completions }
    _modify { yield &backend.completions }
  }

  @inline(__always)
  mutating func runNextStep() { backend.runNextStep(cpu: &cpu) }

  @inline(__always)
  mutating func submit(_ event: TraceEvent, channel: Int, at time: UInt64, tag: UInt32) {
    backend.metrics.timeline.start(at: time)
    cpu.timeline.start(at: time)
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
    newChannels: [Channel]
  ) -> HVReplayError?
  /// Drains the driver and ends the run: what the backend measured, and the host's CPU.
  mutating func finish(windowStart: UInt64, windowEnd: UInt64) throws(HVReplayError)
    -> (BackendResult, SchedulerResult?)
  /// The time series' interval width (model rule "time series"): fixed, or nil to choose.
  mutating func setTimeSeries(widthNs: UInt64?)
  /// Records the timeline of `window` (model rule "timeline").
  mutating func setTimeline(_ window: TimelineWindow)
}

/// A target whose time series is cut as its clock passes each interval's end (model rule
/// "time series"): before a step or a submission dated at or after the open interval's
/// end, that interval closes.
struct Recorded<Target: HostTarget>: ReplayTarget {
  var target: Target
  var recorder = TimeSeriesRecorder(widthNs: nil)
  /// The latest time a step or submission was dated.
  private(set) var lastNs: UInt64 = 0

  static var takesBursts: Bool { Target.takesBursts }
  var nextStepTime: UInt64 {
    @inline(__always) get { target.nextStepTime }
  }
  var isIdle: Bool {
    @inline(__always) get { target.isIdle }
  }
  var completions: CompletionLog {
    get { target.completions }
    _modify { yield &target.completions }
  }

  @inline(__always)
  private mutating func reach(_ time: UInt64) {
    if time > lastNs { lastNs = time }
    if time >= recorder.nextBoundary { target.closeIntervals(&recorder, upTo: time) }
  }

  @inline(__always)
  mutating func runNextStep() {
    reach(target.nextStepTime)
    target.runNextStep()
  }

  @inline(__always)
  mutating func submit(_ event: TraceEvent, channel: Int, at time: UInt64, tag: UInt32) {
    reach(time)
    target.submit(event, channel: channel, at: time, tag: tag)
  }

  mutating func arriveBurst(_ event: TraceEvent, at time: UInt64) {
    reach(time)
    target.arriveBurst(event, at: time)
  }

  /// The series, its last interval closed at the latest step.
  mutating func finishSeries() -> TimeSeries {
    let cpu = target.cpuNs(at: lastNs)
    let labels = cpu.indices.map { target.cpuLabel($0) }
    var series = recorder.finish(
      at: lastNs, metrics: &target.metrics, cpu: cpu, label: { labels[$0] })
    series.pcpus = target.pcpus
    return series
  }
}

/// The ``ReplayRun`` of one target.
struct DrivenRun<Target: HostTarget>: ReplayRun {
  var host: Recorded<Target>
  var driver: RequestDriver
  let design: String
  let scheduler: String?

  init(target: Target, model: Model, design: String, scheduler: String?) {
    host = Recorded(target: target)
    self.design = design
    self.scheduler = scheduler
    driver = RequestDriver(model: model)
    host.completions.enabled = driver.closed
  }

  mutating func setTimeSeries(widthNs: UInt64?) {
    host.recorder = TimeSeriesRecorder(widthNs: widthNs)
  }

  mutating func setTimeline(_ window: TimelineWindow) { host.target.recordTimeline(window) }

  mutating func replay(
    _ events: UnsafeBufferPointer<TraceEvent>, channels: UnsafeBufferPointer<Int32>,
    newChannels: [Channel]
  ) -> HVReplayError? {
    for channel in newChannels { host.target.addChannel(channel) }
    driver.feed(events, channels: channels, into: &host)
    return driver.failure ?? host.target.failure
  }

  mutating func finish(windowStart: UInt64, windowEnd: UInt64) throws(HVReplayError)
    -> (BackendResult, SchedulerResult?)
  {
    driver.drain(&host)
    if let f = driver.failure { throw f }
    let series = host.finishSeries()
    let cpu = try host.target.finish(windowStart: windowStart, windowEnd: windowEnd)
    let m = host.target.metrics
    var result = BackendResult(
      name: host.target.backendName, channels: m.channels, latency: m.latency,
      streams: UInt64(driver.streamCount), depthStreams: driver.depthStreams,
      issuedLate: driver.issuedLate)
    result.design = design
    result.scheduler = scheduler
    result.timeSeries = series
    result.timeline = host.target.takeTimeline()
    // In the registry's order, whatever the declaration's.
    let declared = Set(host.target.reportedMetrics)
    result.metrics = Metric.deviceMetrics.map(\.name).filter(declared.contains)
    return (result, cpu)
  }
}

// Concrete (non-generic) wrappers, one per backend and host: calls through
// `any ReplayRun` then reach code specialised for the pair instead of unspecialised
// generic code (the per-event loop runs at several times the speed).

/// A ``ReplayRun`` whose target type is fixed by the conforming type.
protocol SpecialisedRun: ReplayRun {
  associatedtype Target: HostTarget
  var run: DrivenRun<Target> { get set }
}

extension SpecialisedRun {
  mutating func replay(
    _ events: UnsafeBufferPointer<TraceEvent>, channels: UnsafeBufferPointer<Int32>,
    newChannels: [Channel]
  ) -> HVReplayError? { run.replay(events, channels: channels, newChannels: newChannels) }

  mutating func finish(windowStart: UInt64, windowEnd: UInt64) throws(HVReplayError)
    -> (BackendResult, SchedulerResult?)
  { try run.finish(windowStart: windowStart, windowEnd: windowEnd) }

  mutating func setTimeSeries(widthNs: UInt64?) { run.setTimeSeries(widthNs: widthNs) }

  mutating func setTimeline(_ window: TimelineWindow) { run.setTimeline(window) }
}

/// Native on CPUs of its own.
struct NativeUncoupledRun: SpecialisedRun {
  var run: DrivenRun<UncoupledBackend<NativeBackend>>
}

/// Native on a host under credit.
struct NativeCreditRun: SpecialisedRun {
  var run: DrivenRun<HostSimulation<NativeBackend, CreditPolicy>>
}

/// Native on a host under fair share.
struct NativeFairRun: SpecialisedRun {
  var run: DrivenRun<HostSimulation<NativeBackend, FairSharePolicy>>
}

/// Passthrough on CPUs of its own.
struct PassthroughUncoupledRun: SpecialisedRun {
  var run: DrivenRun<UncoupledBackend<PassthroughBackend>>
}

/// Passthrough on a host under credit.
struct PassthroughCreditRun: SpecialisedRun {
  var run: DrivenRun<HostSimulation<PassthroughBackend, CreditPolicy>>
}

/// Passthrough on a host under fair share.
struct PassthroughFairRun: SpecialisedRun {
  var run: DrivenRun<HostSimulation<PassthroughBackend, FairSharePolicy>>
}

/// Full virtualization on CPUs of its own.
struct FullUncoupledRun: SpecialisedRun {
  var run: DrivenRun<UncoupledBackend<FullVirtualizationBackend>>
}

/// Paravirtualization on CPUs of its own.
struct ParaUncoupledRun: SpecialisedRun {
  var run: DrivenRun<UncoupledBackend<ParavirtualizationBackend>>
}

/// Full virtualization on a host under credit.
struct FullCreditRun: SpecialisedRun {
  var run: DrivenRun<HostSimulation<FullVirtualizationBackend, CreditPolicy>>
}

/// Full virtualization on a host under fair share.
struct FullFairRun: SpecialisedRun {
  var run: DrivenRun<HostSimulation<FullVirtualizationBackend, FairSharePolicy>>
}

/// Paravirtualization on a host under credit.
struct ParaCreditRun: SpecialisedRun {
  var run: DrivenRun<HostSimulation<ParavirtualizationBackend, CreditPolicy>>
}

/// Paravirtualization on a host under fair share.
struct ParaFairRun: SpecialisedRun {
  var run: DrivenRun<HostSimulation<ParavirtualizationBackend, FairSharePolicy>>
}

/// The generic runs of a backend: correct for any backend, specialised only where the
/// caller's types are concrete.
enum GenericRun {
  static func host<B: DeviceBackend, P: SchedulingPolicy>(
    _ backend: B, _ policy: P, model: Model, design: String, scheduler: SchedulerKind,
    horizon: UInt64?
  ) -> DrivenRun<HostSimulation<B, P>> {
    DrivenRun(
      target: HostSimulation(
        backend: backend, cpu: SchedulerSimulation(model: model, policy: policy),
        horizon: horizon), model: model, design: design, scheduler: scheduler.rawValue)
  }

  static func uncoupled<B: DeviceBackend>(_ backend: B, model: Model, design: String)
    -> DrivenRun<UncoupledBackend<B>>
  {
    DrivenRun(
      target: UncoupledBackend(backend: backend), model: model, design: design, scheduler: nil)
  }

  /// `backend`'s run on a host under `scheduler`, or on CPUs of its own.
  static func run<B: DeviceBackend>(
    _ backend: B, model: Model, design: String, scheduler: SchedulerKind?, horizon: UInt64?
  ) -> any ReplayRun {
    switch scheduler {
    case nil: uncoupled(backend, model: model, design: design)
    case .credit:
      host(
        backend, CreditPolicy(model: model), model: model, design: design, scheduler: .credit,
        horizon: horizon)
    case .fair:
      host(
        backend, FairSharePolicy(), model: model, design: design, scheduler: .fair,
        horizon: horizon)
    }
  }
}

extension BackendKind {
  /// The run of this backend for `model`: one host simulation under `scheduler`, or, with
  /// `scheduler` nil, the backend on CPUs of its own.
  func run(model: Model, scheduler: SchedulerKind?, horizon: UInt64?) -> any ReplayRun {
    let d = rawValue
    let native = NativeBackend(model: model)
    let assigned = PassthroughBackend(model: model)
    let full = FullVirtualizationBackend(model: model)
    let para: ParavirtualizationBackend =
      switch self {
      case .virtio: ParavirtualizationBackend(model: model, design: .virtio)
      case .vhost: ParavirtualizationBackend(model: model, design: .vhost)
      default: ParavirtualizationBackend(model: model)
      }
    let credit = CreditPolicy(model: model)
    let fair = FairSharePolicy()
    typealias G = GenericRun
    switch (self, scheduler) {
    case (.passthrough, nil):
      return PassthroughUncoupledRun(run: G.uncoupled(assigned, model: model, design: d))
    case (.passthrough, .credit?):
      return PassthroughCreditRun(
        run: G.host(assigned, credit, model: model, design: d, scheduler: .credit, horizon: horizon)
      )
    case (.passthrough, .fair?):
      return PassthroughFairRun(
        run: G.host(assigned, fair, model: model, design: d, scheduler: .fair, horizon: horizon))
    case (.native, nil):
      return NativeUncoupledRun(run: G.uncoupled(native, model: model, design: d))
    case (.native, .credit?):
      return NativeCreditRun(
        run: G.host(native, credit, model: model, design: d, scheduler: .credit, horizon: horizon))
    case (.native, .fair?):
      return NativeFairRun(
        run: G.host(native, fair, model: model, design: d, scheduler: .fair, horizon: horizon))
    case (.full, nil): return FullUncoupledRun(run: G.uncoupled(full, model: model, design: d))
    case (.para, nil), (.virtio, nil), (.vhost, nil):
      return ParaUncoupledRun(run: G.uncoupled(para, model: model, design: d))
    case (.full, .credit?):
      return FullCreditRun(
        run: G.host(full, credit, model: model, design: d, scheduler: .credit, horizon: horizon))
    case (.full, .fair?):
      return FullFairRun(
        run: G.host(full, fair, model: model, design: d, scheduler: .fair, horizon: horizon))
    case (.para, .credit?), (.virtio, .credit?), (.vhost, .credit?):
      return ParaCreditRun(
        run: G.host(para, credit, model: model, design: d, scheduler: .credit, horizon: horizon))
    case (.para, .fair?), (.virtio, .fair?), (.vhost, .fair?):
      return ParaFairRun(
        run: G.host(para, fair, model: model, design: d, scheduler: .fair, horizon: horizon))
    }
  }
}

/// A design the engine replays: one of hvreplay's backends, or a library user's.
///
/// A library user's backend runs through generic code (correct, not specialised); a
/// built-in one through code specialised for it and each scheduler (CONTRIBUTING.md).
public struct BackendDesign: Sendable {
  /// The name in reports and results.
  public let name: String
  let makeRun: @Sendable (Model, SchedulerKind?, UInt64?) -> any ReplayRun

  /// A design whose backend `make` builds for each replay's model.
  public init<B: DeviceBackend>(name: String, make: @escaping @Sendable (Model) -> B) {
    self.name = name
    makeRun = { model, scheduler, horizon in
      GenericRun.run(
        make(model), model: model, design: name, scheduler: scheduler, horizon: horizon)
    }
  }

  /// One of hvreplay's backends.
  public init(_ kind: BackendKind) {
    name = kind.rawValue
    makeRun = { kind.run(model: $0, scheduler: $1, horizon: $2) }
  }
}
