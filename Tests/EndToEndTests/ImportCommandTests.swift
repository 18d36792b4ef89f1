import Foundation
import Testing

@Suite("Importing recorded traces, run as a user would")
struct ImportCommandTests {
  /// The real recordings in Tests/Fixtures (PROVENANCE.md there), found from this source file.
  static let fixtures = URL(fileURLWithPath: #filePath).deletingLastPathComponent()
    .deletingLastPathComponent().appendingPathComponent("Fixtures").path

  @Test("hvreplay formats lists every format with one line each")
  func formats() throws {
    let result = try HVReplay.run(["formats"])
    #expect(result.status == 0)
    let names = result.stdout.split(separator: "\n").map { String($0.split(separator: " ")[0]) }
    #expect(
      names == [
        "hvt", "csv", "blktrace", "blkparse", "fio", "msr", "systor", "alibaba", "tencent", "vscsi",
        "libcachesim", "columns", "ftrace",
      ])
  }

  @Test("a blktrace recording replays directly, and inspect says how its fields were filled")
  func replayBlktrace() throws {
    let dir = Scratch()
    let inspect = try HVReplay.run(["inspect", Self.fixtures + "/blktrace-nvme/sample.blktrace.0"])
    #expect(inspect.status == 0)
    #expect(inspect.stdout.contains("format:      blktrace (imported"))
    #expect(inspect.stdout.contains("one VM per device (vm 1 = device 259,0)"))
    let replay = try HVReplay.run([
      "replay", Self.fixtures + "/blktrace-nvme/sample.blktrace.0", "--out", dir.file("r"),
    ])
    #expect(replay.status == 0, "\(replay.stderr)")
    let csv = try String(contentsOfFile: dir.file("r/summary.csv"), encoding: .utf8)
    #expect(csv.contains("para/credit,all,all,requests,963,count"))
    let converted = try HVReplay.run([
      "convert", Self.fixtures + "/blktrace-nvme/sample.blkparse.txt", dir.file("s.hvt.zst"),
    ])
    #expect(converted.status == 0)
    let back = try HVReplay.run(["inspect", dir.file("s.hvt.zst")])
    #expect(back.stdout.contains("events:      963"))
  }

  @Test("fio's randrw iolog inspects with the counts awk finds in it: 20 reads, 12 writes, 5 syncs")
  func inspectFio() throws {
    let inspect = try HVReplay.run(["inspect", Self.fixtures + "/fio/randrw.iolog"])
    #expect(inspect.status == 0, "\(inspect.stderr)")
    #expect(inspect.stdout.contains("imported-from: fio iolog v3"))
    #expect(inspect.stdout.contains("disk:  37  (read 20, write 12, flush 5)"))
    // 137 us to 20,233 us, the first and last I/O lines' timestamps.
    #expect(inspect.stdout.contains("first event at 137000 ns, last at 20233000 ns"))
    #expect(inspect.stdout.contains("vm 1 = file randrw.dat"))
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
