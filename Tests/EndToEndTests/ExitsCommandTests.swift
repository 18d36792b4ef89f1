import Foundation
import Testing

@Suite("hvreplay exits and calibrate, run as a user would")
struct ExitsCommandTests {
  /// A trace-cmd report of one vCPU thread: port writes handled in QEMU (4.7 us) and
  /// kicks handled in the kernel (0.4 us), alternating every 10 us.
  static func recording(_ n: Int, ioNs: UInt64 = 5_000) -> String {
    var text = "cpus=1\n"
    var t: UInt64 = 5_000_000_000
    func st(_ ns: UInt64) -> String {
      let f = String(ns % 1_000_000_000 / 1_000)
      return "\(ns / 1_000_000_000).\(String(repeating: "0", count: 6 - f.count))\(f)"
    }
    let p = "    CPU 0/KVM-4242  [001]"
    for i in 0..<n {
      let io = i % 2 == 0
      text +=
        "\(p) \(st(t / 1000 * 1000)): kvm_exit:             vcpu 0 reason \(io ? "IO_INSTRUCTION" : "EPT_MISCONFIG") rip 0x1 info1 0x0 info2 0x0 intr_info 0x0 error_code 0x0\n"
      if io {
        text +=
          "\(p) \(st(t / 1000 * 1000 + 1000)): kvm_pio:              pio_write at 0x1f7 size 1 count 1 val 0x20\n"
        text += "\(p) \(st(t / 1000 * 1000 + 2000)): kvm_userspace_exit:   reason KVM_EXIT_IO (2)\n"
      }
      let d: UInt64 = io ? ioNs : 1_000
      text += "\(p) \(st(t / 1000 * 1000 + d)): kvm_entry:            vcpu 0, rip 0x1\n"
      t += 10_000
    }
    return text
  }

  @Test("the README's two commands: an exits report, then a calibrated model a replay marks")
  func readmeFlow() throws {
    let dir = Scratch()
    try Self.recording(1_000).write(toFile: dir.file("host.txt"), atomically: true, encoding: .utf8)
    let r = try HVReplay.run(["exits", "host.txt", "--interval", "1ms"], in: dir.path)
    #expect(r.status == 0, "\(r.stderr)")
    #expect(r.stdout.hasPrefix("exits: 1000 (2 reasons)"))
    for name in ["exits.md", "exits.csv", "exits.json", "exits-timeseries.csv", "exits.svg"] {
      #expect(FileManager.default.fileExists(atPath: dir.file("Reports/host-exits/\(name)")))
    }
    let csv = try String(contentsOfFile: dir.file("Reports/host-exits/exits.csv"), encoding: .utf8)
    #expect(csv.contains("all,all,IO_INSTRUCTION,count,500,exits\n"))
    #expect(csv.contains("all,all,IO_INSTRUCTION,p50,5000,ns\n"))
    #expect(csv.contains("all,userspace,IO_INSTRUCTION,count,500,exits\n"))
    #expect(csv.contains("all,all,pio:0x1f7:POUT,count,500,accesses\n"))
    #expect(csv.contains("all,kvm_userspace_exit,KVM_EXIT_IO,count,500,returns\n"))
    // 1 ms intervals of 100 exits each.
    let series = try String(
      contentsOfFile: dir.file("Reports/host-exits/exits-timeseries.csv"), encoding: .utf8)
    #expect(series.contains("all,EPT_MISCONFIG,1000000,count,50,exits\n"))
    let c = try HVReplay.run(["calibrate", "host.txt", "-o", "model.json"], in: dir.path)
    #expect(c.status == 0, "\(c.stderr)")
    #expect(
      c.stdout.contains(
        "costs.trap_ns = 5000 ns: median of 500 IO_INSTRUCTION exits handled in userspace"))
    #expect(c.stdout.contains("virtio.kick_ns = 1000 ns"))
    let replay = try HVReplay.run(
      [
        "replay", HVReplay.repositoryRoot.appendingPathComponent("Traces/oltp.hvt.zst").path,
        "--model", "model.json", "--backends", "full,virtio", "--out", "r", "--quiet",
      ], in: dir.path)
    #expect(replay.status == 0, "\(replay.stderr)")
    let md = try String(contentsOfFile: dir.file("r/report.md"), encoding: .utf8)
    #expect(md.contains("| `costs.trap_ns` | 5000 ns * † |"))
  }

  @Test("calibrate --io: traps per request from the IDE port writes and the I/O trace's requests")
  func trapsPerRequest() throws {
    let dir = Scratch()
    try Self.recording(1_000).write(toFile: dir.file("host.txt"), atomically: true, encoding: .utf8)
    var io = "time_ns,vm,vcpu,kind,op,device,offset,bytes,service_ns\n"
    for i in 0..<250 { io += "\(i * 40_000),1,0,disk,write,0,\(i * 8),4096,20000\n" }
    try io.write(toFile: dir.file("io.csv"), atomically: true, encoding: .utf8)
    let c = try HVReplay.run(
      ["calibrate", "host.txt", "--io", "io.csv", "-o", "model.json"], in: dir.path)
    #expect(c.status == 0, "\(c.stderr)")
    // 500 writes of port 0x1f7 (an IDE command register) per 250 requests.
    #expect(
      c.stdout.contains(
        "full.disk.submit_traps = 2 traps: 500 register writes of pio:0x1f0-0x1f7,pio:0x3f6,pio:0x170-0x177,pio:0x376 in host.txt per 250 requests in the I/O trace io.csv = 2.000, rounded\n"
      ))
    #expect(c.stdout.contains("full.disk.completion_traps = 0 traps: 0 register reads"))
    let replay = try HVReplay.run(
      ["replay", "io.csv", "--model", "model.json", "--backends", "full", "--out", "r", "--quiet"],
      in: dir.path)
    #expect(replay.status == 0, "\(replay.stderr)")
    let md = try String(contentsOfFile: dir.file("r/report.md"), encoding: .utf8)
    #expect(md.contains("| `full.disk.submit_traps` | 2 traps * † |"))
    let both = try HVReplay.run(
      ["calibrate", "host.txt", "--io", "io.csv", "--requests", "disk=1", "-o", "m.json"],
      in: dir.path)
    #expect(both.status == 64)
    let badRange = try HVReplay.run(
      [
        "calibrate", "host.txt", "--requests", "disk=1", "--net-registers", "0xfebc0000", "-o",
        "m.json",
      ],
      in: dir.path)
    #expect(badRange.status == 64 && badRange.stderr.contains("--net-registers takes pio:LOW-HIGH"))
    let alone = try HVReplay.run(
      ["calibrate", "host.txt", "--disk-registers", "pio:0x1f0", "-o", "m.json"], in: dir.path)
    #expect(
      alone.status == 64 && alone.stderr.contains("--disk-registers needs --io or --requests"))
    let kvmAsIO = try HVReplay.run(
      ["calibrate", "host.txt", "--io", "host.txt", "-o", "m.json"], in: dir.path)
    #expect(kvmAsIO.status == 65 && kvmAsIO.stderr.contains("a KVM recording, not an I/O trace"))
  }

  @Test(
    "merge: two hosts' exits.json into one exit report; a replay's report.json is refused beside them"
  )
  func mergeExits() throws {
    let dir = Scratch()
    try Self.recording(200).write(toFile: dir.file("h1.txt"), atomically: true, encoding: .utf8)
    try Self.recording(100, ioNs: 6_000).write(
      toFile: dir.file("h2.txt"), atomically: true, encoding: .utf8)
    for name in ["h1", "h2"] {
      let r = try HVReplay.run(["exits", "\(name).txt", "--out", name, "--quiet"], in: dir.path)
      #expect(r.status == 0, "\(r.stderr)")
    }
    let m = try HVReplay.run(
      ["merge", "h1/exits.json", "h2/exits.json", "-o", "fleet"], in: dir.path)
    #expect(m.status == 0, "\(m.stderr)")
    // 300 exits over the longer span: 199 gaps of 10 us and a last 1 us exit, 1.991 ms.
    #expect(m.stdout.hasPrefix("exits: 300 (2 reasons), 150678.1 per s;"))
    #expect(m.stdout.hasSuffix("\nmerged 2 exit reports into fleet\n"))
    let csv = try String(contentsOfFile: dir.file("fleet/exits.csv"), encoding: .utf8)
    // 100 + 50 port writes, 5 us and 6 us: the mean of the 150.
    #expect(csv.contains("all,all,IO_INSTRUCTION,count,150,exits\n"))
    #expect(csv.contains("all,all,IO_INSTRUCTION,mean,5333.3,ns\n"))
    #expect(csv.contains("h2:CPU 0/KVM (tid 4242),all,IO_INSTRUCTION,count,50,exits\n"))
    let same = try HVReplay.run(["compare", "fleet/exits.json", "fleet/exits.json"], in: dir.path)
    #expect(same.status == 0, "\(same.stderr)")
    let replay = HVReplay.repositoryRoot.path + "/Reports/mixed/report.json"
    let twice = try HVReplay.run(
      ["merge", "h1/exits.json", "./h1/exits.json", "-o", "x"], in: dir.path)
    #expect(twice.status == 64 && twice.stderr.contains("./h1/exits.json is h1/exits.json again"))
    let mixed = try HVReplay.run(["merge", "h1/exits.json", replay, "-o", "x"], in: dir.path)
    #expect(mixed.status == 65)
    #expect(
      mixed.stderr.contains(
        "report.json: a replay's report.json cannot be merged with exits.json files"))
    #expect(!FileManager.default.fileExists(atPath: dir.file("x")))
  }

  @Test("a real trace-cmd report without kvm_exit: accesses and returns; calibrate says why not")
  func realRecordingWithoutExits() throws {
    let dir = Scratch()
    let file = HVReplay.repositoryRoot.path + "/Tests/Fixtures/kvm-pvm/trace-cmd-report.txt.zst"
    let r = try HVReplay.run(["exits", file, "--out", "e"], in: dir.path)
    #expect(r.status == 0, "\(r.stderr)")
    #expect(r.stdout.hasPrefix("exits: none; 2400 accesses; 2402 returns to userspace\n"))
    let md = try String(contentsOfFile: dir.file("e/exits.md"), encoding: .utf8)
    #expect(md.contains("| pio:0x3f8:POUT | 1200 |"))
    let c = try HVReplay.run(["calibrate", file, "-o", "model.json"], in: dir.path)
    #expect(c.status == 65)
    #expect(c.stderr.contains("trace-cmd-report.txt.zst: no exit durations to calibrate from"))
    #expect(!FileManager.default.fileExists(atPath: dir.file("model.json")))
  }

  @Test("bad recordings: one message with the line and exit 65; a replay points at exits")
  func badRecordings() throws {
    let dir = Scratch()
    try "cpus=1\n garbage here\n".write(
      toFile: dir.file("bad.txt"), atomically: true, encoding: .utf8)
    let r = try HVReplay.run(["exits", "bad.txt"], in: dir.path)
    #expect(r.status == 65)
    #expect(r.stderr.hasPrefix("hvreplay: bad.txt:2: expected an event line"))
    #expect(!FileManager.default.fileExists(atPath: dir.file("Reports")))
    try Self.recording(4).write(toFile: dir.file("k.txt"), atomically: true, encoding: .utf8)
    let replay = try HVReplay.run(["replay", "k.txt"], in: dir.path)
    #expect(replay.status == 65)
    #expect(replay.stderr.contains("read it with `hvreplay exits k.txt`"))
    let missing = try HVReplay.run(["exits", "nope.txt"], in: dir.path)
    #expect(missing.status == 66)
    let usage = try HVReplay.run(["exits", "k.txt", "--interval", "0"], in: dir.path)
    #expect(usage.status == 64)
  }

  @Test("compare gates on two exits.json: longer exits regress (exit 1), the same report does not")
  func compareExits() throws {
    let dir = Scratch()
    try Self.recording(200).write(toFile: dir.file("a.txt"), atomically: true, encoding: .utf8)
    try Self.recording(200, ioNs: 6_000).write(
      toFile: dir.file("b.txt"), atomically: true, encoding: .utf8)
    for name in ["a", "b"] {
      let r = try HVReplay.run(["exits", "\(name).txt", "--out", name, "--quiet"], in: dir.path)
      #expect(r.status == 0, "\(r.stderr)")
    }
    let same = try HVReplay.run(["compare", "a/exits.json", "a/exits.json"], in: dir.path)
    #expect(same.status == 0)
    #expect(same.stdout.contains("no regression"))
    let slower = try HVReplay.run(["compare", "a/exits.json", "b/exits.json"], in: dir.path)
    #expect(slower.status == 1)
    // IO_INSTRUCTION's median went from 5 us to 6 us: +20%, beyond p50's 5%.
    #expect(
      slower.stdout.contains(
        "| ❌ | exits | all | all IO_INSTRUCTION | exits.p50 | 5000 | 6000 | +20.00% | 5.0% |"))
    // EPT_MISCONFIG did not change.
    #expect(!slower.stdout.contains("| ❌ | exits | all | all EPT_MISCONFIG |"))
    let loose = try HVReplay.run(
      [
        "compare", "a/exits.json", "b/exits.json", "--threshold", "exits.p50=25", "--threshold",
        "exits.p90=25",
        "--threshold", "exits.p99=25", "--threshold", "exits.p99.9=25", "--threshold",
        "exits.max=25",
        "--threshold", "exits.mean=25", "--threshold", "exits.total=25",
      ], in: dir.path)
    #expect(loose.status == 0, "\(loose.stdout)")
  }
}
