import Foundation
import Testing

@testable import HVReplay

/// Model rule "timeline" (docs/MODEL.md, docs/TIMELINE.md): `--timeline` writes what each
/// host simulation did in a window, in the Chrome trace event format.
@Suite("Timeline")
struct TimelineTests {
  /// Replays `events` with a timeline of `window` (uncoupled unless `coupled`).
  static func run(
    _ events: [TraceEvent], model: Model = Model(), backends: [BackendKind], coupled: Bool = false,
    schedulers: [SchedulerKind] = [.credit], window: TimelineWindow = TimelineWindow()
  ) throws -> ReplayResult {
    try replay(
      events, model: model, backends: backends, coupled: coupled, schedulers: schedulers
    ) { $0.timeline = window }
  }

  /// The file's events, checked against the format: every event has its required fields;
  /// timestamps never go back on any track (a thread's slices and instants, a counter, a
  /// request's async slices); a thread's complete slices never partly overlap; every
  /// request's slices nest (each phase ends before the next begins, within the request).
  /// Returns the events other than metadata.
  static func checkFormat(_ text: String) throws -> [JSONValue] {
    let file = try JSONParser.parse(text, file: "timeline.json")
    #expect(file["displayTimeUnit"]?.string == "ns")
    #expect(file["otherData"]?.members != nil)
    let events = try #require(file["traceEvents"]?.array)
    var last: [String: Double] = [:]
    var stacks: [String: [(name: String, ts: Double)]] = [:]
    var slices: [String: [(Double, Double)]] = [:]
    var out: [JSONValue] = []
    for e in events {
      let ph = try #require(e["ph"]?.string)
      #expect(e["name"]?.string != nil && e["pid"]?.uint != nil)
      if ph == "M" {
        #expect(e["args"]?.members != nil)
        continue
      }
      out.append(e)
      let ts = try #require(e["ts"]?.double)
      let pid = e["pid"]!.uint!
      let track: String
      switch ph {
      case "X", "i":
        let tid = try #require(e["tid"]?.uint)
        track = "t\(pid).\(tid)"
        if ph == "X" {
          let dur = try #require(e["dur"]?.double)
          #expect(dur > 0)
          slices[track, default: []].append((ts, ts + dur))
        } else {
          #expect(e["s"]?.string == "t")
        }
      case "C":
        #expect(e["args"]?.members?.count == 1)
        track = "c\(pid).\(e["name"]!.string!)"
      case "b", "e":
        #expect(e["cat"]?.string == "request")
        track = "a\(pid).\(try #require(e["id"]?.string))"
        if ph == "b" {
          stacks[track, default: []].append((e["name"]!.string!, ts))
        } else {
          let open = stacks[track]?.popLast()
          #expect(open != nil, "an end with no begin: \(track)")
          #expect(open?.name == e["name"]!.string!)
        }
      default:
        Issue.record("unexpected phase \(ph)")
        continue
      }
      #expect(ts >= last[track, default: 0], "time goes back on \(track)")
      last[track] = ts
    }
    let unended = stacks.values.filter { !$0.isEmpty }.count
    #expect(unended == 0, "a request or phase never ended")
    for (track, list) in slices {
      let sorted = list.sorted { $0.0 < $1.0 }
      for (a, b) in zip(sorted, sorted.dropFirst()) {
        #expect(b.0 >= a.1 - 1e-9, "slices overlap on \(track)")
      }
    }
    return out
  }

  @Test(
    "net-rpc's timeline under full, para and vhost on a coupled host follows the trace event format"
  )
  func bundledTraceFormat() throws {
    let path = MetricRegistryTests.root.appendingPathComponent("Traces/net-rpc.hvt.zst").path
    var reader = try TraceReader(path: path)
    var model = Model()
    model.replay.loop = .open
    var engine = ReplayEngine(
      model: model, backends: [.full, .para, .vhost], schedulers: [.credit])
    engine.timeline = TimelineWindow(lengthNs: 2_000_000)
    let result = try engine.run(&reader)
    let view = TimelineView(result)
    #expect(view.processes.map(\.name) == ["full/credit", "para/credit", "vhost/credit"])
    let events = try Self.checkFormat(view.chromeTrace(trace: result.trace))
    // Every kind of event is there: CPU slices, requests and phases, instants, counters.
    let kinds = Set(events.compactMap { $0["ph"]?.string })
    #expect(kinds == ["X", "b", "e", "i", "C"])
    // Open loop, the three designs saw the same requests in the window.
    let counts = view.processes.map(\.requests.count)
    #expect(counts[0] > 0 && Set(counts).count == 1)
    for process in view.processes {
      for r in process.requests {
        #expect(r.startNs >= process.startNs && r.startNs < process.startNs + 2_000_000)
        #expect(!r.unfinished)
        #expect(r.phases.first?.startNs == r.startNs && r.phases.last?.endNs == r.endNs)
        for (a, b) in zip(r.phases, r.phases.dropFirst()) { #expect(a.endNs == b.startNs) }
      }
    }
  }

  // Two pCPUs, one VM whose two vCPUs each run a 100 ms burst from 0: both pCPUs are busy
  // from 0 to the burst's end after its context switch, and nothing changes in 50-60 ms.
  // The counters hold their values there all the same: each is written at the window's
  // start (a window starting at the end shows the change there; one 5 ms before, both).
  @Test("a counter that changed before the window shows its value from the window's start")
  func countersAtWindowStart() throws {
    let events = [
      TraceEvent(timeNs: 0, vm: 1, vcpu: 0, op: .burst, serviceNs: 100_000_000),
      TraceEvent(timeNs: 0, vm: 1, vcpu: 1, op: .burst, serviceNs: 100_000_000),
    ]
    var model = Model()
    model.cpu.pcpus = 2
    let end = Model().cpu.contextSwitchNs + 100_000_000
    for (start, busy) in [(50_000_000, 2), (end, 0), (end - 5_000_000, 2)] as [(UInt64, UInt64)] {
      let result = try Self.run(
        events, model: model, backends: [.native], coupled: true,
        window: TimelineWindow(startNs: start, lengthNs: 10_000_000))
      let process = try #require(TimelineView(result).processes.first)
      let pcpus = try #require(process.counters.first { $0.name == "busy pCPUs" })
      let vcpus = try #require(process.counters.first { $0.name == "vm1 running vCPUs" })
      #expect(pcpus.points.first?.timeNs == start && pcpus.points.first?.value == busy)
      #expect(vcpus.points.first?.timeNs == start && vcpus.points.first?.value == busy)
      // Inside the window only the bursts' end changes them, to 0.
      let changes: [[UInt64]] =
        start < end && end < start + 10_000_000 ? [[start, busy], [end, 0]] : [[start, busy]]
      #expect(pcpus.points.map { [$0.timeNs, $0.value] } == changes)
    }
  }

  // The same two bursts, and one read at 1 ms whose vhost worker runs then, long before
  // the window. Held values are context: a window after everything stays empty, the
  // record limit counts only the window's own records (2 burst slices), and the held
  // count of vhost workers is named as vhost's although no worker runs in the window.
  @Test("values held from before the window are not records: empty windows and the limit")
  func heldValuesAreNotRecords() throws {
    let events = [
      TraceEvent(timeNs: 0, vm: 1, vcpu: 0, op: .burst, serviceNs: 100_000_000),
      TraceEvent(timeNs: 0, vm: 1, vcpu: 1, op: .burst, serviceNs: 100_000_000),
      TraceEvent(
        timeNs: 1_000_000, vm: 1, op: .read, offset: 0, bytes: 4096, serviceNs: 50_000),
    ]
    var model = Model()
    model.cpu.pcpus = 2
    func process(_ start: UInt64, limit: Int = 1_000) throws -> TimelineView.Process {
      let result = try Self.run(
        events, model: model, backends: [.vhost], coupled: true,
        window: TimelineWindow(startNs: start, lengthNs: 10_000_000, recordLimit: limit))
      return try #require(TimelineView(result).processes.first)
    }
    let after = try process(500_000_000)
    #expect(after.records == 0 && after.counters.isEmpty && !after.cut)
    let small = try process(50_000_000, limit: 2)
    #expect(small.records == 2 && !small.cut)
    #expect(small.threads.flatMap(\.slices).count == 2)
    let names = Set(small.counters.map(\.name))
    #expect(names.contains("busy pCPUs") && names.contains("vm1 running vhost workers"))
    #expect(!names.contains { $0.contains("device model") })
    #expect(try process(50_000_000, limit: 1).cut)
  }

  @Test(
    "one write under full virtualization: its phases are its traps, the device's service and the interrupt, adding up to its latency"
  )
  func fullPhasesClosedForm() throws {
    let service: UInt64 = 30_000
    let result = try Self.run(
      [TraceEvent(timeNs: 1_000, vm: 1, op: .write, bytes: 4096, serviceNs: service)],
      backends: [.full])
    let m = Model()
    let request = try #require(TimelineView(result).processes.first?.requests.first)
    let submit = m.full.disk.submitTraps * m.costs.trapNs
    let completion = m.costs.irqInjectNs + m.full.disk.completionTraps * m.costs.trapNs
    // No device-model time and no throttling on the emulated disk: those phases are 0 ns.
    #expect(request.phases.map(\.phase) == [.submit, .device, .completion])
    #expect(
      request.phases.map { $0.endNs - $0.startNs } == [submit, service, completion])
    #expect(request.startNs == 1_000 && request.endNs == 1_000 + submit + service + completion)
    #expect(result.backends[0].channels[0].latencySumNs == request.endNs - request.startNs)
  }

  @Test(
    "a window over the whole trace shows every request, and its instants count the exits, interrupts and notifications the summary counts"
  )
  func instantsMatchCounters() throws {
    var events: [TraceEvent] = []
    for k in 0..<200 as Range<UInt64> {
      events.append(
        TraceEvent(
          timeNs: k * 37_000, vm: UInt16(1 + k % 2), op: k % 3 == 0 ? .write : .read,
          offset: k << 12, bytes: 4096 << UInt32(k % 3), serviceNs: 20_000 + (k % 7) * 3_000))
      events.append(
        TraceEvent(timeNs: k * 37_000 + 5_000, vm: 1, op: k % 2 == 0 ? .tx : .rx, bytes: 1500))
    }
    let result = try Self.run(
      events, backends: [.full, .para, .virtio, .passthrough],
      window: TimelineWindow(startNs: 0, lengthNs: 1 << 40))
    let view = TimelineView(result)
    for (process, backend) in zip(view.processes, result.backends) {
      var total = ChannelMetrics()
      for c in backend.channels { total.add(c) }
      #expect(process.requests.count == 400, "\(process.name)")
      #expect(UInt64(process.requests.count) == total.requests)
      func count(_ kind: TimelineInstant) -> UInt64 {
        process.threads.flatMap(\.instants).filter { $0.kind == kind }.reduce(0) { $0 + $1.count }
      }
      #expect(count(.exitPIO) == total.exitsPIO, "\(process.name)")
      #expect(count(.exitMMIO) == total.exitsMMIO, "\(process.name)")
      #expect(count(.exitVMCALL) == total.exitsVMCALL, "\(process.name)")
      #expect(count(.exitEOI) == total.exitsEOI, "\(process.name)")
      #expect(count(.interrupt) == total.interrupts, "\(process.name)")
      #expect(count(.suppressed) == total.notificationsSuppressed, "\(process.name)")
      #expect(count(.wakeup) == total.backendWakeups, "\(process.name)")
      // Each request's phases add up to its latency.
      let sum = process.requests.reduce(0) { $0 + ($1.endNs - $1.startNs) }
      #expect(sum == total.latencySumNs, "\(process.name)")
      let phases = process.requests.flatMap(\.phases).reduce(0) { $0 + ($1.endNs - $1.startNs) }
      #expect(phases == sum)
      // The log holds no record the file leaves out: each is a begin, a phase, an end, a
      // slice, an instant or a counter value shown.
      let log = try #require(result.backends.first { $0.name == process.name }?.timeline)
      #expect(log.records.count == process.records, "\(process.name)")
    }
    _ = try Self.checkFormat(view.chromeTrace(trace: result.trace))
  }

  @Test(
    "on one pCPU, the vCPU's thread shows its burst and its I/O work one after the other, adding up to both"
  )
  func cpuSlices() throws {
    var model = Model()
    model.cpu.pcpus = 1
    let burst: UInt64 = 5_000_000
    var events = [TraceEvent(timeNs: 0, vm: 1, op: .burst, serviceNs: burst)]
    for k in 1...4 as ClosedRange<UInt64> {
      events.append(
        TraceEvent(
          timeNs: k * 500_000, vm: 1, op: .read, offset: k << 20, bytes: 4096, serviceNs: 50_000))
    }
    let result = try Self.run(
      events, model: model, backends: [.full], coupled: true, schedulers: [.fair],
      window: TimelineWindow(startNs: 0, lengthNs: 1_000_000_000))
    let view = TimelineView(result)
    let process = try #require(view.processes.first)
    let vcpu = try #require(process.threads.first { $0.name == "vm1 vcpu0" })
    let burstNs = vcpu.slices.filter { $0.channel < 0 }.reduce(0) { $0 + $1.endNs - $1.startNs }
    let ioNs = vcpu.slices.filter { $0.channel >= 0 }.reduce(0) { $0 + $1.endNs - $1.startNs }
    #expect(burstNs == burst)
    let cpu = try #require(result.schedulers.first { $0.name == "full/fair" })
    let vm = try #require(cpu.vms.first { $0.domain == .guest && $0.vm == 1 })
    #expect(ioNs == vm.virtGuestNs)
    // The burst is pre-empted by each read's guest-side work: 4 submissions and 4
    // completions cut it into pieces.
    #expect(vcpu.slices.filter { $0.channel >= 0 }.count == 8)
    #expect(process.counters.contains { $0.name == "busy pCPUs" })
    _ = try Self.checkFormat(view.chromeTrace(trace: result.trace))
  }

  @Test("the record limit cuts the window, says where in the file, and lets taken requests finish")
  func recordLimit() throws {
    var events: [TraceEvent] = []
    for k in 0..<2_000 as Range<UInt64> {
      events.append(
        TraceEvent(
          timeNs: k * 10_000, vm: 1, op: .read, offset: k << 12, bytes: 4096, serviceNs: 25_000))
    }
    let result = try Self.run(
      events, backends: [.para], window: TimelineWindow(lengthNs: 1 << 40, recordLimit: 500))
    let view = TimelineView(result)
    let process = try #require(view.processes.first)
    #expect(process.cut && process.records <= 500)
    #expect(process.requests.count > 10 && process.requests.count < 200)
    #expect(process.requests.allSatisfy { !$0.unfinished && $0.startNs < process.recordedUntilNs })
    let text = view.chromeTrace(trace: result.trace)
    let file = try JSONParser.parse(text, file: "t")
    let note = try #require(file["otherData"]?["para"]?.string)
    #expect(note.hasPrefix("cut at \(process.recordedUntilNs) ns"))
    _ = try Self.checkFormat(text)
    // The SVG view draws the same requests.
    let svg = view.svg(trace: result.trace)
    #expect(svg.contains("requests: \(process.requests.count)"))
  }

  @Test(
    "one read under para: the submission lasts to its notification, the completion from the interrupt through the handler"
  )
  func paraPhasesClosedForm() throws {
    var model = Model()
    model.para.persistentGrants = false
    let service: UInt64 = 30_000
    let result = try Self.run(
      [TraceEvent(timeNs: 1_000, vm: 1, op: .read, bytes: 4096, serviceNs: service)],
      model: model, backends: [.para])
    let request = try #require(TimelineView(result).processes.first?.requests.first)
    let phases = Dictionary(
      request.phases.map { ($0.phase, $0.endNs - $0.startNs) }, uniquingKeysWith: +)
    let c = model.costs
    // The slot written, then the event-channel hypercall, both on the guest's vCPU.
    #expect(phases[.submit] == c.ringSlotNs + c.hypercallNs)
    // The interrupt's injection and EOI, then the handler reading the one response.
    #expect(phases[.completion] == c.irqInjectNs + c.ringSlotNs)
    #expect(phases[.device] == service)
    #expect(request.phases.first?.phase == .submit && request.phases.last?.phase == .completion)
    let sum = request.phases.reduce(0) { $0 + $1.endNs - $1.startNs }
    #expect(sum == request.endNs - request.startNs)
    #expect(result.backends[0].channels[0].latencySumNs == sum)
  }

  @Test(
    "the record limit holds for the backend's and the CPU's records together, and no request begins after the cut"
  )
  func recordLimitCoupled() throws {
    var model = Model()
    model.cpu.pcpus = 1
    var events: [TraceEvent] = []
    for k in 0..<3_000 as Range<UInt64> {
      // Short bursts fill the CPU's records faster than the requests fill the backend's.
      events.append(TraceEvent(timeNs: k * 10_000, vm: 2, op: .burst, serviceNs: 3_000))
      if k % 4 == 0 {
        events.append(
          TraceEvent(
            timeNs: k * 10_000 + 1, vm: 1, op: .read, offset: k << 12, bytes: 4096,
            serviceNs: 25_000))
      }
    }
    for limit in [300, 1_000] {
      let result = try Self.run(
        events, model: model, backends: [.para], coupled: true,
        window: TimelineWindow(startNs: 0, lengthNs: 1 << 40, recordLimit: limit))
      let log = try #require(result.backends.first?.timeline)
      #expect(log.cut)
      #expect(log.records.count <= limit && log.records.count > limit * 3 / 4, "\(limit)")
      let until = log.recordedUntilNs
      #expect(log.records.allSatisfy { $0.kind != .begin || $0.time < until })
      #expect(
        log.records.allSatisfy {
          switch $0.kind {
          case .cpu: $0.time < until && $0.value <= until
          case .instant, .counter: $0.time < until
          default: true
          }
        })
      #expect(
        log.records.contains { $0.kind == .cpu } && log.records.contains { $0.kind == .begin })
      let view = TimelineView(result)
      #expect(view.processes[0].requests.allSatisfy { !$0.unfinished })
      _ = try Self.checkFormat(view.chromeTrace(trace: result.trace))
    }
  }

  @Test(
    "a larger record limit never keeps fewer records, and a limit the window fits in cuts nothing")
  func limitMonotone() throws {
    var model = Model()
    model.cpu.pcpus = 1
    var events: [TraceEvent] = []
    for k in 0..<40 as Range<UInt64> {
      events.append(
        TraceEvent(timeNs: k * 400_000, vm: 1 + UInt16(k % 3), op: .burst, serviceNs: 700_000))
      events.append(
        TraceEvent(
          timeNs: k * 400_000 + 3, vm: 1, op: .read, offset: k << 12, bytes: 4096, serviceNs: 40_000
        ))
    }
    // The window starts inside a burst's slice.
    let window = { (limit: Int) in
      TimelineWindow(startNs: 2_100_000, lengthNs: 6_000_000, recordLimit: limit)
    }
    let whole = try Self.run(
      events, model: model, backends: [.passthrough], coupled: true, schedulers: [.fair],
      window: window(1_000_000))
    let all = try #require(TimelineView(whole).processes.first).records
    #expect(all > 40)
    var previous = 0
    for limit in Array(1...30) + [all - 1, all] {
      let result = try Self.run(
        events, model: model, backends: [.passthrough], coupled: true, schedulers: [.fair],
        window: window(limit))
      let process = try #require(TimelineView(result).processes.first)
      #expect(process.records <= limit && process.records >= previous, "limit \(limit)")
      #expect(process.cut == (limit < all), "limit \(limit)")
      previous = process.records
    }
  }

  @Test("a trace of cpu bursts only: the default window starts at the first burst and shows them")
  func burstsOnly() throws {
    var model = Model()
    model.cpu.pcpus = 1
    let events = [
      TraceEvent(timeNs: 7_000_000, vm: 1, op: .burst, serviceNs: 2_000_000),
      TraceEvent(timeNs: 7_500_000, vm: 2, op: .burst, serviceNs: 1_000_000),
    ]
    let result = try Self.run(
      events, model: model, backends: [.native], coupled: true, schedulers: [.fair])
    let process = try #require(TimelineView(result).processes.first)
    #expect(process.startNs == 7_000_000)
    let ran = process.threads.flatMap(\.slices).reduce(0) { $0 + $1.endNs - $1.startNs }
    #expect(ran == 3_000_000)
    #expect(process.records > 0)
  }

  @Test(
    "a slice running across the window is clipped to it at both ends; a cut at the window's start is a cut, not empty"
  )
  func clippingAndEarlyCut() throws {
    var model = Model()
    model.cpu.pcpus = 1
    let result = try Self.run(
      [TraceEvent(timeNs: 0, vm: 1, op: .burst, serviceNs: 5_000_000)], model: model,
      backends: [.native], coupled: true, schedulers: [.fair],
      window: TimelineWindow(startNs: 2_000_000, lengthNs: 1_000_000))
    let slices = try #require(TimelineView(result).processes.first).threads.flatMap(\.slices)
    #expect(slices.map { [$0.startNs, $0.endNs] } == [[2_000_000, 3_000_000]])
    // One request's begin and first phase already pass a limit of 1.
    let cut = try Self.run(
      [TraceEvent(timeNs: 1_000, vm: 1, op: .read, bytes: 4096, serviceNs: 30_000)],
      backends: [.para], window: TimelineWindow(recordLimit: 1))
    let view = TimelineView(cut)
    let process = try #require(view.processes.first)
    #expect(process.cut && process.records == 0)
    let note = try #require(
      JSONParser.parse(view.chromeTrace(trace: cut.trace), file: "t")["otherData"]?["para"]?
        .string)
    #expect(note.hasPrefix("cut at 1000 ns (0ns into the window)"), "\(note)")
  }

  @Test("--timeline-window takes START+LEN and +LEN")
  func windowParsing() {
    #expect(
      TimelineWindow.parse("2s+10ms")
        == TimelineWindow(startNs: 2_000_000_000, lengthNs: 10_000_000))
    #expect(TimelineWindow.parse("+5ms") == TimelineWindow(lengthNs: 5_000_000))
    #expect(TimelineWindow.parse("0+1us") == TimelineWindow(startNs: 0, lengthNs: 1_000))
    for bad in ["", "10ms", "2s+", "2s+0", "x+1ms", "+-1ms", "1s+1ms+1ms"] {
      #expect(TimelineWindow.parse(bad) == nil, "\(bad)")
    }
  }
}
