/// timeseries.csv and timeseries.svg (docs/REPORT-FORMAT.md, "Time series"): each host
/// simulation's figures per interval of trace time (model rule "time series").
extension ReplayReport {
  /// The backends that kept a time series (a report read back from report.json has none).
  var seriesBackends: [BackendResult] {
    result.backends.filter { $0.timeSeries.map { !$0.intervals.isEmpty } ?? false }
  }

  /// `backend,vm,device,interval_start_ns,metric,value,unit`: per interval, per channel,
  /// per VM (`device` `all`) and over every VM (`vm` `all`): `iops` and `bytes_per_s` of
  /// the requests completed, `latency_p50_ns`, `latency_p99_ns` and `latency_max_ns` of
  /// theirs, `ring_occupancy_mean`, `exits` and `notifications`; per VM of a host,
  /// `cpu_share` (device `cpu`). Scopes and intervals with nothing are left out.
  public var timeSeriesCSV: String {
    var out = ""
    writeTimeSeriesCSV(to: &out)
    return out
  }

  /// Writes ``timeSeriesCSV`` to `out`, backend by backend, interval by interval.
  func writeTimeSeriesCSV<Out: TextOutputStream>(to out: inout Out) {
    out.write("backend,vm,device,interval_start_ns,metric,value,unit\n")
    for b in seriesBackends { writeTimeSeriesRows(b, to: &out) }
  }

  /// Writes timeseries.csv's rows of backend `b` to `stream`, an interval's at a time.
  private func writeTimeSeriesRows<Out: TextOutputStream>(
    _ b: BackendResult, to stream: inout Out
  ) {
    let series = b.timeSeries!
    let name = CSVField.quote(b.name)
    for (i, slot) in series.intervals.enumerated() {
      let (start, ns) = series.span(of: i)
      var out = ""
      defer { stream.write(out) }
      var perVM: [UInt16: IntervalFigures] = [:]
      var vmRings: [UInt16: Int] = [:]
      var vmOrder: [UInt16] = []
      var every = IntervalFigures()
      var rings = 0
      let cpuRows = series.pcpus > 0 && i < series.cpu.count ? series.cpu[i] : []
      // The interval's width, so that rates turn back into counts.
      if !slot.isEmpty || !cpuRows.isEmpty {
        out += "\(name),all,all,\(start),interval_ns,\(ns),ns\n"
      }
      for (c, f) in slot {
        let channel = result.channels[Int(c)]
        Self.seriesRows(&out, name, "\(channel.vm)", channel.name, start, ns, f)
        if perVM[channel.vm] == nil { vmOrder.append(channel.vm) }
        perVM[channel.vm, default: IntervalFigures()].add(f)
        every.add(f)
        if f.occupancyNs != nil {
          vmRings[channel.vm, default: 0] += 1
          rings += 1
        }
      }
      for vm in vmOrder.sorted() {
        Self.seriesRows(
          &out, name, "\(vm)", "all", start, ns, perVM[vm]!, rings: vmRings[vm] ?? 0)
      }
      if !slot.isEmpty {
        Self.seriesRows(&out, name, "all", "all", start, ns, every, rings: rings)
      }
      for (vm, used) in cpuRows {
        let share = Double(used) / (Double(ns) * Double(series.pcpus)) * 100
        out +=
          "\(name),\(CSVField.quote(vm)),cpu,\(start),cpu_share,\(TraceInspection.fixed(share, 3)),pct\n"
      }
    }
  }

  private static func seriesRows(
    _ out: inout String, _ backend: String, _ vm: String, _ device: String, _ start: UInt64,
    _ ns: UInt64, _ f: IntervalFigures, rings: Int = 1
  ) {
    let prefix = "\(backend),\(vm),\(device),\(start),"
    let seconds = Double(ns) / 1e9
    if f.requests > 0 {
      out += prefix + "requests,\(f.requests),requests\n"
      out += prefix + "iops,\(TraceInspection.fixed(Double(f.requests) / seconds, 3)),per_s\n"
      out += prefix + "bytes_per_s,\(TraceInspection.fixed(Double(f.bytes) / seconds, 3)),B/s\n"
      let p = f.latency.values(at: [50, 99])
      out += prefix + "latency_p50_ns,\(p[0]),ns\n"
      out += prefix + "latency_p99_ns,\(p[1]),ns\n"
      out += prefix + "latency_max_ns,\(f.maxNs),ns\n"
    }
    if let o = f.occupancyNs, rings > 0 {
      // Per ring, averaged over a scope's rings as in summary.csv.
      let mean = Double(o) / Double(ns) / Double(rings)
      out += prefix + "ring_occupancy_mean,\(TraceInspection.fixed(mean, 3)),entries\n"
    }
    if f.exits > 0 { out += prefix + "exits,\(f.exits),exits\n" }
    if f.notifications > 0 { out += prefix + "notifications,\(f.notifications),notifications\n" }
  }

  /// Every VM's latency p99 and IOPS over time, one line per backend, side by side.
  public var timeSeriesSVG: String {
    var p99: [(name: String, points: [(Double, Double)])] = []
    var iops: [(name: String, points: [(Double, Double)])] = []
    let origin = seriesBackends.compactMap { $0.timeSeries?.startNs }.min() ?? 0
    for b in seriesBackends {
      let series = b.timeSeries!
      var latencyPoints: [(Double, Double)] = []
      var iopsPoints: [(Double, Double)] = []
      for (i, slot) in series.intervals.enumerated() {
        let (start, ns) = series.span(of: i)
        var every = IntervalFigures()
        for (_, f) in slot { every.add(f) }
        let x = Double(start - origin) / 1e9
        iopsPoints.append((x, Double(every.requests) / (Double(ns) / 1e9)))
        if every.requests > 0 {
          latencyPoints.append((x, Double(every.latency.values(at: [99])[0])))
        }
      }
      p99.append((b.name, latencyPoints))
      iops.append((b.name, iopsPoints))
    }
    let width = widthsText
    // The latency axis in the unit its largest value reads best in.
    let top = p99.flatMap { $0.points.map(\.1) }.max() ?? 0
    let (unit, scale) = top >= 1e9 ? ("s", 1e9) : top >= 1e6 ? ("ms", 1e6) : ("us", 1e3)
    let scaled = p99.map { s in (name: s.name, points: s.points.map { ($0.0, $0.1 / scale) }) }
    let left = SVGChart.lines(
      title: "Latency p99 over time (\(width) intervals)", xLabel: "trace time (s)",
      yLabel: "p99 latency (\(unit))", series: scaled, logX: false)
    let right = SVGChart.lines(
      title: "Completed IOPS over time (\(width) intervals)", xLabel: "trace time (s)",
      yLabel: "requests per second", series: iops, logX: false)
    return SVGChart.sideBySide(left, right)
  }

  /// The intervals' width, or the widths by backend where hosts chose differently.
  var widthsText: String {
    let widths = seriesBackends.map { $0.timeSeries!.widthNs }
    guard let first = widths.first else { return "" }
    if widths.allSatisfy({ $0 == first }) { return SVGChart.nanoseconds(Double(first)) }
    let distinct = Array(Set(widths)).sorted()
    return distinct.map { w in
      SVGChart.nanoseconds(Double(w)) + ": "
        + seriesBackends.filter { $0.timeSeries!.widthNs == w }.map(\.name).joined(separator: ", ")
    }.joined(separator: "; ")
  }

  /// Whether the series has requests to chart (a cpu-only trace's has CPU shares only).
  var seriesHasRequests: Bool {
    seriesBackends.contains {
      $0.timeSeries!.intervals.contains { $0.contains { $0.figures.requests > 0 } }
    }
  }

  /// report.md's section on the time series.
  var timeSeriesMarkdown: String {
    guard seriesHasRequests else { return "" }
    var md = "\n## Over time\n\n"
    md += "Every VM's figures per \(widthsText) of trace time "
    md += "are in `timeseries.csv` (per channel, VM and backend; model rule \"time series\")"
    md +=
      seriesBackends.contains { $0.timeSeries!.cut }
      ? "; it stops at \(TimeSeriesRecorder.maximumIntervals) intervals (or \(TimeSeriesRecorder.maximumEntries) channel-intervals): a longer `--interval` covers the rest"
      : ""
    md += ".\n" + timeSeriesMermaid + "\n![Latency p99 and IOPS over time](timeseries.svg)\n"
    return md
  }

  /// report.md's Mermaid chart of every VM's p99 over time, one line per backend (at most
  /// 8 backends and 100 points: neighbouring intervals are taken in turn).
  var timeSeriesMermaid: String {
    let backends = seriesBackends.prefix(8)
    guard let first = backends.first?.timeSeries, first.intervals.count > 1 else { return "" }
    let step = max(1, (first.intervals.count + 99) / 100)
    var md =
      "\n```mermaid\nxychart-beta\n  title \"Latency p99 (us) per \(SVGChart.nanoseconds(Double(first.widthNs * UInt64(step)))) (lines: "
    md += backends.map(\.name).joined(separator: "; ") + ")\"\n"
    let labels = stride(from: 0, to: first.intervals.count, by: step).map { i in
      "\"\(SVGChart.nanoseconds(Double(first.span(of: i).start - first.startNs)))\""
    }
    md += "  x-axis [" + labels.joined(separator: ", ") + "]\n"
    md += "  y-axis \"p99 latency (us)\"\n"
    for b in backends {
      let s = b.timeSeries!
      var values: [String] = []
      for i in stride(from: 0, to: first.intervals.count, by: step) {
        // The backend's intervals from this point's start to the next point's.
        let from = first.span(of: i).start
        let to = first.span(of: min(i + step, first.intervals.count - 1)).start
        var every = IntervalFigures()
        for (j, slot) in s.intervals.enumerated() {
          let start = s.span(of: j).start
          guard start >= from && (start < to || i + step >= first.intervals.count) else { continue }
          for (_, f) in slot { every.add(f) }
        }
        values.append(
          every.requests > 0
            ? TraceInspection.fixed(Double(every.latency.values(at: [99])[0]) / 1e3, 1)
            : "0")
      }
      md += "  line [" + values.joined(separator: ", ") + "]\n"
    }
    return md + "```\n"
  }
}
