// No @testable: a backend written against hvreplay's public API alone, as a library user
// would write one (CONTRIBUTING.md, "Adding a backend").
import Foundation
import HVReplay
import Testing

/// A toy design: the guest spends `guestNs` on its issuing vCPU per request, then the
/// device serves it; nothing else.
struct DirectBackend: DeviceBackend {
  static let guestNs: UInt64 = 1_000

  /// The request waiting in `pending`: its channel, issue time, op, size and tag.
  struct Request {
    var channel: Int32
    var issued: UInt64
    var op: EventOp
    var bytes: UInt32
    var service: UInt64
    var tag: UInt32
  }

  let name = "direct"
  let model: Model
  var pending = EventQueue<Int>()
  var requests: [Request] = []
  var devices: [DeviceQueue] = []
  var vms: [UInt16] = []
  var metrics = BackendMetrics()
  var completions = CompletionLog()
  /// It counts requests, their latency and rates, nothing else: reports say so.
  var reportedMetrics: [String] {
    let rates: Set<String> = ["requests", "iops", "bytes_per_s", "offered_iops"]
    return Metric.commonDeviceMetrics.filter { rates.contains($0) || $0.hasPrefix("latency_") }
  }

  init(model: Model) { self.model = model }

  mutating func addChannel(_ channel: Channel) {
    devices.append(DeviceQueue(servers: model.device(channel.kind).queueDepth))
    vms.append(channel.vm)
    metrics.channels.append(ChannelMetrics())
  }

  var nextStepTime: UInt64 { pending.nextTime }
  var isIdle: Bool { pending.isEmpty }
  mutating func finish() {}

  mutating func submit<C: CPUExecutor>(
    _ event: TraceEvent, channel c: Int, at time: UInt64, tag: UInt32, cpu: inout C
  ) {
    let service = metrics.admit(event, channel: c, at: time, model: model)
    requests.append(
      Request(
        channel: Int32(c), issued: time, op: event.op, bytes: event.bytes, service: service,
        tag: tag))
    let id = requests.count - 1
    let work = CPUWork(
      context: .guest(vms[c], event.vcpu), ns: Self.guestNs, channel: Int32(c), owner: vms[c],
      ordered: true, continuation: UInt64(id))
    if let done = cpu.run(work, at: time) { device(id, at: done) }
  }

  mutating func resume<C: CPUExecutor>(
    _ continuation: UInt64, channel: Int32, at time: UInt64, cpu: inout C
  ) {
    device(Int(continuation), at: time)
  }

  /// The request reaches the device.
  mutating func device(_ id: Int, at time: UInt64) {
    let r = requests[id]
    let (_, done) = devices[Int(r.channel)].serve(
      ready: time, service: r.service, ordering: false)
    pending.schedule(id, at: done)
  }

  mutating func runNextStep<C: CPUExecutor>(cpu: inout C) {
    let entry = pending.pop()
    let r = requests[entry.payload]
    metrics.complete(Int(r.channel), op: r.op, bytes: r.bytes, issued: r.issued, done: entry.time)
    completions.record(r.tag, at: entry.time)
  }
}

@Suite struct PluggableBackendTests {
  // On one pCPU, a 50 ms burst and 3 requests on the same vCPU: each request costs exactly
  // its 1,000 ns of guest work plus its service, and the burst ends 3,000 ns late.
  /// The replay of 3 requests beside a 50 ms burst on one pCPU, through `DirectBackend`.
  static func directReplay() throws -> ReplayResult {
    var events = [TraceEvent(timeNs: 0, vm: 1, op: .burst, serviceNs: 50_000_000)]
    for k in 1...3 as ClosedRange<UInt64> {
      events.append(
        TraceEvent(
          timeNs: k * 10_000_000, vm: 1, op: .read, offset: k << 20, bytes: 4096,
          serviceNs: 20_000))
    }
    var model = Model()
    model.cpu.pcpus = 1
    model.replay.loop = .open
    let dir = TemporaryDirectory()
    let path = dir.file("t.hvt")
    try writeTrace(events, to: path, type: .hvt)
    var reader = try TraceReader(path: path)
    let design = BackendDesign(name: "direct") { DirectBackend(model: $0) }
    return try ReplayEngine(model: model, designs: [design], schedulers: [.credit]).run(&reader)
  }

  @Test("a backend written against the public API replays on the host timeline")
  func directBackendOnHost() throws {
    let result = try Self.directReplay()
    let io = result.backends.first { $0.name == "direct/credit" }!
    #expect(io.latency.meanNs(.read) == Double(DirectBackend.guestNs + 20_000))
    let cpu = result.schedulers.first { $0.name == "direct/credit" }!
    let vm = cpu.vms.first { $0.domain == .guest && $0.vm == 1 }!
    #expect(vm.virtGuestNs == 3 * DirectBackend.guestNs)
    #expect(vm.burstLateNs == Double(3 * DirectBackend.guestNs))
  }

  // The backend declares its figures: summary.csv has those rows and no others (traps,
  // copies, rings), report.md says n/a for them, and report.json keeps the declaration.
  @Test("a backend's declared figures are its report rows, through report.json too")
  func declaredFigures() throws {
    let result = try Self.directReplay()
    let declared = DirectBackend(model: Model()).reportedMetrics
    func totals(_ r: ReplayResult) -> [String] {
      let lines = ReplayReport(r).summaryCSV.split(separator: "\n")
      let fields: [[Substring]] = lines.map { $0.split(separator: ",") }
      let total = fields.filter { f in f[0] == "direct/credit" && f[1] == "all" }
      return total.map { f in String(f[3]) }
    }
    #expect(totals(result) == declared + ["virt_guest_ns", "virt_backend_ns"])
    #expect(!declared.contains("traps") && declared.contains("latency_p99_ns"))
    let md = ReplayReport(result).markdown
    #expect(md.contains("| direct/credit | 1 | disk0 | 3 | n/a | n/a | n/a | n/a | "))
    let dir = TemporaryDirectory()
    let path = dir.file("report.json")
    try ReplayReport(result).json.serialized().write(
      toFile: path, atomically: true, encoding: .utf8)
    let back = try readReport(path)
    #expect(back.backends[0].metrics == declared)
    #expect(totals(back) == totals(result))
  }
}
