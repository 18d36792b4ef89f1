import Foundation
import Testing

@Suite("Importing recorded traces, run as a user would")
struct ImportCommandTests {
  static let shared = HVReplay.repositoryRoot.deletingLastPathComponent().appendingPathComponent(
    "shared/traces"
  ).path

  @Test("hvreplay formats lists every format with one line each")
  func formats() throws {
    let result = try HVReplay.run(["formats"])
    #expect(result.status == 0)
    let names = result.stdout.split(separator: "\n").map { String($0.split(separator: " ")[0]) }
    #expect(
      names == [
        "hvt", "csv", "blktrace", "blkparse", "fio", "msr", "systor", "alibaba", "tencent", "vscsi",
        "ftrace",
      ])
  }

  @Test("a blktrace recording replays directly, and inspect says how its fields were filled")
  func replayBlktrace() throws {
    let dir = Scratch()
    let inspect = try HVReplay.run(["inspect", Self.shared + "/blktrace-nvme/sample.blktrace.0"])
    #expect(inspect.status == 0)
    #expect(inspect.stdout.contains("format:      blktrace (imported"))
    #expect(inspect.stdout.contains("one VM per device (vm 1 = device 259,0)"))
    let replay = try HVReplay.run([
      "replay", Self.shared + "/blktrace-nvme/sample.blktrace.0", "--out", dir.file("r"),
    ])
    #expect(replay.status == 0, "\(replay.stderr)")
    let csv = try String(contentsOfFile: dir.file("r/summary.csv"), encoding: .utf8)
    #expect(csv.contains("para,all,all,requests,963,count"))
    let converted = try HVReplay.run([
      "convert", Self.shared + "/blktrace-nvme/sample.blkparse.txt", dir.file("s.hvt.zst"),
    ])
    #expect(converted.status == 0)
    let back = try HVReplay.run(["inspect", dir.file("s.hvt.zst")])
    #expect(back.stdout.contains("events:      963"))
  }

  @Test(
    "--from overrides detection; a bad record exits 65 naming its line; --skip-bad reports what it skipped"
  )
  func fromAndSkipBad() throws {
    let dir = Scratch()
    let path = dir.file("t.csv")
    try "3,R,0,4096,100\n3,R,0,4096,200\n3,X,0,4096,300\n3,W,0,4096,400\n"
      .write(toFile: path, atomically: true, encoding: .utf8)
    let bad = try HVReplay.run(["inspect", path])
    #expect(bad.status == 65)
    #expect(bad.stderr.contains("t.csv:3: column \"opcode\": expected R or W, found \"X\""))
    let skipped = try HVReplay.run(["replay", path, "--skip-bad", "1", "--out", dir.file("r")])
    #expect(skipped.status == 0)
    #expect(skipped.stderr.contains("skipped 1 unreadable records (--skip-bad 1)"))
    let wrong = try HVReplay.run(["inspect", "--from", "fio", path])
    #expect(wrong.status == 65)
    #expect(wrong.stderr.contains("expected `fio version 2 iolog` or `fio version 3 iolog`"))
    #expect(try HVReplay.run(["inspect", "--from", "nope", path]).status == 64)
    #expect(try HVReplay.run(["inspect", "--group-by", "uid", path]).status == 64)
  }
}
