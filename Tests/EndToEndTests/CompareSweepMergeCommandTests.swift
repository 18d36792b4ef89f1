import Foundation
import HVReplay
import Testing

@Suite("hvreplay compare, sweep and merge, run as a user would")
struct CompareSweepMergeCommandTests {
  @Test(
    "compare exits 0 on identical reports, 1 on a regression, 65 on unreadable or different ones")
  func compareExitCodes() throws {
    let dir = Scratch()
    let trace = dir.file("o.hvt.zst")
    #expect(
      try HVReplay.run(["synth", "--profile", "oltp", "--events", "3000", "-o", trace]).status == 0)
    #expect(try HVReplay.run(["replay", trace, "--out", dir.file("a")]).status == 0)
    #expect(
      try HVReplay.run(["replay", trace, "--out", dir.file("b"), "--set", "costs.trap_ns=6000"])
        .status == 0)
    let same = try HVReplay.run(["compare", dir.file("a/report.json"), dir.file("a/report.json")])
    #expect(same.status == 0)
    #expect(same.stdout.contains("no regression"))
    let differentModel = try HVReplay.run([
      "compare", dir.file("a/report.json"), dir.file("b/report.json"),
    ])
    #expect(differentModel.status == 65)
    #expect(differentModel.stderr.contains("different models (costs.trap_ns: 4700 -> 6000)"))
    let worse = try HVReplay.run([
      "compare", dir.file("a/report.json"), dir.file("b/report.json"), "--allow-different",
    ])
    #expect(worse.status == 1)
    #expect(worse.stdout.contains("❌"))
    // The closing line counts every figure; --changed-only leaves the unchanged ones out.
    let counts = try #require(worse.stdout.split(separator: "\n").last)
    let numbers = counts.split(separator: " ").compactMap {
      Int(String($0).filter(\.isNumber))
    }
    let tableRows = worse.stdout.split(separator: "\n").filter { $0.hasPrefix("| ") }.count - 1
    #expect(numbers.count == 5 && numbers.reduce(0, +) == tableRows, "\(counts)")
    #expect(
      counts.hasPrefix("\(worse.stdout.components(separatedBy: "| ❌ |").count - 1) regressed, "))
    let changed = try HVReplay.run([
      "compare", dir.file("a/report.json"), dir.file("b/report.json"), "--allow-different",
      "--changed-only",
    ])
    #expect(changed.status == 1)
    let shown = changed.stdout.split(separator: "\n").filter { $0.hasPrefix("| ") }.count - 1
    #expect(shown == numbers[0] + numbers[1] + numbers[2] + numbers[3] && shown < tableRows)
    #expect(changed.stdout.hasSuffix(" unchanged (not shown: --changed-only).\n"))
    #expect(!changed.stdout.contains(" | 0% | "))
    let lenient = try HVReplay.run([
      "compare", dir.file("a/report.json"), dir.file("b/report.json"), "--allow-different",
      "--threshold", "latency_mean_ns=100", "--threshold", "latency_p50_ns=100", "--threshold",
      "latency_p90_ns=100", "--threshold", "latency_p99_ns=100", "--threshold",
      "latency_p999_ns=100",
      "--threshold", "latency_p9999_ns=100", "--threshold", "overhead_cpu_ns=100",
      // On the host timeline dearer traps also cost the guests CPU (and their bursts time).
      "--threshold", "virt_cpu_ns=100", "--threshold", "burst_slowdown=100",
    ])
    #expect(lenient.status == 0, "\(lenient.stdout)")
    let other = dir.file("other.hvt.zst")
    #expect(
      try HVReplay.run([
        "synth", "--profile", "oltp", "--events", "3000", "--seed", "9", "-o", other,
      ]).status == 0)
    #expect(try HVReplay.run(["replay", other, "--out", dir.file("c")]).status == 0)
    let differentTrace = try HVReplay.run([
      "compare", dir.file("a/report.json"), dir.file("c/report.json"),
    ])
    #expect(differentTrace.status == 65)
    #expect(differentTrace.stderr.contains("different traces"))
    try "{\"schema\": 3}".write(toFile: dir.file("bad.json"), atomically: true, encoding: .utf8)
    #expect(
      try HVReplay.run(["compare", dir.file("bad.json"), dir.file("a/report.json")]).status == 65)
    #expect(
      try HVReplay.run(["compare", dir.file("none.json"), dir.file("a/report.json")]).status == 66)
    #expect(
      try HVReplay.run([
        "compare", dir.file("a/report.json"), dir.file("a/report.json"), "--threshold", "bogus=1",
      ]).status == 64)
  }

  /// An oltp trace of `events` events at 20,000 IOPS, synthesised into `dir`.
  static func oltp(events: Int, in dir: Scratch) throws -> String {
    let trace = dir.file("o.hvt.zst")
    let synth = try HVReplay.run([
      "synth", "--profile", "oltp", "--events", String(events), "--iops", "20000", "-o", trace,
    ])
    #expect(synth.status == 0)
    return trace
  }

  @Test("sweep rows equal separate replays with the same settings")
  func sweepMatchesReplays() throws {
    let dir = Scratch()
    let trace = try Self.oltp(events: 4000, in: dir)
    let sweep = try HVReplay.run([
      "sweep", trace, "--set", "para.ring_entries=2,8", "--set", "devices.disk.queue_depth=1,4",
      "--backends", "full,para", "--out", dir.file("s"),
    ])
    #expect(sweep.status == 0, "\(sweep.stderr)")
    let rows = try String(contentsOfFile: dir.file("s/sweep.csv"), encoding: .utf8).split(
      separator: "\n")
    let header = rows[0].split(separator: ",").map(String.init)
    // 4 combinations, each through 4 hosts (full and para under credit and fair).
    #expect(rows.count == 1 + 4 * 4)
    for row in rows.dropFirst() {
      let cells = row.split(separator: ",", omittingEmptySubsequences: false).map(String.init)
      let out = dir.file("r-\(cells[0])-\(cells[1])")
      #expect(
        try HVReplay.run([
          "replay", trace, "--out", out, "--backends", "full,para", "--set",
          "para.ring_entries=\(cells[0])", "--set", "devices.disk.queue_depth=\(cells[1])",
        ]).status == 0)
      let summary = try String(contentsOfFile: out + "/summary.csv", encoding: .utf8)
      for (metric, value) in zip(header.dropFirst(3), cells.dropFirst(3)) where !value.isEmpty {
        #expect(summary.contains("\(cells[2]),all,all,\(metric),\(value),"), "\(metric) \(row)")
      }
    }
    let md = try String(contentsOfFile: dir.file("s/sweep.md"), encoding: .utf8)
    #expect(md.contains("xychart-beta"))
    #expect(md.contains("](sweep.svg)"))
    // sweep.svg: one line per backend and queue depth (4), over ring entries 2 and 8.
    let svg = try String(contentsOfFile: dir.file("s/sweep.svg"), encoding: .utf8)
    #expect(svg.contains("<svg") && svg.contains("latency_p99_ns against para.ring_entries"))
    for backend in ["full/credit", "para/fair"] {
      for depth in [1, 4] {
        #expect(
          svg.contains(">\(backend) devices.disk.queue_depth=\(depth)<"), "\(backend) \(depth)")
      }
    }
    #expect(sweep.stdout.hasPrefix("replayed 4 combinations; wrote "))
    let quiet = try HVReplay.run([
      "sweep", trace, "--set", "para.ring_entries=2,8", "--backends", "para", "--out",
      dir.file("q"), "--quiet",
    ])
    #expect(quiet.status == 0 && quiet.stdout.isEmpty && quiet.stderr.isEmpty)
  }

  // sweep.md divides each design's figure by the baseline's under the same scheduler and
  // settings: recomputed here from sweep.csv's own cells.
  @Test("sweep.md gives each design's figure over the baseline's, --baseline chooses it")
  func sweepBaseline() throws {
    let dir = Scratch()
    let trace = try Self.oltp(events: 3000, in: dir)
    for baseline in ["full", "para"] {
      let out = dir.file("s-\(baseline)")
      let sweep = try HVReplay.run([
        "sweep", trace, "--set", "para.ring_entries=2,32", "--backends", "full,para",
        "--schedulers",
        "credit",
        "--figure", "latency_p99_ns", "--baseline", baseline, "--out", out,
      ])
      #expect(sweep.status == 0, "\(sweep.stderr)")
      let rows = try String(contentsOfFile: out + "/sweep.csv", encoding: .utf8)
        .split(separator: "\n").map {
          $0.split(separator: ",", omittingEmptySubsequences: false).map(String.init)
        }
      let column = rows[0].firstIndex(of: "latency_p99_ns")!
      func p99(_ ring: String, _ backend: String) -> Double {
        Double(rows.first { $0[0] == ring && $0[1] == backend }![column])!
      }
      let other = baseline == "full" ? "para" : "full"
      let md = try String(contentsOfFile: out + "/sweep.md", encoding: .utf8)
      #expect(md.contains("## Against the baseline"))
      #expect(md.contains("over \(baseline)'s under the same scheduler"))
      let line = md.split(separator: "\n").last { $0.hasPrefix("| \(other)/credit | ") }
      let cells = line.map { $0.split(separator: "|").dropFirst().map { Double($0.trimmed) } }
      #expect(cells?.count == 2, "\(md)")
      for (i, ring) in ["2", "32"].enumerated() where cells?.count == 2 {
        let expected = p99(ring, "\(other)/credit") / p99(ring, "\(baseline)/credit")
        // Three significant digits.
        #expect(abs(cells![i]! - expected) <= expected * 0.005, "\(ring): \(md)")
      }
    }
    let bad = try HVReplay.run([
      "sweep", trace, "--set", "para.ring_entries=2,32", "--baseline", "bare", "--out",
      dir.file("bad"),
    ])
    #expect(bad.status == 64 && bad.stderr.contains("--baseline"))
  }

  // A sweep over a key of the new designs: vhost's busy polling saves kicks on net-rpc
  // (the guest's interrupts are another matter: a faster backend can find its handler
  // asleep more often).
  @Test("sweep over vhost.poll_ns: longer polls save more kicks")
  func sweepPolling() throws {
    let dir = Scratch()
    let trace = HVReplay.repositoryRoot.appendingPathComponent("Traces/net-rpc.hvt.zst").path
    let sweep = try HVReplay.run([
      "sweep", trace, "--set", "vhost.poll_ns=0,5000,50000", "--backends", "vhost",
      "--schedulers", "credit", "--figure", "traps", "--out", dir.file("s"),
    ])
    #expect(sweep.status == 0, "\(sweep.stderr)")
    let rows = try String(contentsOfFile: dir.file("s/sweep.csv"), encoding: .utf8)
      .split(separator: "\n").map { $0.split(separator: ",", omittingEmptySubsequences: false) }
    let column = rows[0].firstIndex(of: "traps")!
    let kicks = rows.dropFirst().map { UInt64($0[column])! }
    #expect(kicks.count == 3)
    #expect(kicks[0] > kicks[1] && kicks[1] > kicks[2])
  }

  @Test("merge writes a report folder whose figures equal the whole trace's")
  func mergeCommand() throws {
    let dir = Scratch()
    let whole = dir.file("whole.csv")
    #expect(
      try HVReplay.run([
        "synth", "--profile", "net-rpc", "--vms", "4", "--events", "8000", "-o", whole,
      ]).status == 0)
    let text = try String(contentsOfFile: whole, encoding: .utf8).split(
      separator: "\n", omittingEmptySubsequences: false)
    for (name, keep) in [("a", ["1", "2"]), ("b", ["3", "4"])] {
      let shard = text.enumerated().filter { i, line in
        let f = line.split(separator: ",")
        return i == 0 || f.count < 9 || keep.contains(String(f[1]))
      }.map(\.element)
      try shard.joined(separator: "\n").write(
        toFile: dir.file("\(name).csv"), atomically: true, encoding: .utf8)
      #expect(
        try HVReplay.run([
          "replay", dir.file("\(name).csv"), "--out", dir.file(name), "--set", "cpu.coupled=false",
        ]).status == 0)
    }
    // Shards replayed apart equal the whole only where VMs do not share CPUs: uncoupled (on
    // one host timeline the whole trace's VMs compete for the same pCPUs).
    #expect(
      try HVReplay.run([
        "replay", whole, "--out", dir.file("whole"), "--set", "cpu.coupled=false",
      ]).status == 0)
    let merged = try HVReplay.run([
      "merge", dir.file("a/report.json"), dir.file("b/report.json"), "-o", dir.file("m"),
    ])
    #expect(merged.status == 0, "\(merged.stderr)")
    for file in ["summary.csv", "histograms.csv", "occupancy.csv"] {
      #expect(
        FileManager.default.contents(atPath: dir.file("m/\(file)"))
          == FileManager.default.contents(atPath: dir.file("whole/\(file)")), "\(file)")
    }
    #expect(FileManager.default.fileExists(atPath: dir.file("m/report.md")))
  }
}

extension Substring {
  /// Without the spaces around it.
  fileprivate var trimmed: String {
    String(drop { $0 == " " }.reversed().drop { $0 == " " }.reversed())
  }
}
