import Testing

@testable import HVReplay

/// Reads `text` as a recording.
private func exits(_ text: String, _ options: ExitOptions = ExitOptions()) throws -> ExitReport {
  let dir = TemporaryDirectory()
  return try ExitReport.read(path: dir.write("rec.txt", text), options: options)
}

private func row(_ r: ExitReport, vm: String = "all", vcpu: String = "all", _ reason: String)
  -> ExitReport.Row?
{
  (r.rows + r.pcpuRows + r.handlerRows + r.accessRows).first {
    $0.vm == vm && $0.vcpu == vcpu && $0.reason == reason
  }
}

/// The nearest-rank percentile of `values` (sorted).
private func nearestRank(_ sorted: [UInt64], _ p: Double) -> UInt64 {
  sorted[max(0, Int((p / 100 * Double(sorted.count)).rounded(.up)) - 1)]
}

@Suite("KVM exit recordings")
struct ExitRecordingTests {
  @Test("each pinned line layout splits into task, thread, CPU, time, event and payload")
  func layouts() {
    let cases:
      [(String, comm: String, pid: UInt32, tgid: UInt32?, cpu: UInt32, ns: UInt64, event: String)] =
        [
          // trace-cmd report, a pid wider than its field.
          (
            "         qemu-kvm-1637698 [019] 758186.750322: kvm_exit:             vcpu 0 reason EXCEPTION_NMI rip 0x40048d info1 0x0000000000000000 info2 0x0000000000000000 intr_info 0x80000306 error_code 0x00000000",
            "qemu-kvm", 1_637_698, nil, 19, 758_186_750_322_000, "kvm_exit"
          ),
          // the old kvm_exit layout behind trace-cmd's prefix.
          (
            " qemu-system-x86-3927  [007]   302.533069: kvm_exit:             reason EPT_VIOLATION rip 0xffffffff8b360413 info d82 0",
            "qemu-system-x86", 3927, nil, 7, 302_533_069_000, "kvm_exit"
          ),
          // ftrace with flags; a name with a dash and a digit.
          (
            "apic_bus_clock_-11419   [056] d..2.   146.771242: kvm_exit: vcpu 0 reason PREEMPTION_TIMER rip 0x402065 info1 0x0000000000000000 info2 0x0000000000000000 intr_info 0x00000000 error_code 0x00000000",
            "apic_bus_clock_", 11419, nil, 56, 146_771_242_000, "kvm_exit"
          ),
          // ftrace with record-tgid, a name with spaces.
          (
            "       CPU 0/KVM-2063    (   2050) [097] ..... 1466862.728742: kvm_set_irq: gsi 4 level 0 source 0",
            "CPU 0/KVM", 2063, 2050, 97, 1_466_862_728_742_000, "kvm_set_irq"
          ),
          // perf script: `comm tid`, the kvm: subsystem.
          (
            " fc_vcpu 1  599500 [039] 1377662.550600: kvm:kvm_entry:  vcpu 1 rip 0xffffffff81036706",
            "fc_vcpu 1", 599_500, nil, 39, 1_377_662_550_600_000, "kvm_entry"
          ),
          // perf script with -F pid,tid: the group and the thread.
          (
            "qemu-system-x86  4100/4107  [002]  5000.000000001: kvm:kvm_exit: reason HLT rip 0x0 info 0 0",
            "qemu-system-x86", 4107, 4100, 2, 5_000_000_000_001, "kvm_exit"
          ),
        ]
    for c in cases {
      var line = c.0
      let got = line.withUTF8 { KVMTraceLine.split(UnsafeRawBufferPointer($0)) }
      let g = try! #require(got, "\(c.0)")
      #expect(Bytes.string(g.comm) == c.comm)
      #expect(g.pid == c.pid)
      #expect(g.tgid == c.tgid)
      #expect(g.cpu == c.cpu)
      #expect(g.timeNs == c.ns)
      #expect(Bytes.string(g.event) == c.event)
    }
    var notEvent = "CPU 1 is empty"
    #expect(notEvent.withUTF8 { KVMTraceLine.split(UnsafeRawBufferPointer($0)) } == nil)
  }

  /// A recording of known exits: 2 VMs (thread groups) of 2 vCPUs, each vCPU exiting with
  /// durations from a formula, on host CPUs by vCPU.
  private func synthetic() -> (text: String, durations: [String: [UInt64]], count: Int) {
    var text = "# tracer: nop\n#\n"
    var durations: [String: [UInt64]] = [:]
    var t: UInt64 = 1_000_000_000
    var n = 0
    func stamp(_ ns: UInt64) -> String {
      let s = String(ns % 1_000_000_000)
      return "\(ns / 1_000_000_000).\(String(repeating: "0", count: 9 - s.count))\(s)"
    }
    let reasons = ["EPT_MISCONFIG", "IO_INSTRUCTION", "HLT"]
    for i in 0..<600 {
      for vm in 0..<2 {
        for vcpu in 0..<2 {
          let tid = 1000 + vm * 100 + vcpu
          let tgid = 1000 + vm * 100
          let reason = reasons[(i + vcpu) % 3]
          let d = UInt64(500 + (i * 37 + vm * 11 + vcpu * 7) % 4000)
          let prefix = "CPU \(vcpu)/KVM-\(tid) (\(tgid)) [00\(vm * 2 + vcpu)] d..1."
          text +=
            "\(prefix) \(stamp(t)): kvm_exit: vcpu \(vcpu) reason \(reason) rip 0x1 info1 0x0 info2 0x0 intr_info 0x0 error_code 0x0\n"
          if reason == "IO_INSTRUCTION" {
            text +=
              "\(prefix) \(stamp(t + 10)): kvm_pio: pio_write at 0x3f8 size 1 count 1 val 0x41\n"
            text += "\(prefix) \(stamp(t + 20)): kvm_userspace_exit: reason KVM_EXIT_IO (2)\n"
          }
          text += "\(prefix) \(stamp(t + d)): kvm_entry: vcpu \(vcpu), rip 0x1\n"
          durations[reason, default: []].append(d)
          durations["vm\(vm)", default: []].append(d)
          n += 1
          t += 5_000
        }
      }
    }
    return (text, durations, n)
  }

  @Test("exits reproduces the counts and durations of a synthetic recording exactly")
  func syntheticRecording() throws {
    let (text, durations, n) = synthetic()
    let r = try exits(text)
    let all = try #require(row(r, "all"))
    #expect(all.figures.count == UInt64(n))
    #expect(all.figures.timed == UInt64(n))
    for reason in ["EPT_MISCONFIG", "IO_INSTRUCTION", "HLT"] {
      let f = try #require(row(r, reason)).figures
      let d = durations[reason]!.sorted()
      #expect(f.count == UInt64(d.count))
      #expect(f.totalNs == d.reduce(0, +))
      #expect(f.minNs == d.first)
      #expect(f.maxNs == d.last)
      for p in [50.0, 90, 99, 99.9] {
        // HdrHistogram's answer: the highest value of the exact percentile's bucket.
        let exact = nearestRank(d, p)
        let got = try #require(f.percentile(p))
        #expect(got >= exact && Double(got) <= Double(exact) * 1.0079, "\(reason) p\(p)")
      }
    }
    // Per VM (thread groups) and per vCPU.
    let vm0 = try #require(row(r, vm: "pid 1000", vcpu: "all", "all")).figures
    #expect(vm0.count == 1200)
    #expect(vm0.totalNs == durations["vm0"]!.reduce(0, +))
    #expect(try #require(row(r, vm: "pid 1100", vcpu: "1", "all")).figures.count == 600)
    // Host CPUs: vCPU v of VM m ran on CPU 2m + v.
    #expect(try #require(row(r, vm: "host", vcpu: "pcpu 3", "all")).figures.count == 600)
    // Port I/O: every IO_INSTRUCTION exit wrote port 0x3f8, handled in userspace.
    let port = try #require(row(r, "pio:0x3f8:POUT")).figures
    #expect(port.count == UInt64(durations["IO_INSTRUCTION"]!.count))
    #expect(port.totalNs == durations["IO_INSTRUCTION"]!.reduce(0, +))
    #expect(
      try #require(row(r, vcpu: "userspace", "IO_INSTRUCTION")).figures.count == port.count)
    #expect(row(r, vcpu: "kernel", "IO_INSTRUCTION") == nil)
    // Rates over the span: n exits in (n - 1) * 5 us plus the last exit's duration.
    let span = try #require(r.spanNs)
    #expect(span == UInt64(n - 1) * 5_000 + durations["vm1"]!.last!)
    #expect(abs(r.rate(all)! - Double(n) / (Double(span) / 1e9)) < 1e-6)
    // Shares add up.
    let shares = r.totals.map(\.sharePercent).reduce(0, +)
    #expect(abs(shares - 100) < 1e-9)
  }

  @Test("the time series counts each exit in the interval it ended in")
  func timeSeries() throws {
    let (text, _, n) = synthetic()
    var o = ExitOptions()
    o.intervalNs = 1_000_000  // 1 ms: 200 exits of 5 us apart per interval
    let r = try exits(text, o)
    let totals = r.series.filter { $0.vm != "" }.reduce(0) { $0 + $1.count }
    #expect(totals == UInt64(n))
    let first = r.series.filter { $0.startNs == 0 }.reduce(0) { $0 + $1.count }
    #expect(first == 200)
    #expect(r.timeSeriesCSV.hasPrefix("vm,reason,interval_start_ns,metric,value,unit\n"))
    #expect(r.timeSeriesCSV.contains("all,HLT,1000000,count,"))
    #expect(r.chart.contains("<svg") && r.chart.contains("HLT"))
  }

  @Test("without kvm_entry: counts and rates, and a note that durations need it")
  func countsOnly() throws {
    let text = """
      cpus=1
       qemu-system-x86-3927  [000]   302.000000: kvm_exit:             reason EPT_VIOLATION rip 0xffffffff8b360413 info d82 0
       qemu-system-x86-3927  [000]   302.500000: kvm_exit:             reason HLT rip 0xffffffff8b360413 info 0 0
       qemu-system-x86-3927  [000]   303.000000: kvm_exit:             reason EPT_VIOLATION rip 0xffffffff8b360413 info d82 0

      """
    let r = try exits(text)
    #expect(r.layout == .traceCmd)
    #expect(!r.hasDurations)
    let eptRow = try #require(row(r, "EPT_VIOLATION"))
    let ept = eptRow.figures
    #expect(ept.count == 2 && ept.timed == 0)
    #expect(r.rate(eptRow) == 2)  // 2 exits in 1 s
    #expect(r.notes.contains { $0.contains("exit durations need kvm_entry") })
    #expect(ept.percentile(50) == nil)
  }

  @Test("an exit followed by another exit, or cut by lost events, has no duration")
  func unpaired() throws {
    let text = """
      cpus=1
       t-1 [000] 1.000000: kvm_exit: vcpu 0 reason HLT rip 0x0 info1 0x0 info2 0x0 intr_info 0x0 error_code 0x0
       t-1 [000] 1.000010: kvm_exit: vcpu 0 reason MSR_WRITE rip 0x0 info1 0x0 info2 0x0 intr_info 0x0 error_code 0x0
       t-1 [000] 1.000012: kvm_entry: vcpu 0, rip 0x0
       t-1 [000] 1.000020: kvm_exit: vcpu 0 reason HLT rip 0x0 info1 0x0 info2 0x0 intr_info 0x0 error_code 0x0
      CPU:0 [LOST 12 EVENTS]
       t-1 [000] 1.000030: kvm_entry: vcpu 0, rip 0x0

      """
    let r = try exits(text)
    let hlt = try #require(row(r, "HLT")).figures
    #expect(hlt.count == 2 && hlt.timed == 0)
    let msr = try #require(row(r, "MSR_WRITE")).figures
    #expect(msr.timed == 1 && msr.totalNs == 2_000)
    #expect(
      r.notes.contains { $0.contains("2 exits have no duration: 1 followed by another exit") })
    #expect(r.notes.contains { $0.contains("1 lines report lost events") })
  }

  @Test("perf kvm stat report, classic and histogram layouts")
  func perfKVMStat() throws {
    let classic = """


      Analyze events for all VMs, all VCPUs:

                   VM-EXIT    Samples  Samples%     Time%    Min Time    Max Time         Avg time

                 MSR_WRITE       9167    35.40%     0.04%      0.45us   9554.94us      3.00us ( +-  41.94% )
                       HLT       4000    15.45%    99.90%      1.00us  50000.00us  17000.50us ( +-   2.00% )

      Total Samples:13167, Total events handled time:68029500.00us.

      """
    let r = try exits(classic)
    #expect(r.layout == .perfKVMStat)
    let msr = try #require(row(r, "MSR_WRITE")).figures
    #expect(msr.count == 9167)
    #expect(msr.minNs == 450 && msr.maxNs == 9_554_940)
    #expect(msr.totalNs == 9167 * 3_000)
    #expect(msr.percentile(50) == nil)
    #expect(try #require(row(r, "all")).figures.count == 13167)
    let hist = """
      Analyze events for all VMs, VCPU 2:

      Event name                Samples   Sample%    Time (ns)     Time%   Max Time (ns)   Min Time (ns)  Mean Time (ns)
      STORE_GUEST_PAGE_FAULT     26968     54.00%    2003031800    40.00%     3361400         27600          74274

      """
    let h = try exits(hist)
    let f = try #require(row(h, vcpu: "2", "STORE_GUEST_PAGE_FAULT")).figures
    #expect(f.count == 26968 && f.totalNs == 2_003_031_800)
    #expect(f.minNs == 27_600 && f.maxNs == 3_361_400)
  }

  @Test("bad input: one message with the file and line")
  func badInput() throws {
    let dir = TemporaryDirectory()
    func error(_ text: String) -> HVReplayError? {
      do {
        _ = try ExitReport.read(path: dir.write("bad.txt", text))
        return nil
      } catch { return error }
    }
    let e1 = try #require(error("hello\nworld\n"))
    #expect(e1.category == .badData && "\(e1)".contains("bad.txt:1: not a KVM recording"))
    let e2 = try #require(
      error(
        "cpus=1\n t-1 [000] 1.0: kvm_exit: vcpu 0 reason HLT rip 0x0\n t-1 [000] 1.5: kvm_exit: vcpu 0 rip 0x0\n"
      ))
    #expect("\(e2)".contains("bad.txt:3: expected `reason NAME` in kvm_exit"))
    let e3 = try #require(
      error("cpus=1\n t-1 [000] 2.0: kvm_entry: vcpu 0\n t-1 [000] 1.0: kvm_entry: vcpu 0\n"))
    #expect("\(e3)".contains("bad.txt:3: the timestamp is earlier"))
    let e4 = try #require(error("cpus=1\n this is not an event\n"))
    #expect("\(e4)".contains("bad.txt:2: expected an event line"))
    // --skip-bad skips and counts.
    var o = ExitOptions()
    o.skipBad = 1
    let r = try ExitReport.read(
      path: dir.write(
        "skip.txt", "cpus=1\n junk\n t-1 [000] 1.0: kvm_exit: reason HLT rip 0x0 info 0 0\n"),
      options: o)
    #expect(try #require(row(r, "HLT")).figures.count == 1)
    #expect(r.notes.contains { $0.contains("1 unreadable lines skipped") })
    let empty = try #require(error(""))
    #expect(empty.category == .badData && "\(empty)".contains("bad.txt: the file is empty"))
  }

  @Test(
    "replay's detection: a KVM recording points at `exits`; trace-cmd and headerless ftrace sched text need no --from"
  )
  func detection() throws {
    let dir = TemporaryDirectory()
    let kvm = dir.write(
      "kvm.txt",
      "cpus=2\n qemu-kvm-1637698 [019] 758186.750321: kvm_entry:            vcpu 0, rip 0x4028b7\n")
    let e = try #require(readError(kvm))
    #expect(e.category == .badData && "\(e)".contains("read it with `hvreplay exits"))
    // trace-cmd report of scheduler events whose first event is another one.
    let sched = """
      cpus=2
                bash-1200  [001]  100.000000: irq_handler_entry:    irq=24 name=eth0
                bash-1200  [001]  100.000100: sched_switch:         bash:1200 [120] S ==> kworker/1:1:77 [120]
         kworker/1:1-77    [001]  100.000300: sched_switch:         kworker/1:1:77 [120] R ==> bash:1200 [120]
                bash-1200  [001]  100.000900: sched_switch:         bash:1200 [120] S ==> swapper/1:0 [120]

      """
    let events = try readAll(dir.write("sched.txt", sched))
    #expect(events.map(\.serviceNs) == [200_000, 600_000])
  }

  /// A recording whose exits take known times: port writes handled in userspace, fast
  /// MMIO kicks in the kernel, EOI and VMCALL exits, each with durations around a centre.
  private func calibrationRecording(
    trap: UInt64, kick: UInt64, eoi: UInt64, hypercall: UInt64, userspaceEvents: Bool = true
  ) -> String {
    var lines = ["cpus=1"]
    var t: UInt64 = 1_000_000_000
    func st(_ ns: UInt64) -> String {
      let f = String(ns % 1_000_000_000)
      return "\(ns / 1_000_000_000).\(String(repeating: "0", count: 9 - f.count))\(f)"
    }
    let p = " qemu-1 [000] d..1."
    for i in 0..<501 {
      // Durations centre +- up to 50 ns, symmetric: the median is the centre.
      let jitter = UInt64((i * 7) % 101)
      for (reason, centre) in [
        ("IO_INSTRUCTION", trap), ("EPT_MISCONFIG", kick), ("EOI_INDUCED", eoi),
        ("VMCALL", hypercall),
      ] {
        let d = centre - 50 + jitter
        lines.append(
          "\(p) \(st(t)): kvm_exit: vcpu 0 reason \(reason) rip 0x1 info1 0x0 info2 0x0 intr_info 0x0 error_code 0x0"
        )
        if reason == "IO_INSTRUCTION" {
          lines.append("\(p) \(st(t + 5)): kvm_pio: pio_write at 0x1f7 size 1 count 1 val 0x20")
          if userspaceEvents {
            lines.append("\(p) \(st(t + 10)): kvm_userspace_exit: reason KVM_EXIT_IO (2)")
          }
        }
        lines.append("\(p) \(st(t + d)): kvm_entry: vcpu 0, rip 0x1")
        t += 20_000
      }
    }
    return lines.joined(separator: "\n") + "\n"
  }

  @Test("calibrate recovers the costs a recording was made with, each with its provenance")
  func calibration() throws {
    let r = try exits(calibrationRecording(trap: 4_000, kick: 300, eoi: 700, hypercall: 900))
    let keys = Dictionary(uniqueKeysWithValues: r.calibration.map { ($0.key, $0) })
    // The median of 501 symmetric durations is the centre; HdrHistogram's two-digit
    // bucket answers within 0.78% above it.
    for (key, centre) in [
      ("costs.trap_ns", 4_000.0), ("virtio.kick_ns", 300), ("costs.irq_inject_ns", 700),
      ("costs.hypercall_ns", 900),
    ] {
      let k = try #require(keys[key], "\(key)")
      #expect(Double(k.value) >= centre && Double(k.value) <= centre * 1.0079, "\(key)")
      #expect(k.provenance.contains("median of 501"))
    }
    #expect(keys["costs.trap_ns"]!.provenance.contains("IO_INSTRUCTION exits handled in userspace"))
    #expect(
      keys["virtio.kick_ns"]!.provenance.contains("EPT_MISCONFIG exits handled in the kernel"))
    // Without kvm_userspace_exit, kernel and userspace cannot be told apart: one trap cost
    // from every I/O exit, no kick.
    let mixed = try exits(
      calibrationRecording(trap: 4_000, kick: 300, eoi: 700, hypercall: 900, userspaceEvents: false)
    )
    let m = Dictionary(uniqueKeysWithValues: mixed.calibration.map { ($0.key, $0) })
    #expect(m["virtio.kick_ns"] == nil)
    #expect(m["costs.trap_ns"]!.provenance.contains("no kvm_userspace_exit"))
    // The model file keeps the values and their sources; a replay's model marks them.
    var model = Model()
    for k in r.calibration {
      try model.set("\(k.key)=\(k.value)")
      model.calibration[k.key] = k.provenance
    }
    var back = Model()
    try back.apply(
      json: try JSONParser.parse(model.json.serialized(), file: "m.json"), file: "m.json")
    #expect(back == model)
    #expect(back.calibration.count == 4)
    var bad = Model()
    #expect(throws: HVReplayError.self) {
      try bad.apply(
        json: try JSONParser.parse(#"{"calibration": {"costs.trap": "x"}}"#, file: "m.json"),
        file: "m.json")
    }
  }

  @Test(
    "review fixes: ftrace's unknown tgid, names with brackets, order, perf sections, long exits, shared vCPU ids, folders"
  )
  func reviewFixes() throws {
    // `(-------)`: ftrace knows no thread group for the task.
    let ft = try exits(
      "# tracer: nop\n CPU 1/KVM-2002    (-------) [002] d..2.   100.000200: kvm_exit: vcpu 1 reason HLT rip 0x1\n"
    )
    #expect(try #require(row(ft, "HLT")).figures.count == 1)
    // A name holding ` [12] ` before the CPU field.
    let b = try exits(
      "cpus=1\n worker [12] x-7 [003] 1.000000: kvm_exit: reason HLT rip 0x1 info 0 0\n worker [12] x-7 [003] 1.000010: kvm_entry: vcpu 0\n"
    )
    #expect(try #require(row(b, vm: "host", vcpu: "pcpu 3", "HLT")).figures.totalNs == 10_000)
    // Any step back in time is refused, not only one before the first line.
    #expect(throws: HVReplayError.self) {
      try exits(
        "cpus=1\n a-1 [000] 1.0: kvm_entry: vcpu 0\n b-2 [000] 3.0: kvm_entry: vcpu 0\n a-1 [000] 2.0: kvm_entry: vcpu 0\n"
      )
    }
    // Two VCPU sections of perf kvm stat: rows per vCPU and their sum.
    let section = { (v: Int, n: Int) in
      "Analyze events for pid(s) 1234, VCPU \(v):\n\n             VM-EXIT    Samples  Samples%     Time%    Min Time    Max Time         Avg time\n\n           MSR_WRITE       \(n)   100.00%   100.00%      1.00us     10.00us      2.00us ( +-  1.00% )\n\nTotal Samples:\(n), Total events handled time:1.00us.\n\n"
    }
    let p = try exits(section(0, 100) + section(1, 10))
    #expect(try #require(row(p, vcpu: "0", "MSR_WRITE")).figures.count == 100)
    #expect(try #require(row(p, vcpu: "1", "MSR_WRITE")).figures.count == 10)
    #expect(try #require(row(p, "MSR_WRITE")).figures.count == 110)
    #expect(p.summaryLine.hasPrefix("exits: 110"))
    // Calibrating from the sections counts each exit once: the sum, not sum plus parts.
    let calls = try exits(
      (section(0, 100) + section(1, 10)).replacing("MSR_WRITE", with: "   VMCALL"))
    let hypercall = try #require(calls.calibration.first { $0.key == "costs.hypercall_ns" })
    #expect(hypercall.provenance.hasPrefix("mean of 110 VMCALL exits"))
    #expect(hypercall.value == 2_000)
    // An exit longer than the histogram's hour keeps its exact max.
    let long = try exits(
      "cpus=1\n a-1 [000] 1.000000: kvm_exit: reason HLT rip 0 info 0 0\n a-1 [000] 7201.000000: kvm_entry: vcpu 0\n"
    )
    #expect(try #require(row(long, "HLT")).figures.maxNs == 7_200_000_000_000)
    // --group-by comm: two threads named alike with vCPU 0 stay apart.
    var o = ExitOptions()
    o.grouping = .comm
    let c = try exits(
      "cpus=1\n q-1 [000] 1.0: kvm_exit: vcpu 0 reason HLT rip 0\n q-2 [000] 1.5: kvm_exit: vcpu 0 reason HLT rip 0\n",
      o)
    #expect(row(c, vm: "q", vcpu: "0 (tid 1)", "HLT") != nil)
    #expect(row(c, vm: "q", vcpu: "0 (tid 2)", "HLT") != nil)
    // An exit report never replaces a replay's report folder, nor a replay an exit report's.
    let dir = TemporaryDirectory()
    let out = dir.file("r")
    try ReportWriter.write([("report.md", "1"), ("summary.csv", "1")], into: out)
    #expect(throws: HVReplayError.self) {
      try ReportWriter.write(b.files, into: out, replacing: ReportWriter.exitFileNames)
    }
    let ex = dir.file("e")
    try ReportWriter.write(b.files, into: ex, replacing: ReportWriter.exitFileNames)
    try ReportWriter.write(b.files, into: ex, replacing: ReportWriter.exitFileNames)
    #expect(throws: HVReplayError.self) { try ReportWriter.write([("report.md", "1")], into: ex) }
  }
}
