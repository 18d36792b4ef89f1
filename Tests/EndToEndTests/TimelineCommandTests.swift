import Foundation
import HVReplay
import Testing

@Suite("hvreplay replay --timeline, run as a user would")
struct TimelineCommandTests {
  @Test(
    "--timeline writes Chrome trace JSON (or SVG), byte-identical run to run; bad options and outputs are refused"
  )
  func timelineFiles() throws {
    let dir = Scratch()
    let trace = dir.file("rpc.hvt.zst")
    #expect(
      try HVReplay.run(["synth", "--profile", "net-rpc", "--events", "2000", "-o", trace]).status
        == 0)
    let base = ["replay", trace, "--backends", "full,para", "--schedulers", "credit", "--quiet"]
    let first = try HVReplay.run(
      base + [
        "--out", dir.file("a"), "--timeline", dir.file("t.json"), "--timeline-window", "+1ms",
      ])
    #expect(first.status == 0, "\(first.stderr)")
    #expect(first.stdout.contains(" and \(dir.file("t.json"))\n"))
    let json = try String(contentsOfFile: dir.file("t.json"), encoding: .utf8)
    #expect(json.hasPrefix("{\"displayTimeUnit\":\"ns\",\n\"otherData\":{\"tool\":\"hvreplay "))
    #expect(json.contains("\"full/credit\":\"complete: "))
    #expect(
      json.contains(
        "{\"ph\":\"M\",\"name\":\"process_name\",\"pid\":2,\"tid\":0,\"args\":{\"name\":\"para/credit\"}}"
      ))
    // The same trace and options: the same bytes.
    #expect(
      try HVReplay.run(
        base + [
          "--out", dir.file("b"), "--timeline", dir.file("u.json"), "--timeline-window", "+1ms",
        ]
      )
      .status == 0)
    #expect(
      FileManager.default.contents(atPath: dir.file("t.json"))
        == FileManager.default.contents(atPath: dir.file("u.json")))
    // The report folder is the same with and without a timeline.
    #expect(try HVReplay.run(base + ["--out", dir.file("c")]).status == 0)
    #expect(
      FileManager.default.contents(atPath: dir.file("a/summary.csv"))
        == FileManager.default.contents(atPath: dir.file("c/summary.csv")))
    // .svg: the picture.
    #expect(
      try HVReplay.run(base + ["--out", dir.file("d"), "--timeline", dir.file("t.svg")]).status == 0
    )
    let svg = try String(contentsOfFile: dir.file("t.svg"), encoding: .utf8)
    #expect(svg.hasPrefix("<svg xmlns=\"http://www.w3.org/2000/svg\""))
    #expect(svg.contains(">full/credit</text>") && svg.contains(">para/credit</text>"))
    // A cut says so on standard error.
    let cut = try HVReplay.run(
      base + [
        "--out", dir.file("e"), "--timeline", dir.file("cut.json"), "--timeline-limit", "100",
      ])
    #expect(cut.status == 0)
    #expect(
      cut.stderr.contains("hvreplay: timeline: full/credit reached the limit of 100 records"))

    for (args, message) in [
      (
        ["--timeline-window", "+1ms"], "--timeline-window and --timeline-limit need --timeline FILE"
      ),
      (
        ["--timeline", dir.file("x.json"), "--timeline-window", "1ms"],
        "--timeline-window: expected START+LEN"
      ),
      (
        ["--timeline", dir.file("x.json"), "--timeline-limit", "0"],
        "--timeline-limit must be from 1"
      ),
      (["--timeline", "-"], "--timeline -: standard output carries the replay's verdict"),
    ] {
      let r = try HVReplay.run(base + args)
      #expect(r.status == 64, "\(args)")
      #expect(r.stderr.contains(message), "\(r.stderr)")
    }
    // A directory is not replaced, and nothing is replayed or written first.
    let refused = try HVReplay.run(base + ["--out", dir.file("f"), "--timeline", dir.path])
    #expect(refused.status == 73, "\(refused.stderr)")
    #expect(!FileManager.default.fileExists(atPath: dir.file("f")))
    // The trace itself, through a link too, and a file inside the report folder are refused
    // before anything is replayed; the trace is left as it was.
    let before = FileManager.default.contents(atPath: trace)
    try FileManager.default.createSymbolicLink(
      atPath: dir.file("link.json"), withDestinationPath: trace)
    #expect(try HVReplay.run(base + ["--out", dir.file("g")]).status == 0)
    for (target, message) in [
      (trace, "is the input"), (dir.file("link.json"), "is the input"),
      (dir.file("g/t.json"), "lies in the report folder"),
      (dir.file("g/summary.csv"), "lies in the report folder"),
      (dir.file("g"), "is or lies in the report folder"),
    ] {
      let r = try HVReplay.run(base + ["--out", dir.file("g"), "--timeline", target])
      #expect(r.status == 64, "\(target)")
      #expect(r.stderr.contains(message), "\(r.stderr)")
    }
    // A report folder not made yet, and a dangling link into it.
    try FileManager.default.createSymbolicLink(
      atPath: dir.file("dangling.json"), withDestinationPath: dir.file("h/t.json"))
    for target in [dir.file("h"), dir.file("h/sub/t.json"), dir.file("dangling.json")] {
      let r = try HVReplay.run(base + ["--out", dir.file("h"), "--timeline", target])
      #expect(r.status == 64, "\(target): \(r.stderr)")
      #expect(!FileManager.default.fileExists(atPath: dir.file("h")))
    }
    #expect(FileManager.default.contents(atPath: trace) == before)
    // The trace read from standard input, redirected from the file named.
    let piped = try HVReplay.shell(
      "\"$HVREPLAY\" replay - --quiet --out '\(dir.file("i"))' --timeline '\(trace)' < '\(trace)'")
    #expect(piped.status == 64, "\(piped.stderr)")
    #expect(piped.stderr.contains("is the input (standard input)"))
    #expect(FileManager.default.contents(atPath: trace) == before)
    // The model file read, and a blktrace recording's per-CPU file named by its base name.
    let model = dir.file("m.json")
    try HVReplay.run(["model"]).stdout.write(toFile: model, atomically: true, encoding: .utf8)
    let modelBefore = FileManager.default.contents(atPath: model)
    let withModel = try HVReplay.run(
      base + ["--out", dir.file("j"), "--model", model, "--timeline", model])
    #expect(withModel.status == 64, "\(withModel.stderr)")
    #expect(FileManager.default.contents(atPath: model) == modelBefore)
    try FileManager.default.copyItem(
      atPath: ImportCommandTests.fixtures + "/blktrace-nvme/sample.blktrace.0",
      toPath: dir.file("bt.blktrace.0"))
    let perCPU = FileManager.default.contents(atPath: dir.file("bt.blktrace.0"))
    let blk = try HVReplay.run([
      "replay", dir.file("bt"), "--quiet", "--out", dir.file("k"), "--timeline",
      dir.file("bt.blktrace.0"),
    ])
    #expect(blk.status == 64, "\(blk.stderr)")
    #expect(FileManager.default.contents(atPath: dir.file("bt.blktrace.0")) == perCPU)
    // `..` after a link is resolved on disk: DL/../R is the link target's sibling R.
    try FileManager.default.createDirectory(
      atPath: dir.file("deep/sub"), withIntermediateDirectories: true)
    try FileManager.default.createSymbolicLink(
      atPath: dir.file("DL"), withDestinationPath: dir.file("deep/sub"))
    let beside = try HVReplay.run(
      base + ["--out", dir.file("DL/../R"), "--timeline", dir.file("R/x.json")])
    #expect(beside.status != 64, "\(beside.stderr)")
    let inside = try HVReplay.run(
      base + ["--out", dir.file("DL/../R"), "--timeline", dir.file("deep/R/x.json")])
    #expect(inside.status == 64, "\(inside.stderr)")
    #expect(
      FileManager.default.contents(atPath: dir.file("g/summary.csv"))
        == FileManager.default.contents(atPath: dir.file("c/summary.csv")))
  }
}
