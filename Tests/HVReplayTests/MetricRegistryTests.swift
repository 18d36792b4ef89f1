import Foundation
import Testing

@testable import HVReplay

/// The metric registry drives summary.csv, cpu.csv, report.md's per-device table, compare's
/// thresholds and sweep's columns; the docs list what it holds.
@Suite struct MetricRegistryTests {
  static let root = URL(fileURLWithPath: #filePath).deletingLastPathComponent()
    .deletingLastPathComponent().deletingLastPathComponent()

  /// The mixed sample replayed on the host timeline (full and para, credit and fair).
  static let mixed: ReplayResult = {
    var reader = try! TraceReader(path: root.appendingPathComponent("Traces/mixed.hvt.zst").path)
    return try! ReplayEngine(model: Model()).run(&reader)
  }()

  static func doc(_ name: String) throws -> String {
    try String(contentsOf: root.appendingPathComponent("docs/\(name)"), encoding: .utf8)
  }

  @Test("names are unique within each table, and shared names agree on unit and direction")
  func uniqueNames() {
    for table in [Metric.deviceMetrics, Metric.cpuMetrics] {
      #expect(Set(table.map(\.name)).count == table.count)
    }
    for d in Metric.deviceMetrics {
      guard let c = Metric.cpuMetrics.first(where: { $0.name == d.name }) else { continue }
      #expect(c.unit == d.unit && c.worse == d.worse && c.decimals == d.decimals, "\(d.name)")
    }
  }

  // Every row summary.csv and cpu.csv print is a registry metric, with its unit and its
  // decimals, in the registry's order.
  @Test("summary.csv and cpu.csv print the registry's metrics in its order and units")
  func csvRowsFollowTheRegistry() {
    let report = ReplayReport(Self.mixed)
    func check(_ csv: String, metric: Int, table: [Metric], groupBy: Int) {
      var groups: [String: [String]] = [:]
      for line in csv.split(separator: "\n").dropFirst() {
        let f = line.split(separator: ",", omittingEmptySubsequences: false).map(String.init)
        let m = table.first { $0.name == f[metric] }
        #expect(m != nil, "\(f[metric]) is not in the registry")
        guard let m else { continue }
        #expect(f[metric + 2] == m.unit, "\(m.name)")
        let decimals = f[metric + 1].split(separator: ".").dropFirst().first?.count ?? 0
        #expect(decimals == m.decimals, "\(m.name): \(f[metric + 1])")
        groups[f[0..<groupBy].joined(separator: ","), default: []].append(m.name)
      }
      let order = Dictionary(uniqueKeysWithValues: table.enumerated().map { ($1.name, $0) })
      for (group, names) in groups {
        #expect(names.map { order[$0]! } == names.map { order[$0]! }.sorted(), "\(group)")
      }
      #expect(!groups.isEmpty)
    }
    check(report.summaryCSV, metric: 3, table: Metric.deviceMetrics, groupBy: 3)
    check(report.cpuCSV, metric: 2, table: Metric.cpuMetrics, groupBy: 2)
  }

  // Native, full and passthrough have no rings; para, virtio and vhost have: each declares
  // it, and the ring rows follow.
  @Test("each design's rows are those it declares: ring figures for the ring designs only")
  func declaredRows() {
    let report = ReplayReport(Self.mixed)
    #expect(report.backends.count == 12)
    for b in report.backends {
      let names = Set(b.total.rows.map(\.metric))
      let para = ["para", "virtio", "vhost"].contains(ReplayReport.design(of: b.name))
      #expect(names.contains("ring_full_stalls") == para, "\(b.name)")
      #expect(names.contains("traps") && names.contains("latency_p99_ns"), "\(b.name)")
      #expect(
        Self.mixed.backends.first { $0.name == b.name }!.metrics.contains("ring_full_ns") == para)
    }
  }

  @Test("compare's default thresholds and gateable metrics are the registry's")
  func compareThresholds() {
    let defaults = Dictionary(
      uniqueKeysWithValues: ReportComparison.defaultThresholds.map { ($0.metric, $0.percent) })
    for m in Metric.all {
      #expect(defaults[m.name] == m.threshold, "\(m.name)")
      #expect(ReportComparison.knownMetrics.contains(m.name) == (m.worse != nil), "\(m.name)")
    }
    // The host figures issue 11 gates on, and a latency default, as REPORT-FORMAT.md gives them.
    #expect(defaults["virt_cpu_ns"] == 2 && defaults["latency_p99_ns"] == 5)
  }

  @Test("sweep's columns are the registry's swept metrics, in its order")
  func sweepColumns() {
    #expect(Sweep.headline == Metric.deviceMetrics.filter(\.swept).map(\.name))
    #expect(
      Sweep.cpuHeadline.contains("virt_cpu_ns") && Sweep.cpuHeadline.contains("burst_slowdown"))
    let result = SweepResult(Self.mixed)
    for b in result.backends {
      let missing = Sweep.headline.filter { b.figures[$0] == nil }
      // Full has no rings; an open-loop replay has no slowdown.
      let allowed: Set<String> = Set(Metric.ringMetrics + ["slowdown"])
      #expect(missing.allSatisfy(allowed.contains), "\(b.name): \(missing)")
    }
  }

  // report.md's per-device table: one column per registry metric with a heading, each cell
  // the metric's value as report.md prints it.
  @Test("report.md's per-device table has the registry's columns and values")
  func perDeviceTable() throws {
    let report = ReplayReport(Self.mixed)
    let columns = Metric.deviceMetrics.filter { $0.column != nil }
    #expect(
      columns.map(\.column!) == [
        "requests", "traps", "hypercalls", "interrupts", "bytes copied", "p99 latency",
        "overhead CPU",
      ])
    let b = report.backends[0]
    let (key, f) = b.devices[0]
    let cells = columns.map { $0.markdown($0.value(.device(f, host: nil))!) }
    let line = "| \(b.name) | \(key.vm) | \(key.name) | " + cells.joined(separator: " | ") + " |"
    #expect(report.markdown.contains(line))
    #expect(cells[0] == ReplayReport.grouped(f.metrics.requests))
    #expect(cells[5] == TraceInspection.seconds(f.latency(99)))
  }

  // The docs list every metric: MODEL.md defines each, REPORT-FORMAT.md gives each default
  // threshold and the sweep columns in order.
  @Test("docs/MODEL.md and docs/REPORT-FORMAT.md list the registry's metrics and thresholds")
  func docsListTheRegistry() throws {
    let model = try Self.doc("MODEL.md")
    let measured = model[model.range(of: "## What is measured")!.lowerBound...]
    for m in Metric.all {
      #expect(measured.contains("`\(m.name)`"), "MODEL.md does not define \(m.name)")
    }
    let format = try Self.doc("REPORT-FORMAT.md")
    let table = format[format.range(of: "| metric | threshold | worse when |")!.lowerBound...]
      .split(separator: "\n").prefix { $0.hasPrefix("|") }
    for m in Metric.all {
      guard let t = m.threshold else { continue }
      let row = table.first { $0.contains("`\(m.name)`") }
      #expect(row != nil, "REPORT-FORMAT.md has no threshold for \(m.name)")
      let worse = m.worse == .higherIsWorse ? "higher" : "lower"
      #expect(row?.contains("| \(TraceInspection.fixed(t, 0)) | \(worse)") == true, "\(m.name)")
    }
    let sweeps = format[format.range(of: "## Sweeps")!.lowerBound...]
    var at = sweeps.startIndex
    for name in Sweep.headline + Sweep.cpuHeadline {
      let r = sweeps[at...].range(of: "`\(name)`")
      #expect(r != nil, "REPORT-FORMAT.md's sweep columns: \(name) missing or out of order")
      if let r { at = r.upperBound }
    }
  }
}
