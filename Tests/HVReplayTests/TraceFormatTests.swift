import Foundation
import Testing

@testable import HVReplay

@Suite("Trace formats")
struct TraceFormatTests {
  @Test(
    "every format and compression reads back exactly what was written",
    arguments: [
      TraceFileType.hvt, .hvtZstd, .csv, .csvZstd,
    ])
  func roundTrip(type: TraceFileType) throws {
    let dir = TemporaryDirectory()
    let events = edgeCaseEvents()
    let metadata = TraceMetadata([("producer", "test"), ("command", "a b=c")])
    let path = dir.file("t.\(type)")
    try writeTrace(events, to: path, type: type, metadata: metadata)
    var reader = try TraceReader(path: path)
    #expect(reader.format == type.format)
    #expect(reader.input.compression == type.compression)
    #expect(reader.metadata == metadata)
    var read: [TraceEvent] = []
    while let e = try reader.next() { read.append(e) }
    #expect(read == events)
  }

  @Test("CSV to hvt to CSV is byte-for-byte lossless")
  func csvBinaryCSV() throws {
    let dir = TemporaryDirectory()
    var trace = SyntheticTrace(
      {
        var p = SynthesisParameters(profile: .mixed); p.events = 5000; return p
      }())
    var events: [TraceEvent] = []
    while let e = trace.next() { events.append(e) }
    try writeTrace(events, to: dir.file("a.csv"), type: .csv, metadata: TraceMetadata([("k", "v")]))
    for (from, to, type) in [("a.csv", "b.hvt", TraceFileType.hvt), ("b.hvt", "c.csv", .csv)] {
      var reader = try TraceReader(path: dir.file(from))
      var writer = try TraceWriter(path: dir.file(to), type: type, metadata: reader.metadata)
      while let e = try reader.next() { try writer.write(e) }
      try writer.finish()
    }
    #expect(dir.bytes("a.csv") == dir.bytes("c.csv"))
    #expect(try readAll(dir.file("b.hvt")) == events)
  }

  @Test("the native layout is the one docs/TRACE-FORMAT.md states")
  func nativeLayout() throws {
    let dir = TemporaryDirectory()
    let event = TraceEvent(
      timeNs: 0x0102_0304_0506_0708, vm: 0x1112, vcpu: 0x1314, op: .write, device: 0x1516,
      offset: 0x2122_2324_2526_2728, bytes: 0x3132_3334, serviceNs: 0x4142_4344_4546_4748)
    try writeTrace(
      [event], to: dir.file("x.hvt"), type: .hvt, metadata: TraceMetadata([("a", "b")]))
    let b = dir.bytes("x.hvt")
    // Header: magic, version 1, record size 40, metadata length 4 ("a=b\n"), padded to 24.
    #expect(Array(b[0..<8]) == [0x89, 0x48, 0x56, 0x54, 0x0D, 0x0A, 0x1A, 0x0A])
    #expect(Array(b[8..<16]) == [1, 0, 40, 0, 4, 0, 0, 0])
    #expect(Array(b[16..<20]) == Array("a=b\n".utf8))
    #expect(Array(b[20..<24]) == [0, 0, 0, 0])
    let r = Array(b[24..<64])
    #expect(Array(r[0..<8]) == [0x08, 0x07, 0x06, 0x05, 0x04, 0x03, 0x02, 0x01])
    #expect(Array(r[8..<16]) == [0x28, 0x27, 0x26, 0x25, 0x24, 0x23, 0x22, 0x21])
    #expect(Array(r[16..<24]) == [0x48, 0x47, 0x46, 0x45, 0x44, 0x43, 0x42, 0x41])
    #expect(Array(r[24..<28]) == [0x34, 0x33, 0x32, 0x31])
    #expect(Array(r[28..<34]) == [0x12, 0x11, 0x14, 0x13, 0x16, 0x15])
    #expect(Array(r[34..<40]) == [0, 1, 0, 0, 0, 0])
    // End record: count 1, kind and op 0xFF.
    let end = Array(b[64..<104])
    #expect(Array(end[0..<8]) == [1, 0, 0, 0, 0, 0, 0, 0])
    #expect(end[34] == 0xFF && end[35] == 0xFF)
    #expect(b.count == 104)
  }

  @Test(
    "records and lines that straddle the read window are decoded",
    arguments: [
      TraceFileType.hvt, .csv, .hvtZstd, .csvZstd,
    ])
  func smallWindow(type: TraceFileType) throws {
    let dir = TemporaryDirectory()
    var p = SynthesisParameters(profile: .mixed)
    p.events = 3000
    let events = Array(SyntheticTrace(p))
    let path = dir.file("s.\(type)")
    try writeTrace(events, to: path, type: type, metadata: p.metadata)
    // 296 bytes: larger than the header and the longest line, but not a multiple of 40.
    var reader = try TraceReader(input: ByteInput(path: path, capacity: 296))
    var read: [TraceEvent] = []
    while let e = try reader.next() { read.append(e) }
    #expect(read == events)
  }

  @Test("CSV accepts comments, blank lines, CRLF, padding and a missing final newline")
  func csvLeniency() throws {
    let dir = TemporaryDirectory()
    let path = dir.write(
      "l.csv",
      "time_ns,vm,vcpu,kind,op,device,offset,bytes,service_ns\r\n# meta producer=hand\r\n\r\n"
        + "# a comment\n10, 1 ,0,disk, read ,0,4096,512,0\r\n\n20,1,0,cpu,burst,0,0,0,300")
    var reader = try TraceReader(path: path)
    #expect(reader.metadata["producer"] == "hand")
    var read: [TraceEvent] = []
    while let e = try reader.next() { read.append(e) }
    #expect(
      read == [
        TraceEvent(timeNs: 10, vm: 1, op: .read, offset: 4096, bytes: 512),
        TraceEvent(timeNs: 20, vm: 1, op: .burst, serviceNs: 300),
      ])
  }

  @Test("several concatenated zstd frames read as one stream")
  func concatenatedFrames() throws {
    let dir = TemporaryDirectory()
    let events = edgeCaseEvents()
    try writeTrace(events, to: dir.file("all.csv"), type: .csv)
    let text = dir.bytes("all.csv")
    let cut = text.count / 3
    var joined: [UInt8] = []
    for part in [Array(text[..<cut]), Array(text[cut..<(2 * cut)]), Array(text[(2 * cut)...])] {
      joined += try zstdCompress(part)
    }
    let path = dir.write("joined.csv.zst", bytes: joined)
    #expect(try readAll(path) == events)
  }

  @Test("the reorder window fixes local disorder, stably")
  func reorderWithinWindow() throws {
    let dir = TemporaryDirectory()
    // Times 0, 10, 20, ... written in blocks of 5 reversed; equal times keep file order.
    var lines = csvHeader
    var expected: [TraceEvent] = []
    for block in 0..<20 {
      for i in (0..<5).reversed() {
        let t = (block * 5 + i) * 10
        lines += "\(t),1,0,disk,read,0,0,4096,0\n\(t),2,0,disk,read,0,0,4096,0\n"
      }
    }
    for t in stride(from: 0, to: 1000, by: 10) {
      expected.append(TraceEvent(timeNs: UInt64(t), vm: 1, op: .read, bytes: 4096))
      expected.append(TraceEvent(timeNs: UInt64(t), vm: 2, op: .read, bytes: 4096))
    }
    let path = dir.write("r.csv", lines)
    var reader = try TraceReader(path: path, reorderWindow: 8)
    var read: [TraceEvent] = []
    while let e = try reader.next() { read.append(e) }
    #expect(read == expected)
    // In each block all but the first two events arrive after an event with a later time.
    #expect(reader.reorderedCount == 160)
  }

  @Test("an event out of order by more than the window stops the read, naming its line")
  func reorderBeyondWindow() throws {
    let dir = TemporaryDirectory()
    var lines = csvHeader
    for t in 1...10 { lines += "\(t * 100),1,0,disk,read,0,0,4096,0\n" }
    lines += "150,1,0,disk,read,0,0,4096,0\n"  // line 12: 9 places after its place in time
    let path = dir.write("o.csv", lines)
    #expect(
      try readAll(path, reorderWindow: 9).map(\.timeNs) == [100, 150]
        + (2...10).map { UInt64($0 * 100) })
    let error = try #require(readError(path, reorderWindow: 8))
    #expect(error.category == .badData)
    #expect(error.location == .line(12))
    #expect(error.description.contains("time_ns 150 is earlier than time_ns 200"))
    #expect(error.description.contains("--reorder-window"))
    #expect(readError(path, reorderWindow: 0)?.location == .line(12))
  }
}

/// Compresses `bytes` into one zstd frame with libzstd's one-shot API.
func zstdCompress(_ bytes: [UInt8]) throws -> [UInt8] {
  try ZstdTestSupport.compress(bytes)
}
