// Model rules "open-loop replay" and "closed-loop replay" (docs/MODEL.md):
// - Time scale: every recorded time (and think time) is divided by `replay.time_scale`
//   (fio's replay_time_scale); service times are not scaled.
// - Open loop: each request is issued at its (scaled) recorded time, whatever the design.
// - Closed loop (Schroeder, Wierman and Harchol-Balter, NSDI 2006; hfplayer, FAST 2017):
//   requests belong to streams, the unit that waits for its own I/O (a (vm, vcpu), or the
//   recording's process when it names one). Request k of a stream is issued at the later of
//   (a) its recorded time plus the delay the stream has accumulated and (b) the replayed
//   completion of the request it depended on plus its recorded think time; the stream's
//   delay becomes k's issue time minus its recorded time.
// - The dependency comes from the recording. A stream whose first request carries a
//   service time has recorded completions (issue + service): k depends on the stream's
//   request whose recorded completion came last at or before k's issue (with completions in
//   order, the request before the `o` still outstanding at k's issue), its think time the
//   gap between the two; none when nothing had completed. A stream without service times
//   depends on its request `replay.depth` before (think time 0).
// - net rx packets come from outside the guest: they stay open loop.
// - Bounds: at most `heldLimit` requests wait to be issued at once (beyond, the earliest
//   pending work runs first and requests read later are issued no earlier than it, counted
//   as issued late, rx packets included); at most `outstandingLimit` recorded completions
//   are tracked per stream and `trackedLimit` over all; at most `streamLimit` streams.

import DequeModule
import HeapModule

/// What a ``RequestDriver`` drives: a backend on CPUs of its own, or a whole host.
protocol ReplayTarget {
  /// Whether cpu bursts go to ``arriveBurst(_:at:)``.
  static var takesBursts: Bool { get }
  var nextStepTime: UInt64 { get }
  var isIdle: Bool { get }
  mutating func runNextStep()
  mutating func submit(_ event: TraceEvent, channel: Int, at time: UInt64, tag: UInt32)
  var completions: CompletionLog { get set }
  /// A cpu burst arrives at `time` (never earlier than a step already run).
  mutating func arriveBurst(_ event: TraceEvent, at time: UInt64)
}

/// Decides when each request of a trace is issued to a backend: open or closed loop.
///
/// One driver per backend: in closed loop, issue times depend on that backend's own
/// completions. Memory is bounded whatever the trace's length (see ``heldLimit``).
public struct RequestDriver {
  /// Requests read but not yet issued, at most, before the driver runs ahead of the reader.
  static let heldLimit = 1 << 20
  /// Recorded completions tracked per stream (requests outstanding in the recording).
  static let outstandingLimit = 4096
  /// Streams a closed-loop replay follows.
  static let streamLimit = 1 << 20
  /// Recorded completions tracked over every stream (about 50 bytes each): beyond, a new
  /// request's recorded completion is not tracked, so no later request depends on it.
  static let trackedLimit = 1 << 22
  /// The token standing for no request.
  private static let none = UInt32.max

  let closed: Bool
  private let heldLimit: Int
  private let depth: Int
  private let replay: Model.Replay
  private let model: Model

  /// A request read, waiting for its dependency or its issue time.
  private struct Held {
    var event: TraceEvent
    var channel: Int32
    var token: UInt32
    /// The request it waits for, or ``none``.
    var dependency: UInt32
    /// Scaled think time after the dependency's completion.
    var think: UInt64
    /// Its scaled recorded issue time.
    var scheduled: UInt64
  }

  /// A request of a stream as the recording completed it.
  private struct Recorded: Comparable {
    var timeNs: UInt64
    var sequence: UInt64
    var token: UInt32

    static func < (a: Recorded, b: Recorded) -> Bool {
      (a.timeNs, a.sequence) < (b.timeNs, b.sequence)
    }
  }

  private struct Stream {
    var delay: UInt64 = 0
    var requests: UInt64 = 0
    /// Decided by the stream's first request: recorded completions, or the depth rule.
    var usesCompletions = false
    /// Requests read, waiting in order; only the first can wait for its dependency.
    var blocked = Deque<Held>()
    /// Completions the recording has not reached yet at the latest issue.
    var outstanding = Heap<Recorded>()
    /// The request whose recorded completion came last, and when.
    var last = RequestDriver.none
    var lastDoneNs: UInt64 = 0
    /// Depth rule: the stream's last `depth` requests.
    var window = Deque<UInt32>()
  }

  /// A request the driver still needs: when (if) the backend completed it.
  private struct Token {
    var stream: Int32
    var refs: UInt32
    var done: Bool
    var doneNs: UInt64
  }

  private var streams: [Stream] = []
  private var streamIndex: [UInt64: Int32] = [:]
  private var lastKey = UInt64.max
  private var lastStream: Int32 = -1
  private var tokens = RequestPool<Token>()
  private var releases = EventQueue<Held>()
  private var held = 0
  /// Recorded completions in the streams' `outstanding` heaps.
  private var tracked = 0
  /// The time of the latest step run or request issued.
  private var now: UInt64 = 0
  /// Requests issued later than the rules say because ``heldLimit`` was reached.
  private(set) var issuedLate: UInt64 = 0
  /// The most requests held at once.
  private(set) var maximumHeld = 0
  /// The streams followed so far.
  var streamCount: Int { streams.count }
  /// Streams with no recorded completions, which follow the depth rule.
  private(set) var depthStreams: UInt64 = 0
  /// The first error (too many streams); the driver issues the rest open loop after it.
  private(set) var failure: HVReplayError?

  /// - Parameter heldLimit: replaces ``heldLimit`` (for tests).
  init(model: Model, heldLimit: Int? = nil) {
    self.model = model
    self.heldLimit = heldLimit ?? Self.heldLimit
    closed = model.replay.loop == .closed
    depth = Int(model.replay.depth)
    replay = model.replay
  }

  /// A recorded time at the replay's rate.
  @inline(__always)
  func scaled(_ t: UInt64) -> UInt64 { replay.scaled(t) }

  /// Issues a chunk's requests to `backend`, running its steps in time order in between.
  @inline(__always)
  mutating func feed<B: ReplayTarget>(
    _ events: UnsafeBufferPointer<TraceEvent>, channels: UnsafeBufferPointer<Int32>,
    into backend: inout B
  ) {
    for i in events.indices {
      let c = channels[i]
      let event = events[i]
      guard c >= 0 else {
        // A cpu burst, for a host that runs bursts: open loop, at its scaled time.
        guard B.takesBursts && event.op == .burst else { continue }
        let t = scaled(event.timeNs)
        advance(&backend, before: t)
        backend.arriveBurst(event, at: max(t, now))
        continue
      }
      let t = scaled(event.timeNs)
      advance(&backend, before: t)
      if !closed || event.op == .rx || failure != nil {
        // Closed loop can have run ahead of the reader (the held bound): then it is late.
        if t < now { issuedLate &+= 1 }
        backend.submit(event, channel: Int(c), at: max(t, now), tag: Self.none)
        continue
      }
      arrive(event, channel: c, at: t, into: &backend)
      while held >= heldLimit && runEarliest(&backend) {}
    }
  }

  /// Issues every request still held and runs the backend's steps to the end.
  mutating func drain<B: ReplayTarget>(_ backend: inout B) {
    while runEarliest(&backend) {}
  }

  // MARK: Running

  /// Runs releases and steps earlier than `limit`, arrivals before steps at one instant.
  @inline(__always)
  private mutating func advance<B: ReplayTarget>(_ backend: inout B, before limit: UInt64) {
    if !closed {
      while backend.nextStepTime < limit { backend.runNextStep() }
      return
    }
    while true {
      let r = releases.nextTime
      let s = backend.nextStepTime
      if r <= s {
        guard r < limit else { return }
        issueNext(&backend)
      } else {
        guard s < limit else { return }
        now = s
        backend.runNextStep()
        collectCompletions(&backend)
      }
    }
  }

  /// Runs the earliest release or step; `false` when nothing is left.
  private mutating func runEarliest<B: ReplayTarget>(_ backend: inout B) -> Bool {
    if releases.isEmpty && backend.isIdle { return false }
    if !releases.isEmpty && releases.nextTime <= backend.nextStepTime {
      issueNext(&backend)
    } else {
      now = max(now, backend.nextStepTime)
      backend.runNextStep()
      if closed { collectCompletions(&backend) }
    }
    return true
  }

  @inline(__always)
  private mutating func issueNext<B: ReplayTarget>(_ backend: inout B) {
    let entry = releases.pop()
    now = max(now, entry.time)
    held -= 1
    let h = entry.payload
    backend.submit(h.event, channel: Int(h.channel), at: now, tag: h.token)
  }

  // MARK: Closed loop

  private mutating func arrive<B: ReplayTarget>(
    _ event: TraceEvent, channel: Int32, at t: UInt64, into backend: inout B
  ) {
    guard let s = stream(of: event) else {
      backend.submit(event, channel: Int(channel), at: max(t, now), tag: Self.none)
      return
    }
    let token = makeToken(stream: s)
    let sequence = streams[s].requests
    streams[s].requests &+= 1
    if sequence == 0 {
      streams[s].usesCompletions = event.serviceNs != 0
      if event.serviceNs == 0 { depthStreams &+= 1 }
    }
    var dependency = Self.none
    var think: UInt64 = 0
    if streams[s].usesCompletions {
      // The recording's completions up to this issue; the latest is what it waited for.
      while let first = streams[s].outstanding.min, first.timeNs <= event.timeNs {
        streams[s].outstanding.removeMin()
        tracked -= 1
        if streams[s].last != Self.none { release(streams[s].last) }
        streams[s].last = first.token
        streams[s].lastDoneNs = first.timeNs
      }
      if streams[s].last != Self.none {
        dependency = streams[s].last
        retain(dependency)
        think = scaled(event.timeNs - streams[s].lastDoneNs)
      }
      if tracked < Self.trackedLimit {
        let service = event.serviceNs != 0 ? event.serviceNs : model.serviceNs(for: event)
        streams[s].outstanding.insert(
          Recorded(
            timeNs: event.timeNs.adding(saturating: service), sequence: sequence, token: token))
        retain(token)
        tracked += 1
        if streams[s].outstanding.count > Self.outstandingLimit {
          release(streams[s].outstanding.removeMax().token)
          tracked -= 1
        }
      }
    } else {
      if streams[s].window.count == depth {
        dependency = streams[s].window.removeFirst()  // its reference moves to the request
      }
      streams[s].window.append(token)
      retain(token)
    }
    let h = Held(
      event: event, channel: channel, token: token, dependency: dependency, think: think,
      scheduled: t)
    held += 1
    if held > maximumHeld { maximumHeld = held }
    if streams[s].blocked.isEmpty && isReady(h) {
      schedule(h, stream: s)
    } else {
      streams[s].blocked.append(h)
    }
  }

  @inline(__always)
  private func isReady(_ h: Held) -> Bool {
    h.dependency == Self.none || tokens[Int32(h.dependency)].done
  }

  /// Fixes `h`'s issue time by the closed-loop rule and queues it.
  private mutating func schedule(_ h: Held, stream s: Int) {
    var at = h.scheduled.adding(saturating: streams[s].delay)
    if h.dependency != Self.none {
      at = max(at, tokens[Int32(h.dependency)].doneNs.adding(saturating: h.think))
      release(h.dependency)
    }
    if at < now {
      at = now
      issuedLate &+= 1
    }
    streams[s].delay = at - h.scheduled
    releases.schedule(h, at: at)
  }

  /// Marks the requests the backend completed, releasing what waited for them.
  @inline(__always)
  private mutating func collectCompletions<B: ReplayTarget>(_ backend: inout B) {
    guard !backend.completions.entries.isEmpty else { return }
    swap(&completed, &backend.completions.entries)
    defer { completed.removeAll(keepingCapacity: true) }
    for entry in completed where entry.tag != Self.none {
      let t = Int32(entry.tag)
      tokens[t].done = true
      tokens[t].doneNs = entry.timeNs
      let s = Int(tokens[t].stream)
      if let first = streams[s].blocked.first, first.dependency == entry.tag {
        while let h = streams[s].blocked.first, isReady(h) {
          streams[s].blocked.removeFirst()
          schedule(h, stream: s)
        }
      }
      release(entry.tag)
    }
  }

  /// The backend's completions being handled (swapped with its log, so neither allocates).
  private var completed: [CompletionLog.Entry] = []

  // MARK: Streams and tokens

  /// The stream `event` belongs to: its recorded process, else its (vm, vcpu).
  @inline(__always)
  private mutating func stream(of event: TraceEvent) -> Int? {
    // A recorded process is one stream whichever device (VM) it used.
    let key =
      event.stream != 0
      ? 1 << 63 | UInt64(event.stream) : UInt64(event.vm) << 16 | UInt64(event.vcpu)
    if key == lastKey { return Int(lastStream) }
    if let found = streamIndex[key] {
      lastKey = key
      lastStream = found
      return Int(found)
    }
    guard streams.count < Self.streamLimit else {
      failure = HVReplayError(
        .badData,
        "closed-loop replay follows at most \(Self.streamLimit) streams (one per vm and vcpu, or per recorded process); replay this trace with --loop open"
      )
      return nil
    }
    let index = Int32(streams.count)
    streams.append(Stream())
    streamIndex[key] = index
    lastKey = key
    lastStream = index
    return Int(index)
  }

  @inline(__always)
  private mutating func makeToken(stream s: Int) -> UInt32 {
    UInt32(tokens.allocate(Token(stream: Int32(s), refs: 1, done: false, doneNs: 0)))
  }

  @inline(__always)
  private mutating func retain(_ t: UInt32) { tokens[Int32(t)].refs &+= 1 }

  @inline(__always)
  private mutating func release(_ t: UInt32) {
    tokens[Int32(t)].refs &-= 1
    if tokens[Int32(t)].refs == 0 { tokens.release(Int32(t)) }
  }
}
