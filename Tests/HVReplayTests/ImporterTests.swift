import Foundation
import Testing

@testable import HVReplay

/// The real recordings in Tests/Fixtures (origin and licences in its PROVENANCE.md), found
/// from this source file so that any clone reads its own copy.
enum Fixtures {
  static let root = URL(fileURLWithPath: #filePath).deletingLastPathComponent()
    .deletingLastPathComponent().appendingPathComponent("Fixtures").path
  static let blktrace = root + "/blktrace-nvme/sample.blktrace.0"
  static let blkparse = root + "/blktrace-nvme/sample.blkparse.txt"
  static let q2c = root + "/blktrace-nvme/sample_259_0_q2c.dat"
  static let d2c = root + "/blktrace-nvme/sample_259_0_d2c.dat"
  static let fio = root + "/fio/randrw.iolog"
  static let ftrace = root + "/ftrace-android/trace-android-sched"
}

/// Reads every event of `paths` with the given options.
func importAll(_ paths: [String], _ configure: (inout TraceReadOptions) -> Void = { _ in })
  throws(HVReplayError)
  -> (events: [TraceEvent], reader: TraceReader)
{
  var options = TraceReadOptions()
  configure(&options)
  var reader = try TraceReader(paths: paths, options: options)
  var events: [TraceEvent] = []
  while let e = try reader.next() { events.append(e) }
  return (events, reader)
}

func importError(_ paths: [String], _ configure: (inout TraceReadOptions) -> Void = { _ in })
  -> HVReplayError?
{
  do {
    _ = try importAll(paths, configure)
    return nil
  } catch {
    return error
  }
}

@Suite("Importers, checked against real recordings")
struct RealRecordingTests {
  @Test("blktrace NVMe sample: 963 reads of 4 KiB; mean D2C and Q2C equal btt's 55.9 and 56.6 us")
  func blktraceAgainstBtt() throws {
    var decoder = try BlktraceDecoder(inputs: [ByteInput(path: Fixtures.blktrace)])
    var q2c: [(q: UInt64, latency: UInt64)] = []
    var d2c: [UInt64] = []
    while let e = try decoder.next() {
      #expect(e.op == .read && e.bytes == 4096 && e.vm == 1)
      q2c.append((e.timeNs, decoder.lastCompletion - e.timeNs))
      d2c.append(e.serviceNs)
    }
    #expect(q2c.count == 963)
    let meanD2C = Double(d2c.reduce(0, +)) / Double(d2c.count) / 1000
    let meanQ2C = Double(q2c.map(\.latency).reduce(0, +)) / Double(q2c.count) / 1000
    // btt's sample.btt.avg: D2C AVG 0.000055949 s, Q2C AVG 0.000056609 s, N 963.
    #expect(abs(meanD2C - 55.949) < 0.1, "\(meanD2C)")
    #expect(abs(meanQ2C - 56.609) < 0.1, "\(meanQ2C)")

    // btt -q: one line per I/O, "time latency" in seconds to 6 decimals.
    let dat = try String(contentsOfFile: Fixtures.q2c, encoding: .utf8).split(separator: "\n")
      .map { $0.split(separator: " ").map { Double($0)! } }
    #expect(dat.count == 963)
    let ours = q2c.sorted { $0.q < $1.q }
    for (line, mine) in zip(dat, ours) {
      #expect(abs(line[0] - Double(mine.q) / 1e9) <= 0.5e-6 + 1e-9)
      #expect(abs(line[1] - Double(mine.latency) / 1e9) <= 0.5e-6 + 1e-9, "\(line) against \(mine)")
    }
  }

  @Test("the same recording read from blktrace binary and from blkparse text gives the same events")
  func binaryEqualsText() throws {
    let binary = try importAll([Fixtures.blktrace])
    let text = try importAll([Fixtures.blkparse])
    #expect(binary.reader.format == .blktrace)
    #expect(text.reader.format == .blkparse)
    #expect(binary.events.count == 963)
    #expect(binary.events == text.events)
  }

  @Test("fio's own randrw iolog imports as fio wrote it: 20 reads, 12 writes, 5 fsyncs")
  func fioLog() throws {
    let (events, reader) = try importAll([Fixtures.fio])
    #expect(reader.format == .fio)
    // Every I/O line, independently: `timestamp file action offset length`; fio writes
    // `sync offset 0` for an fsync, which carries no range.
    var expected: [TraceEvent] = []
    let lines = try String(contentsOfFile: Fixtures.fio, encoding: .utf8).split(separator: "\n")
    for line in lines.dropFirst() {
      let f = line.split(separator: " ").map(String.init)
      guard f.count == 5 else { continue }
      let time = UInt64(f[0])! * 1000
      let event =
        switch f[2] {
        case "read": TraceEvent(timeNs: time, vm: 1, op: .read, offset: UInt64(f[3])!, bytes: 4096)
        case "write":
          TraceEvent(timeNs: time, vm: 1, op: .write, offset: UInt64(f[3])!, bytes: 4096)
        default: TraceEvent(timeNs: time, vm: 1, op: .flush)
        }
      #expect(f[2] == "sync" || f[4] == "4096")
      expected.append(event)
    }
    // Counted with awk over the file: 20 read, 12 write, 5 sync; add, open and close carry no I/O.
    #expect(expected.count == 37)
    #expect(events == expected)
    #expect(events.filter { $0.op == .read }.count == 20)
    #expect(events.filter { $0.op == .write }.count == 12)
    #expect(events.filter { $0.op == .flush }.count == 5)
    #expect(events.first?.timeNs == 137_000 && events.last?.timeNs == 20_233_000)
    #expect(reader.importNotes.contains { $0.contains("3 add/open/close lines carry no I/O") })
  }

  @Test(
    "the Android ftrace: each task's bursts add up to the running time its sched_switch lines imply"
  )
  func ftraceRunningTime() throws {
    // Independently: a task runs from a sched_switch that names it next to one that names it prev.
    var start: [String: Double] = [:]
    var total: [String: Double] = [:]
    for line in try String(contentsOfFile: Fixtures.ftrace, encoding: .utf8).split(
      separator: "\n")
    where line.contains("sched_switch:") {
      let parts = line.split(separator: " ")
      let ts = Double(
        parts[parts.firstIndex { $0.hasSuffix(":") && Double($0.dropLast()) != nil }!].dropLast())!
      func field(_ key: String) -> String {
        String(parts.first { $0.hasPrefix(key) }!.dropFirst(key.count))
      }
      let prev = field("prev_pid=")
      let next = field("next_pid=")
      if prev != "0", let s = start.removeValue(forKey: prev) { total[prev, default: 0] += ts - s }
      if next != "0" { start[next] = ts }
    }
    let (events, reader) = try importAll([Fixtures.ftrace])
    #expect(reader.format == .ftrace)
    var perVM: [UInt16: UInt64] = [:]
    for e in events {
      #expect(e.op == .burst)
      perVM[e.vm, default: 0] += e.serviceNs
    }
    let expected = total.values.map { UInt64(($0 * 1e6).rounded()) * 1000 }.sorted()
    #expect(perVM.values.sorted() == expected)
    #expect(events.count == 63)
  }
}

@Suite("Importers on generated files")
struct GeneratedImportTests {
  /// The blktrace sample's records, split into (header + payload) byte arrays.
  static func blktraceRecords() throws -> [[UInt8]] {
    let bytes = [UInt8](try Data(contentsOf: URL(fileURLWithPath: Fixtures.blktrace)))
    var records: [[UInt8]] = []
    var i = 0
    while i < bytes.count {
      let pdu = Int(bytes[i + 46]) | Int(bytes[i + 47]) << 8
      records.append(Array(bytes[i..<(i + 48 + pdu)]))
      i += 48 + pdu
    }
    return records
  }

  @Test("per-CPU files merge by time, whatever CPU their names say")
  func perCPUMerge() throws {
    let dir = TemporaryDirectory()
    let records = try Self.blktraceRecords()
    // Alternate records between two files, named for the wrong CPUs.
    var a: [UInt8] = []
    var b: [UInt8] = []
    for (i, r) in records.enumerated() { if i % 2 == 0 { a += r } else { b += r } }
    let whole = try importAll([Fixtures.blktrace]).events
    let split = try importAll([
      dir.write("d.blktrace.1", bytes: a), dir.write("d.blktrace.0", bytes: b),
    ]).events
    #expect(split == whole)
    // The base name stands for its per-CPU files, as blkparse -i takes it.
    #expect(try importAll([dir.file("d")]).events == whole)
  }

  @Test("big-endian blktrace records are swapped; version 8 is refused with a way out")
  func byteOrderAndVersion() throws {
    let dir = TemporaryDirectory()
    var swapped: [UInt8] = []
    for r in try Self.blktraceRecords() {
      var s = r
      for (o, n) in [
        (0, 4), (4, 4), (8, 8), (16, 8), (24, 4), (28, 4), (32, 4), (36, 4), (40, 4), (44, 2),
        (46, 2),
      ] {
        s.replaceSubrange(o..<(o + n), with: s[o..<(o + n)].reversed())
      }
      swapped += s
    }
    let events = try importAll([dir.write("be.blktrace.0", bytes: swapped)]).events
    #expect(events == (try importAll([Fixtures.blktrace]).events))
    var v8 = try Self.blktraceRecords()[0]
    v8[0] = 8
    let error = try #require(importError([dir.write("v8.blktrace.0", bytes: v8)]))
    #expect(error.description.contains("version 8"))
    #expect(error.description.contains("--from blkparse"))
  }

  @Test("a blktrace file cut mid-record is an error naming the offset")
  func blktraceTruncated() throws {
    let dir = TemporaryDirectory()
    let bytes = try Self.blktraceRecords().prefix(10).flatMap { $0 }
    let cut = Array(bytes.dropLast(20))
    let error = try #require(importError([dir.write("cut.blktrace.0", bytes: cut)]))
    #expect(error.category == .badData)
    #expect(error.description.contains("truncated"))
  }

  @Test("gzip-compressed imports read the same as plain ones")
  func gzipped() throws {
    let dir = TemporaryDirectory()
    let text = try Data(contentsOf: URL(fileURLWithPath: Fixtures.blkparse))
    try text.write(to: URL(fileURLWithPath: dir.file("p.txt")))
    let gzip = Process()
    gzip.executableURL = URL(fileURLWithPath: "/bin/sh")
    gzip.arguments = ["-c", "gzip -c '\(dir.file("p.txt"))' > '\(dir.file("p.txt.gz"))'"]
    try gzip.run()
    gzip.waitUntilExit()
    let (events, reader) = try importAll([dir.file("p.txt.gz")])
    #expect(reader.input.compression == .gzip)
    #expect(events == (try importAll([Fixtures.blkparse]).events))
  }

  @Test("MSR Cambridge: filetime timestamps, one VM per host and disk, response time as service")
  func msr() throws {
    let dir = TemporaryDirectory()
    let path = dir.write(
      "msr.csv",
      """
      128166372003061629,hm,1,Read,383496192,32768,2695
      128166372016382155,hm,1,Write,3154045440,4096,1170
      128166372026382245,prn,0,Read,0,512,100

      """)
    let (events, reader) = try importAll([path])
    #expect(reader.format == .msr)
    #expect(
      events == [
        TraceEvent(
          timeNs: 0, vm: 1, op: .read, offset: 383_496_192, bytes: 32768, serviceNs: 269_500),
        TraceEvent(
          timeNs: 1_332_052_600, vm: 1, op: .write, offset: 3_154_045_440, bytes: 4096,
          serviceNs: 117_000),
        TraceEvent(
          timeNs: 2_332_061_600, vm: 2, op: .read, offset: 0, bytes: 512, serviceNs: 10_000),
      ])
  }

  @Test("SYSTOR '17: a header, decimal seconds, one VM per LUN")
  func systor() throws {
    let dir = TemporaryDirectory()
    let path = dir.write(
      "s.csv",
      "Timestamp,Response,IOType,LUN,Offset,Size\n1487525800.048434,0.000466,R,2,1234944,4096\n1487525800.050000,0.001,W,0,0,8192\n"
    )
    let (events, reader) = try importAll([path])
    #expect(reader.format == .systor)
    #expect(
      events == [
        TraceEvent(timeNs: 0, vm: 1, op: .read, offset: 1_234_944, bytes: 4096, serviceNs: 466_000),
        TraceEvent(
          timeNs: 1_566_000, vm: 2, op: .write, offset: 0, bytes: 8192, serviceNs: 1_000_000),
      ])
  }

  @Test("Alibaba 2020 and Tencent CBS, told apart by content; a line before the first is bad")
  func alibabaTencent() throws {
    let dir = TemporaryDirectory()
    let ali = dir.write(
      "a.csv",
      "3,R,1048576,4096,1577808000000100\n3,W,0,8192,1577808000000000\n7,R,0,512,1577808000000300\n"
    )
    // The first line sets the origin; the second, 100 us earlier, is out of order before it: bad.
    #expect(importError([ali])?.location == .line(2))
    let tolerant = try importAll([ali]) { $0.skipBad = 1 }
    #expect(tolerant.events.map(\.timeNs) == [0, 200_000])
    #expect(tolerant.reader.skippedRecords == 1)
    #expect(tolerant.reader.format == .alibaba)
    // In order, every line reads.
    let sorted = dir.write(
      "s.csv",
      "3,W,0,8192,1577808000000000\n3,R,1048576,4096,1577808000000100\n7,R,0,512,1577808000000300\n"
    )
    #expect(
      try importAll([sorted]).events == [
        TraceEvent(timeNs: 0, vm: 1, op: .write, offset: 0, bytes: 8192),
        TraceEvent(timeNs: 100_000, vm: 1, op: .read, offset: 1_048_576, bytes: 4096),
        TraceEvent(timeNs: 300_000, vm: 2, op: .read, offset: 0, bytes: 512),
      ])
    let ten = dir.write(
      "t.csv", "1538323199,10,8,1,1283\n1538323200,20,16,0,1283\n1538323200,0,1,0,99\n")
    let (t, tr) = try importAll([ten])
    #expect(tr.format == .tencent)
    #expect(
      t == [
        TraceEvent(timeNs: 0, vm: 1, op: .write, offset: 5120, bytes: 4096),
        TraceEvent(timeNs: 1_000_000_000, vm: 1, op: .read, offset: 10240, bytes: 8192),
        TraceEvent(timeNs: 1_000_000_000, vm: 2, op: .read, offset: 0, bytes: 512),
      ])
  }

  @Test("a bad line stops the import with its line and what was wrong, unless --skip-bad allows it")
  func badLines() throws {
    let dir = TemporaryDirectory()
    let path = dir.write(
      "m.csv",
      "128166372003061629,hm,1,Read,383496192,32768,2695\n128166372003061630,hm,1,Erase,0,1,1\n128166372003061631,hm,x,Read,0,1,1\n"
    )
    let error = try #require(importError([path]) { $0.format = .msr })
    #expect(error.location == .line(2))
    #expect(error.description.contains("column \"Type\": expected Read or Write, found \"Erase\""))
    #expect(
      importError([path]) {
        $0.format = .msr; $0.skipBad = 1
      }?.location == .line(3))
    let ok = try importAll([path]) {
      $0.format = .msr; $0.skipBad = 2
    }
    #expect(ok.events.count == 1)
    #expect(ok.reader.skippedRecords == 2)
    #expect(ok.reader.importNotes.contains { $0.contains("2 unreadable lines skipped") })
  }

  /// A vscsi record of version `v`.
  static func vscsi(_ v: Int, cmd: UInt16, len: UInt32, lbn: UInt64, ts: UInt64, rt: UInt64 = 0)
    -> [UInt8]
  {
    var r = [UInt8](repeating: 0, count: v == 1 ? 32 : 40)
    func put<T: FixedWidthInteger>(_ value: T, _ o: Int) {
      withUnsafeBytes(of: value.littleEndian) {
        r.replaceSubrange(o..<(o + MemoryLayout<T>.size), with: $0)
      }
    }
    if v == 1 {
      put(UInt32(1), 0)
      put(len, 4)
      put(cmd, 12)
      put(UInt16(0x0100), 14)
    } else {
      put(cmd, 0)
      put(UInt16(0x0200), 2)
      put(len, 8)
      put(rt, 32)
    }
    put(lbn, 16)
    put(ts, 24)
    return r
  }

  @Test(
    "vscsi v1 and v2: SCSI opcodes to ops, microseconds to ns, a cut record is an error",
    arguments: [1, 2])
  func vscsi(version v: Int) throws {
    let dir = TemporaryDirectory()
    let bytes =
      Self.vscsi(v, cmd: 0x28, len: 4096, lbn: 8, ts: 1_000, rt: 70)
      + Self.vscsi(v, cmd: 0x12, len: 36, lbn: 0, ts: 1_100)  // INQUIRY: left out
      + Self.vscsi(v, cmd: 0x2A, len: 8192, lbn: 100, ts: 1_500, rt: 90)
      + Self.vscsi(v, cmd: 0x35, len: 0, lbn: 0, ts: 2_000, rt: 400)
    let (events, reader) = try importAll([dir.write("v.vscsi", bytes: bytes)])
    #expect(reader.format == .vscsi)
    #expect(
      events == [
        TraceEvent(
          timeNs: 0, vm: 1, op: .read, offset: 4096, bytes: 4096, serviceNs: v == 2 ? 70_000 : 0),
        TraceEvent(
          timeNs: 500_000, vm: 1, op: .write, offset: 51200, bytes: 8192,
          serviceNs: v == 2 ? 90_000 : 0),
        TraceEvent(timeNs: 1_000_000, vm: 1, op: .flush, serviceNs: v == 2 ? 400_000 : 0),
      ])
    let error = try #require(importError([dir.write("cut.vscsi", bytes: Array(bytes.dropLast(5)))]))
    #expect(error.description.contains("ends inside a record"))
  }

  @Test("trace-cmd / perf payloads, comm names with spaces, wake-ups and preemptions")
  func schedText() throws {
    let dir = TemporaryDirectory()
    let text = """
      # tracer: nop
        <idle>-0     [000] 100.000000: sched_wakeup:         Web Content:200 [120] success=1 CPU:000
        <idle>-0     [000] 100.000100: sched_switch:         swapper/0:0 [120] R ==> Web Content:200 [120]
       Web Content-200   [000] 100.000600: sched_switch:     Web Content:200 [120] R ==> kworker/0:1:12 [120]
       kworker/0:1-12    [000] 100.000700: sched_switch:     kworker/0:1:12 [120] S ==> Web Content:200 [120]
       Web Content-200   [000] 100.001000: sched_switch:     Web Content:200 [120] S ==> swapper/0:0 [120]
      """
    let (events, reader) = try importAll([dir.write("tc.txt", text)])
    #expect(reader.format == .ftrace)
    // Task 200: woken at 0, ran 100-600 us, preempted at 600 (runnable), ran 700-1000 us.
    // Task 12 ran 600-700 us from its switch-in (no wake-up seen).
    #expect(
      events == [
        TraceEvent(timeNs: 0, vm: 1, op: .burst, serviceNs: 500_000),
        TraceEvent(timeNs: 600_000, vm: 2, op: .burst, serviceNs: 100_000),
        TraceEvent(timeNs: 600_000, vm: 1, op: .burst, serviceNs: 300_000),
      ])
    #expect(reader.importNotes.contains { $0.contains("Web Content (pid 200)") })
    let byComm = try importAll([dir.write("tc2.txt", text)]) { $0.grouping = .comm }
    #expect(byComm.reader.importNotes.contains { $0.contains("vm 1 = Web Content") })
  }

  @Test("blkparse text with an unreadable line names its line")
  func blkparseBadLine() throws {
    let dir = TemporaryDirectory()
    var lines = try String(contentsOfFile: Fixtures.blkparse, encoding: .utf8).split(
      separator: "\n")
    lines[5] = "259,0    1        6     zero 21279  D  RA 2348060440 + 8 [(null)]"
    let path = dir.write("bad.txt", lines.joined(separator: "\n"))
    let error = try #require(importError([path]) { $0.format = .blkparse })
    #expect(error.location == .line(6))
    #expect(error.description.contains("expected a time in seconds, found \"zero\""))
  }
}

@Suite("Hostile values give errors or saturated figures, never a crash")
struct HostileValueTests {
  @Test("decimal seconds beyond 2^64 ns are not a number")
  func secondsOverflow() {
    var s = "18446744073.9"
    #expect(s.withUTF8 { Bytes.secondsAsNanoseconds(UnsafeRawBufferPointer($0)) } == nil)
    s = "18446744073.709551615"
    #expect(s.withUTF8 { Bytes.secondsAsNanoseconds(UnsafeRawBufferPointer($0)) } == UInt64.max)
  }

  @Test("a task switched out before it switched in is out of order, naming the line")
  func schedOutOfOrder() throws {
    let dir = TemporaryDirectory()
    let path = dir.write(
      "o.txt",
      "a-5 [000] 3.000000: sched_switch: prev_comm=x prev_pid=0 prev_prio=120 prev_state=R ==> next_comm=a next_pid=5 next_prio=120\n"
        + "a-5 [000] 2.000000: sched_switch: prev_comm=a prev_pid=5 prev_prio=120 prev_state=S ==> next_comm=x next_pid=0 next_prio=120\n"
    )
    let error = try #require(importError([path]))
    #expect(error.location == .line(2))
  }

  @Test("bursts and service times near 2^64 replay to saturated figures")
  func hugeValues() throws {
    let m = UInt64.max
    let events = [
      TraceEvent(timeNs: 0, vm: 1, op: .burst, serviceNs: m),
      TraceEvent(timeNs: 0, vm: 2, vcpu: 1, op: .burst, serviceNs: m),
      TraceEvent(timeNs: 0, vm: 1, op: .read, bytes: UInt32.max, serviceNs: m),
      TraceEvent(timeNs: 1, vm: 1, op: .read, bytes: UInt32.max, serviceNs: m),
      TraceEvent(timeNs: 2, vm: 2, op: .burst, serviceNs: 1),
    ]
    // The CPU window ends at a horizon: run to its end, centuries of work would exceed the
    // work budget (an error naming --horizon, SchedulerTests).
    let dir = TemporaryDirectory()
    try writeTrace(events, to: dir.file("t.hvt"), type: .hvt)
    var reader = try TraceReader(path: dir.file("t.hvt"))
    let report = ReplayReport(try ReplayEngine(model: Model(), horizon: 3).run(&reader))
    // Saturated at 2^64 - 1 ns (printed as a double), never wrapped.
    #expect(report.cpuCSV.contains("credit,all,unserved_ns,1.8446744073709552e+19,ns"))
    #expect(report.summaryCSV.contains("full/credit,all,all,requests,2,count"))
    #expect(!report.cpuCSV.isEmpty)
    // Each read takes centuries: clamped to an hour and counted, never a wrapped figure.
    // Past the horizon each host runs the reads' I/O work on CPUs of their own.
    for backend in ["full/credit", "full/fair", "para/credit", "para/fair"] {
      #expect(report.summaryCSV.contains("\(backend),all,all,latency_clamped,2,count"))
      #expect(report.summaryCSV.contains("\(backend),all,all,latency_mean_ns,3600000000000.0,ns"))
      #expect(report.summaryCSV.contains("\(backend),all,all,latency_p50_ns,3600000000000,ns"))
    }
  }

  @Test("a report.json histogram of more than 2^60 values is refused")
  func hugeHistogram() throws {
    let text = "[[100, 1152921504606846976], [200, 1]]"
    let value = try JSONParser.parse(text, file: "r.json")
    #expect(throws: HVReplayError.self) {
      try ReplayResult.histogram(JSONFields(value: value, path: "h", file: "r.json"))
    }
  }
}
