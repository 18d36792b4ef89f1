import Testing

@testable import HVReplay

/// Model rule "time series" (docs/MODEL.md): figures per interval of trace time.
@Suite("Time series")
struct TimeSeriesTests {
  /// One disk read every 100 us for 1 s, each served in 20 us: 10,000 requests.
  static func steady() -> [TraceEvent] {
    (0..<10_000).map {
      TraceEvent(
        timeNs: UInt64($0) * 100_000, vm: 1, op: .read, offset: UInt64($0) * 8, bytes: 4096,
        serviceNs: 20_000)
    }
  }

  static func run(_ events: [TraceEvent], interval: UInt64?, backends: [BackendKind] = [.native])
    throws -> ReplayResult
  {
    let dir = TemporaryDirectory()
    let path = dir.file("t.hvt")
    try writeTrace(events, to: path, type: .hvt)
    var reader = try TraceReader(path: path)
    var model = Model()
    model.cpu.coupled = false
    model.replay.loop = .open
    var engine = ReplayEngine(model: model, backends: backends)
    engine.timeSeriesIntervalNs = interval
    return try engine.run(&reader)
  }

  /// `bursts` and one read at `readAt` on a 2-pCPU host (native, fair share).
  static func onHost(_ bursts: [TraceEvent], readAt: UInt64, interval: UInt64) throws
    -> ReplayResult
  {
    let dir = TemporaryDirectory()
    let path = dir.file("b.hvt")
    try writeTrace(
      bursts + [TraceEvent(timeNs: readAt, vm: 1, op: .read, bytes: 4096, serviceNs: 1_000)],
      to: path, type: .hvt)
    var reader = try TraceReader(path: path)
    var model = Model()
    model.cpu.pcpus = 2
    var engine = ReplayEngine(model: model, backends: [.native], schedulers: [.fair])
    engine.timeSeriesIntervalNs = interval
    return try engine.run(&reader)
  }

  @Test(
    "a steady trace: every 100 ms interval holds 1,000 requests at 10,000 IOPS and their latency")
  func steadyIntervals() throws {
    let r = try Self.run(Self.steady(), interval: 100_000_000)
    let series = try #require(r.backends[0].timeSeries)
    #expect(series.widthNs == 100_000_000 && series.startNs == 0)
    #expect(series.intervals.count == 10)
    let total = series.intervals.flatMap { $0 }.reduce(0) { $0 + $1.figures.requests }
    #expect(total == 10_000)
    // Native: latency is the service time; each interval completes the requests issued in
    // it (the last one 20 us after its issue, inside the interval).
    for slot in series.intervals {
      #expect(slot.count == 1 && slot[0].figures.requests == 1_000)
      #expect(slot[0].figures.bytes == 4_096_000 && slot[0].figures.maxNs == 20_000)
    }
    let csv = ReplayReport(r).timeSeriesCSV
    #expect(csv.hasPrefix("backend,vm,device,interval_start_ns,metric,value,unit\n"))
    #expect(csv.contains("native,1,disk0,300000000,iops,10000.000,per_s\n"))
    #expect(csv.contains("native,1,disk0,300000000,bytes_per_s,40960000.000,B/s\n"))
    #expect(csv.contains("native,1,disk0,300000000,latency_p50_ns,20000,ns\n"))
    #expect(csv.contains("native,1,all,900000000,latency_max_ns,20000,ns\n"))
    #expect(csv.contains("native,all,all,0,iops,10000.000,per_s\n"))
  }

  @Test("the default width is round and gives 100 to 1,000 intervals; it equals that width given")
  func adaptiveWidth() throws {
    let r = try Self.run(Self.steady(), interval: nil, backends: [.native, .para])
    for b in r.backends {
      let series = try #require(b.timeSeries)
      // A power of ten from 1 us, and 100 to 1,000 intervals to the replay's last step.
      let powers = (3...12).map { (0..<$0).reduce(UInt64(1)) { p, _ in p * 10 } }
      #expect(powers.contains(series.widthNs), "\(b.name)")
      #expect((100...1_000).contains(series.intervals.count), "\(b.name)")
      #expect(series.intervals.count == Int((series.endNs - series.startNs) / series.widthNs) + 1)
    }
    // native's last step is its last completion (999.92 ms): 1 ms intervals, 1,000 of them.
    let native = try #require(r.backends[0].timeSeries)
    #expect(native.widthNs == 1_000_000 && native.intervals.count == 1_000)
    // Ten neighbouring intervals merged are exactly the wider interval: the same rows as a
    // replay given that width from the start.
    let fixed = try Self.run(Self.steady(), interval: 1_000_000, backends: [.native])
    let nativeRows = ReplayReport(r).timeSeriesCSV.split(separator: "\n").filter {
      $0.hasPrefix("native,")
    }
    #expect(
      nativeRows == ReplayReport(fixed).timeSeriesCSV.split(separator: "\n").dropFirst().map { $0 })
    // para's ring holds each request for its latency, one at a time: a mean occupancy of
    // 1,000 latencies per 100 ms.
    let para = try Self.run(Self.steady(), interval: 100_000_000, backends: [.para])
    let rows = ReplayReport(para).timeSeriesCSV.split(separator: "\n").filter {
      $0.hasPrefix("para,1,disk0,500000000,")
    }.map { $0.split(separator: ",") }
    let latency = try #require(rows.first { $0[4] == "latency_max_ns" }.flatMap { Double($0[5]) })
    let occupancy = try #require(
      rows.first { $0[4] == "ring_occupancy_mean" }.flatMap { Double($0[5]) })
    #expect(rows.first { $0[4] == "iops" }?[5] == "10000.000")
    #expect(abs(occupancy - 1_000 * latency / 1e8) < 0.0005, "\(occupancy) \(latency)")
  }

  @Test("many channels at a fine width widen the series past 250,000 figures, exactly, never cut")
  func entryLimit() throws {
    // 300 disks each holding one 900 us read from time 0: at 1 us, 300 ring-occupancy
    // figures per interval pass 250,000 near 833 us, before 1,000 intervals would: the
    // width becomes 10 us (91 intervals), the same rows as a replay given 10 us.
    let reads = (0..<300).map {
      TraceEvent(timeNs: 0, vm: 1, op: .read, device: UInt16($0), bytes: 4096, serviceNs: 900_000)
    }
    let r = try Self.run(reads, interval: nil, backends: [.para])
    let series = try #require(r.backends[0].timeSeries)
    #expect(series.widthNs == 10_000 && !series.cut)
    #expect(series.intervals.count == Int((series.endNs - series.startNs) / series.widthNs) + 1)
    #expect(series.intervals.reduce(0) { $0 + $1.count } <= TimeSeriesRecorder.adaptiveEntryLimit)
    let fixed = try Self.run(reads, interval: 10_000, backends: [.para])
    #expect(ReplayReport(r).timeSeriesCSV == ReplayReport(fixed).timeSeriesCSV)
    #expect(ReplayReport(r).timeSeriesCSV.contains("para,1,disk299,890000,ring_occupancy_mean,1"))
  }

  @Test("a fixed width keeps at most 10,000 intervals, and report.md says the rest was cut")
  func cut() throws {
    let r = try Self.run(Self.steady(), interval: 1_000)
    let series = try #require(r.backends[0].timeSeries)
    // The last interval kept is the last with a step before the 10,000th ended.
    #expect(series.cut && series.intervals.count <= TimeSeriesRecorder.maximumIntervals)
    #expect(series.intervals.count > TimeSeriesRecorder.maximumIntervals - 100)
    #expect(ReplayReport(r).markdown.contains("it stops at 10000 intervals"))
  }

  @Test("on a host: a VM's CPU share per interval is its bursts' share of the pCPUs")
  func cpuShare() throws {
    // VM 1 runs a 50 ms burst every 100 ms on a 2-pCPU host: 25% of its capacity.
    let bursts = (0..<10).map {
      TraceEvent(timeNs: UInt64($0) * 100_000_000, vm: 1, op: .burst, serviceNs: 50_000_000)
    }
    let r = try Self.onHost(bursts, readAt: 999_000_000, interval: 100_000_000)
    let series = try #require(r.backends[0].timeSeries)
    #expect(series.pcpus == 2)
    let csv = ReplayReport(r).timeSeriesCSV
    for k in 0..<9 {
      #expect(csv.contains("native/fair,1,cpu,\(k * 100_000_000),cpu_share,25.000,pct\n"), "\(k)")
    }
  }

  /// The per-interval figures of `series` summed over its intervals and channels.
  static func totals(_ series: TimeSeries) -> IntervalFigures {
    var f = IntervalFigures()
    for slot in series.intervals { for (_, x) in slot { f.add(x) } }
    return f
  }

  @Test("review: merging tenfold from an interval not a multiple of ten loses nothing")
  func unalignedMerge() throws {
    // 1,200 reads 1 us apart from 5 us: the first 1 us interval is index 5.
    let events = (0..<1_200).map {
      TraceEvent(
        timeNs: 5_000 + UInt64($0) * 1_000, vm: 1, op: .read, offset: UInt64($0) * 8, bytes: 4096,
        serviceNs: 100)
    }
    let adaptive = try Self.run(events, interval: nil)
    let series = try #require(adaptive.backends[0].timeSeries)
    #expect(Self.totals(series).requests == 1_200)
    let fixed = try Self.run(events, interval: series.widthNs)
    #expect(ReplayReport(adaptive).timeSeriesCSV == ReplayReport(fixed).timeSeriesCSV)
  }

  @Test("review: CPU and ring occupancy through intervals without a step are booked to each")
  func quietIntervals() throws {
    // One 10 ms burst on a 2-pCPU host: 50% of it in each 1 ms interval, never more.
    let burst = [TraceEvent(timeNs: 0, vm: 1, op: .burst, serviceNs: 10_000_000)]
    let csv = ReplayReport(try Self.onHost(burst, readAt: 10_000_000, interval: 1_000_000))
      .timeSeriesCSV
    for k in 1..<10 {
      #expect(csv.contains("native/fair,1,cpu,\(k * 1_000_000),cpu_share,50.000,pct\n"), "\(k)")
    }
    // The first context switch delays the burst: what the first interval lacks, the
    // eleventh holds.
    func share(_ start: Int) -> Double {
      csv.split(separator: "\n").first { $0.hasPrefix("native/fair,1,cpu,\(start),cpu_share,") }
        .map { Double($0.split(separator: ",")[5])! } ?? 0
    }
    #expect(abs(share(0) + share(10_000_000) - 50) < 0.0015 && share(0) < 50)
    // One para request outstanding for 100 ms: one entry in its ring in every 1 ms.
    let long = [TraceEvent(timeNs: 0, vm: 1, op: .read, bytes: 4096, serviceNs: 100_000_000)]
    let para = ReplayReport(try Self.run(long, interval: 1_000_000, backends: [.para]))
      .timeSeriesCSV
    let means = para.split(separator: "\n").filter {
      $0.contains(",1,disk0,") && $0.contains("ring_occupancy_mean")
    }
    .map { Double($0.split(separator: ",")[5])! }
    #expect(means.count >= 99 && means.allSatisfy { $0 <= 1.0 })
    #expect(means.dropFirst().dropLast().allSatisfy { $0 == 1.0 })
    #expect(para.contains("para,all,all,0,interval_ns,1000000,ns\n"))
  }
}
