import Foundation
import Testing

@Suite("CPU figures honest about their sample, run as a user would")
struct CPUHonestFiguresCommandTests {
  static let ftrace = ImportCommandTests.fixtures + "/ftrace-android/trace-android-sched"

  @Test("an ftrace recording's #P:4 sets cpu.pcpus unless --set does; report.md says which")
  func pcpusFromTheHeader() throws {
    let dir = Scratch()
    let run = try HVReplay.run([
      "replay", Self.ftrace, "--out", dir.file("r"), "--quiet", "--backends", "para",
    ])
    #expect(run.status == 0, "\(run.stderr)")
    #expect(run.stderr.contains("hvreplay: import: cpu.pcpus = 4 from the header's #P:4"))
    let md = try String(contentsOfFile: dir.file("r/report.md"), encoding: .utf8)
    #expect(
      md.contains(
        "4 pCPUs (stated by the trace: its metadata's model.cpu.pcpus, from ftrace's #P: header)"))
    let json = try String(contentsOfFile: dir.file("r/report.json"), encoding: .utf8)
    #expect(json.contains("\"pcpus_source\": \"trace\""))
    let csv = try String(contentsOfFile: dir.file("r/cpu.csv"), encoding: .utf8)
    #expect(csv.contains("credit,all,billing_ticks,"))

    let set = try HVReplay.run([
      "replay", Self.ftrace, "--out", dir.file("s"), "--quiet", "--set", "cpu.pcpus=3",
    ])
    #expect(set.status == 0, "\(set.stderr)")
    let setMD = try String(contentsOfFile: dir.file("s/report.md"), encoding: .utf8)
    #expect(setMD.contains("3 pCPUs (set by --model or --set; the trace states 4)"))
  }

  @Test("--group-by tgid without thread groups: the fallback to pids on stderr and in inspect")
  func tgidFallback() throws {
    let dir = Scratch()
    let text = """
      # tracer: nop
        <idle>-0     [000] 100.000000: sched_switch: prev_comm=swapper/0 prev_pid=0 prev_prio=120 prev_state=R ==> next_comm=a next_pid=5 next_prio=120
             a-5     [000] 100.000500: sched_switch: prev_comm=a prev_pid=5 prev_prio=120 prev_state=S ==> next_comm=b next_pid=6 next_prio=120
             b-6     [000] 100.001000: sched_switch: prev_comm=b prev_pid=6 prev_prio=120 prev_state=S ==> next_comm=swapper/0 next_pid=0 next_prio=120

      """
    try text.write(toFile: dir.file("t.txt"), atomically: true, encoding: .utf8)
    let note = "group-by tgid fell back to pids for 2 of 2 tasks"
    let inspect = try HVReplay.run(["inspect", "--group-by", "tgid", dir.file("t.txt")])
    #expect(inspect.status == 0, "\(inspect.stderr)")
    #expect(inspect.stdout.contains(note), "\(inspect.stdout)")
    let replay = try HVReplay.run([
      "replay", "--group-by", "tgid", dir.file("t.txt"), "--out", dir.file("r"), "--quiet",
    ])
    #expect(replay.status == 0, "\(replay.stderr)")
    #expect(replay.stderr.contains("hvreplay: import: \(note)"))
    let md = try String(contentsOfFile: dir.file("r/report.md"), encoding: .utf8)
    #expect(md.contains("- \(note)"))
  }
}
