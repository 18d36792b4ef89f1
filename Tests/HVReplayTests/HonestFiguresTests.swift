import Foundation
import Testing

@testable import HVReplay

// Figures that say what they rest on (issue 10): discards carry no bytes, the exact maximum
// and mean, the assumed service time counted and said, import notes in the report, and no
// report from a trace with nothing to replay. Every expected value is derived by hand or
// from the fixtures with awk (commands in the comments), never from hvreplay's output.

extension Fixtures {
  /// fio 3.33's iolog of a trimwrite job on the null engine: 10 trims and 10 writes of 4 KiB
  /// (PROVENANCE.md).
  static let trimwrite = root + "/fio/trimwrite.iolog"
}

/// Writes `text` to a file in `dir` and returns its path.
private func file(_ dir: TemporaryDirectory, _ name: String, _ text: String) throws -> String {
  let path = dir.file(name)
  try text.write(toFile: path, atomically: true, encoding: .utf8)
  return path
}

/// Replays the trace at `path` through both backends (no schedulers unless asked).
private func replayFile(
  _ path: String, model: Model = Model(), format: TraceFormat? = nil,
  schedulers: [SchedulerKind] = []
) throws(HVReplayError) -> ReplayResult {
  var options = TraceReadOptions()
  options.format = format
  var reader = try TraceReader(paths: [path], options: options)
  return try ReplayEngine(model: model, schedulers: schedulers).run(&reader)
}

/// The value of figure `metric` in `figures`.
private func row(_ figures: Figures, _ metric: String) -> Double? {
  figures.rows.first { $0.metric == metric }?.value
}

@Suite("Discards carry a range, not data")
struct DiscardBytesTests {
  // awk '$3=="write"{w+=$5} $3=="trim"{t+=$5} END{print w, t}' trimwrite.iolog  # 40960 40960
  @Test("a fio iolog of 40 KiB of writes and 40 KiB of trims replays 40 KiB of bytes")
  func replayBytes() throws {
    let result = try replayFile(Fixtures.trimwrite)
    let report = ReplayReport(result)
    for name in ["full", "para"] {
      let total = result.total(name)
      #expect(total.requests == 20, "\(name)")
      #expect(total.bytes == 40_960, "\(name)")  // 81,920 when trims count
      let figures = report.backend(name)!.total
      #expect(total.spanNs > 0)
      #expect(row(figures, "bytes_per_s") == 40_960 * 1e9 / Double(total.spanNs), "\(name)")
    }
  }

  // The log's I/O lines run from 175 us to 206 us: 40,960 bytes over 31 us is
  // 1.3213e9 bytes/s, 1.23 GiB/s (2.46 GiB/s with the trims).
  @Test("inspect's bytes and byte rate leave the trims' ranges out")
  func inspectBytes() throws {
    let inspection = try TraceInspection(path: Fixtures.trimwrite)
    #expect(inspection.statistics.payloadBytes == 40_960)
    #expect(inspection.statistics.discardedBytes == 40_960)
    #expect(inspection.statistics.spanNs == 31_000)
    #expect(inspection.text.contains("bytes:       40.00 KiB (disk 40.00 KiB, net 0 B)"))
    #expect(inspection.text.contains("discards cover 40.00 KiB"))
    #expect(inspection.text.contains("events/s, 1.23 GiB/s"))
    guard case .object(let members) = inspection.json,
      let payload = members.first(where: { $0.0 == "payload_bytes" })?.1
    else {
      Issue.record("no payload_bytes")
      return
    }
    #expect(payload == .uint(40_960))
  }

  @Test("a discard's assumed service time has no transfer term, whatever its range")
  func discardService() {
    let m = Model()
    let trim = TraceEvent(timeNs: 0, vm: 1, op: .discard, bytes: 2_147_483_648 - 1)
    #expect(m.serviceNs(for: trim) == m.devices.disk.baseServiceNs)
  }
}

@Suite("The exact maximum and mean latency")
struct ExactLatencyTests {
  // awk '{split($4,a,"."); t=a[1]*1000000000+a[2]} $6=="D"{d[$8]=t}
  //      $6=="C"{if($8 in d){s+=t-d[$8]; n++; if(t-d[$8]>m) m=t-d[$8]}}
  //      END{print n, s, m}' sample.blkparse.txt          # 963 53878701 102460
  // btt's D2C file agrees: its largest line is 0.000102 s.
  static let requests: UInt64 = 963
  static let d2cSumNs: UInt64 = 53_878_701
  static let d2cMaxNs: UInt64 = 102_460

  @Test("latency_max_ns is the recording's largest D2C, 102,460 ns, not its bucket's 102,463")
  func blktraceMax() throws {
    var model = zeroCostModel()
    model.replay.loop = .closed
    let report = ReplayReport(try replayFile(Fixtures.blktrace, model: model))
    for b in report.backends {
      #expect(row(b.total, "latency_max_ns") == Double(Self.d2cMaxNs), "\(b.name)")
      #expect(b.devices.count == 1)
      #expect(row(b.devices[0].figures, "latency_max_ns") == Double(Self.d2cMaxNs), "\(b.name)")
    }
    // report.md's per-op row: 963 reads, exact mean 53,878,701 / 963 = 55,948.8, max 102,460.
    let md = report.markdown
    for name in ["full", "para"] {
      let line = md.split(separator: "\n").first { $0.hasPrefix("| \(name) | read | 963 |") }
      #expect(line?.hasPrefix("| \(name) | read | 963 | 55,949 |") == true, "\(String(line ?? ""))")
      #expect(line?.hasSuffix("| 102,460 |") == true, "\(String(line ?? ""))")
    }
    #expect(report.histogramsCSV.contains("full,all,all,read,max,102460\n"))
  }

  @Test("report.md's per-op mean is exact: one read of 1,000,001 ns has mean 1,000,001")
  func exactMean() throws {
    // 1,000,001 lies in a three-digit HdrHistogram bucket 512 ns wide whose median is not it.
    let events = [TraceEvent(timeNs: 0, vm: 1, op: .read, bytes: 4096, serviceNs: 1_000_001)]
    let report = ReplayReport(try replay(events, model: zeroCostModel()))
    #expect(report.backend("full")!.total.latencyMeanByOp[0] == 1_000_001)
    #expect(report.markdown.contains("| full | read | 1 | 1,000,001 |"))
  }

  @Test("merged report.json shards keep the exact maximum and the exact per-op mean")
  func mergeKeepsExact() throws {
    let (events, _) = try importAll([Fixtures.blktrace])
    let half = events.count / 2
    var parts: [ReplayResult] = []
    for shard in [Array(events[..<half]), Array(events[half...])] {
      let result = try replay(shard, model: zeroCostModel(), loop: .closed)
      let text = ReplayReport(result).json.serialized()
      parts.append(
        try ReplayResult(reportJSON: JSONParser.parse(text, file: "r.json"), file: "r.json"))
    }
    let merged = ReplayReport(try ReplayResult.merge(parts, names: ["a", "b"]))
    for b in merged.backends {
      #expect(row(b.total, "latency_max_ns") == Double(Self.d2cMaxNs), "\(b.name)")
      let mean = b.total.latencyMeanByOp[Int(EventOp.read.rawValue)]
      #expect(mean == Double(Self.d2cSumNs) / Double(Self.requests), "\(b.name)")
    }
  }

  @Test(
    "a report.json without latency sums or assumed counts still reads, with the histogram's mean")
  func olderReportReads() throws {
    let events = [TraceEvent(timeNs: 0, vm: 1, op: .read, bytes: 4096, serviceNs: 1_000_001)]
    let report = ReplayReport(try replay(events, model: zeroCostModel()))
    // Remove the members this version added, as a report written before them lacks them:
    // each backend's latency_sum_ns object (a channel's latency_sum_ns counter stays), every
    // requests_assumed_service, the trace's import_notes and each backend's declared metrics.
    func strip(_ v: JSONValue) -> JSONValue {
      switch v {
      case .object(let members):
        return .object(
          members.filter { name, value in
            switch name {
            case "latency_sum_ns": value.uint != nil
            case "requests_assumed_service", "import_notes", "metrics": false
            default: true
            }
          }.map { ($0.0, strip($0.1)) })
      case .array(let items): return .array(items.map(strip))
      default: return v
      }
    }
    let text = strip(try JSONParser.parse(report.json.serialized(), file: "new.json")).serialized()
    #expect(!text.contains("requests_assumed_service") && !text.contains("import_notes"))
    let back = try ReplayResult(
      reportJSON: JSONParser.parse(text, file: "old.json"), file: "old.json")
    let full = back.backends.first { $0.name == "full" }!
    #expect(!full.latency.sumsKnown)
    #expect(full.latency.meanNs(.read) == nil)
    #expect(full.channels.allSatisfy { $0.assumedService == 0 })
    let figures = ReplayReport(back).backend("full")!.total
    // The mean falls back to the histogram's bucket median, which is not the exact value.
    let mean = figures.latencyMeanByOp[0]!
    #expect(mean != 1_000_001 && abs(mean - 1_000_001) < 1_000)
    #expect(row(figures, "latency_max_ns") == 1_000_001)
  }
}

@Suite("Assumed service times are size-aware, counted and said")
struct AssumedServiceTests {
  // Disk: 54,860 ns + bytes / 3,938,461,538 bytes/s (PCIe 3.0 x4: 4 x 8 GT/s x 128/130 / 8):
  // 4,096 bytes take 4,096 x 130 / 512 = 1,040 ns, so 55,900 ns in all (btt's D2C mean of the
  // 4 KiB-read fixture, 55.949 us, to 0.1 us); 128 KiB take 33,280 + 54,860 = 88,140 ns.
  // Net: 0 + bytes / 1.25e9 bytes/s (10 Gb/s): 1,500 bytes take 1,200 ns.
  @Test("the default service time: 55,900 ns for 4 KiB, 88,140 ns for 128 KiB, 1,200 ns a packet")
  func defaults() {
    let m = Model()
    #expect(m.serviceNs(for: TraceEvent(timeNs: 0, vm: 1, op: .read, bytes: 4096)) == 55_900)
    #expect(m.serviceNs(for: TraceEvent(timeNs: 0, vm: 1, op: .write, bytes: 131_072)) == 88_140)
    #expect(m.serviceNs(for: TraceEvent(timeNs: 0, vm: 1, op: .tx, bytes: 1500)) == 1_200)
    #expect(m.serviceNs(for: TraceEvent(timeNs: 0, vm: 1, op: .flush)) == 54_860)
  }

  @Test("backends serve a request without service_ns for the size-aware time")
  func backendsUseIt() throws {
    // With every cost 0, a lone request's latency is its service time.
    let events = [TraceEvent(timeNs: 0, vm: 1, op: .read, bytes: 131_072)]
    let result = try replay(events, model: zeroCostModel())
    for name in ["full", "para"] {
      #expect(result.total(name).latencySumNs == 88_140, "\(name)")
    }
  }

  @Test("the old default_service_ns keys still read: a fixed service time, no transfer term")
  func aliases() throws {
    var m = Model()
    try m.set("devices.disk.default_service_ns=1000")
    #expect(m.devices.disk.baseServiceNs == 1000 && m.devices.disk.bandwidthBytesPerS == 0)
    #expect(m.serviceNs(for: TraceEvent(timeNs: 0, vm: 1, op: .read, bytes: 1 << 20)) == 1000)
    var n = Model()
    try n.apply(
      json: JSONParser.parse(#"{"devices": {"net": {"default_service_ns": 7}}}"#, file: "m.json"),
      file: "m.json")
    #expect(n.devices.net.baseServiceNs == 7 && n.devices.net.bandwidthBytesPerS == 0)
    #expect(throws: HVReplayError.self) { try m.set("devices.disk.default_service_ns=-1") }
    // The model prints the new keys only.
    let printed = Model().json.serialized()
    #expect(printed.contains("\"base_service_ns\": 54860"))
    #expect(printed.contains("\"bandwidth_bytes_per_s\": 3938461538"))
    #expect(!printed.contains("default_service_ns"))
  }

  /// Four disk reads on two devices, `assumed` of them without service_ns.
  private func events(assumed: Int) -> [TraceEvent] {
    (0..<4).map { i in
      TraceEvent(
        timeNs: UInt64(i) * 1_000_000, vm: 1, op: .read, device: UInt16(i % 2), bytes: 4096,
        serviceNs: i < assumed ? 0 : 10_000)
    }
  }

  @Test("requests_assumed_service counts per channel, sums per backend, and is a figure")
  func counted() throws {
    let result = try replay(events(assumed: 3))
    let report = ReplayReport(result)
    for name in ["full", "para"] {
      let b = result.backends.first { $0.name == name }!
      #expect(b.channels.map(\.assumedService).sorted() == [1, 2], "\(name)")
      #expect(row(report.backend(name)!.total, "requests_assumed_service") == 3)
    }
    #expect(report.summaryCSV.contains("full,all,all,requests_assumed_service,3,count\n"))
    let text = report.json.serialized()
    #expect(text.contains("\"requests_assumed_service\": 3"))
  }

  @Test("more than half assumed: the verdict and the printed summary say so; half: they do not")
  func verdictSaysSo() throws {
    let most = ReplayReport(try replay(events(assumed: 3)))
    let warning = "rests on assumed service times: 3 of 4 requests (75%) had none in the trace"
    #expect(most.verdictLines[0].contains(warning))
    #expect(most.markdown.contains("**Verdict**: para: "))
    #expect(
      most.markdown.split(separator: "\n").first { $0.hasPrefix("**Verdict**") }?.contains(warning)
        == true)
    let half = ReplayReport(try replay(events(assumed: 2)))
    #expect(!half.verdictLines[0].contains("assumed"))
    #expect(!half.markdown.contains("rests on assumed"))
  }
}

@Suite("Import notes reach the report; clock anomalies are noted")
struct ImportNotesInReportTests {
  /// The fixture's first two requests (14 records), then the next two with 10^9 s added to
  /// their times: CPU 1's clock jumps forward by 10^9 s (plus the 11 us between them).
  private func jumpedBlkparse(_ dir: TemporaryDirectory) throws -> String {
    let lines = try String(contentsOfFile: Fixtures.blkparse, encoding: .utf8)
      .split(separator: "\n").prefix(28)
    var out = lines.prefix(14).joined(separator: "\n") + "\n"
    for line in lines.dropFirst(14) {
      var f = line.split(separator: " ", omittingEmptySubsequences: true).map(String.init)
      let parts = f[3].split(separator: ".")
      f[3] = "\(Int(parts[0])! + 1_000_000_000).\(parts[1])"
      out += f.joined(separator: " ") + "\n"
    }
    return try file(dir, "jump.txt", out)
  }

  @Test("a CPU whose timestamps jump by 10^9 s is noted, in the result and report.md")
  func clockJump() throws {
    let dir = TemporaryDirectory()
    let result = try replayFile(try jumpedBlkparse(dir), format: .blkparse)
    // Record 15 (0.000133920 s + 10^9 s) follows record 14 (0.000122920 s), both on CPU 1:
    // a jump forward of 10^9 s + 11 us, shown to the millisecond.
    let notes = result.trace.importNotes.filter { $0.hasPrefix("clock anomaly") }
    #expect(notes.count == 1)
    #expect(notes.first?.contains("1 record jumps more than 10^6 s") == true)
    #expect(notes.first?.contains("CPU 1 forward by 1000000000.000 s after 122.920 us") == true)
    let md = ReplayReport(result).markdown
    #expect(md.contains("**Import** (blkparse; docs/IMPORTERS.md):"))
    #expect(md.contains("- clock anomaly: 1 record jumps"))
  }

  @Test("the real recording has no clock anomaly, and its notes are in the report")
  func noJump() throws {
    let result = try replayFile(Fixtures.blktrace)
    #expect(!result.trace.importNotes.contains { $0.contains("clock anomaly") })
    #expect(result.trace.importNotes.first?.contains("(963 requests from") == true)
    let md = ReplayReport(result).markdown
    #expect(md.contains("service\\_ns = C - D (963 requests from"))
    // report.json keeps them, and merge keeps a shard set's common notes once.
    let text = ReplayReport(result).json.serialized()
    let back = try ReplayResult(reportJSON: JSONParser.parse(text, file: "r"), file: "r")
    #expect(back.trace.importNotes == result.trace.importNotes)
    let merged = try ReplayResult.merge([back, back], names: ["a", "b"])
    #expect(merged.trace.importNotes == result.trace.importNotes)
  }
}

@Suite("A trace with nothing to replay is an error")
struct NothingToReplayTests {
  private func failure(_ body: () throws -> Void) -> HVReplayError? {
    do {
      try body()
      return nil
    } catch let error as HVReplayError {
      return error
    } catch {
      return nil
    }
  }

  // awk '$6=="C"' sample.blkparse.txt | wc -l     # 963 completions, no Q
  @Test("a blkparse capture of completions only: exit 65, the reason and what to record")
  func completionsOnly() throws {
    let dir = TemporaryDirectory()
    let text = try String(contentsOfFile: Fixtures.blkparse, encoding: .utf8)
      .split(separator: "\n").filter { line in
        let f = line.split(separator: " ")
        return f.count > 5 && f[0] == "259,0" && f[5] == "C"
      }
    #expect(text.count == 963)
    let path = try file(dir, "c.txt", text.joined(separator: "\n") + "\n")
    let error = failure { _ = try replayFile(path, format: .blkparse) }
    #expect(error?.category == .badData)
    #expect(error?.exitCode == 65)
    let message = error.map { "\($0)" } ?? ""
    #expect(message.contains("c.txt"))
    #expect(message.contains("nothing to replay: no request was both queued and completed"))
    #expect(message.contains("blktrace's default mask, which includes Q and C"))
    #expect(message.contains("963 completions without their Q (not replayed)"))
  }

  @Test("an hvt trace without events and a fio log without I/O are refused too")
  func otherFormats() throws {
    let dir = TemporaryDirectory()
    let empty = dir.file("e.hvt")
    try writeTrace([], to: empty, type: .hvt)
    let e1 = failure { _ = try replayFile(empty) }
    #expect(e1?.category == .badData)
    #expect("\(e1.map { "\($0)" } ?? "")".contains("nothing to replay: the trace holds no event"))
    let fio = try file(
      dir, "f.iolog", "fio version 3 iolog\n1 a.dat add\n2 a.dat open\n3 a.dat close\n")
    let e2 = failure { _ = try replayFile(fio) }
    #expect("\(e2.map { "\($0)" } ?? "")".contains("the iolog has no read, write, trim, sync"))
  }

  @Test("a trace of cpu events only still replays its schedulers")
  func cpuOnly() throws {
    let dir = TemporaryDirectory()
    let path = dir.file("cpu.hvt")
    try writeTrace(
      [TraceEvent(timeNs: 0, vm: 1, op: .burst, serviceNs: 1_000_000)], to: path, type: .hvt)
    let result = try replayFile(path, schedulers: SchedulerKind.allCases)
    #expect(result.schedulers.count == 2)
    #expect(result.channels.isEmpty)
  }
}
