import Testing

@testable import HVReplay

/// The native design (docs/MODEL.md, "Native"): the device alone, one interrupt per
/// completion instant, no CPU on virtualization.
@Suite struct NativeBackendTests {
  static func read(_ k: UInt64, at t: UInt64, service: UInt64 = 20_000) -> TraceEvent {
    TraceEvent(timeNs: t, vm: 1, op: .read, offset: k << 20, bytes: 4096, serviceNs: service)
  }

  // Isolated requests: latency is exactly the recorded service time, with the default
  // costs (native charges none); each completion is an interrupt; nothing traps or copies.
  @Test("an isolated request's latency is its service time, with one interrupt")
  func isolated() throws {
    let events = (0..<5 as Range<UInt64>).map { Self.read($0, at: $0 * 1_000_000) }
    let r = try replay(events, backends: [.native])
    // Sum 5 x 20,000 with an exact maximum of 20,000: every latency is 20,000.
    #expect(r.maxLatency("native") == 20_000)
    let m = r.total("native")
    #expect(m.latencySumNs == 5 * 20_000)
    #expect(m.interrupts == 5 && m.requests == 5)
    #expect(m.traps + m.hypercalls + m.bytesCopied + m.notificationsSent + m.overheadNs == 0)
  }

  // D/D/1: n requests at once on a device serving one at a time complete at S, 2S, ..., nS
  // (latency sum S n (n + 1) / 2), each at its own instant, so n interrupts; on a device
  // serving n at once they all complete at S and share one interrupt.
  @Test("queueing on the device follows D/D/1; simultaneous completions share an interrupt")
  func queueing() throws {
    let n: UInt64 = 8
    let s: UInt64 = 10_000
    let events = (0..<n).map { Self.read($0, at: 0, service: s) }
    var one = Model()
    one.devices.disk.queueDepth = 1
    let serial = try replay(events, model: one, backends: [.native])
    #expect(serial.total("native").latencySumNs == s * n * (n + 1) / 2)
    #expect(serial.maxLatency("native") == n * s)
    #expect(serial.total("native").interrupts == n)
    var wide = Model()
    wide.devices.disk.queueDepth = n
    let parallel = try replay(events, model: wide, backends: [.native])
    #expect(parallel.total("native").latencySumNs == n * s)
    #expect(parallel.maxLatency("native") == s)
    #expect(parallel.total("native").interrupts == 1)
  }

  // Native is full virtualization without its costs: with every cost 0, an emulated queue
  // as deep as the device and no throttling, full's latencies equal native's.
  @Test("full virtualization at zero cost equals native")
  func fullAtZeroCost() throws {
    var events: [TraceEvent] = []
    for k in 0..<200 as Range<UInt64> {
      events.append(Self.read(k, at: k * 7_000, service: 30_000 + (k % 7) * 3_000))
    }
    var model = zeroCostModel()
    model.full.disk.emulatedQueueDepth = model.devices.disk.queueDepth
    let r = try replay(events, model: model, backends: [.native, .full])
    #expect(r.latencies("native", .read) == r.latencies("full", .read))
    #expect(r.total("native").latencySumNs == r.total("full").latencySumNs)
    #expect(r.maxLatency("native") == r.maxLatency("full"))
  }

  // On the host timeline native spends no CPU on virtualization: a burst sharing its vCPU
  // with I/O finishes as if alone (slowdown exactly 1), and the verdict takes native as the
  // baseline when it is replayed.
  @Test("on a host, native costs no CPU and is the default baseline")
  func onHost() throws {
    var events = [TraceEvent(timeNs: 0, vm: 1, op: .burst, serviceNs: 50_000_000)]
    events += (1...3 as ClosedRange<UInt64>).map { Self.read($0, at: $0 * 10_000_000) }
    var model = Model()
    model.cpu.pcpus = 1
    let r = try replay(events, model: model, backends: [.native, .full], coupled: true)
    let host = r.schedulers.first { $0.name == "native/credit" }!
    #expect(host.virtCPUNs == 0)
    let vm = host.vms.first { $0.domain == .guest && $0.vm == 1 }!
    #expect(vm.burstSlowdown == 1)
    #expect(r.total("native/credit").latencySumNs == 3 * 20_000)
    #expect(r.maxLatency("native/credit") == 20_000)
    let report = ReplayReport(r)
    #expect(report.baselineDesign == "native")
    #expect(report.verdict.hasPrefix("full/credit vs native/credit: "))
    #expect(report.verdict.contains("VM exits against none"))
    #expect(report.verdict.contains("of CPU on virtualization against none"))
  }
}

extension ReplayResult {
  /// Backend `name`'s exact largest latency.
  func maxLatency(_ name: String) -> UInt64 { ReplayReport(self).backend(name)!.total.latencyMaxNs }
}

/// A host whose design runs no CPU work is the bursts alone (model rule "One host": the
/// host's scheduling decisions are the bursts' where no I/O work joins them).
@Suite struct NoIOWorkHostTests {
  // The mixed sample overloads its 2 pCPUs with 4 VMs' bursts: native's and passthrough's
  // hosts must schedule them exactly as the bursts-alone schedule does, switch for switch.
  @Test("native's host schedules the mixed sample's bursts exactly as the bursts alone")
  func sameAsBurstsAlone() throws {
    let r = MetricRegistryTests.mixed
    for scheduler in ["credit", "fair"] {
      let alone = r.schedulers.first { $0.name == scheduler }!
      for design in ["native", "passthrough"] {
        let host = r.schedulers.first { $0.name == "\(design)/\(scheduler)" }!
        #expect(host.windowEnd == alone.windowEnd, "\(design)/\(scheduler)")
        #expect(host.switchingNs == alone.switchingNs, "\(design)/\(scheduler)")
        for vm in alone.vms {
          let same = host.vms.first { $0.domain == .guest && $0.vm == vm.vm }!
          #expect(same.cpuNs == vm.cpuNs && same.contextSwitches == vm.contextSwitches)
          #expect(same.burstResponseNs == vm.burstResponseNs, "vm \(vm.vm)")
          #expect(same.burstSlowdown == 1, "vm \(vm.vm)")
        }
      }
    }
  }
}
