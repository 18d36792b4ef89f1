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
}
