import Testing

@testable import HVReplay

/// Closed-form checks of both backends: each test states the formula the model
/// (docs/MODEL.md) gives and compares the replay with it.
@Suite("Backends against closed-form values")
struct BackendModelTests {
  /// One request of each kind of path, 10 ms apart so that each finds everything idle.
  static func isolated() -> [TraceEvent] {
    [
      TraceEvent(timeNs: 0, vm: 1, op: .read, offset: 4096, bytes: 16384, serviceNs: 50_000),
      TraceEvent(timeNs: 10_000_000, vm: 1, op: .write, offset: 0, bytes: 6000, serviceNs: 40_000),
      TraceEvent(timeNs: 20_000_000, vm: 1, op: .flush, serviceNs: 30_000),
      TraceEvent(timeNs: 30_000_000, vm: 1, op: .tx, bytes: 1500, serviceNs: 1_000),
      TraceEvent(timeNs: 40_000_000, vm: 1, op: .rx, bytes: 900, serviceNs: 2_000),
      TraceEvent(timeNs: 50_000_000, vm: 1, op: .barrier),
    ]
  }

  /// The latency full virtualization's rules give an isolated request (F1-F4): the
  /// submission's traps (and the write's copy where the emulated device copies), the
  /// device, the device model (a read's copy where it copies, and `device_model_ns`), the
  /// interrupt with its EOI exit and the handler's status read. An isolated request finds
  /// the interrupt unthrottled.
  static func fullLatency(_ e: TraceEvent, _ m: Model) -> UInt64 {
    let traps = m.traps(e.kind)
    let service = e.serviceNs == 0 ? m.serviceNs(for: e) : e.serviceNs
    let copy =
      traps.copy && (e.op == .read || e.op == .write || e.op == .tx || e.op == .rx)
      ? m.copyNs(UInt64(e.bytes)) : 0
    let submit = e.op == .rx ? 0 : traps.submitTraps * m.costs.trapNs
    return submit + copy + service + m.full.deviceModelNs + m.costs.irqInjectNs
      + traps.completionTraps * m.costs.trapNs
  }

  /// The latency paravirtualization's rules give an isolated request.
  static func paraLatency(_ e: TraceEvent, _ m: Model) -> UInt64 {
    let c = m.costs
    let service = e.serviceNs == 0 ? m.serviceNs(for: e) : e.serviceNs
    let bytes = UInt64(e.bytes)
    if e.op == .rx {
      // device, netback's wake-up (it sleeps between packets), the grant copy into the
      // posted buffer, response slot, interrupt, reading the response. The latency ends at
      // the read (MODEL.md, latency rule): reposting the buffer comes after it, one slot
      // more of overhead but not of latency.
      return service + c.backendWakeupNs + c.grantCopyRxNs + c.ringSlotNs + c.irqInjectNs
        + c.ringSlotNs
    }
    var backend = c.ringSlotNs
    if e.op == .tx {
      backend +=
        m.copyNs(min(bytes, 128)) + (bytes > 128 ? (bytes - 128 + 4095) / 4096 : 0) * c.grantMapNs
    } else {
      backend += (bytes + 4095) / 4096 * c.grantMapNs
    }
    // slot write, hypercall, wake-up, backend, device, response slot, interrupt, slot read.
    return c.ringSlotNs + c.hypercallNs + c.backendWakeupNs + backend + service + c.ringSlotNs
      + c.irqInjectNs + c.ringSlotNs
  }

  /// The models to check: the defaults, and each cost alone non-zero.
  static func models() -> [(String, Model)] {
    var result: [(String, Model)] = [("defaults", Model())]
    let costs: [(String, WritableKeyPath<Model.Costs, UInt64>)] = [
      ("trap", \.trapNs), ("hypercall", \.hypercallNs), ("irq", \.irqInjectNs),
      ("copy", \.copyNsPerKiB), ("grant", \.grantMapNs), ("slot", \.ringSlotNs),
      ("wakeup", \.backendWakeupNs), ("rx grant copy", \.grantCopyRxNs),
    ]
    for (i, (name, key)) in costs.enumerated() {
      var m = zeroCostModel()
      m.costs[keyPath: key] = UInt64(1000 + 37 * i)
      result.append((name + " only", m))
    }
    return result
  }

  @Test(
    "isolated requests: latency, traps, hypercalls, interrupts and copies equal the closed form",
    arguments: models().map(\.0))
  func isolatedRequests(modelName: String) throws {
    let model = Self.models().first { $0.0 == modelName }!.1
    let events = Self.isolated()
    let result = try replay(events, model: model)
    let full = result.total("full")
    let para = result.total("para")
    for e in events {
      #expect(
        result.latencies("full", e.op) == [Self.fullLatency(e, model)].map(Self.bucket),
        "full \(e.op)")
      #expect(
        result.latencies("para", e.op) == [Self.paraLatency(e, model)].map(Self.bucket),
        "para \(e.op)")
    }
    // Exact sums (the histogram keeps 3 significant digits; the mean is exact).
    #expect(full.latencySumNs == events.map { Self.fullLatency($0, model) }.reduce(0, +))
    #expect(para.latencySumNs == events.map { Self.paraLatency($0, model) }.reduce(0, +))

    let disk = model.full.disk
    let net = model.full.net
    #expect(full.submitTraps == 4 * disk.submitTraps + net.submitTraps)
    #expect(full.completionTraps == 4 * disk.completionTraps + 2 * net.completionTraps)
    #expect(full.interrupts == 6 && full.hypercalls == 0)
    // QEMU's disk DMA maps guest memory; the emulated e1000 copies packets.
    #expect(!disk.copy && net.copy)
    #expect(full.bytesCopied == 1500 + 900)
    #expect(full.copiesAvoided == 0)

    #expect(para.traps == 0)
    #expect(para.hypercalls == 5)  // every request but rx finds the backend asleep
    #expect(para.interrupts == 6)
    // The rx buffer's repost finds netback with no packet waiting: no notification.
    #expect(para.notificationsSuppressed == 1)
    #expect(para.bytesCopied == 128 + 900)  // the tx header, and rx by grant copy
    #expect(para.copiesAvoided == 3)
    #expect(para.bytesCopyAvoided == 16384 + 6000 + (1500 - 128))
    #expect(para.grantsMapped == 4 + 2 + 1)
    #expect(para.requests == 6 && full.requests == 6)
  }

  /// The value an HdrHistogram with 3 significant digits reports for `v`.
  static func bucket(_ v: UInt64) -> UInt64 {
    var h = ChannelMetrics.makeHistogram()
    h.record(v)
    return h.max
  }

  @Test("with every cost 0 and an idle device, latency equals the service time exactly")
  func zeroCostLatencyIsService() throws {
    let events = Self.isolated()
    let result = try replay(events, model: zeroCostModel())
    let expected = events.map {
      $0.serviceNs == 0 ? Model().serviceNs(for: $0) : $0.serviceNs
    }
    for name in ["full", "para"] {
      #expect(result.total(name).latencySumNs == expected.reduce(0, +), "\(name)")
    }
  }

  @Test(
    "a batch of B simultaneous requests: one hypercall in para, B interrupts in full",
    arguments: [1, 2, 7, 32])
  func batch(b: Int) throws {
    let events = (0..<b).map {
      TraceEvent(
        timeNs: 1000, vm: 1, op: .read, offset: UInt64($0) << 12, bytes: 4096, serviceNs: 50_000)
    }
    var model = Model()
    model.devices.disk.queueDepth = 1  // completions one at a time
    let result = try replay(events, model: model)
    let full = result.total("full")
    let para = result.total("para")
    #expect(full.interrupts == UInt64(b))
    #expect(full.submitTraps == UInt64(b) * model.full.disk.submitTraps)
    #expect(para.hypercalls == 1)
    #expect(para.notificationsSent - para.interrupts == 1)
    #expect(para.requests == UInt64(b))
    // Each response is pushed at its own instant; the first interrupts, and any push
    // while the guest's handler is still consuming is suppressed.
    #expect(para.interrupts + para.notificationsSuppressed == UInt64(b))
    #expect(para.occupancy!.maximum == UInt64(b))
  }

  @Test(
    "suppression off: one hypercall per push; on: a burst during the backend's wake-up is suppressed"
  )
  func notifySuppression() throws {
    // Pushes at 0, 100 and 200 ns: the backend (wake-up 1,233 ns) is not yet working.
    let events = [0, 100, 200].map {
      TraceEvent(timeNs: UInt64($0), vm: 1, op: .write, bytes: 4096, serviceNs: 50_000)
    }
    let on = try replay(events, backends: [.para]).total("para")
    #expect(on.hypercalls == 1)
    #expect(on.backendWakeups == 1)
    var off = Model()
    off.para.notifySuppression = false
    let offMetrics = try replay(events, model: off, backends: [.para]).total("para")
    #expect(offMetrics.hypercalls == 3)
    #expect(offMetrics.backendWakeups == 1)
    #expect(offMetrics.notificationsSuppressed == 0)
    // Suppressed request pushes: the second and third.
    #expect(on.notificationsSuppressed >= 2)
    // Off: every response push interrupts; each of the 3 writes completes at its own instant.
    #expect(offMetrics.interrupts == 3)
  }

  @Test("a full ring stalls the frontend until the guest consumes responses")
  func ringFull() throws {
    var model = zeroCostModel()
    model.para.ringEntries = 4
    model.devices.disk.queueDepth = 1
    // 6 requests at once, 10 us each, one at a time: 2 wait for a slot.
    let events = (0..<6).map { _ in
      TraceEvent(timeNs: 0, vm: 1, op: .read, bytes: 4096, serviceNs: 10_000)
    }
    let para = try replay(events, model: model, backends: [.para]).total("para")
    #expect(para.ringFullStalls == 2)
    // They get slots when the first and second responses are consumed, at 10 and 20 us.
    #expect(para.ringFullNs == 10_000 + 20_000)
    #expect(para.occupancy!.maximum == 4)
    // FIFO on one server: latencies 10, 20, ..., 60 us.
    #expect(para.latencySumNs == (1...6).map { UInt64($0) * 10_000 }.reduce(0, +))
    #expect(para.occupancy!.fullNs > 0)
  }

  @Test("every request completes exactly once, in both backends")
  func completesOnce() throws {
    var p = SynthesisParameters(profile: .mixed)
    p.events = 30_000
    p.vms = 3
    let events = Array(SyntheticTrace(p))
    let result = try replay(events)
    let ios = events.filter { $0.kind != .cpu }
    for name in ["full", "para"] {
      let t = result.total(name)
      #expect(t.requests == UInt64(ios.count))
      for op in EventOp.allCases where op != .burst {
        let n = ios.filter { $0.op == op }.count
        #expect((t.latency[Int(op.rawValue)]?.totalCount ?? 0) == UInt64(n), "\(name) \(op)")
      }
    }
  }

  @Test("the same trace and model give byte-identical reports")
  func deterministic() throws {
    var p = SynthesisParameters(profile: .mixed)
    p.events = 20_000
    let dir = TemporaryDirectory()
    try writeTrace(Array(SyntheticTrace(p)), to: dir.file("d.hvt.zst"), type: .hvtZstd)
    func run() throws -> ReplayReport {
      var reader = try TraceReader(path: dir.file("d.hvt.zst"))
      return ReplayReport(try ReplayEngine(model: Model()).run(&reader))
    }
    let a = try run()
    let b = try run()
    #expect(a.summaryCSV == b.summaryCSV)
    #expect(a.markdown == b.markdown)
  }
}
