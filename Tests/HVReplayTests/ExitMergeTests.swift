import Foundation
import Testing

@testable import HVReplay

/// `hvreplay merge` of exits.json files (rule E6).
@Suite("Merging exit reports")
struct ExitMergeTests {
  /// trace-cmd report lines of one vCPU thread on host CPU `cpu`: port writes handled in
  /// userspace (`ioNs`) and kernel-handled MMIO (1 us), alternating every 10 us from 5 s.
  static func lines(tid: Int, cpu: Int, n: Int, ioNs: UInt64) -> [(UInt64, String)] {
    var out: [(UInt64, String)] = []
    func st(_ ns: UInt64) -> String {
      let f = String(ns % 1_000_000_000 / 1_000)
      return "\(ns / 1_000_000_000).\(String(repeating: "0", count: 6 - f.count))\(f)"
    }
    let p = "    CPU 0/KVM-\(tid)  [00\(cpu)]"
    var t: UInt64 = 5_000_000_000
    for i in 0..<n {
      let io = i % 2 == 0
      let reason = io ? "IO_INSTRUCTION" : "EPT_MISCONFIG"
      out.append(
        (
          t,
          "\(p) \(st(t)): kvm_exit: vcpu 0 reason \(reason) rip 0x1 info1 0x0 info2 0x0 intr_info 0x0 error_code 0x0"
        ))
      if io {
        out.append(
          (t + 1_000, "\(p) \(st(t + 1_000)): kvm_pio: pio_write at 0x1f7 size 1 count 1 val 0x20"))
        out.append((t + 2_000, "\(p) \(st(t + 2_000)): kvm_userspace_exit: reason KVM_EXIT_IO (2)"))
      }
      let d = io ? ioNs + UInt64(i % 7) * 100 : 1_000
      out.append((t + d, "\(p) \(st(t + d)): kvm_entry: vcpu 0, rip 0x1"))
      t += 10_000
    }
    return out
  }

  static func text(_ lines: [(UInt64, String)]) -> String {
    "cpus=4\n" + lines.map(\.1).joined(separator: "\n") + "\n"
  }

  @Test("exits.json reads back to the same report: every figure, percentiles from the histograms")
  func roundTrip() throws {
    let dir = TemporaryDirectory()
    let r = try ExitReport.read(
      path: dir.write("a.txt", Self.text(Self.lines(tid: 1, cpu: 1, n: 999, ioNs: 4_000))))
    var back = try ExitReport(
      json: JSONParser.parse(r.json.serialized(), file: "a.json"), file: "a.json")
    // The time series stays in exits-timeseries.csv: exits.json does not carry it.
    #expect(back.intervalNs == nil && back.series.isEmpty)
    back.intervalNs = r.intervalNs
    #expect(back.csv == r.csv)
    #expect(back.json.serialized() == r.json.serialized())
  }

  @Test(
    "two hosts merged: every VM's rows equal those of one recording holding both hosts' threads")
  func mergeEqualsCombined() throws {
    let dir = TemporaryDirectory()
    let a = Self.lines(tid: 1, cpu: 1, n: 1_000, ioNs: 5_000)
    let b = Self.lines(tid: 2, cpu: 2, n: 400, ioNs: 8_000)
    var parts: [ExitReport] = []
    for (name, l) in [("a", a), ("b", b)] {
      let r = try ExitReport.read(path: dir.write("\(name).txt", Self.text(l)))
      parts.append(
        try ExitReport(json: JSONParser.parse(r.json.serialized(), file: name), file: name))
    }
    let merged = try ExitReport.merge(parts, names: ["a", "b"])
    let both = try ExitReport.read(
      path: dir.write("both.txt", Self.text((a + b).sorted { $0.0 < $1.0 })))
    #expect(merged.spanNs == both.spanNs)
    // Every VM (vm `all`), handlers, accesses and returns: the same rows, figure for figure.
    func everyVM(_ r: ExitReport) -> [String] {
      r.csv.split(separator: "\n").filter { $0.hasPrefix("all,") }.map(String.init)
    }
    #expect(everyVM(merged) == everyVM(both))
    #expect(everyVM(merged).contains("all,all,IO_INSTRUCTION,count,700,exits"))
    // Each host's own VM and CPU rows keep their figures under the host's name.
    let own = merged.rows.filter { $0.vm == "b:CPU 0/KVM (tid 2)" && $0.vcpu == "all" }
    let alone = parts[1].rows.filter { $0.vm == "CPU 0/KVM (tid 2)" && $0.vcpu == "all" }
    #expect(own.map(\.figures) == alone.map(\.figures) && !own.isEmpty)
    #expect(own.map(\.sharePercent) == alone.map(\.sharePercent))
    #expect(merged.pcpuRows.map(\.vm).uniqued == ["a", "b"])
    #expect(merged.events.first { $0.name == "kvm_exit" }?.count == 1_400)
    #expect(merged.intervalNs == nil && merged.files.count == 3)
    #expect(merged.notes.contains { $0.hasPrefix("b: read as trace-cmd report") })
  }

  @Test("part names: recordings' names, else their folders', else numbered")
  func partNames() {
    func report(_ file: String) -> ExitReport { ExitReport(file: file, layout: .traceCmd) }
    #expect(
      ExitReport.partNames(
        [report("h1.txt"), report("h2.txt.zst")], ["x/exits.json", "y/exits.json"]) == ["h1", "h2"])
    #expect(
      ExitReport.partNames(
        [report("kvm.txt"), report("kvm.txt")], ["Reports/h1-exits/exits.json", "h2/exits.json"])
        == ["h1", "h2"])
    #expect(
      ExitReport.partNames([report("kvm.txt"), report("kvm.txt")], ["exits.json", "exits.json"])
        .count == 2)
    #expect(
      Set(
        ExitReport.partNames([report("kvm.txt"), report("kvm.txt")], ["exits.json", "exits.json"])
      ).count == 2)
  }

  @Test("bad exits.json and mixed kinds: a clear error naming the file and member")
  func badInput() throws {
    func error(_ text: String) -> HVReplayError? {
      do {
        _ = try ExitReport(json: JSONParser.parse(text, file: "x.json"), file: "x.json")
        return nil
      } catch { return error }
    }
    let dir = TemporaryDirectory()
    let r = try ExitReport.read(
      path: dir.write("a.txt", Self.text(Self.lines(tid: 1, cpu: 1, n: 10, ioNs: 4_000))))
    let good = r.json.serialized()
    #expect(error(good) == nil)
    let e = try #require(
      error(good.replacingOccurrences(of: "\"timed\": 5,", with: "\"timed\": 4,")))
    #expect("\(e)".contains("x.json: exits[0]: the histogram holds 5 durations, \"timed\" says 4"))
    let over = try #require(
      error(good.replacingOccurrences(of: "\"timed\": 5,", with: "\"timed\": 6,")))
    #expect("\(over)".contains("x.json: exits[0]: \"timed\" exceeds \"count\""))
    let v = try #require(
      error(good.replacingOccurrences(of: "\"version\": 1", with: "\"version\": 9")))
    #expect(v.category == .badData && "\(v)".contains("only version 1"))
    var summary = ExitReport(file: "p.txt", layout: .perfKVMStat)
    summary.rows = []
    #expect(throws: HVReplayError.self) { try ExitReport.merge([r, summary], names: ["a", "p"]) }
  }
}

extension ExitMergeTests {
  /// The exits.json of a recording of `n` exits, as text.
  static func json(n: Int = 10) throws -> String {
    let dir = TemporaryDirectory()
    let path = dir.write("a.txt", text(lines(tid: 1, cpu: 1, n: n, ioNs: 4_000)))
    return try ExitReport.read(path: path).json.serialized()
  }

  static func read(_ text: String) throws(HVReplayError) -> ExitReport {
    try ExitReport(json: JSONParser.parse(text, file: "x.json"), file: "x.json")
  }

  @Test("an edited exits.json that contradicts itself is refused, naming the member")
  func contradictions() throws {
    let good = try Self.json()
    func refused(_ text: String) -> String? {
      do {
        _ = try Self.read(text)
        return nil
      } catch { return "\(error)" }
    }
    // The first row: 5 IO_INSTRUCTION exits of 4,000-4,600 ns.
    let first = try #require(good.range(of: "\"reason\": \"all\""))
    #expect(refused(good) == nil)
    let cases: [(String, String, String)] = [
      ("\"min\": 1000,", "\"min\": 99999,", "\"min\" exceeds \"max\""),
      ("\"total\": 5000,", "\"total\": 9999999,", "\"total\" is not the sum of"),
      ("\"events\": {", "\"events\": [], \"x\": {", "events: an object of event names"),
      ("\"pcpus\": [", "\"pcpus_gone\": [", "missing \"pcpus\""),
    ]
    for (old, new, message) in cases {
      #expect(good.contains(old), "\(old)")
      let e = refused(good.replacingOccurrences(of: old, with: new))
      #expect(e?.contains(message) == true, "\(old): \(e ?? "accepted")")
    }
    // A row given twice; a reason that no longer adds up to its scope's `all` row.
    let exits = good.components(separatedBy: "\"exits\": [\n")
    let firstRow = String(exits[1].prefix { $0 != "}" }) + "},\n"
    let twice = exits[0] + "\"exits\": [\n" + firstRow + exits[1]
    #expect(refused(twice)?.contains("a second row of vm") == true)
    let more = good.replacingOccurrences(of: "\"count\": 5,", with: "\"count\": 6,")
    #expect(
      refused(more)?.contains("add up to") == true || refused(more)?.contains("histogram") == true)
    _ = first
  }

  @Test("merged sums beyond 2^64 are refused; the parts' own rows keep their own rates")
  func overflowAndRates() throws {
    let dir = TemporaryDirectory()
    let a = try ExitReport.read(
      path: dir.write("a.txt", Self.text(Self.lines(tid: 1, cpu: 1, n: 100, ioNs: 4_000))))
    let b = try ExitReport.read(
      path: dir.write("b.txt", Self.text(Self.lines(tid: 2, cpu: 2, n: 40, ioNs: 4_000))))
    let merged = try ExitReport.merge([a, b], names: ["a", "b"])
    // b's thread: 40 exits over its own 391 us, not over a's longer span.
    let own = try #require(
      merged.rows.first { $0.vm == "b:CPU 0/KVM (tid 2)" && $0.vcpu == "all" && $0.reason == "all" }
    )
    let alone = try #require(
      b.rows.first { $0.vm == "CPU 0/KVM (tid 2)" && $0.vcpu == "all" && $0.reason == "all" })
    let every = try #require(
      merged.rows.first { $0.vm == "all" && $0.vcpu == "all" && $0.reason == "all" })
    #expect(merged.rate(own) == b.rate(alone) && b.rate(alone) != merged.rate(every))
    // It survives a second merge (exits.json keeps the part's span).
    let again = try ExitReport(
      json: JSONParser.parse(merged.json.serialized(), file: "m"), file: "m")
    let kept = try #require(
      again.rows.first { $0.vm == own.vm && $0.vcpu == "all" && $0.reason == "all" })
    #expect(again.rate(kept) == merged.rate(own))
    var huge = a
    huge.sections = huge.sections.map {
      $0.map {
        var r = $0; r.figures.count = UInt64.max - 10; return r
      }
    }
    #expect(throws: HVReplayError.self) { try ExitReport.merge([huge, a], names: ["h", "a"]) }
  }

  @Test("two parts whose names and VMs would meet in one label are refused")
  func labelClash() throws {
    let dir = TemporaryDirectory()
    let a = try ExitReport.read(
      path: dir.write("a.txt", Self.text(Self.lines(tid: 1, cpu: 1, n: 10, ioNs: 4_000))))
    var x = a
    x.rows = x.rows.map {
      var r = $0; if r.vm != "all" { r.vm = "y:" + r.vm }; return r
    }
    #expect(throws: HVReplayError.self) { try ExitReport.merge([x, a], names: ["x", "x:y"]) }
  }

  @Test("a part named all or host is renamed: those names mean every VM and an unmerged host")
  func reservedNames() {
    let parts = ["all.txt", "host.txt", "x.txt"].map { ExitReport(file: $0, layout: .traceCmd) }
    #expect(
      ExitReport.partNames(parts, ["1/exits.json", "2/exits.json", "3/exits.json"]) == [
        "all-2", "host-2", "x",
      ])
  }
}

extension Array where Element: Hashable {
  fileprivate var uniqued: [Element] {
    var seen = Set<Element>()
    return filter { seen.insert($0).inserted }
  }
}
