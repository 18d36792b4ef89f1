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
    #expect(csv.contains("all,all,pio:0x1f7:POUT,count,500,exits\n"))
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
