import Dispatch
import Foundation
import Testing

@testable import HVReplay

@Suite("Outputs that cannot hurt: destinations, temporaries, report folders, escaping")
struct OutputSafetyTests {
  // MARK: Destinations

  @Test("a path is classified once its final symbolic links are followed")
  func destinations() throws {
    let dir = TemporaryDirectory()
    let file = dir.write("t.csv", "x\n")
    try FileManager.default.setAttributes([.posixPermissions: 0o600], ofItemAtPath: file)
    #expect(
      OutputDestination(file) == OutputDestination(path: file, kind: .replace(permissions: 0o600)))
    let missing = dir.file("none.csv")
    #expect(OutputDestination(missing).kind == .replace(permissions: nil))
    // A relative link, through a second link, to the regular file.
    try FileManager.default.createSymbolicLink(atPath: dir.file("l1"), withDestinationPath: "t.csv")
    try FileManager.default.createSymbolicLink(atPath: dir.file("l2"), withDestinationPath: "l1")
    #expect(
      OutputDestination(dir.file("l2"))
        == OutputDestination(path: file, kind: .replace(permissions: 0o600)))
    // A dangling link leads to the file it would create.
    try FileManager.default.createSymbolicLink(
      atPath: dir.file("dangling"), withDestinationPath: "new.csv")
    #expect(OutputDestination(dir.file("dangling")).path == dir.file("new.csv"))
    try FileManager.default.createSymbolicLink(
      atPath: dir.file("loopA"), withDestinationPath: "loopB")
    try FileManager.default.createSymbolicLink(
      atPath: dir.file("loopB"), withDestinationPath: "loopA")
    #expect(OutputDestination(dir.file("loopA")).kind == .refused("is a loop of symbolic links"))
    #expect(OutputDestination(dir.path).kind == .directory)
    #expect(OutputDestination("/dev/null").kind == .writeThrough)
    #expect(mkfifo(dir.file("fifo"), 0o644) == 0)
    #expect(OutputDestination(dir.file("fifo")).kind == .writeThrough)
    #expect(OutputDestination("/dev/stdout").kind == .descriptor(1))
    #expect(OutputDestination("/dev/fd/2").kind == .descriptor(2))
    #expect(OutputDestination("/proc/self/fd/7").kind == .descriptor(7))
    try FileManager.default.createSymbolicLink(
      atPath: dir.file("out"), withDestinationPath: "/dev/stdout")
    #expect(OutputDestination(dir.file("out")).kind == .descriptor(1))
    #expect(ByteOutput.isStream("/dev/null") && ByteOutput.isStream("-"))
    #expect(!ByteOutput.isStream(file) && !ByteOutput.isStream(missing))
  }

  @Test("writing through a symbolic link replaces its target and keeps the link and the mode")
  func symbolicLinkKept() throws {
    let dir = TemporaryDirectory()
    let target = dir.write("target.csv", "old\n")
    try FileManager.default.setAttributes([.posixPermissions: 0o600], ofItemAtPath: target)
    try FileManager.default.createSymbolicLink(
      atPath: dir.file("link.csv"), withDestinationPath: "target.csv")
    let output = try ByteOutput(path: dir.file("link.csv"), compression: .none)
    try output.write("new\n")
    try output.close()
    #expect(
      try FileManager.default.destinationOfSymbolicLink(atPath: dir.file("link.csv"))
        == "target.csv")
    #expect(try String(contentsOfFile: target, encoding: .utf8) == "new\n")
    let attributes = try FileManager.default.attributesOfItem(atPath: target)
    #expect((attributes[.posixPermissions] as? Int) == 0o600)
    #expect(
      try FileManager.default.contentsOfDirectory(atPath: dir.path).sorted() == [
        "link.csv", "target.csv",
      ])
  }

  @Test("a directory, a block device or an empty path is refused, and nothing is created")
  func refusedDestinations() throws {
    let dir = TemporaryDirectory()
    #expect(
      throws: HVReplayError(
        .cannotCreateOutput, file: dir.path, "cannot create: is a directory; name a file to write")
    ) {
      try ByteOutput(path: dir.path, compression: .none)
    }
    #expect(
      throws: HVReplayError(
        .usage, "the output path is empty; name a file, or `-` for standard output")
    ) {
      try ByteOutput(path: "", compression: .none)
    }
    if mknod(dir.file("blk"), S_IFBLK | 0o600, dev_t(7 << 8)) == 0 {
      #expect(
        throws: HVReplayError(
          .cannotCreateOutput, file: dir.file("blk"),
          "cannot create: is a block device; hvreplay writes regular files, FIFOs and character devices"
        )
      ) {
        try ByteOutput(path: dir.file("blk"), compression: .none)
      }
    }
    #expect(
      try FileManager.default.contentsOfDirectory(atPath: dir.path).filter { $0 != "blk" } == [])
  }

  @Test("/dev/null is written through, never replaced")
  func devNull() throws {
    let output = try ByteOutput(path: "/dev/null", compression: .zstd)
    try output.write(String(repeating: "x", count: 3 << 20))
    try output.close()
    #expect(SystemCalls.fileType("/dev/null") == .characterDevice)
    #expect(TemporaryFiles.registry.paths.filter { $0.hasPrefix("/dev/") } == [])
  }

  // MARK: Temporaries

  @Test(
    "temporaries are exclusive, unpredictable, beside the destination, mode 0644 less the umask")
  func temporaries() throws {
    let dir = TemporaryDirectory()
    let path = dir.file("t.csv")
    // Two outputs to one path in one process: each has its own temporary, and the one
    // closed last wins.
    let a = try ByteOutput(path: path, compression: .none)
    let b = try ByteOutput(path: path, compression: .none)
    let live = try FileManager.default.contentsOfDirectory(atPath: dir.path).sorted()
    #expect(live.count == 2)
    for name in live {
      #expect(name.wholeMatch(of: /\.t\.csv\.[0-9a-z]{13}\.tmp/) != nil, "\(name)")
      let mode = try FileManager.default.attributesOfItem(atPath: dir.file(name))[.posixPermissions]
      let mask = umask(0o022)
      umask(mask)
      #expect((mode as? Int) == 0o644 & ~Int(mask))
      #expect(TemporaryFiles.registry.paths.contains(dir.file(name)))
    }
    try a.write("A\n")
    try b.write("B\n")
    try a.close()
    try b.close()
    #expect(try String(contentsOfFile: path, encoding: .utf8) == "B\n")
    #expect(try FileManager.default.contentsOfDirectory(atPath: dir.path) == ["t.csv"])
    #expect(!TemporaryFiles.registry.paths.contains { $0.hasPrefix(dir.path) })
  }

  @Test("an output never closed leaves nothing; an interrupt removes every live temporary")
  func interruptRemovesTemporaries() throws {
    let dir = TemporaryDirectory()
    do {
      let output = try ByteOutput(path: dir.file("t.csv"), compression: .none)
      try output.write("partial")
    }
    #expect(try FileManager.default.contentsOfDirectory(atPath: dir.path) == [])
    // A private registry, so the shared one stays usable by the other tests.
    let registry = TemporaryFiles.Registry()
    let file = dir.write(".f.tmp", "x")
    let folder = dir.file(".d.tmp")
    try FileManager.default.createDirectory(
      atPath: folder + "/sub", withIntermediateDirectories: true)
    FileManager.default.createFile(atPath: folder + "/report.md", contents: Data("x".utf8))
    FileManager.default.createFile(atPath: folder + "/sub/y", contents: nil)
    registry.locked { live in
      live[file] = .file
      live[folder] = .directory
    }
    dir.write("keep.csv", "mine")
    registry.removeAll(keepingLock: false)
    #expect(try FileManager.default.contentsOfDirectory(atPath: dir.path) == ["keep.csv"])
  }

  // MARK: Report folders

  @Test("a report folder is replaced whole: no stale file survives a re-run")
  func reportFolderReplacedWhole() throws {
    let dir = TemporaryDirectory()
    let out = dir.file("r")
    try ReportWriter.write([("report.md", "1"), ("cpu.csv", "1"), ("report.json", "1")], into: out)
    try ReportWriter.write([("report.md", "2"), ("report.json", "2")], into: out)
    #expect(
      try FileManager.default.contentsOfDirectory(atPath: out).sorted() == [
        "report.json", "report.md",
      ])
    #expect(try String(contentsOfFile: out + "/report.md", encoding: .utf8) == "2")
    #expect(try FileManager.default.contentsOfDirectory(atPath: dir.path) == ["r"])
  }

  @Test("a write that fails part-way leaves the previous folder exactly as it was")
  func failedWriteKeepsFolder() throws {
    let dir = TemporaryDirectory()
    let out = dir.file("r")
    try ReportWriter.write([("report.md", "old"), ("summary.csv", "old")], into: out)
    // The second file cannot be created (no such subdirectory): the write fails after
    // report.md is written.
    #expect(throws: HVReplayError.self) {
      try ReportWriter.write([("report.md", "new"), ("no/such.csv", "new")], into: out)
    }
    #expect(
      try FileManager.default.contentsOfDirectory(atPath: out).sorted() == [
        "report.md", "summary.csv",
      ])
    #expect(try String(contentsOfFile: out + "/report.md", encoding: .utf8) == "old")
    #expect(try FileManager.default.contentsOfDirectory(atPath: dir.path) == ["r"])
  }

  @Test("a folder holding anything hvreplay did not write is not replaced")
  func foreignFolderRefused() throws {
    let dir = TemporaryDirectory()
    let home = dir.file("home")
    try FileManager.default.createDirectory(
      atPath: home + "/photos", withIntermediateDirectories: true)
    FileManager.default.createFile(atPath: home + "/report.md", contents: Data("mine".utf8))
    FileManager.default.createFile(atPath: home + "/thesis.tex", contents: Data("mine".utf8))
    #expect(
      throws: HVReplayError(
        .cannotCreateOutput, file: home,
        "cannot replace: it holds \"photos\", \"thesis.tex\", which hvreplay did not write; remove them or choose another directory"
      )
    ) {
      try ReportWriter.write([("report.md", "x")], into: home)
    }
    #expect(try String(contentsOfFile: home + "/report.md", encoding: .utf8) == "mine")
    #expect(try FileManager.default.contentsOfDirectory(atPath: dir.path) == ["home"])
    let file = dir.write("file", "mine")
    #expect(throws: HVReplayError.self) { try ReportWriter.write([("report.md", "x")], into: file) }
    #expect(throws: HVReplayError.self) { try ReportWriter.write([("report.md", "x")], into: ".") }
    #expect(throws: HVReplayError(.usage, "the report directory is empty; name a directory")) {
      try ReportWriter.write([("report.md", "x")], into: "")
    }
    // An empty folder, and one holding only report files, are replaced.
    let empty = dir.file("empty")
    try FileManager.default.createDirectory(atPath: empty, withIntermediateDirectories: false)
    try ReportWriter.write([("report.md", "x")], into: empty)
    #expect(try FileManager.default.contentsOfDirectory(atPath: empty) == ["report.md"])
  }

  @Test("a symbolic link to a report folder is kept; the folder it points to is replaced")
  func reportFolderThroughLink() throws {
    let dir = TemporaryDirectory()
    try ReportWriter.write([("report.md", "1"), ("cpu.csv", "1")], into: dir.file("real"))
    try FileManager.default.createSymbolicLink(
      atPath: dir.file("link"), withDestinationPath: "real")
    try ReportWriter.write([("report.md", "2")], into: dir.file("link"))
    #expect(try FileManager.default.destinationOfSymbolicLink(atPath: dir.file("link")) == "real")
    #expect(try FileManager.default.contentsOfDirectory(atPath: dir.file("real")) == ["report.md"])
    #expect(try String(contentsOfFile: dir.file("real/report.md"), encoding: .utf8) == "2")
    #expect(
      try FileManager.default.contentsOfDirectory(atPath: dir.path).sorted() == ["link", "real"])
  }

  @Test("concurrent writes into one folder leave one write's files, whole")
  func concurrentReportWrites() throws {
    let dir = TemporaryDirectory()
    let out = dir.file("r")
    let sets: [[(name: String, contents: String)]] = [
      [("report.md", "a"), ("cpu.csv", "a"), ("summary.csv", "a"), ("report.json", "a")],
      [("report.md", "b"), ("histograms.csv", "b"), ("report.json", "b")],
    ]
    for _ in 0..<50 {
      DispatchQueue.concurrentPerform(iterations: 2) { i in
        try! ReportWriter.write(sets[i], into: out)
      }
      let names = try FileManager.default.contentsOfDirectory(atPath: out).sorted()
      let winner = try String(contentsOfFile: out + "/report.md", encoding: .utf8)
      let expected = sets[winner == "a" ? 0 : 1]
      #expect(names == expected.map(\.name).sorted())
      for (name, _) in expected {
        #expect(try String(contentsOfFile: out + "/" + name, encoding: .utf8) == winner)
      }
    }
    #expect(try FileManager.default.contentsOfDirectory(atPath: dir.path) == ["r"])
  }

  @Test("a trace's name never leads a default report folder outside Reports/")
  func traceNames() {
    let cases: [(String, String)] = [
      ("Traces/mixed.hvt.zst", "mixed"), ("-", "stdin"), ("...csv", "trace"), ("..", "trace"),
      (".", "trace"), ("/", "trace"), ("a/..hvt", "trace"), ("x/.csv", "trace"),
      ("dir/", "dir"), ("a/b/..csv.zst", "trace"), ("odd..csv", "odd."),
      // Every trace extension goes (docs/REPORT-FORMAT.md), blktrace's CPU number too.
      ("Tests/sample.blktrace.0", "sample"), ("sample.blkparse.txt.gz", "sample"),
      ("fio/randrw.iolog", "randrw"), ("host.report.txt.zst", "host"),
      ("a.blktrace.x", "a.blktrace.x"),
      ("v1.2.csv", "v1.2"), ("run.7", "run.7"),
    ]
    for (path, name) in cases {
      #expect(TraceIdentity.name(of: path) == name, "\(path)")
      #expect(!TraceIdentity.name(of: path).contains("/"))
    }
  }

  // MARK: Escaping

  @Test("control and bidirectional characters are escaped for a terminal; the rest is kept")
  func terminalEscaping() {
    #expect(
      "a\u{1B}[31mb\n\tc\u{7F}\u{9B}\u{202E}é✓".escapingControlCharacters
        == "a\\u{1B}[31mb\\u{A}\\u{9}c\\u{7F}\\u{9B}\\u{202E}é✓")
    #expect("plain text, ünïcode".escapingControlCharacters == "plain text, ünïcode")
    let error = HVReplayError(
      .badData, file: "t\u{1B}.csv", location: .line(3),
      "column \"op\": found \"\u{1B}]0;owned\u{7}\"")
    #expect(error.description == "t\\u{1B}.csv:3: column \"op\": found \"\\u{1B}]0;owned\\u{7}\"")
  }

  @Test("Markdown and HTML in trace text show literally in report.md")
  func markdownEscaping() {
    #expect(
      MarkdownEscaping.text("a|b <script>*x* _y_ [l](u) `c` #1 $m$ ~s~ & \\ \u{1B}[31m\nz")
        == "a\\|b &lt;script&gt;\\*x\\* \\_y\\_ \\[l\\](u) \\`c\\` \\#1 \\$m\\$ \\~s\\~ &amp; \\\\ \\u{1B}\\[31m\\u{A}z"
    )
    #expect(MarkdownEscaping.text("oltp-small") == "oltp-small")
    #expect(
      MarkdownEscaping.code("hvreplay synth --profile oltp") == "`hvreplay synth --profile oltp`")
    #expect(MarkdownEscaping.code("a `b` c") == "``a `b` c``")
    #expect(MarkdownEscaping.code("x ``y``") == "``` x ``y`` ```")
    #expect(MarkdownEscaping.code("`") == "`` ` ``")
    #expect(MarkdownEscaping.code("<b>\n") == "`<b>\\u{A}`")
    #expect(MarkdownEscaping.code("") == "` `")
  }
}
