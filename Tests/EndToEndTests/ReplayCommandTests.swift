import Foundation
import HVReplay
import Testing

@Suite("hvreplay replay and model, run as a user would")
struct ReplayCommandTests {
  @Test("a trace path alone replays it and writes the reports into Reports/<name>/")
  func defaultCommand() throws {
    let dir = Scratch()
    let trace = dir.file("rpc.hvt.zst")
    #expect(
      try HVReplay.run(["synth", "--profile", "net-rpc", "--events", "2000", "-o", trace]).status
        == 0)
    let result = try HVReplay.run([trace], in: dir.path)
    #expect(result.status == 0, "\(result.stderr)")
    // Each design under each scheduler is one host; the verdict compares each with the
    // baseline (native, replayed by default) under the same scheduler.
    #expect(result.stdout.hasPrefix("full/credit vs native/credit: "))
    #expect(result.stdout.contains("; para/fair vs native/fair: "))
    #expect(result.stdout.contains("; passthrough/fair vs native/fair: "))
    #expect(
      result.stdout.contains(
        "wrote Reports/rpc/report.md, Reports/rpc/summary.csv, Reports/rpc/cpu.csv, "
          + "Reports/rpc/histograms.csv, "
          + "Reports/rpc/latency-cdf.svg, Reports/rpc/occupancy.csv, Reports/rpc/ring-occupancy.svg, "
          + "Reports/rpc/timeseries.csv, Reports/rpc/timeseries.svg and Reports/rpc/report.json"))
    let csv = try String(contentsOfFile: dir.file("Reports/rpc/summary.csv"), encoding: .utf8)
    #expect(csv.hasPrefix("backend,vm,device,metric,value,unit\n"))
    for design in BackendKind.allCases {
      for scheduler in ["credit", "fair"] {
        let host = "\(design)/\(scheduler)"
        #expect(csv.contains("\(host),all,all,requests,2000,count\n"), "\(host)")
      }
    }
    for metric in [
      "requests", "traps", "hypercalls", "interrupts", "notifications_sent",
      "notifications_suppressed",
      "bytes_copied", "copies_avoided", "bytes_copy_avoided", "ring_full_stalls", "ring_full_ns",
      "ring_occupancy_mean", "ring_occupancy_max", "latency_mean_ns", "latency_p50_ns",
      "latency_p90_ns",
      "latency_p99_ns", "latency_p999_ns", "latency_p9999_ns", "latency_max_ns", "iops",
      "bytes_per_s",
      "overhead_cpu_ns",
    ] {
      #expect(csv.contains("para/credit,all,all,\(metric),"), "\(metric)")
      #expect(csv.contains("para/credit,1,net0,\(metric),"), "\(metric)")
    }
    let md = try String(contentsOfFile: dir.file("Reports/rpc/report.md"), encoding: .utf8)
    #expect(md.contains("**Verdict**: full/credit vs native/credit: "))
    #expect(md.contains("| `para.ring_entries` | 32 entries |"))

    // The same trace and options give byte-identical reports.
    #expect(try HVReplay.run(["replay", trace, "--out", dir.file("again"), "--quiet"]).status == 0)
    #expect(
      FileManager.default.contents(atPath: dir.file("again/summary.csv"))
        == FileManager.default.contents(atPath: dir.file("Reports/rpc/summary.csv")))
    #expect(
      FileManager.default.contents(atPath: dir.file("again/report.md"))
        == FileManager.default.contents(atPath: dir.file("Reports/rpc/report.md")))
  }

  @Test("--backends selects, --set and --model change the model, and the report says so")
  func modelOptions() throws {
    let dir = Scratch()
    let trace = dir.file("o.csv")
    #expect(
      try HVReplay.run(["synth", "--profile", "oltp", "--events", "500", "-o", trace]).status == 0)
    let model = dir.file("m.json")
    try #"{"costs": {"trap_ns": 1000}, "para": {"notify_suppression": false}}"#
      .write(toFile: model, atomically: true, encoding: .utf8)
    let result = try HVReplay.run([
      "replay", trace, "--out", dir.file("r"), "--backends", "para", "--model", model, "--set",
      "para.ring_entries=64",
    ])
    #expect(result.status == 0, "\(result.stderr)")
    let csv = try String(contentsOfFile: dir.file("r/summary.csv"), encoding: .utf8)
    #expect(!csv.contains("\nfull/"))
    let md = try String(contentsOfFile: dir.file("r/report.md"), encoding: .utf8)
    #expect(md.contains("| `para.ring_entries` | 64 entries * |"))
    #expect(md.contains("| `costs.trap_ns` | 1000 ns * |"))
    #expect(md.contains("| `para.notify_suppression` | false * |"))
    // Suppression off: every push notifies.
    #expect(csv.contains("para/credit,all,all,notifications_suppressed,0,count"))
  }

  // The mixed sample through native beside full and para: native is the baseline unless
  // --baseline says otherwise, and its host spends no CPU on virtualization.
  @Test("--backends native,full,para replays bare metal beside both designs")
  func nativeBeside() throws {
    let dir = Scratch()
    let mixed = HVReplay.repositoryRoot.appendingPathComponent("Traces/mixed.hvt.zst").path
    for (baseline, head) in [
      (nil, "full/credit vs native/credit: "), ("full", "native/credit vs full/credit: "),
    ] {
      let out = dir.file("r-\(baseline ?? "default")")
      let result = try HVReplay.run(
        ["replay", mixed, "--out", out, "--backends", "native,full,para", "--schedulers", "credit"]
          + (baseline.map { ["--baseline", $0] } ?? []))
      #expect(result.status == 0, "\(result.stderr)")
      #expect(result.stdout.hasPrefix(head), "\(result.stdout)")
      let cpu = try String(contentsOfFile: out + "/cpu.csv", encoding: .utf8)
      #expect(cpu.contains("native/credit,all,virt_cpu_ns,0,ns"))
      let summary = try String(contentsOfFile: out + "/summary.csv", encoding: .utf8)
      #expect(summary.contains("native/credit,all,all,traps,0,count"))
      #expect(!summary.contains("native/credit,all,all,ring_full_stalls"))
    }
  }

  // Issue 12's "done when": all six designs side by side in one report of the mixed sample.
  @Test("the mixed sample through all six designs writes one report with all of them")
  func sixDesigns() throws {
    let dir = Scratch()
    let mixed = HVReplay.repositoryRoot.appendingPathComponent("Traces/mixed.hvt.zst").path
    let result = try HVReplay.run([
      "replay", mixed, "--out", dir.file("r"), "--backends",
      "native,full,para,virtio,vhost,passthrough", "--quiet",
    ])
    #expect(result.status == 0, "\(result.stderr)")
    let md = try String(contentsOfFile: dir.file("r/report.md"), encoding: .utf8)
    let summary = try String(contentsOfFile: dir.file("r/summary.csv"), encoding: .utf8)
    for design in ["native", "full", "para", "virtio", "vhost", "passthrough"] {
      for scheduler in ["credit", "fair"] {
        #expect(md.contains("| \(design)/\(scheduler) | "), "\(design)/\(scheduler)")
        #expect(summary.contains("\n\(design)/\(scheduler),all,all,exits,"))
      }
    }
    #expect(md.contains("## Exits by reason"))
    // The verdict compares each with native, the default baseline when replayed.
    #expect(result.stdout.hasPrefix("full/credit vs native/credit: "))
  }

  @Test("hvreplay model prints JSON that reads back as the same model")
  func modelCommand() throws {
    let dir = Scratch()
    let printed = try HVReplay.run(["model", "--set", "costs.trap_ns=1234"])
    #expect(printed.status == 0)
    let object = try JSONSerialization.jsonObject(with: Data(printed.stdout.utf8)) as! [String: Any]
    #expect((object["costs"] as! [String: Any])["trap_ns"] as? Int == 1234)
    #expect((object["para"] as! [String: Any])["ring_entries"] as? Int == 32)
    try printed.stdout.write(toFile: dir.file("m.json"), atomically: true, encoding: .utf8)
    let again = try HVReplay.run(["model", "--model", dir.file("m.json")])
    #expect(again.stdout == printed.stdout)
  }

  @Test("bad model input: unknown key or bad value 64 on the command line, 65 in a file")
  func badModel() throws {
    let dir = Scratch()
    let unknown = try HVReplay.run(["model", "--set", "costs.trap=5"])
    #expect(unknown.status == 64)
    #expect(unknown.stderr.contains("unknown model key \"costs.trap\""))
    let range = try HVReplay.run(["model", "--set", "para.ring_entries=48"])
    #expect(range.status == 64)
    #expect(range.stderr.contains("must be a power of two"))
    let file = dir.file("bad.json")
    try "{\n  \"costs\": {\"trap_ns\": -3}\n}".write(
      toFile: file, atomically: true, encoding: .utf8)
    let bad = try HVReplay.run(["model", "--model", file])
    #expect(bad.status == 65)
    #expect(bad.stderr.contains("costs.trap_ns must be a whole number"))
    try "{\n  \"costs\": {\"trap_ns\": 3,}\n}".write(
      toFile: file, atomically: true, encoding: .utf8)
    let syntax = try HVReplay.run(["model", "--model", file])
    #expect(syntax.status == 65)
    #expect(syntax.stderr.contains("bad.json:2: invalid JSON"))
    #expect(try HVReplay.run(["model", "--model", dir.file("none.json")]).status == 66)
    #expect(try HVReplay.run(["replay", "x.csv", "--backends", "full,bogus"]).status == 64)
  }

  @Test("a failed replay writes no report and keeps the previous one")
  func failedReplayKeepsReports() throws {
    let dir = Scratch()
    let trace = dir.file("t.csv")
    #expect(
      try HVReplay.run(["synth", "--profile", "oltp", "--events", "300", "-o", trace]).status == 0)
    #expect(try HVReplay.run(["replay", trace, "--out", dir.file("r")]).status == 0)
    let before = FileManager.default.contents(atPath: dir.file("r/summary.csv"))
    var text = try String(contentsOfFile: trace, encoding: .utf8)
    text += "99999999999,1,0,disk,read,0,0,4096,x\n"
    try text.write(toFile: trace, atomically: true, encoding: .utf8)
    let failed = try HVReplay.run(["replay", trace, "--out", dir.file("r")])
    #expect(failed.status == 65)
    #expect(FileManager.default.contents(atPath: dir.file("r/summary.csv")) == before)
    #expect(
      try FileManager.default.contentsOfDirectory(atPath: dir.file("r")).sorted() == [
        "cpu.csv", "histograms.csv", "latency-cdf.svg", "occupancy.csv", "report.json",
        "report.md", "ring-occupancy.svg", "summary.csv", "timeseries.csv", "timeseries.svg",
      ])
  }
}

@Suite("hvreplay replay's CPU schedulers, run as a user would")
struct CPUCommandTests {
  @Test("cpu.csv has exactly its columns and metrics; tick-driven credit falls to tick evasion")
  func cpuReport() throws {
    let dir = Scratch()
    let trace = dir.file("te.hvt.zst")
    #expect(
      try HVReplay.run([
        "synth", "--profile", "tick-evasion", "--vms", "3", "--duration", "5s", "-o", trace,
      ]).status == 0)
    let result = try HVReplay.run([
      "replay", trace, "--out", dir.file("r"), "--set", "cpu.pcpus=1", "--set",
      "cpu.accounting=tick",
      // The synthetic 5 s of contention only, not the honest guests' backlog run out after it.
      "--schedulers", "credit", "--horizon", "5s",
    ])
    #expect(result.status == 0, "\(result.stderr)")
    #expect(result.stdout.hasPrefix("cpu: credit: Jain's index"))
    let csv = try String(contentsOfFile: dir.file("r/cpu.csv"), encoding: .utf8)
    let lines = csv.split(separator: "\n")
    #expect(lines[0] == "scheduler,vm,metric,value,unit")
    #expect(
      lines.dropFirst().allSatisfy {
        $0.split(separator: ",").count == 5 && $0.hasPrefix("credit,")
      })
    for metric in [
      "demand_ns", "cpu_ns", "share", "entitled_share", "wait_p50_ns", "wait_p99_ns",
      "billed_exact_ns",
      "billed_tick_ns", "billing_error_pct", "billing_ticks", "context_switches",
    ] {
      #expect(csv.contains("credit,1,\(metric),"), "\(metric)")
      #expect(csv.contains("credit,all,\(metric),"), "\(metric)")
    }
    #expect(csv.contains("credit,all,jain_index,"))
    let share = lines.first { $0.hasPrefix("credit,1,share,") }!.split(separator: ",")[3]
    #expect(Double(share)! > 0.9)
    let md = try String(contentsOfFile: dir.file("r/report.md"), encoding: .utf8)
    #expect(md.contains("## CPU"))
    #expect(md.contains("```mermaid\nxychart-beta"))
    let json =
      try JSONSerialization.jsonObject(
        with: FileManager.default.contents(atPath: dir.file("r/report.json"))!) as! [String: Any]
    let schedulers = json["schedulers"] as! [[String: Any]]
    #expect(schedulers.map { $0["name"] as! String } == ["credit"])
  }

  @Test("--horizon ends the CPU window early; the backlog is unserved, not drained")
  func horizon() throws {
    let dir = Scratch()
    let trace = dir.file("c.csv")
    #expect(
      try HVReplay.run([
        "synth", "--profile", "cpu-contention", "--vms", "2", "--vcpus", "1", "--duration", "4s",
        "-o", trace,
      ]).status == 0)
    let result = try HVReplay.run([
      "replay", trace, "--out", dir.file("r"), "--horizon", "2s", "--set", "cpu.pcpus=1",
    ])
    #expect(result.status == 0, "\(result.stderr)")
    let csv = try String(contentsOfFile: dir.file("r/cpu.csv"), encoding: .utf8)
    func value(_ prefix: String) -> Double {
      Double(csv.split(separator: "\n").first { $0.hasPrefix(prefix) }!.split(separator: ",")[3])!
    }
    #expect(value("fair,all,window_ns,") == 2e9)
    // One pCPU, fully busy for the window: cpu time is the capacity less switching.
    #expect(value("fair,all,cpu_ns,") + value("fair,all,switching_ns,") == 2e9)
    #expect(value("fair,all,unserved_ns,") > 0)
    #expect(
      value("fair,all,demand_ns,") == value("fair,all,cpu_ns,") + value("fair,all,unserved_ns,"))
  }
}

@Suite("Replay modes, run as a user would")
struct ReplayModeCommandTests {
  static let fio = ImportCommandTests.fixtures + "/fio/randrw.iolog"

  /// The `all,all` value of `metric` for `backend` in a summary.csv.
  static func total(_ csv: String, _ backend: String, _ metric: String) -> Double? {
    let prefix = "\(backend),all,all,\(metric),"
    guard let line = csv.split(separator: "\n").first(where: { $0.hasPrefix(prefix) }) else {
      return nil
    }
    return Double(line.dropFirst(prefix.count).split(separator: ",")[0])
  }

  @Test("a real fio log replays closed loop by default; --loop open replays it open")
  func fioClosedByDefault() throws {
    let dir = Scratch()
    let closed = try HVReplay.run(["replay", Self.fio, "--out", dir.file("c"), "--quiet"])
    #expect(closed.status == 0, "\(closed.stderr)")
    #expect(closed.stdout.contains("finishes the workload"))
    let md = try String(contentsOfFile: dir.file("c/report.md"), encoding: .utf8)
    #expect(md.contains("closed loop (docs/MODEL.md, closed-loop replay) over 1 stream"))
    #expect(md.contains("replay.depth = 1"))
    let c = try String(contentsOfFile: dir.file("c/summary.csv"), encoding: .utf8)
    // psync at depth 1: each request is alone on the device, so its latency is the
    // model's service time plus the design's overhead, never a queue's.
    #expect(Self.total(c, "full/credit", "slowdown")! > 1)
    #expect(Self.total(c, "full/credit", "iops")! < Self.total(c, "full/credit", "offered_iops")!)

    let open = try HVReplay.run([
      "replay", Self.fio, "--out", dir.file("o"), "--quiet", "--loop", "open",
    ])
    #expect(open.status == 0, "\(open.stderr)")
    #expect(!open.stdout.contains("finishes the workload"))
    let o = try String(contentsOfFile: dir.file("o/summary.csv"), encoding: .utf8)
    #expect(Self.total(o, "full/credit", "slowdown") == nil)
    #expect(
      Self.total(o, "full/credit", "offered_iops") == Self.total(c, "full/credit", "offered_iops"))
    // Open loop, full virtualization's requests queue behind each other: a higher mean.
    #expect(
      Self.total(o, "full/credit", "latency_mean_ns")! > Self.total(
        c, "full/credit", "latency_mean_ns")!)
    let omd = try String(contentsOfFile: dir.file("o/report.md"), encoding: .utf8)
    #expect(omd.contains("open loop: every request at its recorded time"))
  }

  @Test("synthetic traces say they are open loop; --time-scale and bad values")
  func synthOpenAndOptions() throws {
    let dir = Scratch()
    let trace = dir.file("o.csv")
    #expect(
      try HVReplay.run(["synth", "--profile", "oltp", "--events", "300", "-o", trace]).status == 0)
    let r = try HVReplay.run(["replay", trace, "--out", dir.file("r"), "--quiet"])
    #expect(r.status == 0, "\(r.stderr)")
    let md = try String(contentsOfFile: dir.file("r/report.md"), encoding: .utf8)
    #expect(md.contains("open loop: every request at its recorded time"))
    let fast = try HVReplay.run([
      "replay", trace, "--out", dir.file("f"), "--quiet", "--time-scale", "2",
    ])
    #expect(fast.status == 0, "\(fast.stderr)")
    let a = try String(contentsOfFile: dir.file("r/summary.csv"), encoding: .utf8)
    let b = try String(contentsOfFile: dir.file("f/summary.csv"), encoding: .utf8)
    // Twice the rate: the offered rate doubles, give or take the last service time.
    let ratio =
      ReplayModeCommandTests.total(b, "full/credit", "offered_iops")!
      / ReplayModeCommandTests.total(a, "full/credit", "offered_iops")!
    #expect(ratio > 1.9 && ratio < 2.1, "\(ratio)")
    #expect(
      try String(contentsOfFile: dir.file("f/report.md"), encoding: .utf8)
        .contains("at 2x the recorded rate"))
    for bad in [["--time-scale", "0"], ["--time-scale", "fast"], ["--depth", "0"]] {
      let e = try HVReplay.run(["replay", trace, "--out", dir.file("x"), "--quiet"] + bad)
      #expect(e.status == 64, "\(bad)")
      #expect(e.stderr.contains(bad[0]), "\(e.stderr)")
    }
  }
}
