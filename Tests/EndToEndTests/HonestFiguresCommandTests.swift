import Foundation
import Testing

@Suite("Figures that say what they rest on, run as a user would")
struct HonestFiguresCommandTests {
  static let fixtures = ImportCommandTests.fixtures

  @Test("a fio log without service times: import notes on stderr, the assumption in the verdict")
  func fioReplay() throws {
    let dir = Scratch()
    let run = try HVReplay.run([
      "replay", Self.fixtures + "/fio/trimwrite.iolog", "--out", dir.file("r"), "--quiet",
    ])
    #expect(run.status == 0, "\(run.stderr)")
    // The fio importer's notes, each on its own line.
    #expect(run.stderr.contains("hvreplay: import: service_ns = 0 (the model's default)"))
    #expect(run.stderr.contains("hvreplay: import: 3 add/open/close lines carry no I/O"))
    // All 20 I/O lines lack a service time: the printed verdict says it rests on the model's.
    let verdict = run.stdout.split(separator: "\n").first ?? ""
    #expect(verdict.contains("rests on assumed service times: 20 of 20 requests (100%)"))
    let md = try String(contentsOfFile: dir.file("r/report.md"), encoding: .utf8)
    #expect(md.contains("- 3 add/open/close lines carry no I/O"))
    let csv = try String(contentsOfFile: dir.file("r/summary.csv"), encoding: .utf8)
    #expect(csv.contains("full/credit,all,all,requests_assumed_service,20,count\n"))
  }

  @Test("blkparse completions only: exit 65 with the reason and what to record, no report")
  func completionsOnly() throws {
    let dir = Scratch()
    let text = try String(
      contentsOfFile: Self.fixtures + "/blktrace-nvme/sample.blkparse.txt", encoding: .utf8)
    let completions = text.split(separator: "\n").filter { line in
      let f = line.split(separator: " ")
      return f.count > 5 && f[5] == "C"
    }
    try (completions.joined(separator: "\n") + "\n").write(
      toFile: dir.file("c.txt"), atomically: true, encoding: .utf8)
    let run = try HVReplay.run([
      "replay", "--from", "blkparse", dir.file("c.txt"), "--out", dir.file("r"), "--quiet",
    ])
    #expect(run.status == 65)
    #expect(
      run.stderr.contains("c.txt: nothing to replay: no request was both queued and completed"))
    #expect(run.stderr.contains("record with blktrace's default mask, which includes Q and C"))
    #expect(!FileManager.default.fileExists(atPath: dir.file("r/report.md")))
  }
}
