import Dispatch
import HeapModule

/// Replays a trace through every selected backend in one streaming pass.
///
/// Events are read in chunks; each backend replays each chunk with its own
/// specialized loop, so the per-event path has no dynamic dispatch. Memory holds
/// one chunk, the channels and what the modelled queues hold, whatever the trace length.
public struct ReplayEngine {
  /// Events per chunk handed to the backends.
  static let chunkSize = 4096

  public let model: Model
  /// The designs replayed, in the order selected.
  public let designs: [BackendDesign]
  public let schedulerKinds: [SchedulerKind]
  /// Where the CPU measurement window ends (trace time in ns); `nil`: at the last event.
  public let horizon: UInt64?

  public init(
    model: Model, backends: [BackendKind] = BackendKind.defaults,
    schedulers: [SchedulerKind] = SchedulerKind.allCases, horizon: UInt64? = nil
  ) {
    self.init(
      model: model, designs: backends.map(BackendDesign.init), schedulers: schedulers,
      horizon: horizon)
  }

  /// An engine that replays `designs`, among them backends a library user wrote.
  public init(
    model: Model, designs: [BackendDesign], schedulers: [SchedulerKind] = SchedulerKind.allCases,
    horizon: UInt64? = nil
  ) {
    self.model = model
    self.designs = designs
    schedulerKinds = schedulers
    self.horizon = horizon
  }

  /// The time series' interval width in trace ns (model rule "time series"), or nil to
  /// choose one that gives 100 to 1,000 intervals (10 to 100 for many channels).
  public var timeSeriesIntervalNs: UInt64?

  /// The timeline to record (model rule "timeline"), or nil for none.
  public var timeline: TimelineWindow?

  /// How far a replay has got, for a progress line.
  public struct Progress: Sendable {
    /// Events replayed so far.
    public var events: UInt64
    /// File bytes read so far and the file's size (nil when unknown, as for a pipe).
    public var fileBytesRead: UInt64
    public var fileSize: UInt64?
  }

  /// Replays every event of `reader`.
  ///
  /// - Parameter progress: called after each chunk; return quickly.
  /// - Throws: ``HVReplayError`` when the trace is malformed.
  public func run(
    _ reader: inout TraceReader, progress: ((Progress) -> Void)? = nil
  ) throws(HVReplayError) -> ReplayResult {
    // Each host simulation (a backend under a scheduler; uncoupled, a backend alone)
    // replays on its own worker, the schedulers on the bursts alone on one more, so they
    // run side by side on the machine's cores; each still sees every chunk in order.
    let coupled = model.cpu.coupled && !schedulerKinds.isEmpty
    var workers: [ReplayWorker] = []
    for design in designs {
      for s in coupled ? schedulerKinds.map(Optional.some) : [nil] {
        var run = design.makeRun(model, s, coupled ? horizon : nil)
        run.setTimeSeries(widthNs: timeSeriesIntervalNs)
        if let timeline { run.setTimeline(timeline) }
        workers.append(ReplayWorker(runs: [run], schedulers: []))
      }
    }
    if !schedulerKinds.isEmpty {
      workers.append(
        ReplayWorker(
          runs: [], schedulers: schedulerKinds.map { $0.make(model: model, horizon: horizon) }))
    }
    let chunks = (0..<Self.chunksInFlight).map { _ in Chunk(capacity: Self.chunkSize) }
    let busy = chunks.map { _ in DispatchGroup() }
    defer { for w in workers { w.queue.sync {} } }
    var table = ChannelTable()
    var statistics = TraceStatistics()
    // The schedule as recorded, per channel (the same for every backend).
    var schedules: [RecordedSchedule] = []
    var done = false
    var k = 0
    while !done {
      let slot = k % chunks.count
      let chunk = chunks[slot]
      busy[slot].wait()  // every worker is done with this chunk's previous contents
      chunk.newChannels.removeAll(keepingCapacity: true)
      var n = 0
      while n < Self.chunkSize {
        guard let event = try reader.next() else {
          done = true
          break
        }
        statistics.add(event)
        chunk.events[n] = event
        if event.kind == .cpu {
          chunk.channels[n] = -1
        } else {
          let (index, isNew) = table.index(of: event)
          if isNew {
            chunk.newChannels.append(table.channels[Int(index)])
            schedules.append(
              RecordedSchedule(limit: Int(model.device(event.kind).queueDepth) + 1))
          }
          chunk.channels[n] = index
          let t = model.replay.scaled(event.timeNs)
          guard t != .max || model.replay.timeScale == 1 else {
            throw HVReplayError(
              .usage,
              "--time-scale (replay.time_scale) \(ModelKey.decimal(model.replay.timeScale)) puts the event at \(event.timeNs) ns past 2^64 ns, the longest time hvreplay's clock holds; use a larger time scale"
            ).inFile(reader.input.name)
          }
          let service = event.serviceNs != 0 ? event.serviceNs : model.serviceNs(for: event)
          schedules[Int(index)].offer(at: t, done: t.adding(saturating: service))
          if event.serviceNs != 0 && event.op != .rx {
            schedules[Int(index)].add(
              at: event.timeNs, done: event.timeNs.adding(saturating: service))
          }
        }
        n += 1
      }
      chunk.count = n
      if n > 0 {
        for w in workers {
          busy[slot].enter()
          w.queue.async {
            w.replay(chunk)
            busy[slot].leave()
          }
        }
      }
      k += 1
      progress?(
        Progress(
          events: statistics.events, fileBytesRead: reader.input.fileBytesRead,
          fileSize: reader.input.fileSize))
    }
    for w in workers {
      w.queue.sync {
        w.finish(windowStart: statistics.firstNs, windowEnd: statistics.lastNs)
      }
      if let failure = w.failure { throw failure.inFile(reader.input.name) }
    }
    if statistics.events == 0 {
      throw HVReplayError.nothingToReplay(
        file: reader.input.name, format: reader.format, notes: reader.importNotes,
        skipped: reader.skippedRecords)
    }
    let notes = RecordedSchedule.notes(schedules, channels: table.channels, model: model)
    let hasBursts = statistics.count(.cpu) > 0
    // The bursts alone under each scheduler: the reference of every host's burst slowdown.
    let references = workers.flatMap(\.schedulerResults)
    // Model rule "a host without I/O": with no device channel a host's schedule is the
    // bursts' own, so only the references are reported.
    var cpu =
      table.channels.isEmpty
      ? [] : workers.flatMap(\.hostResults).map { Self.withReference($0, references) }
    if hasBursts { cpu += references }
    return ReplayResult(
      trace: TraceIdentity(reader: reader, statistics: statistics),
      model: model,
      channels: table.channels,
      backends: workers.flatMap(\.backendResults).map { backend in
        var backend = backend
        for c in backend.channels.indices {
          backend.channels[c].offeredFirstNs = schedules[c].firstNs
          backend.channels[c].offeredLastNs = schedules[c].lastNs
        }
        return backend
      },
      schedulers: cpu,
      replayNotes: notes)
  }

  /// Model rule "burst slowdown": each guest's burst response times under the same
  /// scheduler with the bursts alone.
  static func withReference(_ host: SchedulerResult, _ references: [SchedulerResult])
    -> SchedulerResult
  {
    guard let reference = references.first(where: { $0.name == host.policy }) else { return host }
    var host = host
    for i in host.vms.indices where host.vms[i].domain == .guest && host.vms[i].burstsDone > 0 {
      if let r = reference.vms.first(where: { $0.domain == .guest && $0.vm == host.vms[i].vm }) {
        host.vms[i].referenceBurstResponseNs = r.burstResponseNs
      }
    }
    return host
  }

  /// Chunks being filled or replayed at once.
  static let chunksInFlight = 3
}

/// A chunk of events on its way from the reader to the workers.
private final class Chunk: @unchecked Sendable {
  let events: UnsafeMutableBufferPointer<TraceEvent>
  let channels: UnsafeMutableBufferPointer<Int32>
  var count = 0
  /// Channels first seen in this chunk, in index order.
  var newChannels: [Channel] = []

  init(capacity: Int) {
    events = .allocate(capacity: capacity)
    events.initialize(repeating: TraceEvent(timeNs: 0, vm: 0, op: .read))
    channels = .allocate(capacity: capacity)
    channels.initialize(repeating: -1)
  }

  deinit {
    events.deallocate()
    channels.deallocate()
  }
}

/// Host simulations and schedulers replaying chunks, in order, on their own serial queue.
private final class ReplayWorker: @unchecked Sendable {
  let queue = DispatchQueue(label: "hvreplay.replay")
  private var runs: [any ReplayRun]
  private var schedulers: [any CPUScheduler]
  private(set) var backendResults: [BackendResult] = []
  /// The CPU figures of host simulations.
  private(set) var hostResults: [SchedulerResult] = []
  /// The CPU figures of the schedulers on the bursts alone.
  private(set) var schedulerResults: [SchedulerResult] = []
  /// The first error met; the worker does nothing more after it.
  private(set) var failure: HVReplayError?

  init(runs: [any ReplayRun], schedulers: [any CPUScheduler]) {
    self.runs = runs
    self.schedulers = schedulers
  }

  func replay(_ chunk: Chunk) {
    guard failure == nil else { return }
    let events = UnsafeBufferPointer(rebasing: chunk.events[..<chunk.count])
    let channels = UnsafeBufferPointer(rebasing: chunk.channels[..<chunk.count])
    for r in runs.indices {
      // An error ends the work here; the engine reports it after the reading.
      if let f = runs[r].replay(events, channels: channels, newChannels: chunk.newChannels) {
        failure = f
        return
      }
    }
    do {
      for s in schedulers.indices { try schedulers[s].replay(events) }
    } catch {
      failure = error
    }
  }

  func finish(windowStart: UInt64, windowEnd: UInt64) {
    guard failure == nil else { return }
    do {
      for r in runs.indices {
        let (backend, cpu) = try runs[r].finish(windowStart: windowStart, windowEnd: windowEnd)
        backendResults.append(backend)
        if let cpu { hostResults.append(cpu) }
      }
      for s in schedulers.indices {
        schedulerResults.append(
          try schedulers[s].finish(windowStart: windowStart, windowEnd: windowEnd))
      }
    } catch {
      failure = error
    }
  }
}

/// What a replay measured.
public struct ReplayResult: Sendable {
  public var trace: TraceIdentity
  public var model: Model
  /// The channels, by index.
  public var channels: [Channel]
  /// One result per backend, in the order selected.
  public var backends: [BackendResult]
  /// One result per CPU scheduler, in the order selected (none when the trace has no cpu events).
  public var schedulers: [SchedulerResult]
  /// What the replay found in the recording that its figures rest on (report.md, stderr).
  public var replayNotes: [String] = []
  /// The design the verdict compares every other with (`--baseline`); `nil`: `full` when
  /// it was replayed, else the first.
  public var baseline: String?
}

/// One backend's measurements, per channel.
public struct BackendResult: Sendable {
  /// The backend (`full`, `para`) of an uncoupled replay; `<backend>/<scheduler>`
  /// (`para/credit`) for one host simulation (docs/MODEL.md, "One host").
  public var name: String
  /// The design (`full`, `para`), and the scheduler of its host (`nil` when uncoupled).
  public var design: String = ""
  public var scheduler: String?
  /// Figures per interval of trace time (model rule "time series"); nil when read back
  /// from a report.json.
  public var timeSeries: TimeSeries?
  /// The timeline recorded (model rule "timeline"), when one was asked for.
  public var timeline: TimelineLog?
  /// Metrics by channel index, latency at per-channel precision.
  public var channels: [ChannelMetrics]
  /// Latency over every channel, per op, at full precision.
  public var latency: OpLatency
  /// Closed loop: the streams followed, and the requests issued later than the rules say
  /// because too many waited at once (docs/MODEL.md, closed-loop bounds).
  public var streams: UInt64 = 0
  /// Of those, the streams without recorded completions (the `replay.depth` rule).
  public var depthStreams: UInt64 = 0
  public var issuedLate: UInt64 = 0
  /// The device figures the backend declares (``DeviceBackend/reportedMetrics``), in the
  /// registry's order.
  public var metrics: [String] = Metric.commonDeviceMetrics
}

/// What was replayed.
public struct TraceIdentity: Sendable {
  /// The trace's file name as given.
  public var path: String
  /// The name reports use: the file name without directories and extensions.
  public var name: String
  public var format: TraceFormat
  public var compression: Compression
  public var metadata: TraceMetadata
  public var statistics: TraceStatistics
  /// How the importer filled the fields its format lacks and what it dropped or found odd
  /// (``TraceReader/importNotes``); empty for hvreplay's own formats.
  public var importNotes: [String]

  init(reader: TraceReader, statistics: TraceStatistics) {
    path = reader.input.name
    name = Self.name(of: reader.input.name)
    format = reader.format
    compression = reader.input.compression
    metadata = reader.metadata
    self.statistics = statistics
    importNotes = reader.importNotes
  }

  /// `Traces/mixed.hvt.zst` → `mixed`; `-` → `stdin`; a name that would leave its
  /// directory (empty, `.`, `..`, as `...csv` gives) → `trace`. Never holds a `/`.
  public static func name(of path: String) -> String {
    baseName(of: path, otherwise: "trace")
  }

  /// The extensions a trace or recording name loses (docs/REPORT-FORMAT.md, `name`):
  /// compressions, then formats, as often as they end it; and blktrace's per-CPU
  /// `.blktrace.N`.
  static let droppedExtensions: Set<Substring> = [
    ".zst", ".zstd", ".gz", ".hvt", ".csv", ".txt", ".log", ".iolog", ".report", ".out",
    ".trace", ".dat", ".blkparse", ".blktrace",
  ]

  /// The file name of `path` without directories and every trace extension
  /// (`sample.blktrace.0` → `sample`, `host.report.txt.zst` → `host`); `-` → `stdin`;
  /// `otherwise` where nothing would be left (or only `.` or `..`).
  static func baseName(of path: String, otherwise: String) -> String {
    if path == "-" { return "stdin" }
    var base = path.split(separator: "/").last ?? ""
    if let dot = base.lastIndex(of: "."), base[base.index(after: dot)...].allSatisfy(\.isNumber),
      base[..<dot].hasSuffix(".blktrace"), base.index(after: dot) < base.endIndex
    {
      base = base[..<dot]
    }
    while let dot = base.lastIndex(of: "."), droppedExtensions.contains(base[dot...]) {
      base = base[..<dot]
    }
    return base.isEmpty || base == "." || base == ".." ? otherwise : String(base)
  }
}

/// A channel's schedule as recorded: its span at the replay's time scale (first issue to
/// last completion, the span `offered_iops` and `slowdown` divide by), and how many requests
/// the recording had outstanding at once (those with a recorded service time: issue to
/// issue + service), counted up to `limit`.
///
/// Model rule "recorded depth" (docs/MODEL.md, replay rule 4): a replay reproduces a
/// recording with zero costs only where the model's device serves as many requests at
/// once as the recording had outstanding; beyond, the replay queues what the recording did
/// not, and the report says so.
struct RecordedSchedule {
  /// The first (scaled) recorded issue and the last recorded completion.
  private(set) var firstNs = UInt64.max
  private(set) var lastNs: UInt64 = 0
  /// The recorded completions of the requests outstanding now, at most `limit`.
  private var outstanding = Heap<UInt64>()
  private let limit: Int
  /// The most outstanding at once, at most `limit`.
  private(set) var maximum = 0

  init(limit: Int) { self.limit = limit }

  /// Notes a request the recording issued at `time` (scaled) and completed at `done`.
  @inline(__always)
  mutating func offer(at time: UInt64, done: UInt64) {
    if time < firstNs { firstNs = time }
    if done > lastNs { lastNs = done }
  }

  @inline(__always)
  mutating func add(at time: UInt64, done: UInt64) {
    while let first = outstanding.min, first <= time { outstanding.removeMin() }
    outstanding.insert(done)
    if outstanding.count > limit { outstanding.removeMax() }
    if outstanding.count > maximum { maximum = outstanding.count }
  }

  /// One note per device kind whose recording was deeper than the model's device.
  static func notes(_ depths: [RecordedSchedule], channels: [Channel], model: Model) -> [String] {
    var notes: [String] = []
    for kind in [EventKind.disk, .net] {
      let queueDepth = model.device(kind).queueDepth
      let deeper = depths.indices.filter {
        channels[$0].kind == kind && UInt64(depths[$0].maximum) > queueDepth
      }
      guard let first = deeper.first else { continue }
      let c = channels[first]
      let what =
        deeper.count == 1
        ? "vm \(c.vm) \(c.name)" : "\(deeper.count) channels (vm \(c.vm) \(c.name) first)"
      notes.append(
        "\(what): the recording had more requests outstanding at once than devices.\(kind).queue_depth = \(queueDepth), so the replay queues at the device what the recording did not; set devices.\(kind).queue_depth higher (up to 4096) to replay the device as recorded"
      )
    }
    return notes
  }
}
