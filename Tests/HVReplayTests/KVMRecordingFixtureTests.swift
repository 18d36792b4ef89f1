import Testing

@testable import HVReplay

/// What a test counts in a recording's text itself: kvm events by name, I/O accesses by
/// perf kvm stat's label, kvm_userspace_exit reasons, and the first and last time stamps.
private struct TextCounts {
  var events: [String: UInt64] = [:]
  var accesses: [String: UInt64] = [:]
  var returns: [String: UInt64] = [:]
  var first: UInt64?
  var last: UInt64 = 0

  init(_ text: String) {
    for line in text.split(separator: "\n") where !line.hasPrefix("#") {
      let tokens = line.split(separator: " ")
      guard
        let e = tokens.firstIndex(where: {
          $0.hasSuffix(":") && ($0.hasPrefix("kvm_") || $0.hasPrefix("kvm:kvm_"))
        }), e > 0
      else { continue }
      let name = tokens[e].dropLast().split(separator: ":").last.map(String.init)!
      events[name, default: 0] += 1
      let stamp = tokens[e - 1].dropLast().split(separator: ".")
      let ns = UInt64(stamp[0])! * 1_000_000_000 + UInt64(stamp[1].padding(9))!
      first = first ?? ns
      last = ns
      let payload = Array(tokens[(e + 1)...])
      switch name {
      case "kvm_pio":  // pio_write at 0x3f8 size 1 count 1 val 0x61
        let direction = payload[0] == "pio_write" ? "POUT" : "PIN"
        accesses["pio:\(payload[2]):\(direction)", default: 0] += 1
      case "kvm_mmio":  // mmio write len 4 gpa 0x100000 val 0x1
        let gpa = payload[payload.firstIndex(of: "gpa")! + 1]
        accesses["mmio:\(gpa):\(payload[1] == "write" ? "W" : "R")", default: 0] += 1
      case "kvm_userspace_exit":  // reason KVM_EXIT_IO (2)
        returns[String(payload[1]), default: 0] += 1
      default: break
      }
    }
  }
}

extension Substring {
  /// The digits after a decimal point as nanoseconds' digits.
  fileprivate func padding(_ width: Int) -> String {
    String(self) + String(repeating: "0", count: width - count)
  }
}

/// The recordings in Tests/Fixtures/kvm-pvm (PROVENANCE.md): a two-vCPU guest on this
/// project's build machine, whose KVM (PVM, no hardware virtualization) logs accesses and
/// returns to userspace but no kvm_exit.
@Suite("Real KVM recordings (kvm-pvm)")
struct KVMRecordingFixtureTests {
  static let dir = Fixtures.root + "/kvm-pvm/"

  @Test(
    "exits counts each recording's kvm events, accesses and returns exactly as its text holds them",
    arguments: [
      ("trace-cmd-report.txt.zst", KVMRecordingLayout.traceCmd, 600),
      ("ftrace-trace.txt.zst", .ftrace, 300), ("ftrace-tgid.txt.zst", .ftrace, 300),
      ("perf-script.txt.zst", .perfScript, 2000),
    ])
  func counts(file: String, layout: KVMRecordingLayout, iterations: UInt64) throws {
    let text = try ZstdTestSupport.text(ofFile: Self.dir + file)
    let expected = TextCounts(text)
    let r = try ExitReport.read(path: Self.dir + file)
    #expect(r.layout == layout)
    // The guest's loop: one port write and one MMIO write per iteration on each of 2 vCPUs.
    #expect(
      expected.accesses == ["pio:0x3f8:POUT": 2 * iterations, "mmio:0x100000:W": 2 * iterations])
    let counted = Dictionary(
      uniqueKeysWithValues: r.accessRows.map { ($0.reason, $0.figures.count) })
    #expect(counted == expected.accesses)
    let returns = Dictionary(
      uniqueKeysWithValues: r.userspaceRows.map { ($0.reason, $0.figures.count) })
    #expect(returns == expected.returns)
    #expect(r.userspaceRows.allSatisfy { $0.vcpu == "kvm_userspace_exit" })
    // Every event hvreplay names is counted as often as the text holds it.
    for (name, n) in r.events { #expect(expected.events[name] == n, "\(name)") }
    #expect(r.spanNs == expected.last - expected.first!)
    // No kvm_exit on PVM: no exit rows, no durations, and a note that says why.
    #expect(r.rows.allSatisfy { $0.figures.count == 0 } && !r.hasDurations)
    #expect(r.notes.contains { $0.contains("the recording has no kvm_exit lines") })
    #expect(
      r.summaryLine == "exits: none; \(4 * iterations) accesses"
        + (expected.returns.isEmpty ? "" : "; \(4 * iterations + 2) returns to userspace"))
    #expect(r.markdown.contains("No exits were recorded"))
    #expect(r.calibration.isEmpty)
  }

  @Test("trace-cmd report: every return to userspace by its reason, one HLT per vCPU")
  func userspaceReasons() throws {
    let r = try ExitReport.read(path: Self.dir + "trace-cmd-report.txt.zst")
    let returns = r.userspaceRows.map { "\($0.reason) \($0.figures.count)" }
    #expect(returns == ["KVM_EXIT_IO 1200", "KVM_EXIT_MMIO 1200", "KVM_EXIT_HLT 2"])
    #expect(r.csv.contains("all,kvm_userspace_exit,KVM_EXIT_HLT,count,2,returns\n"))
    #expect(r.csv.contains("all,all,pio:0x3f8:POUT,count,1200,accesses\n"))
  }

  @Test("ftrace's record-tgid groups a VM's threads; without it each thread is its own VM")
  func grouping() throws {
    let tgid = try ExitReport.read(path: Self.dir + "ftrace-tgid.txt.zst")
    #expect(tgid.notes.contains("VMs grouped by tgid"))
    let plain = try ExitReport.read(path: Self.dir + "ftrace-trace.txt.zst")
    #expect(plain.notes.contains { $0.hasPrefix("the recording shows no thread groups") })
  }

  @Test("perf kvm stat report of a recording without exits: no rows, no error")
  func emptyPerfKVMStat() throws {
    let r = try ExitReport.read(path: Self.dir + "perf-kvm-stat-report.txt")
    #expect(r.layout == .perfKVMStat)
    #expect(r.rows.allSatisfy { $0.figures.count == 0 } && r.accessRows.isEmpty)
    #expect(r.summaryLine == "exits: none")
  }

  @Test("traps per request: the guest's register accesses divided by the I/O trace's requests")
  func trapsPerRequest() throws {
    let r = try ExitReport.read(path: Self.dir + "trace-cmd-report.txt.zst")
    // An I/O trace of the same run as a user would give it: 480 disk requests (reads,
    // writes and a flush), 400 transmitted and 200 received packets.
    var csv = csvHeader
    for i in 0..<480 {
      let op = ["read", "write", "flush"][i % 3]
      csv += "\(i * 1000),1,0,disk,\(op),0,0,\(op == "flush" ? 0 : 4096),20000\n"
    }
    for i in 0..<600 {
      csv += "\(i * 1000 + 500),1,0,net,\(i % 3 == 2 ? "rx" : "tx"),0,0,1500,5000\n"
    }
    let dir = TemporaryDirectory()
    let requests = try IORequestCounts(trace: dir.write("io.csv", csv), options: TraceReadOptions())
    #expect((requests.disk, requests.tx, requests.rx) == (480, 400, 200))
    // The serial port stands in for a disk controller's registers, the MMIO page for a NIC's.
    let (keys, skipped) = r.trapCalibration(
      requests: requests,
      registers: [
        .disk: RegisterRange.parseList("pio:0x3f0-0x3ff")!,
        .net: RegisterRange.parseList("mmio:0x100000-0x100fff")!,
      ],
      base: Model())
    let values = Dictionary(uniqueKeysWithValues: keys.map { ($0.key, $0.value) })
    // 1200 port writes / 480 requests = 2.5, rounded to 3 (half away from zero); no reads;
    // 1200 MMIO writes / 400 packets = 3. The NIC's reads are per throttled interrupt.
    #expect(
      values == [
        "full.disk.submit_traps": 3, "full.disk.completion_traps": 0, "full.net.submit_traps": 3,
      ])
    #expect(
      keys[0].provenance.contains("1200 register writes of pio:0x3f0-0x3ff")
        && keys[0].provenance.contains("= 2.500"))
    #expect(
      skipped == [
        "full.net.completion_traps: the model throttles net interrupts (full.net.irq_interval_ns = 50000), so reads per request are not reads per interrupt"
      ])
    // Registers the guest never touched: nothing measured, and the reason.
    let none = r.trapCalibration(
      requests: requests, registers: [.disk: RegisterRange.ideDefaults], base: Model())
    #expect(
      none.keys.isEmpty && none.skipped.count == 1
        && none.skipped[0].hasPrefix("full.disk traps: no accesses to pio:0x1f0-0x1f7,"))
  }

  @Test("review: no kvm events, a cut last line, perf kvm stat sums past 2^64, unusable ratios")
  func reviewFixes() throws {
    let dir = TemporaryDirectory()
    let sched = dir.write(
      "sched.txt",
      "cpus=1\n  bash-1 [000] 1.000000: sched_switch: bash:1 [120] S ==> swapper/0:0 [120]\n")
    #expect(throws: HVReplayError.self) { try ExitReport.read(path: sched) }
    do {
      _ = try ExitReport.read(path: sched)
    } catch {
      #expect("\(error)".contains("no kvm events: of 1 event lines none is a kvm tracepoint"))
    }
    // The real recording cut in its last line.
    let text = try ZstdTestSupport.text(ofFile: Self.dir + "trace-cmd-report.txt.zst")
    let cut = String(text.prefix(300_000))
    let r = try ExitReport.read(path: dir.write("cut.txt", cut))
    let lines = cut.split(separator: "\n", omittingEmptySubsequences: false).count
    #expect(
      r.notes.contains(
        "the file's last line (\(lines)) has no line end: the file may have been cut there, and that line read as far as it goes"
      ))
    let huge = """
      Analyze events for all VMs, all VCPUs:

                   IO Port Access    Samples  Samples%     Time%    Min Time    Max Time         Avg time
                      0x1f7:POUT  9223372036854775808    50.00%    50.00%      1.00us      1.00us      1.00us ( +-   0.00% )
                      0x1f0:POUT  9223372036854775808    50.00%    50.00%      1.00us      1.00us      1.00us ( +-   0.00% )

      """
    do {
      _ = try ExitReport.read(path: dir.write("pk.txt", huge))
      Issue.record("accepted samples beyond 2^64")
    } catch {
      #expect("\(error)".contains("pk.txt:5: the tables' samples add up to more than 2^64"))
    }
    // A request count a thousand times the recording's: no trap per request.
    let pvm = try ExitReport.read(path: Self.dir + "trace-cmd-report.txt.zst")
    var counts = IORequestCounts(source: "--requests disk=1000000")
    counts.disk = 1_000_000
    let few = pvm.trapCalibration(
      requests: counts, registers: [.disk: RegisterRange.parseList("pio:0x3f8")!], base: Model())
    #expect(few.keys.map(\.key) == ["full.disk.completion_traps"])
    #expect(few.skipped.first?.contains("less than half a trap") == true)
    var unitemised = pvm
    unitemised.unitemisedAccesses = 3
    #expect(
      unitemised.trapCalibration(
        requests: counts, registers: [.disk: RegisterRange.ideDefaults], base: Model()
      ).keys.isEmpty)
  }

  @Test("register ranges parse and print back")
  func registerRanges() {
    #expect(
      RegisterRange.parseList("pio:0x1f0-0x1f7,mmio:4096")?.map(\.description) == [
        "pio:0x1f0-0x1f7", "mmio:0x1000",
      ])
    for bad in ["", "0x1f0", "pio:0x10-0x1", "io:1", "pio:0xzz", "pio:1-2-3", "pio:1,"] {
      #expect(RegisterRange.parseList(bad) == nil, "\(bad)")
    }
  }

  @Test("replay refuses a KVM recording and points at exits, even with no kvm_exit in it")
  func replayRefuses() throws {
    for file in ["trace-cmd-report.txt.zst", "ftrace-trace.txt.zst", "perf-script.txt.zst"] {
      let e = try #require(importError([Self.dir + file]))
      #expect(e.category == .badData && "\(e)".contains("read it with `hvreplay exits"), "\(file)")
    }
  }
}
