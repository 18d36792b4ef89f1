// Model rule "timeline" (docs/TIMELINE.md): what each host simulation recorded, laid out as
// a timeline shows it: one process per backend, one thread per CPU context (and lane, where
// a context's pieces of work overlap) and per device channel, each request a slice whose
// phases tile it, counters for ring occupancy, busy pCPUs and each VM's running vCPUs.

/// A replay's timeline, laid out in processes, threads, requests and counters.
public struct TimelineView: Sendable {
  /// A stretch of one thread's time.
  public struct Slice: Sendable, Equatable {
    public var startNs: UInt64
    public var endNs: UInt64
    public var name: String
    /// The channel whose I/O work it is, or -1 for a burst.
    public var channel: Int32
  }

  /// A moment on a channel's thread.
  public struct Instant: Sendable, Equatable {
    public var timeNs: UInt64
    public var kind: TimelineInstant
    public var count: UInt64
  }

  public struct Thread: Sendable {
    public var name: String
    /// Sorted by start; none overlaps the next.
    public var slices: [Slice] = []
    public var instants: [Instant] = []
  }

  /// One request: issued at `startNs`, complete at `endNs`, its phases tiling the time.
  public struct Request: Sendable {
    public var number: UInt32
    public var channel: Int
    public var op: EventOp
    public var bytes: UInt64
    public var startNs: UInt64
    public var endNs: UInt64
    /// Consecutive, each at least 1 ns long; the first starts at `startNs`, the last ends
    /// at `endNs`.
    public var phases: [(phase: TimelinePhase, startNs: UInt64, endNs: UInt64)]
    /// Whether the replay ended before it completed (it then ends at its last phase).
    public var unfinished: Bool
  }

  public struct Counter: Sendable {
    public var name: String
    public var unit: String
    public var points: [(timeNs: UInt64, value: UInt64)]
  }

  public struct Process: Sendable {
    public var name: String
    /// The thread of each channel, by channel index (-1: none), after the CPU threads.
    public var threads: [Thread]
    public var channelThread: [Int]
    public var requests: [Request]
    public var counters: [Counter]
    public var startNs: UInt64
    public var lengthNs: UInt64
    public var recordedUntilNs: UInt64
    public var cut: Bool
    /// The records shown: each request's begin, phases and end, slices, instants and
    /// counter values (at most the limit; the values counters held from before the window,
    /// shown at its start, are not counted).
    public var records: Int
  }

  public var processes: [Process]
  public var channels: [Channel]
  public var window: TimelineWindow

  /// The timeline of `result`'s backends that recorded one, in their order.
  public init(_ result: ReplayResult) {
    channels = result.channels
    window = result.backends.compactMap(\.timeline).first?.window ?? TimelineWindow()
    processes = result.backends.compactMap { backend in
      backend.timeline.map { Self.process(backend.name, $0, channels: result.channels) }
    }
  }

  /// A context's thread name: `vm1 vcpu0`, `dom0 vcpu1`, `vm1 QEMU`, `vm1 vhost worker 1`.
  static func name(of context: CPUContext) -> String {
    switch context.domain {
    case .guest: "vm\(context.vm) vcpu\(context.vcpu)"
    case .driverDomain: "dom0 vcpu\(context.vcpu)"
    case .deviceModel:
      context.vcpu == 0
        ? "vm\(context.vm) device model" : "vm\(context.vm) vhost worker \(context.vcpu)"
    }
  }

  /// A channel's name with its VM: `vm1 disk0`.
  static func name(of channel: Channel) -> String { "vm\(channel.vm) \(channel.name)" }

  private static func process(_ name: String, _ log: TimelineLog, channels: [Channel]) -> Process {
    var threads: [Thread] = []
    // CPU threads: contexts in order (guests by VM and vCPU, then device models, then the
    // driver domain), each split into lanes where its pieces overlap (CPUs of their own).
    var byContext = [[Slice]](repeating: [], count: log.contexts.count)
    var requestRecords: [UInt32: [TimelineRecord]] = [:]
    var instants = [[Instant]](repeating: [], count: channels.count)
    var counterPoints: [String: (unit: String, order: Int, points: [(UInt64, UInt64)])] = [:]
    func point(_ name: String, _ unit: String, _ order: Int, _ r: TimelineRecord) {
      counterPoints[name, default: (unit, order, [])].points.append((r.time, r.value))
    }
    var order: [UInt32] = []
    // VMs whose host-side threads are vhost workers (contexts numbered from 1) rather than
    // a device model: every VM under vhost (a counter held from before the window may name
    // one whose workers did not run in it), else those whose workers ran.
    let vhost = name.split(separator: "/").first == "vhost"
    let vhostVMs = Set(log.contexts.filter { $0.domain == .deviceModel && $0.vcpu > 0 }.map(\.vm))
    // Values held from before the window are shown, not counted as records.
    var held = 0
    for r in log.records {
      if r.held { held += 1 }
      switch r.kind {
      case .cpu:
        let channel = r.channel
        let label =
          channel >= 0 && Int(channel) < channels.count
          ? "I/O \(Self.name(of: channels[Int(channel)]))" : "burst"
        byContext[Int(r.id)].append(
          Slice(startNs: r.time, endNs: r.value, name: label, channel: channel))
      case .begin, .phase, .end:
        if requestRecords[r.id] == nil { order.append(r.id) }
        requestRecords[r.id, default: []].append(r)
      case .instant:
        instants[Int(r.channel)].append(
          Instant(timeNs: r.time, kind: TimelineInstant(rawValue: r.detail)!, count: r.value))
      case .counter:
        switch r.detail {
        case TimelineLog.ringCounter:
          point(
            "\(Self.name(of: channels[Int(r.channel)])) ring occupancy", "slots", Int(r.channel), r)
        case TimelineLog.pcpuCounter:
          point("busy pCPUs", "pCPUs", -2, r)
        default:
          let vm = log.vms[Int(r.id)]
          let label =
            switch vm.domain {
            case .guest: "vm\(vm.id) running vCPUs"
            case .driverDomain: "dom0 running vCPUs"
            case .deviceModel:
              vhost || vhostVMs.contains(vm.id)
                ? "vm\(vm.id) running vhost workers" : "vm\(vm.id) running device model threads"
            }
          point(label, vm.domain == .deviceModel ? "threads" : "vCPUs", -1, r)
        }
      }
    }
    let contextOrder = log.contexts.indices.sorted {
      let a = log.contexts[$0]
      let b = log.contexts[$1]
      let ka = (a.domain == .driverDomain ? 1 : 0, a.vm, a.domain.rawValue, a.vcpu)
      let kb = (b.domain == .driverDomain ? 1 : 0, b.vm, b.domain.rawValue, b.vcpu)
      return ka < kb
    }
    for index in contextOrder {
      let slices = byContext[index].sorted { ($0.startNs, $0.endNs) < ($1.startNs, $1.endNs) }
      var lanes: [Thread] = []
      for slice in slices {
        if let lane = lanes.firstIndex(where: { $0.slices.last!.endNs <= slice.startNs }) {
          lanes[lane].slices.append(slice)
        } else {
          let base = Self.name(of: log.contexts[index])
          lanes.append(
            Thread(
              name: lanes.isEmpty ? base : "\(base) (lane \(lanes.count + 1))", slices: [slice]))
        }
      }
      threads += lanes
    }
    // Channel threads, for channels with instants or requests.
    var requests: [Request] = []
    for n in order {
      if let request = Self.request(n, requestRecords[n]!) { requests.append(request) }
    }
    var used = Set(requests.map(\.channel))
    for c in channels.indices where !instants[c].isEmpty { used.insert(c) }
    var channelThread = [Int](repeating: -1, count: channels.count)
    for c in channels.indices.sorted(by: { channels[$0] < channels[$1] }) where used.contains(c) {
      channelThread[c] = threads.count
      threads.append(Thread(name: Self.name(of: channels[c]), instants: instants[c]))
    }
    let counters = counterPoints.sorted { ($0.value.order, $0.key) < ($1.value.order, $1.key) }
      .map { name, value in
        Counter(
          name: name, unit: value.unit,
          points: Self.lastPerInstant(value.points))
      }
    return Process(
      name: name, threads: threads, channelThread: channelThread, requests: requests,
      counters: counters, startNs: log.startNs == .max ? 0 : log.startNs,
      lengthNs: log.window.lengthNs, recordedUntilNs: log.recordedUntilNs, cut: log.cut,
      records: requests.reduce(0) { $0 + 2 + $1.phases.count }
        + threads.reduce(0) { $0 + $1.slices.count + $1.instants.count }
        + counters.reduce(0) { $0 + $1.points.count } - held)
  }

  /// A counter's points in time order, one per instant: the last value set at it.
  private static func lastPerInstant(_ points: [(UInt64, UInt64)]) -> [(
    timeNs: UInt64, value: UInt64
  )] {
    let sorted = points.enumerated().sorted {
      ($0.element.0, $0.offset) < ($1.element.0, $1.offset)
    }
    var out: [(timeNs: UInt64, value: UInt64)] = []
    out.reserveCapacity(sorted.count)
    for (_, point) in sorted {
      if let last = out.last, last.timeNs == point.0 {
        out[out.count - 1].value = point.1
      } else {
        out.append((point.0, point.1))
      }
    }
    return out
  }

  /// A request from its records (begin, phases, end) in the order recorded: consecutive
  /// entries of one phase are one, and phases no longer than 0 ns are left out.
  private static func request(_ n: UInt32, _ records: [TimelineRecord]) -> Request? {
    guard let begin = records.first, begin.kind == .begin else { return nil }
    var marks: [(phase: TimelinePhase, at: UInt64)] = []
    var end: UInt64?
    for r in records.dropFirst() {
      switch r.kind {
      case .phase:
        let phase = TimelinePhase(rawValue: r.detail)!
        // A mark never goes back in time (each is dated at or after the one before).
        let at = max(r.time, marks.last?.at ?? begin.time)
        if let last = marks.last, last.phase == phase { continue }
        if let last = marks.last, last.at == at { marks.removeLast() }
        if let last = marks.last, last.phase == phase { continue }
        marks.append((phase, at))
      case .end: end = max(r.time, marks.last?.at ?? begin.time)
      default: break
      }
    }
    let finish = end ?? marks.last?.at ?? begin.time
    var phases: [(phase: TimelinePhase, startNs: UInt64, endNs: UInt64)] = []
    for (k, mark) in marks.enumerated() {
      let stop = k + 1 < marks.count ? marks[k + 1].at : finish
      if stop > mark.at { phases.append((mark.phase, mark.at, stop)) }
    }
    return Request(
      number: n, channel: Int(begin.channel), op: EventOp(rawValue: begin.detail) ?? .read,
      bytes: begin.value, startNs: begin.time, endNs: finish, phases: phases,
      unfinished: end == nil)
  }
}
