import Dispatch
import Foundation
import HVReplay
import Testing

@Suite("Outputs that cannot hurt, run as a user would")
struct OutputSafetyCommandTests {
  @Test("-o /dev/null and -o /dev/stdout write through; /dev/null stays a character device")
  func devices() throws {
    let dir = Scratch()
    let null = try HVReplay.run([
      "synth", "--profile", "oltp", "--events", "20000", "-o", "/dev/null",
    ])
    #expect(null.status == 0, "\(null.stderr)")
    let attributes = try FileManager.default.attributesOfItem(atPath: "/dev/null")
    #expect(attributes[.type] as? FileAttributeType == .typeCharacterSpecial)
    #expect(
      try FileManager.default.contentsOfDirectory(atPath: "/dev").filter { $0.hasSuffix(".tmp") }
        == [])
    let direct = try HVReplay.run(["synth", "--profile", "oltp", "--events", "50", "-o", "-"])
    let stdout = try HVReplay.run([
      "synth", "--profile", "oltp", "--events", "50", "-o", "/dev/stdout",
    ])
    #expect(stdout.status == 0)
    #expect(stdout.stdout == direct.stdout && direct.stdout.hasPrefix("time_ns,"))
    // Appending through /dev/stdout appends, as the shell's `>>` asks.
    let appended = try HVReplay.shell(
      "\"$HVREPLAY\" synth --profile oltp --events 5 -o /dev/stdout > o.csv && \"$HVREPLAY\" synth --profile oltp --events 5 -o /dev/stdout >> o.csv",
      in: dir.path)
    #expect(appended.status == 0)
    let lines = try String(contentsOfFile: dir.file("o.csv"), encoding: .utf8).split(
      separator: "\n")
    #expect(lines.filter { $0.hasPrefix("time_ns,") }.count == 2)
    #expect(dir.contents == ["o.csv"])
  }

  @Test("a FIFO is written through, not replaced")
  func fifo() throws {
    let dir = Scratch()
    let result = try HVReplay.shell(
      "mkfifo p && { timeout 60 cat p > got & } && \"$HVREPLAY\" synth --profile net-rpc --events 300 -o p && wait && \"$HVREPLAY\" synth --profile net-rpc --events 300 -o direct.csv",
      in: dir.path)
    #expect(result.status == 0, "\(result.stderr)")
    #expect(
      FileManager.default.contents(atPath: dir.file("got"))
        == FileManager.default.contents(atPath: dir.file("direct.csv")))
    var status = stat()
    #expect(lstat(dir.file("p"), &status) == 0 && status.st_mode & S_IFMT == S_IFIFO)
    #expect(dir.contents == ["direct.csv", "got", "p"])
  }

  @Test("a symbolic link to a trace keeps the link; a directory or block device is refused with 73")
  func linksAndRefusals() throws {
    let dir = Scratch()
    let target = dir.file("real.csv")
    try "old\n".write(toFile: target, atomically: true, encoding: .utf8)
    try FileManager.default.createSymbolicLink(
      atPath: dir.file("link.csv"), withDestinationPath: "real.csv")
    #expect(
      try HVReplay.run(["synth", "--profile", "oltp", "--events", "10", "-o", dir.file("link.csv")])
        .status == 0)
    #expect(
      try FileManager.default.destinationOfSymbolicLink(atPath: dir.file("link.csv")) == "real.csv")
    #expect(try String(contentsOfFile: target, encoding: .utf8).hasPrefix("time_ns,"))
    try FileManager.default.createDirectory(
      atPath: dir.file("d.csv"), withIntermediateDirectories: false)
    let directory = try HVReplay.run([
      "synth", "--profile", "oltp", "--events", "10", "-o", dir.file("d.csv"),
    ])
    #expect(directory.status == 73)
    #expect(
      directory.stderr
        == "hvreplay: \(dir.file("d.csv")): cannot create: is a directory; name a file to write\n")
    if mknod(dir.file("blk.csv"), S_IFBLK | 0o600, dev_t(7 << 8)) == 0 {
      let block = try HVReplay.run([
        "synth", "--profile", "oltp", "--events", "10", "-o", dir.file("blk.csv"),
      ])
      #expect(block.status == 73)
      #expect(block.stderr.contains("blk.csv: cannot create: is a block device"))
      let kind = try FileManager.default.attributesOfItem(atPath: dir.file("blk.csv"))[.type]
      #expect(kind as? FileAttributeType == .typeBlockSpecial)
    }
    #expect(dir.contents.filter { $0.hasSuffix(".tmp") } == [])
  }

  @Test(
    "SIGTERM and SIGINT remove the temporary file of a trace being written",
    arguments: [SIGTERM, SIGINT])
  func interrupted(signal: Int32) throws {
    let dir = Scratch()
    let process = Process()
    process.executableURL = URL(fileURLWithPath: HVReplay.executable)
    process.arguments = [
      "synth", "--profile", "oltp", "--events", "50000000", "-o", dir.file("big.hvt"),
    ]
    process.standardOutput = FileHandle.nullDevice
    process.standardError = FileHandle.nullDevice
    try process.run()
    // Wait until the temporary file holds bytes: the run is writing.
    let deadline = Date().addingTimeInterval(60)
    var writing = false
    while !writing && Date() < deadline && process.isRunning {
      writing = dir.contents.contains { name in
        name.hasPrefix(".big.hvt.") && name.hasSuffix(".tmp")
          && ((try? FileManager.default.attributesOfItem(atPath: dir.file(name))[.size] as? Int)
            ?? 0) > 0
      }
      if !writing { usleep(10_000) }
    }
    #expect(writing)
    kill(process.processIdentifier, signal)
    process.waitUntilExit()
    #expect(process.terminationReason == .uncaughtSignal)
    #expect(process.terminationStatus == signal)
    #expect(dir.contents == [])
  }

  @Test("a re-run leaves no stale file: the report folder is the second run's, whole")
  func reRunReplacesFolder() throws {
    let dir = Scratch()
    let mixed = dir.file("mixed.csv")
    let oltp = dir.file("oltp.csv")
    #expect(
      try HVReplay.run(["synth", "--profile", "mixed", "--events", "3000", "-o", mixed]).status == 0
    )
    #expect(
      try HVReplay.run(["synth", "--profile", "oltp", "--events", "3000", "-o", oltp]).status == 0)
    let out = dir.file("r")
    #expect(try HVReplay.run(["replay", mixed, "--out", out, "--quiet"]).status == 0)
    #expect(try FileManager.default.contentsOfDirectory(atPath: out).contains("cpu.csv"))
    // Uncoupled, a trace without cpu events has no CPU figures: no cpu.csv, and the
    // previous run's is gone.
    let uncoupled = ["--set", "cpu.coupled=false"]
    #expect(try HVReplay.run(["replay", oltp, "--out", out, "--quiet"] + uncoupled).status == 0)
    #expect(!(try FileManager.default.contentsOfDirectory(atPath: out).contains("cpu.csv")))
    #expect(try traceName(inJSON: out) == "oltp")
    #expect(dir.contents == ["mixed.csv", "oltp.csv", "r"])
  }

  @Test("two runs into one --out at once leave one run's folder, never a mix")
  func concurrentRuns() throws {
    let dir = Scratch()
    let traces = [dir.file("mixed.csv"), dir.file("oltp.csv")]
    #expect(
      try HVReplay.run(["synth", "--profile", "mixed", "--events", "2000", "-o", traces[0]]).status
        == 0)
    #expect(
      try HVReplay.run(["synth", "--profile", "oltp", "--events", "2000", "-o", traces[1]]).status
        == 0)
    let out = dir.file("r")
    for round in 0..<12 {
      let statuses = Statuses()
      DispatchQueue.concurrentPerform(iterations: 2) { i in
        let trace = traces[(i + round) % 2]
        // oltp uncoupled: no CPU figures, so no cpu.csv (the mixed run writes one).
        let extra = trace == traces[1] ? ["--set", "cpu.coupled=false"] : []
        let result = try? HVReplay.run(["replay", trace, "--out", out, "--quiet"] + extra)
        statuses.append("\(result?.status ?? -1) \(result?.stderr ?? "")")
      }
      #expect(statuses.values == ["0 ", "0 "])
      let json = try traceName(inJSON: out)
      let heading = try String(contentsOfFile: out + "/report.md", encoding: .utf8)
        .split(separator: "\n")[0]
      #expect(heading == "# hvreplay report: \(json)")
      let names = try FileManager.default.contentsOfDirectory(atPath: out)
      #expect(names.contains("cpu.csv") == (json == "mixed"), "round \(round): \(names)")
      #expect(dir.contents == ["mixed.csv", "oltp.csv", "r"])
    }
  }

  @Test("--out refuses a folder hvreplay did not write, a file, and the current directory")
  func refusedFolders() throws {
    let dir = Scratch()
    let trace = dir.file("t.csv")
    #expect(
      try HVReplay.run(["synth", "--profile", "oltp", "--events", "300", "-o", trace]).status == 0)
    let home = dir.file("home")
    try FileManager.default.createDirectory(atPath: home, withIntermediateDirectories: false)
    try "mine\n".write(toFile: home + "/notes.txt", atomically: true, encoding: .utf8)
    let refused = try HVReplay.run(["replay", trace, "--out", home, "--quiet"])
    #expect(refused.status == 73)
    #expect(
      refused.stderr
        == "hvreplay: \(home): cannot replace: it holds \"notes.txt\", which hvreplay did not write; remove it or choose another directory\n"
    )
    #expect(try FileManager.default.contentsOfDirectory(atPath: home) == ["notes.txt"])
    #expect(try HVReplay.run(["replay", trace, "--out", trace, "--quiet"]).status == 73)
    #expect(try HVReplay.run(["replay", trace, "--out", ".", "--quiet"], in: home).status == 73)
    #expect(dir.contents == ["home", "t.csv"])
    // merge and sweep replace their folders the same way.
    #expect(try HVReplay.run(["replay", trace, "--out", dir.file("a"), "--quiet"]).status == 0)
    let merge = try HVReplay.run(["merge", dir.file("a/report.json"), "-o", home])
    #expect(merge.status == 73)
    let sweep = try HVReplay.run(["sweep", trace, "--set", "para.ring_entries=8,16", "--out", home])
    #expect(sweep.status == 73)
    #expect(try FileManager.default.contentsOfDirectory(atPath: home) == ["notes.txt"])
    #expect(
      try HVReplay.run(["sweep", trace, "--set", "para.ring_entries=8,16", "--out", dir.file("a")])
        .status == 0)
    #expect(
      try FileManager.default.contentsOfDirectory(atPath: dir.file("a")).sorted() == [
        "sweep-cpu.csv", "sweep.csv", "sweep.md", "sweep.svg",
      ])
  }

  @Test("empty output paths are usage errors and write nothing")
  func emptyPaths() throws {
    let dir = Scratch()
    let trace = dir.file("t.csv")
    #expect(
      try HVReplay.run(["synth", "--profile", "oltp", "--events", "300", "-o", trace]).status == 0)
    let work = dir.file("work")
    try FileManager.default.createDirectory(atPath: work, withIntermediateDirectories: false)
    let runs: [[String]] = [
      ["replay", trace, "--out", ""],
      ["synth", "--profile", "oltp", "--events", "10", "-o", "", "--to", "csv"],
      ["convert", trace, "", "--to", "csv"],
      ["sweep", trace, "--set", "para.ring_entries=8,16", "--out", ""],
      ["merge", trace, "-o", ""],
    ]
    for arguments in runs {
      let result = try HVReplay.run(arguments, in: work)
      #expect(result.status == 64, "\(arguments): \(result.stderr)")
      #expect(result.stderr.contains("must name a file or directory, not be empty"), "\(arguments)")
    }
    #expect(try FileManager.default.contentsOfDirectory(atPath: work) == [])
    #expect(!FileManager.default.fileExists(atPath: "/report.md"))
  }

  @Test("a trace named ...csv writes its report inside Reports/")
  func dottedTraceName() throws {
    let dir = Scratch()
    #expect(
      try HVReplay.run(["synth", "--profile", "oltp", "--events", "300", "-o", dir.file("...csv")])
        .status == 0)
    let work = dir.file("work")
    try FileManager.default.createDirectory(atPath: work, withIntermediateDirectories: false)
    let result = try HVReplay.run(["replay", "../...csv", "--quiet"], in: work)
    #expect(result.status == 0, "\(result.stderr)")
    #expect(try FileManager.default.contentsOfDirectory(atPath: work) == ["Reports"])
    #expect(try FileManager.default.contentsOfDirectory(atPath: work + "/Reports") == ["trace"])
    #expect(FileManager.default.fileExists(atPath: work + "/Reports/trace/report.md"))
    #expect(dir.contents == ["...csv", "work"])
  }

  @Test("bytes from a trace reach neither the terminal nor report.md unescaped")
  func hostileText() throws {
    let dir = Scratch()
    let name = "x<b>|`y`*.csv"
    let trace = dir.file(name)
    try """
    time_ns,vm,vcpu,kind,op,device,offset,bytes,service_ns
    # meta command=run \u{1B}[31mred\u{1B}[0m | <script>alert(1)</script> ``tick`` *b* _i_ [l](u)
    # meta note=\u{1B}]0;owned\u{7}\u{9B}2J
    1000,1,0,disk,read,0,0,4096,0

    """.write(toFile: trace, atomically: true, encoding: .utf8)
    let inspect = try HVReplay.run(["inspect", trace])
    #expect(inspect.status == 0)
    #expect(
      !inspect.stdout.unicodeScalars.contains {
        $0.value == 0x1B || $0.value == 0x9B || $0.value == 7
      })
    #expect(inspect.stdout.contains("  command: run \\u{1B}[31mred\\u{1B}[0m | <script>"))
    #expect(inspect.stdout.contains("  note: \\u{1B}]0;owned\\u{7}\\u{9B}2J"))
    let json = try HVReplay.run(["inspect", "--json", trace])
    #expect(!json.stdout.unicodeScalars.contains { $0.value == 0x1B || $0.value == 0x9B })
    #expect(json.stdout.contains("owned\\u0007\\u009b2J"))

    let out = dir.file("r")
    let replay = try HVReplay.run(["replay", trace, "--out", out, "--quiet"])
    #expect(replay.status == 0, "\(replay.stderr)")
    let md = try String(contentsOfFile: out + "/report.md", encoding: .utf8)
    let lines = md.split(separator: "\n", omittingEmptySubsequences: false)
    #expect(lines[0] == "# hvreplay report: x&lt;b&gt;\\|\\`y\\`\\*")
    // The path holds backticks: a longer fence keeps it one code span.
    #expect(lines[2] == "Trace ``\(trace)`` (csv): 1 event (disk 1) from 1 VM over 0 ns.")
    #expect(
      lines[3]
        == "Made by ```run \\u{1B}[31mred\\u{1B}[0m | <script>alert(1)</script> ``tick`` *b* _i_ [l](u)```."
    )
    #expect(!md.unicodeScalars.contains { $0.value == 0x1B || $0.value == 0x9B })

    let bad = dir.file("bad.csv")
    try "time_ns,vm,vcpu,kind,op,device,offset,bytes,service_ns\n1,1,0,disk,re\u{1B}[2Jad,0,0,0,0\n"
      .write(toFile: bad, atomically: true, encoding: .utf8)
    let failed = try HVReplay.run(["inspect", bad])
    #expect(failed.status == 65)
    #expect(failed.stderr.contains("found \"re\\u{1B}[2Jad\""))
    #expect(!failed.stderr.unicodeScalars.contains { $0.value == 0x1B })
  }

  private func traceName(inJSON folder: String) throws -> String {
    let data = try Data(contentsOf: URL(fileURLWithPath: folder + "/report.json"))
    let object = try JSONSerialization.jsonObject(with: data) as? [String: Any]
    let trace = object?["trace"] as? [String: Any]
    return trace?["name"] as? String ?? ""
  }
}

/// Exit statuses gathered from concurrent runs.
private final class Statuses: @unchecked Sendable {
  // Invariant: `list` is only touched while `lock` is held.
  private let lock = NSLock()
  private var list: [String] = []

  func append(_ status: String) {
    lock.lock()
    list.append(status)
    lock.unlock()
  }

  var values: [String] {
    lock.lock()
    defer { lock.unlock() }
    return list
  }
}
