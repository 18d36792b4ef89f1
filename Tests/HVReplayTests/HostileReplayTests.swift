import Histogram
import Testing

@testable import HVReplay

/// Inputs of a few hundred bytes that once hung the replay, exhausted memory or took
/// quadratic time, each with the figure or error it must give.
@Suite("Hostile replays end quickly with a correct figure or a clear error")
struct HostileReplayTests {
  @Test("a capped VM's bursts at 10^19 ns replay, with the saturation-free cap arithmetic")
  func cappedBurstsNearTheEndOfTime() throws {
    var model = Model()
    try model.set("vms.1.cap_pct=100")
    let t: UInt64 = 10_000_000_000_000_000_000
    let events = [
      TraceEvent(timeNs: t, vm: 1, op: .burst, serviceNs: 1_000_000),
      TraceEvent(timeNs: t, vm: 1, vcpu: 1, op: .burst, serviceNs: 1_000_000),
      TraceEvent(timeNs: t + 1_000, vm: 2, op: .read, bytes: 4096),
    ]
    let dir = TemporaryDirectory()
    let path = dir.file("t.hvt")
    try writeTrace(events, to: path, type: .hvt)
    var reader = try TraceReader(path: path)
    let result = try ReplayEngine(model: model).run(&reader)
    for s in result.schedulers {
      let vm = s.vms.first { $0.vm == 1 }!
      // The window runs to the end of the work; the cap's 30 ms period is not used up by its
      // 2 ms, so both vCPUs run on their own pCPUs after one context switch each.
      #expect(vm.cpuNs == 2_000_000 && vm.unservedNs == 0, "\(s.name)")
      // The bursts alone end their window with the bursts; a host's ends with its I/O work,
      // which competes with them for the two pCPUs (native's and passthrough's I/O runs no
      // CPU work: their windows end with the bursts too).
      if s.backend == nil || s.backend == "native" || s.backend == "passthrough" {
        #expect(s.windowEnd == t + model.cpu.contextSwitchNs + 1_000_000, "\(s.name)")
      } else {
        #expect(s.windowEnd > t + model.cpu.contextSwitchNs + 1_000_000, "\(s.name)")
      }
    }
  }

  @Test("a 1 us timeslice under a 1% cap stops at the work budget, naming the settings")
  func workBudget() throws {
    var model = Model()
    try model.set("cpu.timeslice_ns=1000")
    try model.set("vms.1.cap_pct=1")
    var sim = SchedulerSimulation(
      model: model, policy: CreditPolicy(model: model), horizon: nil, baseSteps: 100_000,
      stepsPerBurst: 10)
    let events = [
      TraceEvent(timeNs: 0, vm: 1, op: .burst, serviceNs: 100_000_000_000),
      TraceEvent(timeNs: 200_000_000_000, vm: 2, op: .burst, serviceNs: 1_000),
    ]
    let error = #expect(throws: HVReplayError.self) {
      try events.withUnsafeBufferPointer { try sim.replay($0) }
    }
    #expect(error?.exitCode == 65)
    #expect(error?.description.contains("cpu.timeslice_ns = 1000 ns") == true)
    // 100,000 + 10 for the first burst + 1,000 for its vCPU (the second never arrives).
    #expect(error?.description.contains("101010 simulation steps") == true)
  }

  @Test("the same trace within the budget gives the cap's exact share")
  func smallTimesliceWithinBudget() throws {
    var model = Model()
    try model.set("cpu.timeslice_ns=1000")
    try model.set("vms.1.cap_pct=50")
    try model.set("cpu.context_switch_ns=0")
    var sim = SchedulerSimulation(model: model, policy: FairSharePolicy(), horizon: nil)
    // 1 ms of work at half a pCPU takes 2 ms: 2,000 periods of 1 us.
    let events = [
      TraceEvent(timeNs: 0, vm: 1, op: .burst, serviceNs: 1_000_000),
      TraceEvent(timeNs: 4_000_000, vm: 2, op: .burst, serviceNs: 1),
    ]
    try events.withUnsafeBufferPointer { try sim.replay($0) }
    let result = try sim.finish(windowStart: 0, windowEnd: 4_000_000)
    let vm = result.vms.first { $0.vm == 1 }!
    #expect(vm.cpuNs == 1_000_000 && vm.unservedNs == 0)
    // Never more than half of any period: the last wait ends at 2 ms at the earliest.
    #expect(vm.wait.maxRecorded >= 500)
  }

  @Test("16,000 vCPUs of a capped VM in one burst: the cap's exact CPU, in n log n")
  func manyVCPUsUnderACap() throws {
    var model = Model()
    try model.set("vms.1.cap_pct=50")
    var events = (0..<16_000).map {
      TraceEvent(timeNs: 1_000, vm: 1, vcpu: UInt16($0), op: .burst, serviceNs: 1_000_000)
    }
    events.append(TraceEvent(timeNs: 2_000_000_000, vm: 2, op: .burst, serviceNs: 1_000))
    let dir = TemporaryDirectory()
    let path = dir.file("c.hvt")
    try writeTrace(events, to: path, type: .hvt)
    var reader = try TraceReader(path: path)
    // The horizon ends the window at 2 s (without one, the 16 s of work would be run out).
    let result = try ReplayEngine(model: model, backends: [], horizon: 2_000_000_000).run(&reader)
    for s in result.schedulers {
      let vm = s.vms.first { $0.vm == 1 }!
      // Periods start every 30 ms from 0; each lets the VM use 15 ms. 67 of them begin
      // before the window ends at 2 s, and each has its 15 ms inside it.
      #expect(vm.cpuNs == 67 * 15_000_000, "\(s.name)")
      #expect(vm.vcpus == 16_000)
    }
  }

  @Test("a completion time saturated at 2^64 - 1 counts as clamped, never as a short latency")
  func saturatedCompletion() throws {
    let events = [
      TraceEvent(timeNs: .max - 1_000_000_000, vm: 1, op: .read, bytes: 4096, serviceNs: 1 << 40)
    ]
    let result = try replay(events)
    for name in ["full", "para"] {
      #expect(result.total(name).latencyClamped == 1, "\(name)")
      #expect(result.latencies(name, .read).first! >= ChannelMetrics.highestLatencyNs, "\(name)")
    }
  }

  @Test("accounting passes over 2,000 vCPUs count every vCPU; each vCPU adds 1,000 steps")
  func passesCountEveryVCPU() throws {
    var sim = SchedulerSimulation(
      model: Model(), policy: CreditPolicy(model: Model()), horizon: nil, baseSteps: 50_000,
      stepsPerBurst: 1, stepsPerVCPU: 0)
    var events = Self.twoThousandVCPUs()
    // 10 s of 30 ms passes: 333 passes over 2,200 vCPUs and VMs is far past 52,000 steps,
    // while the ticks and pCPU steps alone (about 3,000) are not.
    let error = #expect(throws: HVReplayError.self) {
      try events.withUnsafeBufferPointer { try sim.replay($0) }
    }
    #expect(error?.exitCode == 65)
    // With 1,000 steps per vCPU (the default) the same host has the steps its passes take:
    // about 740,000 of 50,000 + 2,000 + 2,000,000.
    var allowed = SchedulerSimulation(
      model: Model(), policy: CreditPolicy(model: Model()), horizon: nil, baseSteps: 50_000,
      stepsPerBurst: 1)
    events = Self.twoThousandVCPUs()
    #expect(throws: Never.self) { try events.withUnsafeBufferPointer { try allowed.replay($0) } }
  }

  @Test("a tick counts every busy pCPU it visits: 512 busy pCPUs at a 1 us tick stop in us")
  func ticksCountEveryPCPU() throws {
    let model = try Self.model("cpu.pcpus=512", "cpu.tick_ns=1000", "cpu.timeslice_ns=10000000000")
    var sim = SchedulerSimulation(
      model: model, policy: CreditPolicy(model: model), horizon: nil, baseSteps: 50_000,
      stepsPerBurst: 1, stepsPerVCPU: 0)
    let events = (0..<512).map {
      TraceEvent(timeNs: 0, vm: 1, vcpu: UInt16($0), op: .burst, serviceNs: 1_000_000_000)
    }
    let error = #expect(throws: HVReplayError.self) {
      try events.withUnsafeBufferPointer { try sim.replay($0) }
      _ = try sim.finish(windowStart: 0, windowEnd: 0)
    }
    #expect(error?.exitCode == 65)
    // About 50,512 / 513 ticks: under 100 us of trace time (counted one per tick, the
    // budget lasted 50 ms: 25 million pCPU visits).
    #expect(
      error?.description.contains(" us (a tick every") == true, "\(String(describing: error))")
  }

  /// The default model with `settings` (`key=value`) applied.
  static func model(_ settings: String...) throws -> Model {
    var model = Model()
    for setting in settings { try model.set(setting) }
    return model
  }

  /// 2,000 vCPUs of 200 VMs busy for ages from time 0, and a burst at 10 s.
  static func twoThousandVCPUs() -> [TraceEvent] {
    var events = (0..<2_000).map {
      TraceEvent(
        timeNs: 0, vm: UInt16($0 % 200 + 1), vcpu: UInt16($0), op: .burst,
        serviceNs: 100_000_000_000_000)
    }
    events.append(TraceEvent(timeNs: 10_000_000_000, vm: 1, op: .burst, serviceNs: 1))
    return events
  }

  @Test("report.json with pcpus 0 or a latency sum past an hour per request is refused")
  func inconsistentReport() throws {
    var p = SynthesisParameters(profile: .mixed)
    p.events = 2_000
    let text = ReplayReport(try replay(Array(SyntheticTrace(p)))).json.serialized()
    #expect(throws: Never.self) {
      _ = try ReplayResult(reportJSON: JSONParser.parse(text, file: "r.json"), file: "r.json")
    }
    for (from, to) in [
      ("\"pcpus\": 2,", "\"pcpus\": 0,"),
      ("\"latency_sum_ns\": ", "\"latency_sum_ns\": 18446744073709551615, \"x\": "),
    ] {
      guard let range = text.range(of: from) else {
        Issue.record("no \(from) in the report")
        continue
      }
      let bad = text.replacingCharacters(in: range, with: to)
      let error = #expect(throws: HVReplayError.self) {
        _ = try ReplayResult(reportJSON: JSONParser.parse(bad, file: "r.json"), file: "r.json")
      }
      #expect(error?.exitCode == 65)
    }
  }

  @Test("JSON output escapes bidirectional formatting characters as it does controls")
  func jsonEscapesBidi() throws {
    let text = JSONValue.string("a\u{202E}b\u{1B}\u{2066}é").serialized()
    #expect(text == "\"a\\u202eb\\u001b\\u2066é\"")
    #expect(try JSONParser.parse(text, file: "t.json") == .string("a\u{202E}b\u{1B}\u{2066}é"))
  }

  @Test("200,000 simultaneous requests through para: every one beyond the ring stalls once")
  func simultaneousRequests() throws {
    let n = 200_000
    let events = (0..<n).map {
      TraceEvent(timeNs: 1_000, vm: 1, op: .read, offset: UInt64($0) * 4096, bytes: 4096)
    }
    let result = try replay(events, backends: [.para])
    let para = result.total("para")
    #expect(para.requests == UInt64(n))
    #expect(para.ringFullStalls == UInt64(n) - Model().para.ringEntries)
    #expect(result.backends[0].channels[0].occupancy?.maximum == Model().para.ringEntries)
  }

  @Test("10,000 channels: totals at full precision, each channel in a few bytes")
  func manyChannels() throws {
    var events: [TraceEvent] = []
    var rng = Xoshiro256(seed: 4)
    for i in 0..<10_000 {
      let service = 20_000 + rng.integer(in: 0...200_000)
      events.append(
        TraceEvent(
          timeNs: UInt64(i) * 1_000_000, vm: UInt16(i % 5_000 + 1), op: .read,
          device: UInt16(i / 5_000), bytes: 4096, serviceNs: service))
    }
    let result = try replay(events, model: zeroCostModel())
    #expect(result.channels.count == 10_000)
    for backend in result.backends {
      // Requests never overlap and cost nothing: each latency is its service time.
      var reference = ChannelMetrics.makeHistogram()
      for e in events { reference.record(e.serviceNs) }
      let total = try #require(backend.latency.byOp[Int(EventOp.read.rawValue)])
      for p in [50, 90, 99, 99.9, 100.0] {
        #expect(total.valueAtPercentile(p) == reference.valueAtPercentile(p), "\(backend.name)")
      }
      let bytes = backend.channels.reduce(0) {
        $0 + ($1.latency.compactMap { $0 }.map(\.storageBytes).reduce(0, +))
      }
      #expect(bytes <= 10_000 * 20, "\(backend.name): \(bytes) bytes of channel histograms")
    }
  }

  @Test("a reorder window of 100,000 fixes a fully reversed trace in n log n, stably")
  func reversedWithinWindow() throws {
    let n = 100_000
    var events = (0..<n).map { TraceEvent(timeNs: UInt64(n - $0) * 10, vm: 1, op: .read) }
    events.append(TraceEvent(timeNs: 10, vm: 2, op: .write))  // ties keep file order
    let dir = TemporaryDirectory()
    let path = dir.file("r.hvt")
    try writeTrace(events, to: path, type: .hvt)
    var reader = try TraceReader(path: path, reorderWindow: n + 1)
    var out: [TraceEvent] = []
    while let e = try reader.next() { out.append(e) }
    #expect(out.map(\.timeNs) == events.map(\.timeNs).sorted())
    #expect(out[0].vm == 1 && out[1].vm == 2)
    #expect(reader.reorderedCount == UInt64(n))
  }

  @Test("merging latency histograms past 2^60 values is refused, not wrapped")
  func mergeCountLimit() throws {
    var a = OpLatency()
    var h = ChannelMetrics.makeHistogram()
    h.record(1_000, count: 1 << 59)
    a.byOp[0] = h
    var merged = a
    try merged.add(a)  // 2^60: still exact
    #expect(merged.totalCount == 1 << 60)
    #expect(throws: HVReplayError.self) { try merged.add(a) }
  }

  @Test("a report.json with more backends than allowed is refused before allocating")
  func reportBounds() throws {
    let backends = (0...ReplayResult.maxBackends).map { _ in
      "{\"name\": \"full\", \"channels\": [], \"latency\": {}}"
    }
    let text =
      "{\"schema\": \"hvreplay-report\", \"schema_version\": 2, \"backends\": ["
      + backends.joined(separator: ", ") + "]}"
    let value = try JSONParser.parse(text, file: "r.json")
    let error = #expect(throws: HVReplayError.self) {
      _ = try ReplayResult(reportJSON: value, file: "r.json")
    }
    #expect(error?.exitCode == 65)
    #expect(error?.description.contains("more than 16 backends") == true)
  }
}
