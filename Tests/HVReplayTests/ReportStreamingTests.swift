import Foundation
import Testing

@testable import HVReplay

@Suite("Report files are written as they are made, the same bytes as made whole")
struct ReportStreamingTests {
  /// Two VMs with bursts and I/O on disk and net, replayed on hosts under both
  /// schedulers, with a baseline and a trace name that JSON must escape.
  static func report() throws -> ReplayReport {
    var events: [TraceEvent] = []
    for i in 0..<400 {
      let t = UInt64(i) * 50_000
      let vm = UInt16(i % 2 + 1)
      events.append(TraceEvent(timeNs: t, vm: vm, op: i % 3 == 0 ? .write : .read, bytes: 4096))
      events.append(TraceEvent(timeNs: t + 1, vm: vm, op: .tx, bytes: 1500))
      if i % 20 == 0 {
        events.append(TraceEvent(timeNs: t + 2, vm: vm, op: .burst, serviceNs: 300_000))
      }
    }
    var result = try replay(
      events, backends: [.native, .para, .full], coupled: true,
      configure: { $0.timeSeriesIntervalNs = 100_000 })
    result.trace.name = "quote\" back\\slash\nnew\u{202E}line"
    result.baseline = "native"
    return ReplayReport(result)
  }

  @Test("report.json as streamed is the whole document's serialization; each file as written")
  func streamedEqualsWhole() throws {
    let report = try Self.report()
    #expect(!report.result.schedulers.isEmpty && report.result.baseline != nil)
    let files = report.files
    let json = try #require(files.first { $0.name == "report.json" }).contents
    #expect(json == report.json.serialized() + "\n")
    #expect(json.contains(#""name": "quote\" back\\slash\nnew\u202eline""#))
    #expect(files.first { $0.name == "summary.csv" }?.contents == report.summaryCSV)
    #expect(files.first { $0.name == "timeseries.csv" }?.contents == report.timeSeriesCSV)
    let dir = TemporaryDirectory()
    let out = dir.file("report")
    try ReportWriter.write(makers: report.fileMakers, into: out)
    for file in files {
      let written = try String(contentsOfFile: out + "/" + file.name, encoding: .utf8)
      #expect(written == file.contents, "\(file.name)")
    }
    #expect(Set(try FileManager.default.contentsOfDirectory(atPath: out)) == Set(files.map(\.name)))
  }
}
