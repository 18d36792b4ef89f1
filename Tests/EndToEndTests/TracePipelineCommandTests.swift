import Foundation
import HVReplay
import Testing

@Suite("hvreplay synth, inspect and convert, run as a user would")
struct TracePipelineCommandTests {
  @Test("synth then inspect reports the counts the trace holds")
  func synthInspect() throws {
    let dir = Scratch()
    let trace = dir.file("o.hvt.zst")
    let synth = try HVReplay.run(["synth", "--profile", "oltp", "--events", "3000", "-o", trace])
    #expect(synth.status == 0, "\(synth.stderr)")
    let events = try readAll(trace)
    let reads = events.filter { $0.op == .read }.count
    let inspect = try HVReplay.run(["inspect", trace])
    #expect(inspect.status == 0)
    #expect(inspect.stdout.contains("events:      3000"))
    #expect(inspect.stdout.contains("read \(reads),"))
    #expect(inspect.stdout.contains("hvt (native binary, version 1), zstd-compressed"))
    #expect(
      inspect.stdout.contains("command: hvreplay synth --profile oltp --seed 1 --events 3000"))
    let json = try HVReplay.run(["inspect", "--json", trace])
    let object = try JSONSerialization.jsonObject(with: Data(json.stdout.utf8)) as! [String: Any]
    #expect(object["events"] as? Int == 3000)
    #expect((object["by_op"] as? [String: Int])?["read"] == reads)
  }

  @Test("traces pipe: synth to standard output, convert from standard input")
  func pipes() throws {
    let dir = Scratch()
    let result = try HVReplay.shell(
      "\"$HVREPLAY\" synth --profile net-rpc --events 500 -o - --to hvt.zst | \"$HVREPLAY\" convert - - --to csv > out.csv",
      in: dir.path)
    #expect(result.status == 0, "\(result.stderr)")
    let direct = dir.file("direct.csv")
    #expect(
      try HVReplay.run(["synth", "--profile", "net-rpc", "--events", "500", "-o", direct]).status
        == 0)
    #expect(
      FileManager.default.contents(atPath: dir.file("out.csv"))
        == FileManager.default.contents(atPath: direct))
    let stdin = try HVReplay.run(
      ["inspect", "-"], stdin: FileManager.default.contents(atPath: direct))
    #expect(stdin.stdout.contains("events:      500"))
  }

  @Test("exit codes follow sysexits: 64 usage, 65 bad data, 66 missing input, 73 cannot create")
  func exitCodes() throws {
    let dir = Scratch()
    let good = dir.file("g.csv")
    #expect(
      try HVReplay.run(["synth", "--profile", "oltp", "--events", "10", "-o", good]).status == 0)
    #expect(try HVReplay.run(["synth", "--profile", "nope", "-o", good]).status == 64)
    #expect(try HVReplay.run(["synth", "--profile", "oltp", "-o", dir.file("x.txt")]).status == 64)
    #expect(try HVReplay.run(["inspect", "--reorder-window", "-3", good]).status == 64)
    let bad = dir.file("b.csv")
    try "time_ns,vm,vcpu,kind,op,device,offset,bytes,service_ns\n1,1,0,disk,tape,0,0,0,0\n"
      .write(toFile: bad, atomically: true, encoding: .utf8)
    let badResult = try HVReplay.run(["inspect", bad])
    #expect(badResult.status == 65)
    #expect(
      badResult.stderr
        == "hvreplay: \(bad):2: column \"op\": expected one of read, write, flush, barrier, discard for kind disk, found \"tape\"\n"
    )
    let missing = try HVReplay.run(["inspect", dir.file("none.hvt")])
    #expect(missing.status == 66)
    #expect(missing.stderr.contains("none.hvt: cannot open"))
    let unwritable = try HVReplay.run(["convert", good, dir.file("no/such/dir/out.csv")])
    #expect(unwritable.status == 73)
    #expect(unwritable.stderr.contains("out.csv: cannot create"))
  }

  @Test("a failed conversion leaves no output and no temporary file, and keeps an existing file")
  func atomicOutput() throws {
    let dir = Scratch()
    let whole = dir.file("w.hvt.zst")
    #expect(
      try HVReplay.run(["synth", "--profile", "mixed", "--events", "200000", "-o", whole]).status
        == 0)
    let bytes = try Data(contentsOf: URL(fileURLWithPath: whole))
    let cut = dir.file("cut.hvt.zst")
    try bytes.prefix(bytes.count * 3 / 4).write(to: URL(fileURLWithPath: cut))
    let result = try HVReplay.run(["convert", cut, dir.file("new.csv")])
    #expect(result.status == 65)
    #expect(result.stderr.contains("truncated zstd frame"))
    #expect(!FileManager.default.fileExists(atPath: dir.file("new.csv")))
    let baseline = dir.file("baseline.csv")
    try "keep me\n".write(toFile: baseline, atomically: true, encoding: .utf8)
    #expect(try HVReplay.run(["convert", cut, baseline]).status == 65)
    #expect(try String(contentsOfFile: baseline, encoding: .utf8) == "keep me\n")
    #expect(dir.contents == ["baseline.csv", "cut.hvt.zst", "w.hvt.zst"])
  }
}

/// Reads every event of a trace through the library.
func readAll(_ path: String) throws -> [TraceEvent] {
  var reader = try TraceReader(path: path)
  var events: [TraceEvent] = []
  while let e = try reader.next() { events.append(e) }
  return events
}
