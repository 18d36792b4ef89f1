import Foundation
import Testing

@testable import HVReplay

@Suite("Bad input gets one clear error")
struct BadInputTests {
  /// A CSV trace whose third line is `line`.
  func csv(_ dir: TemporaryDirectory, _ line: String) -> String {
    dir.write("bad.csv", csvHeader + "1,1,0,disk,read,0,0,4096,0\n" + line + "\n")
  }

  @Test(
    "CSV field errors name the line, the column and what was expected",
    arguments: [
      (
        "x,1,0,disk,read,0,0,4096,0",
        "column \"time_ns\": expected an unsigned integer, found \"x\""
      ),
      ("2,1,0,disk,read,0,0,-4,0", "column \"bytes\": expected an unsigned integer, found \"-4\""),
      ("2,70000,0,disk,read,0,0,4096,0", "column \"vm\": 70000 is out of range (at most 65535)"),
      ("2,1,0,disk,read,0,0,4294967296,0", "column \"bytes\": 4294967296 is out of range"),
      (
        "2,1,0,disk,read,0,0,0,18446744073709551616",
        "column \"service_ns\": 18446744073709551616 is out of range"
      ),
      ("2,1,0,tape,read,0,0,4096,0", "column \"kind\": expected disk, net or cpu, found \"tape\""),
      (
        "2,1,0,disk,fetch,0,0,4096,0",
        "column \"op\": expected one of read, write, flush, barrier, discard for kind disk"
      ),
      ("2,1,0,net,read,0,0,4096,0", "expected one of tx, rx for kind net, found \"read\""),
      ("2,1,0,disk,read,0,0,4096", "expected 9 columns"),
      ("2,1,0,disk,read,0,0,4096,0,7", "expected 9 columns"),
      ("2,1,0,disk,flush,0,0,4096,0", "bytes must be 0 for disk flush"),
      ("2,1,0,net,tx,0,8,64,0", "offset must be 0 for net events"),
      (
        "2,1,0,disk,read,0,,4096,0",
        "column \"offset\": expected an unsigned integer, found nothing"
      ),
    ])
  func csvFieldErrors(line: String, message: String) throws {
    let dir = TemporaryDirectory()
    let path = csv(dir, line)
    let error = try #require(readError(path))
    #expect(error.category == .badData)
    #expect(error.exitCode == 65)
    #expect(error.location == .line(3))
    #expect(error.description.hasPrefix("\(path):3: "))
    #expect(error.description.contains(message), "\(error)")
  }

  @Test("a wrong CSV header is reported on line 1")
  func wrongHeader() throws {
    let dir = TemporaryDirectory()
    let path = dir.write("h.csv", "time,vm,vcpu,kind,op,device,offset,bytes,service_ns\n")
    let error = try #require(readError(path))
    #expect(error.location == .line(1))
    #expect(error.description.contains("expected the CSV header"))
    #expect(error.description.contains("found \"time,vm,"))
    // It names the other formats and --from; binary data is not printed.
    #expect(error.description.contains("(hvt, blktrace, blkparse, fio, msr,"))
    #expect(error.description.contains("name its format with --from"))
    let binary = try #require(
      readError(dir.write("b.bin", bytes: [0x39, 0x47, 0x00, 0xFF, 0xFE, 0x0A])))
    #expect(binary.description.hasSuffix("found binary data"))
  }

  @Test("an empty file, and an empty zstd stream, are errors")
  func empty() throws {
    let dir = TemporaryDirectory()
    let error = try #require(readError(dir.write("e.csv", "")))
    #expect(error.category == .badData)
    #expect(error.description.contains("empty"))
    let empty = try zstdCompress([])
    let zerror = try #require(readError(dir.write("e.zst", bytes: empty)))
    #expect(zerror.category == .badData)
    #expect(zerror.description.contains("no data"))
  }

  @Test("a missing file is a missing-input error")
  func missing() throws {
    let error = try #require(readError("/nonexistent/trace.hvt.zst"))
    #expect(error.category == .missingInput)
    #expect(error.exitCode == 66)
    #expect(error.description.hasPrefix("/nonexistent/trace.hvt.zst: cannot open"))
  }

  @Test("a zstd file cut anywhere inside its frame is a truncation error, never a short trace")
  func truncatedZstd() throws {
    let dir = TemporaryDirectory()
    try writeTrace(edgeCaseEvents(), to: dir.file("t.csv.zst"), type: .csvZstd)
    let whole = dir.bytes("t.csv.zst")
    for cut in [5, whole.count / 2, whole.count - 1] {
      let path = dir.write("cut\(cut).csv.zst", bytes: Array(whole[..<cut]))
      let error = try #require(readError(path), "cut at \(cut)")
      #expect(error.category == .badData)
      #expect(error.description.contains("truncated zstd frame"), "\(error)")
      #expect(error.location == .byteOffset(UInt64(cut)))
    }
  }

  @Test("a corrupted zstd frame is caught by its checksum")
  func corruptZstd() throws {
    let dir = TemporaryDirectory()
    var p = SynthesisParameters(profile: .oltp)
    p.events = 2000
    try writeTrace(Array(SyntheticTrace(p)), to: dir.file("c.hvt.zst"), type: .hvtZstd)
    var bytes = dir.bytes("c.hvt.zst")
    bytes[bytes.count / 2] ^= 0x55
    let error = try #require(readError(dir.write("flip.hvt.zst", bytes: bytes)))
    #expect(error.category == .badData)
    #expect(error.description.contains("corrupt zstd data"), "\(error)")
  }

  /// A native trace of the edge-case events.
  func native(_ dir: TemporaryDirectory) throws -> [UInt8] {
    try writeTrace(edgeCaseEvents(), to: dir.file("n.hvt"), type: .hvt)
    return dir.bytes("n.hvt")
  }

  @Test("a native file of an unknown version names the version and offset 8")
  func unknownVersion() throws {
    let dir = TemporaryDirectory()
    var bytes = try native(dir)
    bytes[8] = 2
    let error = try #require(readError(dir.write("v.hvt", bytes: bytes)))
    #expect(error.location == .byteOffset(8))
    #expect(error.description.contains("version 2 is not supported"))
  }

  @Test("a native file cut mid-record, or at a record boundary, is truncated")
  func truncatedNative() throws {
    let dir = TemporaryDirectory()
    let bytes = try native(dir)
    // Header 16 bytes (no metadata); records from 16; 8 events then the end record.
    let midRecord = try #require(
      readError(dir.write("m.hvt", bytes: Array(bytes[..<(16 + 3 * 40 + 7)]))))
    #expect(midRecord.location == .byteOffset(16 + 3 * 40))
    #expect(midRecord.description.contains("ends inside a record (7 of 40 bytes)"))
    let boundary = try #require(
      readError(dir.write("b.hvt", bytes: Array(bytes[..<(16 + 5 * 40)]))))
    #expect(boundary.location == .byteOffset(16 + 5 * 40))
    #expect(boundary.description.contains("after 5 events without its end record"))
    let header = try #require(readError(dir.write("h.hvt", bytes: Array(bytes[..<10]))))
    #expect(header.description.contains("header"))
  }

  @Test("a native record with a bad kind or op names its offset")
  func badNativeRecord() throws {
    let dir = TemporaryDirectory()
    var bytes = try native(dir)
    bytes[16 + 2 * 40 + 34] = 1  // third record: kind net, op flush
    let error = try #require(readError(dir.write("k.hvt", bytes: bytes)))
    #expect(error.location == .byteOffset(16 + 2 * 40))
    #expect(error.description.contains("op flush does not belong to kind net"))
    bytes[16 + 2 * 40 + 34] = 9
    let unknown = try #require(readError(dir.write("u.hvt", bytes: bytes)))
    #expect(unknown.description.contains("unknown kind code 9"))
  }

  @Test("data after the end record is an error")
  func trailingData() throws {
    let dir = TemporaryDirectory()
    let bytes = try native(dir) + [1, 2, 3]
    let error = try #require(readError(dir.write("t.hvt", bytes: bytes)))
    #expect(error.description.contains("unexpected data after the end record"))
    #expect(error.location == .byteOffset(UInt64(bytes.count - 3)))
  }

  @Test("binary garbage is read as CSV and rejected at its header")
  func garbage() throws {
    let dir = TemporaryDirectory()
    var rng = Xoshiro256(seed: 9)
    let bytes = (0..<5000).map { _ in UInt8(truncatingIfNeeded: rng.next()) }
    let error = try #require(readError(dir.write("g.bin", bytes: bytes)))
    #expect(error.category == .badData)
    #expect(error.location == .line(1) || error.description.contains("longer than"))
  }
}
