import Foundation
import Testing

@testable import HVReplay

#if canImport(FoundationXML)
  import FoundationXML
#endif

@Suite("report.json, merge, compare and charts")
struct ReportMergeCompareTests {
  static func mixedEvents(vms: Int = 4, events: UInt64 = 20_000) -> [TraceEvent] {
    var p = SynthesisParameters(profile: .mixed)
    p.vms = vms
    p.events = events
    return Array(SyntheticTrace(p))
  }

  @Test("report.json reads back into the result it was written from")
  func roundTrip() throws {
    let report = ReplayReport(try replay(Self.mixedEvents()))
    let text = report.json.serialized()
    let back = try ReplayResult(reportJSON: JSONParser.parse(text, file: "r.json"), file: "r.json")
    let again = ReplayReport(back)
    #expect(again.json.serialized() == text)
    #expect(again.summaryCSV == report.summaryCSV)
    #expect(again.cpuCSV == report.cpuCSV)
    #expect(again.histogramsCSV == report.histogramsCSV)
  }

  @Test("merging two shards that share no VM gives the whole trace's counts and histograms")
  func mergeShards() throws {
    let events = Self.mixedEvents()
    let whole = ReplayReport(try replay(events))
    let a = try replay(events.filter { $0.vm % 2 == 1 })
    let b = try replay(events.filter { $0.vm % 2 == 0 })
    let merged = ReplayReport(try ReplayResult.merge([a, b], names: ["a", "b"]))
    #expect(merged.summaryCSV == whole.summaryCSV)
    #expect(merged.histogramsCSV == whole.histogramsCSV)
    #expect(merged.occupancyCSV == whole.occupancyCSV)
    #expect(merged.result.trace.statistics.events == whole.result.trace.statistics.events)
    // Through report.json too, as `hvreplay merge` reads them.
    func viaJSON(_ r: ReplayResult) throws -> ReplayResult {
      try ReplayResult(
        reportJSON: JSONParser.parse(ReplayReport(r).json.serialized(), file: "x"), file: "x")
    }
    let mergedJSON = ReplayReport(
      try ReplayResult.merge([viaJSON(a), viaJSON(b)], names: ["a", "b"]))
    #expect(mergedJSON.summaryCSV == whole.summaryCSV)
    #expect(mergedJSON.histogramsCSV == whole.histogramsCSV)
  }

  @Test("merge refuses reports of different models")
  func mergeRefusesModels() throws {
    let events = Self.mixedEvents(vms: 2, events: 3000)
    var other = Model()
    other.costs.trapNs += 1
    let a = try replay(events)
    let b = try replay(events, model: other)
    #expect(throws: HVReplayError.self) { try ReplayResult.merge([a, b], names: ["a", "b"]) }
  }

  @Test("compare passes identical reports and finds an injected regression")
  func compare() throws {
    let events = Self.mixedEvents(vms: 2, events: 10_000)
    let base = try replay(events)
    #expect(!ReportComparison(base: base, new: base, baseName: "a", newName: "b").hasRegression)
    // 10% dearer traps: full virtualization's latency and overhead regress, para's do not.
    var dearer = Model()
    dearer.costs.trapNs = dearer.costs.trapNs * 11 / 10
    let new = try replay(events, model: dearer)
    let c = ReportComparison(base: base, new: new, baseName: "a", newName: "b")
    #expect(c.hasRegression)
    let regressed = c.rows.filter(\.regressed)
    #expect(regressed.allSatisfy { $0.scope == "full" })
    #expect(regressed.contains { $0.vm == "all" && $0.metric == "overhead_cpu_ns" })
    #expect(regressed.contains { $0.vm == "all" && $0.metric == "latency_mean_ns" })
    #expect(c.markdown.contains("| ❌ | full | all | all | overhead_cpu_ns |"))
    // Thresholds are per metric: raising two lets them pass, the others still regress.
    let lenient = ReportComparison(
      base: base, new: new, baseName: "a", newName: "b",
      thresholds: ["overhead_cpu_ns": 50, "latency_mean_ns": 50])
    #expect(!lenient.rows.contains { $0.regressed && $0.metric == "overhead_cpu_ns" })
    #expect(!lenient.rows.contains { $0.regressed && $0.metric == "latency_mean_ns" })
    #expect(
      lenient.rows.filter(\.regressed).count
        == regressed.filter { $0.metric != "overhead_cpu_ns" && $0.metric != "latency_mean_ns" }
        .count)
    // Cheaper traps are an improvement, not a regression.
    let back = ReportComparison(base: new, new: base, baseName: "b", newName: "a")
    #expect(!back.hasRegression)
    #expect(back.rows.contains { $0.improved })
  }

  @Test("on the host timeline, dearer traps regress full's virtualization CPU and burst slowdown")
  func compareHosts() throws {
    let events = Self.mixedEvents(vms: 2, events: 10_000)
    let base = try replay(events, coupled: true)
    var dearer = Model()
    dearer.costs.trapNs = dearer.costs.trapNs * 11 / 10
    let new = try replay(events, model: dearer, coupled: true)
    let c = ReportComparison(base: base, new: new, baseName: "a", newName: "b")
    let regressed = c.rows.filter(\.regressed)
    // Full's traps run on its guests' vCPUs: 10% dearer traps cost more than 2% more CPU.
    #expect(
      regressed.contains {
        $0.scope == "full/credit" && $0.vm == "all" && $0.metric == "virt_cpu_ns"
      })
    #expect(
      regressed.contains { $0.scope == "full/fair" && $0.vm == "all" && $0.metric == "virt_cpu_ns" }
    )
    // Para takes no trap: its virtualization CPU does not move.
    #expect(!regressed.contains { $0.scope.hasPrefix("para/") && $0.metric == "virt_cpu_ns" })
    // A device model's rows are its own, not its guest's.
    #expect(c.rows.contains { $0.scope == "full/credit" && $0.vm == "dm1" })
    #expect(
      c.rows.contains { $0.scope == "full/credit" && $0.vm == "1" && $0.metric == "virt_cpu_ns" })
  }

  @Test("the SVG charts parse as XML", arguments: ["latency", "occupancy", "timeseries"])
  func svgIsXML(chart: String) throws {
    let report = ReplayReport(try replay(Self.mixedEvents(vms: 2, events: 5000)))
    let svg =
      chart == "latency"
      ? report.latencySVG : chart == "occupancy" ? report.occupancySVG : report.timeSeriesSVG
    let parser = XMLParser(data: Data(svg.utf8))
    #expect(parser.parse(), "\(parser.parserError.map { "\($0)" } ?? "")")
    #expect(svg.contains("<polyline"))
  }

  @Test("ring occupancy as a complementary CDF on a log axis, whole-number ticks, legend below")
  func occupancyCCDF() throws {
    let report = ReplayReport(try replay(Self.mixedEvents(vms: 2, events: 5000)))
    let svg = report.occupancySVG
    // The first point of every ring is (0, 1): the ring held at least 0 requests always.
    let ring = try #require(report.backends.first { !$0.rings.isEmpty }?.rings.first)
    let o = try #require(ring.figures.metrics.occupancy)
    #expect(o.timeAtLevel[0] > 0 && o.maximum > 0)
    // Each curve starts at the plot's top left: at least 0 requests all of the time (1 on
    // the log axis, its top decade).
    let curves = svg.components(separatedBy: "<polyline").dropFirst()
    #expect(!curves.isEmpty)
    for c in curves {
      #expect(
        c.contains("points=\"\(SVGChart.left),\(SVGChart.top) ")
          || c.contains("points=\"70.0,40.0 "), "\(c.prefix(80))")
    }
    #expect(svg.contains("fraction of time (log)") && svg.contains(">1e-6</text>"))
    // x ticks are whole numbers; no tick label holds a decimal point.
    let ticks = svg.components(separatedBy: "text-anchor=\"middle\">").dropFirst().map {
      String($0.prefix { $0 != "<" })
    }
    #expect(ticks.allSatisfy { !$0.contains(".") || $0.contains(" ") }, "\(ticks)")
    // The legend is below the plot: every legend swatch lies under the plot's frame.
    let frameBottom = SVGChart.top + (SVGChart.height - SVGChart.top - SVGChart.bottom)
    let swatches = svg.components(separatedBy: "width=\"12\" height=\"12\"").count - 1
    #expect(swatches > 0)
    for part in svg.components(separatedBy: "<rect x=").dropFirst()
    where part.contains("width=\"12\"") {
      let y = Double(part.components(separatedBy: "y=\"")[1].prefix { $0 != "\"" })!
      #expect(y > frameBottom)
    }
  }
}

@Suite("Percentile index")
struct PercentileIndexTests {
  @Test("answers exactly as HdrHistogram's valueAtPercentile, at every percentile asked")
  func matchesHistogram() {
    var rng = Xoshiro256(seed: 11)
    for size in [1, 2, 10, 1000, 50_000] {
      var h = ChannelMetrics.makeHistogram()
      for _ in 0..<size { h.record(UInt64(rng.exponential(mean: 80_000)) + rng.integer(in: 0...3)) }
      let index = PercentileIndex(h)
      for p in [0, 0.001, 1, 5, 33.3, 50, 90, 99, 99.5, 99.9, 99.99, 99.999, 100]
        + ReplayReport.fioPercentiles
      {
        #expect(index.value(at: p) == h.valueAtPercentile(p), "size \(size) p\(p)")
      }
      #expect(index.max == h.max)
      #expect(index.total == h.totalCount)
    }
  }
}
