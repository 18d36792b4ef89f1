import Foundation
import Testing

@testable import HVReplay

/// Inputs that broke an invariant of the fuzz targets (docs/FUZZING.md), kept as tests so
/// that `swift test` catches a regression without libFuzzer.
@Suite("Fuzz regressions")
struct FuzzRegressionTests {
  /// Metadata of `bytes` bytes as `key=value\n` text: one key `note` with a long value.
  private func metadata(textBytes bytes: Int) -> TraceMetadata {
    let value = String(repeating: "x", count: bytes - "note=\n".utf8.count)
    let m = TraceMetadata([("note", value)])
    #expect(m.text.utf8.count == bytes)
    return m
  }

  private let event = TraceEvent(
    timeNs: 5, vm: 1, op: .read, offset: 4096, bytes: 512, serviceNs: 9)

  @Test("metadata past 64 KiB is refused for .hvt with exit 65 and no file, not written unreadable")
  func oversizedNativeMetadata() throws {
    // Found by the decode -> encode -> decode invariant: `convert` wrote such a trace with
    // exit 0, and every reader then stopped at byte offset 12 ("metadata length ... is
    // larger than the 65536 bytes allowed").
    let dir = TemporaryDirectory()
    let path = dir.file("big.hvt")
    let big = metadata(textBytes: NativeTraceLayout.maximumMetadataSize + 1)
    var caught: HVReplayError?
    do {
      try writeTrace([event], to: path, type: .hvt, metadata: big)
    } catch {
      caught = error
    }
    let error = try #require(caught)
    #expect(error.exitCode == 65)
    #expect(error.file == path)
    #expect(error.message.contains("65537 bytes"))
    #expect(!FileManager.default.fileExists(atPath: path))
    #expect(try FileManager.default.contentsOfDirectory(atPath: dir.path).isEmpty)

    // CSV has no such limit in the writer.
    try writeTrace([event], to: dir.file("big.csv"), type: .csv, metadata: big)
    #expect(FileManager.default.fileExists(atPath: dir.file("big.csv")))
  }

  @Test("metadata of exactly 64 KiB writes as .hvt and reads back unchanged")
  func largestNativeMetadata() throws {
    let dir = TemporaryDirectory()
    let path = dir.file("edge.hvt")
    let edge = metadata(textBytes: NativeTraceLayout.maximumMetadataSize)
    try writeTrace([event], to: path, type: .hvt, metadata: edge)
    var reader = try TraceReader(path: path)
    #expect(reader.metadata == edge)
    #expect(try reader.next() == event)
    #expect(try reader.next() == nil)
  }

  /// The reproducer libFuzzer's FuzzReportJSON saved: a report whose fair scheduler lists
  /// vm 2 twice, which `compare` against itself showed as a regression.
  static let duplicateVM = URL(fileURLWithPath: #filePath).deletingLastPathComponent()
    .appendingPathComponent("../Fixtures/fuzz/report-duplicate-vm.json").standardized.path

  @Test("a report.json listing a VM, channel, backend or scheduler twice is refused")
  func duplicatesRefused() throws {
    let error = #expect(throws: HVReplayError.self) { _ = try readReport(Self.duplicateVM) }
    #expect(error?.exitCode == 65)
    #expect(error?.description.contains("vm 2 is listed twice") == true)
    // The same report without the duplicate reads, and compares with itself cleanly.
    let text = try String(contentsOfFile: Self.duplicateVM, encoding: .utf8)
    var root = try JSONParser.parse(text, file: "r.json")
    guard case .object(var members) = root else { throw HVReplayError(.badData, "not an object") }
    let i = members.firstIndex { $0.0 == "schedulers" }!
    guard case .array(var schedulers) = members[i].1 else { return }
    guard case .object(var fair) = schedulers[1] else { return }
    let v = fair.firstIndex { $0.0 == "vms" }!
    guard case .array(var vms) = fair[v].1 else { return }
    vms.removeLast()
    fair[v].1 = .array(vms)
    schedulers[1] = .object(fair)
    members[i].1 = .array(schedulers)
    root = .object(members)
    let result = try ReplayResult(reportJSON: root, file: "r.json")
    let comparison = ReportComparison(base: result, new: result, baseName: "a", newName: "a")
    #expect(comparison.rows.allSatisfy { !$0.regressed })
  }
}
