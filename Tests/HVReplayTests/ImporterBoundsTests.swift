import Foundation
import Testing

@testable import HVReplay

/// One line of blkparse's default output for device 259,0.
private func blkparseLine(
  _ seq: Int, _ ns: UInt64, _ action: String, sector: UInt64, sectors: Int = 8, rwbs: String = "WS"
) -> String {
  let seconds = "\(ns / 1_000_000_000).\(String(format: "%09llu", ns % 1_000_000_000))"
  return "259,0    1 \(seq) \(seconds)   100  \(action)  \(rwbs) \(sector) + \(sectors) [fio]"
}

/// The statistics blkparse prints after the records, as blkparse 1.3 writes them with -s
/// for two CPUs (rows shortened).
private let summaryText = """
  fio (100)
   Reads Queued:           0,        0KiB\t Writes Queued:           2,        8KiB
   Allocation wait:        0        \t Allocation wait:         0
  CPU0 (259,0):
   Reads Queued:           0,        0KiB\t Writes Queued:           1,        4KiB
   IO unplugs:             0        \t Timer unplugs:           0
  CPU1 (259,0):
   Reads Queued:           0,        0KiB\t Writes Queued:           1,        4KiB
   Read depth:             1        \t Write depth:             1

  Total (259,0):
   Reads Queued:           0,        0KiB\t Writes Queued:           2,        8KiB

  Throughput (R/W): 0KiB/s / 11165KiB/s
  Events (259,0): 6 entries
  Skips: 0 forward (0 -   0.0%)

  """

/// A record for the block request tracker: device 259,0, CPU 1, a 4 KiB write.
private func record(_ action: BlockTraceRecord.Action, _ time: UInt64, sector: UInt64)
  -> BlockTraceRecord
{
  BlockTraceRecord(
    time: time, device: 259 << 20, cpu: 1, action: action.rawValue, category: .write,
    sector: sector, bytes: 4096)
}

@Suite("Importer bounds: state, time and arithmetic stay bounded on hostile input")
struct ImporterBoundsTests {
  // MARK: Block requests

  @Test("50,000 requests outstanding on one sector are matched first in, first out")
  func manyRequestsOnOneSector() {
    // The old tracker scanned and copied the sector's list on every D and C: about a
    // minute here (2.5 billion steps), against 0.3 s.
    var tracker = BlockRequestTracker()
    let n: UInt64 = 50_000
    for i in 0..<n { _ = tracker.process(record(.queue, i, sector: 4096)) }
    for i in 0..<n { _ = tracker.process(record(.issue, n + i, sector: 4096)) }
    var events: [TraceEvent] = []
    for i in 0..<n {
      if let e = tracker.process(record(.complete, 3 * n + i, sector: 4096)) { events.append(e) }
    }
    #expect(events.count == Int(n))
    #expect(events.enumerated().allSatisfy { $0.element.timeNs == UInt64($0.offset) })
    // Each request was issued at n + i and completed at 3n + i.
    #expect(events.allSatisfy { $0.serviceNs == 2 * n && $0.offset == 4096 * 512 })
    #expect(tracker.outstanding == 0)
    #expect(tracker.evicted == 0)
  }

  @Test("requeue, front merge and back merge on a shared sector pick the right request")
  func sharedSectorOrder() {
    var t = BlockRequestTracker()
    _ = t.process(record(.queue, 1, sector: 64))  // A
    _ = t.process(record(.queue, 2, sector: 64))  // B
    _ = t.process(record(.issue, 3, sector: 64))  // A issued
    _ = t.process(record(.requeue, 4, sector: 64))  // A back to the front of the queue
    _ = t.process(record(.issue, 5, sector: 64))  // A again
    _ = t.process(record(.issue, 6, sector: 64))  // B
    _ = t.process(record(.queue, 7, sector: 64))  // C, merged into B below
    _ = t.process(record(.backMerge, 7, sector: 64))
    let a = t.process(record(.complete, 8, sector: 64))
    let b = t.process(record(.complete, 10, sector: 64))
    #expect(a?.timeNs == 1 && a?.serviceNs == 3)
    #expect(b?.timeNs == 2 && b?.serviceNs == 4)
    // Front merge: the bio at sector 8 joins the request queued at 16, which keeps its Q.
    _ = t.process(record(.queue, 20, sector: 16))
    _ = t.process(record(.queue, 21, sector: 8))
    _ = t.process(record(.frontMerge, 21, sector: 8))
    _ = t.process(record(.issue, 22, sector: 8))
    let merged = t.process(record(.complete, 25, sector: 8))
    #expect(merged?.timeNs == 20 && merged?.serviceNs == 3 && merged?.offset == 8 * 512)
    #expect(t.merged == 2)
    #expect(t.outstanding == 0)
  }

  @Test("beyond its capacity the tracker drops the oldest requests and counts them")
  func evictsOldest() {
    #expect(BlockRequestTracker.maximumOutstanding == 1_048_576)
    var t = BlockRequestTracker(capacity: 100)
    for i in 0..<150 { _ = t.process(record(.queue, UInt64(i), sector: UInt64(i) * 8)) }
    #expect(t.evicted == 50)
    #expect(t.outstanding == 100)
    #expect(t.process(record(.complete, 200, sector: 0)) == nil)  // evicted
    #expect(t.withoutQueue == 1)
    #expect(t.process(record(.complete, 201, sector: 149 * 8))?.timeNs == 149)
    #expect(t.notes.contains { $0.hasPrefix("50 requests evicted unfinished (requests_evicted)") })
    #expect(t.notes.contains { $0.hasPrefix("99 requests never completed") })

    // On one sector: the 100 latest of 1,000 queued requests are left to complete.
    var s = BlockRequestTracker(capacity: 100)
    for i in 0..<1000 { _ = s.process(record(.queue, UInt64(i), sector: 8)) }
    var times: [UInt64] = []
    for i in 0..<1000 {
      if let e = s.process(record(.complete, 5000 + UInt64(i), sector: 8)) {
        times.append(e.timeNs)
      }
    }
    #expect(times == Array(900..<1000))
    #expect(s.evicted == 900 && s.withoutQueue == 900 && s.outstanding == 0)
  }

  @Test("a blkparse file of requests left open on one sector imports in linear time")
  func blkparseSameSector() throws {
    let dir = TemporaryDirectory()
    let n = 20_000
    var lines: [String] = []
    for (k, action) in ["Q", "D", "C"].enumerated() {
      for i in 0..<n {
        let seq = k * n + i + 1
        lines.append(blkparseLine(seq, UInt64(seq) * 1000, action, sector: 4096))
      }
    }
    let (events, reader) = try importAll([dir.write("same.txt", lines.joined(separator: "\n"))])
    #expect(reader.format == .blkparse)
    #expect(events.count == n)
    #expect(events.allSatisfy { $0.serviceNs == UInt64(n) * 1000 })
  }

  // MARK: blkparse's closing statistics

  @Test("blkparse's statistics end the records; another line after them is bad")
  func blkparseStatistics() throws {
    let dir = TemporaryDirectory()
    let records = [
      blkparseLine(1, 1000, "Q", sector: 800), blkparseLine(2, 2000, "D", sector: 800),
      blkparseLine(3, 3000, "C", sector: 800), blkparseLine(4, 4000, "Q", sector: 900),
      blkparseLine(5, 5000, "D", sector: 900), blkparseLine(6, 9000, "C", sector: 900),
    ].joined(separator: "\n")
    let good = try importAll([dir.write("good.txt", records + "\n" + summaryText)])
    #expect(good.events.map(\.serviceNs) == [1000, 4000])
    #expect(good.reader.skippedRecords == 0)

    // A line that is neither statistics nor blank, after them: its line is named.
    let summaryLines = summaryText.split(separator: "\n", omittingEmptySubsequences: false)
    let tail = records + "\n" + summaryText + "hvreplay was here\n"
    let bad = try #require(importError([dir.write("tail.txt", tail)]))
    #expect(bad.category == .badData && bad.exitCode == 65)
    #expect(bad.location == .line(6 + summaryLines.count))
    #expect(bad.message.contains("statistics after the records (they began at line 7)"))
    #expect(bad.message.contains("hvreplay was here"))
    let skipped = try importAll([dir.write("tail2.txt", tail)]) { $0.skipBad = 1 }
    #expect(skipped.events.count == 2 && skipped.reader.skippedRecords == 1)

    // Records after the statistics (two outputs glued together) are not silently dropped.
    let glued = records + "\n" + summaryText + blkparseLine(7, 9500, "Q", sector: 1000)
    #expect(importError([dir.write("glued.txt", glued)])?.location == .line(6 + summaryLines.count))

    // A line that merely starts like the statistics, among the records, is a bad record.
    let fake = [
      blkparseLine(1, 1000, "Q", sector: 8), "CPUs are fast", blkparseLine(2, 2000, "C", sector: 8),
    ]
    let error = try #require(importError([dir.write("fake.txt", fake.joined(separator: "\n"))]))
    #expect(error.location == .line(2))
  }

  @Test("the statistics blkparse prints for a device without events end the import too")
  func blkparseEmptySummary() throws {
    let dir = TemporaryDirectory()
    let text =
      blkparseLine(1, 1000, "Q", sector: 8) + "\n" + blkparseLine(2, 2000, "C", sector: 8)
      + "\n\nThroughput (R/W): 0KiB/s / 0KiB/s\nEvents (259,0): 2 entries\nSkips: 0 forward (0 -   0.0%)\n"
    #expect(try importAll([dir.write("e.txt", text)]).events.count == 1)
  }

  // MARK: Metadata

  @Test("CSV metadata: at most 4,096 keys and 64 KiB; a repeated key replaces its value")
  func metadataLimits() throws {
    let dir = TemporaryDirectory()
    let event = "0,1,0,disk,read,0,0,4096,0\n"
    var many = csvHeader
    for i in 0..<TraceMetadata.maximumKeys { many += "# meta k\(i)=v\n" }
    var reader = try TraceReader(path: dir.write("many.csv", many + event))
    #expect(reader.metadata.entries.count == 4096)
    #expect(try reader.next() != nil)

    let tooMany = try #require(readError(dir.write("too-many.csv", many + "# meta k=v\n" + event)))
    #expect(tooMany.location == .line(4098) && tooMany.exitCode == 65)
    #expect(tooMany.message.contains("more than 4096 metadata keys"))

    let big =
      csvHeader + "# meta a=\(String(repeating: "x", count: 40_000))\n"
      + "# meta b=\(String(repeating: "y", count: 30_000))\n" + event
    let tooBig = try #require(readError(dir.write("big.csv", big)))
    #expect(tooBig.location == .line(3))
    #expect(tooBig.message.contains("more than the 65536 allowed"))

    // 50,000 lines setting one key: one entry, the last value.
    var repeated = csvHeader
    for i in 0..<50_000 { repeated += "# meta key=value \(i)\n" }
    let one = try TraceReader(path: dir.write("repeated.csv", repeated + event))
    #expect(one.metadata.entries.count == 1)
    #expect(one.metadata["key"] == "value 49999")
  }

  @Test("metadata counts its text's bytes through sets, replacements and removals")
  func metadataByteCount() {
    var m = TraceMetadata([("producer", "hvreplay"), ("seed", "7")])
    #expect(m.textByteCount == m.text.utf8.count)
    m["seed"] = "123456"
    m["profile"] = "ol\ntp"
    #expect(m.textByteCount == m.text.utf8.count)
    m["producer"] = nil
    #expect(m.textByteCount == m.text.utf8.count && m.entries.count == 2)
    #expect(m.limitViolation(setting: "k", to: String(repeating: "z", count: 70_000)) != nil)
    #expect(m.limitViolation(setting: "k", to: "short") == nil)
  }

  // MARK: Scheduler traces

  /// An ftrace sched_switch line at `us` microseconds.
  private func sched(
    _ us: Int, prev: Int, prevComm: String = "t", next: Int, nextComm: String = "t"
  )
    -> String
  {
    "  t-\(prev) [000] 100.\(String(format: "%06d", us)): sched_switch: prev_comm=\(prevComm) prev_pid=\(prev) prev_prio=120 prev_state=S ==> next_comm=\(nextComm) next_pid=\(next) next_prio=120"
  }

  @Test("a scheduler trace naming more tasks than the limit stops at the line that does")
  func taskLimit() throws {
    #expect(SchedTraceDecoder.maximumTasks == 1_048_576)
    let dir = TemporaryDirectory()
    // Task i + 1 switches to task i + 2: the line i names tasks up to i + 2 (and idle, 0).
    var lines = ["# tracer: nop"]
    for i in 0..<20 { lines.append(sched(i, prev: i + 1, next: i + 2)) }
    let path = dir.write("tasks.txt", lines.joined(separator: "\n"))
    var decoder = SchedTraceDecoder(
      input: try ByteInput(path: path), grouping: .pid, skipBad: 0, maximumTasks: 10)
    var bursts = 0
    do {
      while try decoder.next() != nil { bursts += 1 }
      Issue.record("expected the task limit to stop the import")
    } catch {
      // Line 10 (the 9th switch) names tasks 9 and 10; line 11 names task 11.
      #expect(error.location == .line(11))
      #expect(error.message.contains("pid 11 would be task 11; a trace may name at most 10"))
    }
    #expect(bursts == 8)
    #expect(try importAll([path]).events.count == 19)  // the real limit is far away
  }

  @Test("a task name longer than 64 bytes is a bad line")
  func longComm() throws {
    let dir = TemporaryDirectory()
    let long = String(repeating: "n", count: 65)
    let text =
      "# tracer: nop\n" + sched(1, prev: 5, next: 6) + "\n"
      + sched(2, prev: 6, next: 7, nextComm: long)
    let error = try #require(importError([dir.write("long.txt", text)]))
    #expect(error.location == .line(3))
    #expect(error.message.contains("a task name of 65 bytes; expected at most 64"))
  }

  // MARK: fio and sources

  @Test("fio file names: at most 4,096 bytes each, and all names 16 MiB together")
  func fioNames() throws {
    let dir = TemporaryDirectory()
    let long = "/" + String(repeating: "d", count: 4096)
    let text = "fio version 3 iolog\n0 /dev/a read 0 4096\n10 \(long) read 0 4096\n"
    let error = try #require(importError([dir.write("long.log", text)]))
    #expect(error.location == .line(3))
    #expect(error.message.contains("a file name of 4097 bytes; expected at most 4096"))

    var vms = VMAssigner()
    let mib = String(repeating: "m", count: (1 << 20) - 2)
    let names = (10..<26).map { "\($0)" + mib }  // 1 MiB each
    for (i, name) in names.enumerated() { #expect(vms.vm(for: name) == UInt16(i + 1)) }
    #expect(vms.vm(for: "x") == nil)
    #expect(vms.vm(for: names[0]) == 1)
    #expect(vms.refusal("files") == "the names of the files take more than 16 MiB together")
  }

  @Test("a fio timestamp past 2^64 ns is refused as out of range, naming its line")
  func fioHugeTimestamp() throws {
    let dir = TemporaryDirectory()
    let us = UInt64.max / 1000 + 1
    let text = "fio version 3 iolog\n0 /dev/a read 0 4096\n\(us) /dev/a read 0 4096\n"
    let error = try #require(importError([dir.write("t.log", text)]))
    #expect(error.location == .line(3))
    #expect(error.message.contains("timestamp \(us) us is out of range"))
    let last = "fio version 3 iolog\n\(us - 1) /dev/a write 0 512\n"
    #expect(try importAll([dir.write("ok.log", last)]).events.first?.timeNs == (us - 1) * 1000)
  }

  // MARK: blktrace files

  /// A little-endian blktrace v7 record.
  private func blktrace(
    _ action: BlockTraceRecord.Action, time: UInt64, sector: UInt64, cpu: UInt32
  )
    -> [UInt8]
  {
    var r = [UInt8](repeating: 0, count: 48)
    func put<T: FixedWidthInteger>(_ v: T, _ o: Int) {
      withUnsafeBytes(of: v.littleEndian) { r.replaceSubrange(o..<(o + $0.count), with: $0) }
    }
    put(UInt32(0x6561_7407), 0)
    put(time, 8)
    put(sector, 16)
    put(UInt32(4096), 24)
    put(UInt32(BlockTraceRecord.Category.read.rawValue) << 16 | UInt32(action.rawValue), 28)
    put(UInt32(259 << 20), 36)
    put(cpu, 40)
    return r
  }

  @Test("twelve per-CPU files merge by time; more than 1,024 are refused")
  func perCPUFiles() throws {
    let dir = TemporaryDirectory()
    // File c holds request c: Q at 100 - c, C at 1000 + c, so merging must reorder them.
    for c in 0..<12 {
      let q = blktrace(.queue, time: UInt64(100 - c), sector: UInt64(c) * 8, cpu: UInt32(c))
      let d = blktrace(.issue, time: UInt64(500 + c), sector: UInt64(c) * 8, cpu: UInt32(c))
      let done = blktrace(.complete, time: UInt64(1000 + c), sector: UInt64(c) * 8, cpu: UInt32(c))
      dir.write("r.blktrace.\(c)", bytes: q + d + done)
    }
    let (events, reader) = try importAll([dir.file("r")])
    #expect(reader.format == .blktrace)
    #expect(events.map(\.vcpu) == Array((0..<12).reversed()))
    #expect(events.map(\.timeNs) == Array(0..<12))  // relative to the first Q, at 89
    #expect(events.allSatisfy { $0.serviceNs == 500 })
    #expect(reader.metadata["files"]?.hasSuffix("... (12 files)") == true)

    // Files 12 to 1,024 (1,025 in all), as links to file 0.
    for c in 12...BlktraceDecoder.maximumFiles {
      #expect(link(dir.file("r.blktrace.0"), dir.file("r.blktrace.\(c)")) == 0)
    }
    let error = try #require(importError([dir.file("r")]))
    #expect(error.exitCode == 65)
    #expect(error.message.contains("more than 1024 blktrace files"))
  }

  @Test("per-CPU files after a gap in the CPU numbers are read too (an offline CPU)")
  func perCPUFilesWithGaps() throws {
    let dir = TemporaryDirectory()
    let cpus = [0, 1, 2, 3, 7, 9, 40]
    for c in cpus {
      let q = blktrace(.queue, time: UInt64(100 + c), sector: UInt64(c) * 8, cpu: UInt32(c))
      let done = blktrace(.complete, time: UInt64(1000 + c), sector: UInt64(c) * 8, cpu: UInt32(c))
      dir.write("g.blktrace.\(c)", bytes: q + done)
    }
    let (events, _) = try importAll([dir.file("g")])
    #expect(events.map(\.vcpu) == cpus.map(UInt16.init))
  }

  // MARK: Arithmetic near 2^64

  @Test("a sector whose byte offset passes 2^64 is refused, never wrapped")
  func hugeSectors() throws {
    let dir = TemporaryDirectory()
    let sector = UInt64(1) << 60
    let text = [
      blkparseLine(1, 1000, "Q", sector: 8), blkparseLine(2, 2000, "Q", sector: sector),
    ].joined(separator: "\n")
    let error = try #require(importError([dir.write("s.txt", text)]))
    #expect(error.location == .line(2))
    #expect(error.message.contains("sector 1152921504606846976 is out of range"))

    let ok = BlockRequestTracker.maximumSector
    var bytes = blktrace(.queue, time: 1, sector: ok, cpu: 0)
    bytes += blktrace(.complete, time: 2, sector: ok, cpu: 0)
    #expect(
      try importAll([dir.write("ok.blktrace.0", bytes: bytes)]).events.first?.offset == ok << 9)
    bytes += blktrace(.queue, time: 3, sector: ok + 1, cpu: 0)
    let binary = try #require(importError([dir.write("b.blktrace.0", bytes: bytes)]))
    #expect(binary.location == .byteOffset(96))
    #expect(binary.message.contains("out of range"))
  }
}

@Suite("A cut last record under --skip-bad")
struct CutLastRecordTests {
  @Test(
    "a blktrace file cut inside its last record: refused, or with --skip-bad read to the cut and counted"
  )
  func blktraceCut() throws {
    let whole = try #require(FileManager.default.contents(atPath: Fixtures.blktrace))
    let dir = TemporaryDirectory()
    // 20 bytes short: the last record's header is cut (blkparse reads such a file).
    let cut = dir.write("cut.blktrace.0", bytes: Array(whole.dropLast(20)))
    let refused = try #require(importError([cut]))
    #expect(
      "\(refused)".contains("the file ends inside a record (28 of 48 bytes); the file is truncated")
    )
    let (events, reader) = try importAll([cut]) { $0.skipBad = 1 }
    #expect(reader.skippedRecords == 1)
    // The same events as the whole file up to the cut record (the last, a completion).
    let (all, _) = try importAll([Fixtures.blktrace])
    #expect(events.count <= all.count && events.count >= all.count - 1)
    #expect(reader.importNotes.contains { $0.contains("ended inside a record") })
  }

  @Test("a vscsi trace cut inside its last record, with --skip-bad")
  func vscsiCut() throws {
    // Two version-1 records (32 bytes each) and 10 bytes of a third.
    var bytes: [UInt8] = []
    for i in 0..<2 {
      var r = [UInt8](repeating: 0, count: 32)
      r[5] = 0x10  // 4,096 bytes
      r[12] = 0x28  // READ(10)
      r[15] = 1  // version 1
      r[16] = UInt8(i)  // block
      r[24] = UInt8(i)  // timestamp (us)
      bytes += r
    }
    bytes += [UInt8](repeating: 0, count: 10)
    let dir = TemporaryDirectory()
    let path = dir.write("t.vscsi", bytes: bytes)
    let e = importError([path]) { $0.format = .vscsi }
    #expect(
      e.map { "\($0)".contains("the file ends inside a record") } ?? false,
      "\(String(describing: e))")
    let (events, reader) = try importAll([path]) {
      $0.format = .vscsi
      $0.skipBad = 1
    }
    #expect(reader.skippedRecords == 1 && events.count == 2)
  }
}

@Suite("libCacheSim and column-mapped CSVs")
struct ColumnCSVTests {
  @Test(
    "libCacheSim's CloudPhysics CSV: microseconds, SCSI opcodes in hex, lbn x 512, detected by its header"
  )
  func libCacheSim() throws {
    let dir = TemporaryDirectory()
    // The layout of libCacheSim's data/trace.csv (its lines written here, not copied).
    let path = dir.write(
      "trace.csv",
      "version,time,op,size,lbn\n1,33898,2a,512,42932745\n1,33899,28,4096,100\n1,33900,35,0,0\n1,33901,12,36,0\n1,33905,42,4096,8\n"
    )
    let (events, reader) = try importAll([path])
    #expect(reader.format == .libcachesim)
    #expect(events.map(\.op) == [.write, .read, .flush, .discard])
    #expect(events.map(\.timeNs) == [0, 1_000, 2_000, 7_000])
    #expect(events[0].offset == 42_932_745 * 512 && events[0].bytes == 512)
    #expect(events[1].offset == 51_200 && events[1].bytes == 4096)
    #expect(reader.importNotes.contains("1 record of other SCSI commands skipped (not replayed)"))
    let bad = dir.write("bad.csv", "version,time,op,size,lbn\n1,10,zz,512,1\n")
    let e = try #require(importError([bad]))
    #expect("\(e)".contains("bad.csv:2: column \"op\": expected a SCSI command in hex"))
  }

  @Test("--columns reads any CSV: named or numbered columns, units and scales, one VM per source")
  func columns() throws {
    let dir = TemporaryDirectory()
    let path = dir.write(
      "io.csv",
      "ts_us,rw,lba,size,lat_us,vol\n1000.5,R,8,4096,120,a\n1002,W,16,8192,80.25,b\n1003,trim,24,4096,10,a\n1003.000001,flush,0,0,1,b\n"
    )
    let mapping = try ColumnMapping.parse(
      "time=ts_us:us,op=rw,offset=lba:512,bytes=size,service=lat_us:us,vm=vol")
    let (events, reader) = try importAll([path]) { $0.columns = mapping }
    #expect(reader.format == .columns)
    #expect(events.map(\.timeNs) == [0, 1_500, 2_500, 2_500])
    #expect(events.map(\.op) == [.read, .write, .discard, .flush])
    #expect(events.map(\.vm) == [1, 2, 1, 2])
    #expect(events.map(\.offset) == [4096, 8192, 12288, 0])
    #expect(events.map(\.serviceNs) == [120_000, 80_250, 10_000, 1_000])
    // Numbered columns: no header; tab-separated.
    let tabs = dir.write("t.tsv", "5\tW\t1\t512\n7\tR\t2\t1024\n")
    let numbered = try ColumnMapping.parse("time=#1:ms,op=#2,offset=#3:4096,bytes=#4")
    let (t, _) = try importAll([tabs]) { $0.columns = numbered }
    #expect(t.map(\.timeNs) == [0, 2_000_000] && t.map(\.offset) == [4096, 8192])
    #expect(t.map(\.bytes) == [512, 1024])
    // Errors: the mapping (usage) and the data (the line and column).
    for (spec, message) in [
      ("time=a,op=b,offset=c", "lacks one of time, op, offset and bytes"),
      ("time=a:hours,op=b,offset=c,bytes=d", "the unit \"hours\""),
      ("time=a,op=b,offset=c:0,bytes=d", "the scale \"0\""),
      ("time=a,time=b,op=b,offset=c,bytes=d", "names time twice"),
      ("time=#0,op=b,offset=c,bytes=d", "outside #1 to #1024"),
    ] {
      do {
        _ = try ColumnMapping.parse(spec)
        Issue.record("accepted \(spec)")
      } catch {
        #expect(error.category == .usage && error.message.contains(message), "\(error)")
      }
    }
    let bad = dir.write("bad.csv", "ts_us,rw,lba,size,lat_us,vol\n1,X,8,4096,1,a\n")
    let e = try #require(importError([bad]) { $0.columns = mapping })
    #expect("\(e)".contains("bad.csv:2: column 2 (op): expected R/read/0, W/write/1"))
    // Decimals times any scale, exactly; a byte-order mark, quoted names; a name twice.
    let d = dir.write("d.csv", "\u{FEFF}\"ts\",type,off,len\n0,R,1.5,0.5\n1,W,3.75,0.5\n")
    let scaled = try ColumnMapping.parse("time=ts:s,op=type,offset=off:512,bytes=len:2")
    let (dv, _) = try importAll([d]) { $0.columns = scaled }
    #expect(dv.map(\.offset) == [768, 1920] && dv.map(\.bytes) == [1, 1])
    let eights = try ColumnMapping.parse("time=ts:s,op=type,offset=off:8,bytes=len:2")
    #expect(try importAll([d]) { $0.columns = eights }.events.map(\.offset) == [12, 30])
    // A byte-order mark before a headerless file's first record.
    let bom = dir.write("bom.csv", "\u{FEFF}5,W,1,512\n7,R,2,1024\n")
    let byNumber = try ColumnMapping.parse("time=#1:ms,op=#2,offset=#3:4096,bytes=#4")
    #expect(try importAll([bom]) { $0.columns = byNumber }.events.count == 2)
    let twice = dir.write("twice.csv", "ts,ts,off,len\n1,R,0,512\n")
    let dup = try ColumnMapping.parse("time=ts,op=ts,offset=off,bytes=len")
    let de = try #require(importError([twice]) { $0.columns = dup })
    #expect("\(de)".contains("the header has two columns named \"ts\""))
    let missing = try ColumnMapping.parse("time=when,op=rw,offset=lba,bytes=size")
    let m = try #require(importError([path]) { $0.columns = missing })
    #expect(
      "\(m)".contains(
        "io.csv:1: --columns names the column \"when\", which the header does not have"))
  }
}
