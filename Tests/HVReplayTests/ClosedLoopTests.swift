import Foundation
import Testing

@testable import HVReplay

/// Replays `events` through `backend` closed loop (unless the model says open): every
/// tagged request with its issue and completion time, the driver and the metrics.
private func drive<B: DeviceBackend>(
  _ backend: B, _ events: [TraceEvent], model: Model, heldLimit: Int? = nil
) -> (requests: [RequestProbe<B>.Request], driver: RequestDriver, metrics: BackendMetrics) {
  let (probe, driver) = probeReplay(backend, events, model: model, heldLimit: heldLimit)
  return (probe.requests, driver, probe.metrics)
}

private func closedModel(_ base: Model = Model()) -> Model {
  var m = base
  m.replay.loop = .closed
  return m
}

/// A request's latency in the full backend when it is alone, less its service: the traps
/// to submit, the device model (the copy of a read into the guest where the emulated disk
/// copies, and its own time), the interrupt and the handler's traps (rules F1-F4).
private func fullAloneOverhead(_ m: Model, readBytes: UInt64) -> UInt64 {
  (m.full.disk.submitTraps + m.full.disk.completionTraps) * m.costs.trapNs
    + m.costs.irqInjectNs + (m.full.disk.copy ? m.copyNs(readBytes) : 0) + m.full.deviceModelNs
}

/// The guest-side time the full backend adds to an isolated disk request at `trapNs`.
private func fullTrapTime(_ m: Model) -> UInt64 {
  (m.full.disk.submitTraps + m.full.disk.completionTraps) * m.costs.trapNs
}

@Suite("Closed-loop replay")
struct ClosedLoopTests {
  @Test(
    "with zero costs, the real blktrace recording replays to btt's per-request D2C and its own span"
  )
  func blktraceReproduced() throws {
    let (events, _) = try importAll([Fixtures.blktrace])
    #expect(events.count == 963)
    let model = closedModel(zeroCostModel())
    // btt -l: one `time latency` line per I/O (seconds, six decimals), in completion order.
    let btt = try String(contentsOfFile: Fixtures.d2c, encoding: .utf8).split(separator: "\n")
      .map { line in
        let f = line.split(separator: " ")
        return (done: Double(f[0])!, latency: Double(f[1])!)
      }
    #expect(btt.count == 963)
    let recordedFirst = events.map(\.timeNs).min()!
    let recordedLast = events.map { $0.timeNs + $0.serviceNs }.max()!
    for backend in [
      FullVirtualizationBackend(model: model) as any DeviceBackend,
      ParavirtualizationBackend(model: model),
    ] {
      func check<B: DeviceBackend>(_ b: B) {
        let (requests, driver, metrics) = drive(b, events, model: model)
        #expect(requests.count == 963, "\(b.name)")
        #expect(driver.issuedLate == 0)
        // Every request is issued at its recorded Q time and takes its recorded D2C.
        for r in requests {
          #expect(r.issued == r.event.timeNs, "\(b.name)")
          #expect(r.done - r.issued == r.event.serviceNs, "\(b.name)")
        }
        // Against btt: the same latencies in the same completion order, within btt's
        // rounding to the microsecond.
        for (r, line) in zip(requests, btt) {
          #expect(abs(Double(r.done - r.issued) / 1e9 - line.latency) <= 0.000_001_5, "\(b.name)")
        }
        var total = ChannelMetrics()
        for m in metrics.channels { total.add(m) }
        #expect(total.firstIssueNs == recordedFirst)
        #expect(total.lastCompletionNs == recordedLast)
      }
      check(backend)
    }
  }

  @Test("through the engine, the recording's span and latencies come back: slowdown 1")
  func blktraceSlowdownOne() throws {
    var reader = try TraceReader(path: Fixtures.blktrace)
    let result = try ReplayEngine(model: closedModel(zeroCostModel()), schedulers: []).run(&reader)
    let (events, _) = try importAll([Fixtures.blktrace])
    let serviceSum = events.map(\.serviceNs).reduce(0, +)
    for name in ["full", "para"] {
      let total = result.total(name)
      #expect(total.latencySumNs == serviceSum, "\(name)")
      #expect(total.spanNs == total.offeredSpanNs, "\(name)")
      let figures = Figures(metrics: total, loop: .closed, hasRings: name == "para")
      #expect(figures.slowdown == 1)
    }
  }

  /// A closed loop recorded by one thread: request k+1 follows k's completion after a think
  /// time; exponential service (mean about 20 us) and think (mean about 10 us), as in a
  /// closed M/M/1 system with one customer.
  private func closedRecording(_ n: Int, seed: UInt64) -> [TraceEvent] {
    var rng = Xoshiro256(seed: seed)
    var t: UInt64 = 0
    var events: [TraceEvent] = []
    for _ in 0..<n {
      let service = UInt64(rng.exponential(mean: 20_000)) + 1
      events.append(TraceEvent(timeNs: t, vm: 1, op: .read, bytes: 4096, serviceNs: service))
      t += service + UInt64(rng.exponential(mean: 10_000))
    }
    return events
  }

  @Test("a closed stream through a slower design: span grows by n x overhead, no queue builds")
  func closedSlowdownClosedForm() throws {
    let n = 20_000
    let events = closedRecording(n, seed: 11)
    let model = closedModel()
    let overhead = fullAloneOverhead(model, readBytes: 4096)
    let (requests, _, metrics) = drive(
      FullVirtualizationBackend(model: model), events, model: model)
    #expect(requests.count == n)
    // Each request waits for the one before: it is alone, its latency service + overhead.
    for r in requests { #expect(r.done - r.issued == r.event.serviceNs + overhead) }
    let recordedSpan = events.last!.timeNs + events.last!.serviceNs
    let m = metrics.channels[0]
    // Every request adds its overhead to the span, and nothing else does.
    #expect(m.spanNs == recordedSpan + UInt64(n) * overhead)
    // Closed form: slowdown = 1 + overhead / (E[service] + E[think]), with the default
    // model's 42.803 us (9 traps and the interrupt's EOI exit) over 30 us.
    var total = ChannelMetrics()
    total.add(m)
    total.offeredFirstNs = 0
    total.offeredLastNs = recordedSpan
    let slowdown = Figures(metrics: total, loop: .closed, hasRings: false).slowdown
    let expected = 1 + Double(overhead) / 30_000
    #expect(abs(slowdown - expected) / expected < 0.02, "\(slowdown) vs \(expected)")
  }

  @Test("the same stream open loop queues without bound: the last requests wait longest")
  func openLoopRunsAway() throws {
    let events = closedRecording(20_000, seed: 11)
    let result = try replay(events, backends: [.full], loop: .open)
    let overhead = fullAloneOverhead(Model(), readBytes: 4096)
    // The guest driver's 42.8 us of traps and interrupt per request, with a request every
    // 30 us on average: it is busy 143% of the time, so the queue (and latency) grows with
    // the trace; closed loop keeps every latency at service + overhead.
    let maxService = events.map(\.serviceNs).max()!
    let p50 = result.backends[0].latency.all!.valueAtPercentile(50)
    #expect(p50 > 100 * (maxService + overhead))
  }

  @Test("without recorded completions, a stream keeps replay.depth requests in flight")
  func depthRule() throws {
    // Requests 1 us apart, no service times: the model's assumed service applies.
    for depth in [1, 2, 4] {
      var model = closedModel(zeroCostModel())
      model.replay.depth = UInt64(depth)
      // A controller holding every command (AHCI), so only the depth rule limits the stream.
      model.full.disk.emulatedQueueDepth = 32
      let gap: UInt64 = 1_000
      let count = 64
      let events = (0..<count).map {
        TraceEvent(timeNs: UInt64($0) * gap, vm: 1, op: .read, bytes: 4096)
      }
      let service = model.serviceNs(for: events[0])
      #expect(service > UInt64(depth) * gap)
      let (requests, driver, _) = drive(
        FullVirtualizationBackend(model: model), events, model: model)
      #expect(driver.depthStreams == 1)
      // Request k waits for request k - depth: issued at (k mod depth) x gap + (k / depth) x S.
      let byIssue = requests.sorted { $0.event.timeNs < $1.event.timeNs }
      for (k, r) in byIssue.enumerated() {
        let expected = UInt64(k % depth) * gap + UInt64(k / depth) * service
        #expect(r.issued == expected, "depth \(depth), request \(k)")
      }
    }
  }

  @Test("streams are independent: a slow vCPU does not delay another vCPU's requests")
  func streamsIndependent() throws {
    let model = closedModel(zeroCostModel())
    // vCPU 0: 9 us services, 1 us think; vCPU 1: 2 us services, 8 us think, 1 ns after.
    // Same VM, each on its own disk (so only the dependency rule could couple them).
    var events: [TraceEvent] = []
    for k in 0..<50 {
      let t = UInt64(k) * 10_000
      events.append(
        TraceEvent(timeNs: t, vm: 1, vcpu: 0, op: .read, bytes: 4096, serviceNs: 9_000))
      events.append(
        TraceEvent(
          timeNs: t + 1, vm: 1, vcpu: 1, op: .read, device: 1, bytes: 4096, serviceNs: 2_000))
    }
    var slow = model
    slow.costs.trapNs = 1_000  // 9 traps per disk request (8 + 1): +9 us each
    #expect(fullTrapTime(slow) == 9_000)
    let (requests, driver, _) = drive(FullVirtualizationBackend(model: slow), events, model: slow)
    #expect(driver.streamCount == 2)
    // Each stream's request k waits for k - 1's completion (9 us later than recorded) plus
    // its own think time: both fall behind by 9 us per request. Were they one stream,
    // vCPU 1 would wait for vCPU 0's completions and fall behind differently.
    for vcpu in [UInt16(0), 1] {
      let mine = requests.filter { $0.event.vcpu == vcpu }.sorted {
        $0.event.timeNs < $1.event.timeNs
      }
      #expect(mine.count == 50)
      for (k, r) in mine.enumerated() {
        #expect(r.issued == r.event.timeNs + UInt64(k) * 9_000, "vcpu \(vcpu), request \(k)")
      }
    }
  }

  @Test("a recorded process is one stream across devices (blktrace pids)")
  func processStreams() throws {
    let model = closedModel(zeroCostModel())
    // One process on two disks (VMs 1 and 2), strictly one request at a time: 5 us of
    // service, 1 us of think. Replayed 0.9 us slower each (9 traps of 100 ns), it falls
    // behind 0.9 us per request; as two streams (one per VM) it would fall behind only every
    // other request.
    var events: [TraceEvent] = []
    var t: UInt64 = 0
    for k in 0..<20 {
      events.append(
        TraceEvent(
          timeNs: t, vm: UInt16(1 + k % 2), op: .read, bytes: 4096, serviceNs: 5_000,
          stream: 42))
      t += 6_000
    }
    var slow = model
    slow.costs.trapNs = 100
    #expect(fullTrapTime(slow) == 900)
    let (requests, driver, _) = drive(FullVirtualizationBackend(model: slow), events, model: slow)
    #expect(driver.streamCount == 1)
    for (k, r) in requests.sorted(by: { $0.event.timeNs < $1.event.timeNs }).enumerated() {
      #expect(r.issued == r.event.timeNs + UInt64(k) * 900)
    }
  }

  @Test("--time-scale divides recorded and think times, not service times")
  func timeScale() throws {
    let events = (0..<10).map {
      TraceEvent(timeNs: UInt64($0) * 100_000, vm: 1, op: .read, bytes: 4096, serviceNs: 10_000)
    }
    for loop in Model.Loop.allCases {
      var model = zeroCostModel()
      model.replay.loop = loop
      model.replay.timeScale = 4
      let result = try replay(events, model: model, backends: [.full], loop: loop)
      let m = result.total("full")
      // Open: issued every 100 / 4 = 25 us; the last completes 10 us after its issue at
      // 225 us. Closed: each request waits for the one before (10 us) and its think time
      // scaled, 90 / 4 = 22.5 us, so the next is issued 32.5 us later, not 25.
      let spacing: UInt64 = loop == .open ? 25_000 : 32_500
      #expect(m.firstIssueNs == 0, "\(loop)")
      #expect(m.lastCompletionNs == 9 * spacing + 10_000, "\(loop)")
      #expect(m.offeredSpanNs == 235_000, "\(loop)")
      #expect(m.latencySumNs == 10 * 10_000, "\(loop)")
    }
  }

  @Test("held requests are bounded: past the limit they are issued late, counted, and all complete")
  func heldLimit() throws {
    // One stream made slow (each request waits for the one before, 1 ms of service), and
    // 2,000 requests recorded 1 us apart: a replay holds nearly all of them at once.
    let events = (0..<2_000).map {
      TraceEvent(timeNs: UInt64($0) * 1_000, vm: 1, op: .read, bytes: 4096)
    }
    var model = closedModel(zeroCostModel())
    model.devices.disk.queueDepth = 1
    let (requests, driver, _) = drive(
      FullVirtualizationBackend(model: model), events, model: model, heldLimit: 100)
    #expect(requests.count == 2_000)
    #expect(driver.issuedLate == 0)  // one stream: nothing read later is issued earlier
    #expect(driver.maximumHeld <= 100)
    // Two streams: the second, read after the first's backlog filled the window, is late.
    let two = events + [TraceEvent(timeNs: 2_000_000, vm: 2, op: .read, bytes: 4096)]
    let (r2, d2, _) = drive(
      FullVirtualizationBackend(model: model), two.sorted { $0.timeNs < $1.timeNs }, model: model,
      heldLimit: 100)
    #expect(r2.count == 2_001)
    #expect(d2.maximumHeld <= 100)
    #expect(d2.issuedLate > 0)
  }
}
