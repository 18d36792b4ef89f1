// The files of `hvreplay exits` (docs/REPORT-FORMAT.md, "Exit reports"): exits.md,
// exits.csv, exits-timeseries.csv, exits.json and exits.svg.

extension ExitReport {
  /// The report folder's files, in the order they are listed.
  public var files: [(name: String, contents: String)] {
    var f = [("exits.md", markdown), ("exits.csv", csv), ("exits.json", json.serialized() + "\n")]
    if hasTimeSeries {
      f.append(("exits-timeseries.csv", timeSeriesCSV))
      f.append(("exits.svg", chart))
    }
    return f
  }

  /// The figures of a row as (metric, value, unit), those the source has.
  func metrics(_ r: Row, counting unit: String = "exits") -> [(String, String, String)] {
    let f = r.figures
    var m: [(String, String, String)] = [("count", "\(f.count)", unit)]
    if let rate = rate(r) { m.append(("rate", TraceInspection.fixed(rate, 3), "per_s")) }
    m.append(("share", TraceInspection.fixed(r.sharePercent, 3), "pct"))
    if let t = r.timeSharePercent { m.append(("time_share", TraceInspection.fixed(t, 3), "pct")) }
    guard f.timed > 0 else { return m }
    m.append(("timed", "\(f.timed)", unit))
    m.append(("total", "\(f.totalNs)", "ns"))
    if let mean = f.meanNs { m.append(("mean", TraceInspection.fixed(mean, 1), "ns")) }
    if let v = f.minNs { m.append(("min", "\(v)", "ns")) }
    for (name, p) in Self.percentiles {
      if let v = f.percentile(p) { m.append((name, "\(v)", "ns")) }
    }
    if let v = f.maxNs { m.append(("max", "\(v)", "ns")) }
    return m
  }

  static let percentiles: [(String, Double)] = [
    ("p50", 50), ("p90", 90), ("p99", 99), ("p99.9", 99.9),
  ]

  /// `vm,vcpu,reason,metric,value,unit`: every scope and reason, totals with `all`.
  public var csv: String {
    var out = "vm,vcpu,reason,metric,value,unit\n"
    for (section, rows) in zip(Self.sectionNames, sections) {
      let counting = Self.countUnit(section)
      for r in rows {
        let prefix = [r.vm, r.vcpu, r.reason].map(CSVField.quote).joined(separator: ",")
        for (metric, value, unit) in metrics(r, counting: counting) {
          out += "\(prefix),\(metric),\(value),\(unit)\n"
        }
      }
    }
    return out
  }

  /// What a section's rows count: exits, accesses (kvm_mmio, kvm_pio) or returns to
  /// userspace (kvm_userspace_exit).
  static func countUnit(_ section: String) -> String {
    switch section {
    case "accesses": "accesses"
    case "userspace": "returns"
    default: "exits"
    }
  }

  /// `vm,reason,interval_start_ns,metric,value,unit`: exits and their time per interval,
  /// per VM and reason and in total (`all`); intervals without exits are left out.
  public var timeSeriesCSV: String {
    var out = "vm,reason,interval_start_ns,metric,value,unit\n"
    var i = 0
    while i < series.count {
      let start = series[i].startNs
      var totals: [String: (UInt64, UInt64)] = [:]
      while i < series.count && series[i].startNs == start {
        let s = series[i]
        let prefix = [s.vm, s.reason].map(CSVField.quote).joined(separator: ",")
        out += "\(prefix),\(start),count,\(s.count),exits\n"
        if hasDurations { out += "\(prefix),\(start),time,\(s.ns),ns\n" }
        let t = totals[s.reason] ?? (0, 0)
        totals[s.reason] = (t.0 + s.count, t.1.adding(saturating: s.ns))
        i += 1
      }
      for (reason, t) in totals.sorted(by: { $0.key < $1.key }) {
        let prefix = ["all", reason].map(CSVField.quote).joined(separator: ",")
        out += "\(prefix),\(start),count,\(t.0),exits\n"
        if hasDurations { out += "\(prefix),\(start),time,\(t.1),ns\n" }
      }
    }
    return out
  }

  /// Exits per second over time, for the most frequent reasons (the rest as `other`).
  public var chart: String {
    // At most about 2,000 points a line: longer series merge neighbouring intervals.
    let step = max(intervalNs ?? 1, 1)
    let intervals = (series.last?.startNs ?? 0) / step + 1
    let merge = (intervals + 1_999) / 2_000
    let width = step.multipliedReportingOverflow(by: merge).overflow ? step : step * merge
    let interval = Double(width)
    let top = Array(totals.prefix(6).map(\.reason))
    var perReason: [String: [UInt64: UInt64]] = [:]
    var starts = Set<UInt64>()
    for s in series {
      let name = top.contains(s.reason) ? s.reason : "other"
      let start = s.startNs / width * width
      perReason[name, default: [:]][start, default: 0] += s.count
      starts.insert(start)
    }
    let xs = starts.sorted()
    let names = top + (perReason["other"] != nil ? ["other"] : [])
    let series = names.map { name in
      (
        name: name,
        points: xs.map { x in
          (Double(x) / 1e9, Double(perReason[name]?[x] ?? 0) / (interval / 1e9))
        }
      )
    }
    return SVGChart.lines(
      title:
        "VM exits per second by reason (\(Duration.format(nanoseconds: intervalNs ?? 1)) intervals)",
      xLabel: "time since the first event (s)", yLabel: "exits per second", series: series,
      logX: false)
  }

  /// A page for a person: totals by reason, per VM and vCPU, per pCPU, handlers, accesses.
  public var markdown: String {
    var md = "# VM exits: \(MarkdownEscaping.text(file))\n\n"
    for n in notes { md += "- \(MarkdownEscaping.text(n))\n" }
    if let s = spanNs {
      md += "- span: \(TraceInspection.seconds(s)) from the first event to the last\n"
    }
    if !events.isEmpty {
      md += "- events: " + events.map { "\($0.name) \($0.count)" }.joined(separator: ", ") + "\n"
    }
    let everyVM = rows.filter { $0.vm == "all" }
    md += "\n## Every VM\n\n"
    md +=
      everyVM.contains { $0.figures.count > 0 }
      ? table(everyVM, scope: false) : "No exits were recorded (see the notes above).\n"
    let top = totals.prefix(8)
    if !top.isEmpty {
      md += "\n```mermaid\npie showData title Exits by reason\n"
      for r in top { md += "  \"\(r.reason)\" : \(r.figures.count)\n" }
      let rest = totals.dropFirst(8).reduce(0) { $0 + $1.figures.count }
      if rest > 0 { md += "  \"other\" : \(rest)\n" }
      md += "```\n"
    }
    let vmRows = rows.filter { $0.vm != "all" }
    if !vmRows.isEmpty { md += "\n## Per VM and vCPU\n\n" + table(vmRows, scope: true) }
    if !pcpuRows.isEmpty { md += "\n## Per host CPU\n\n" + table(pcpuRows, scope: true) }
    if !handlerRows.isEmpty {
      md += "\n## Handled in the kernel or in userspace\n\n" + table(handlerRows, scope: true)
    }
    if !accessRows.isEmpty {
      md +=
        "\n## I/O accesses by address or port\n\n"
        + "Every kvm_mmio and kvm_pio counts; durations are those of the exits that made them.\n\n"
        + table(Array(accessRows.prefix(50)), scope: false, counting: Self.countUnit("accesses"))
      if accessRows.count > 50 { md += "\n(\(accessRows.count - 50) more in exits.csv)\n" }
    }
    if !userspaceRows.isEmpty {
      md +=
        "\n## Returns to userspace (kvm_userspace_exit) by reason\n\n"
        + table(userspaceRows, scope: false, counting: Self.countUnit("userspace"))
    }
    if hasTimeSeries { md += "\n![Exits over time](exits.svg)\n" }
    return md
  }

  private func table(_ rows: [Row], scope: Bool, counting: String = "exits") -> String {
    var head = scope ? "| VM | vCPU | reason |" : "| reason |"
    head += " \(counting) | per s | share | time share | mean | p50 | p99 | p99.9 | max |\n"
    head += "|" + String(repeating: "---|", count: scope ? 12 : 10) + "\n"
    var out = head
    func ns(_ v: UInt64?) -> String { v.map { SVGChart.nanoseconds(Double($0)) } ?? "-" }
    for r in rows {
      let f = r.figures
      var cells: [String] = scope ? [r.vm, r.vcpu, r.reason] : [r.reason]
      cells = cells.map(MarkdownEscaping.text)
      cells.append("\(f.count)")
      cells.append(rate(r).map { TraceInspection.fixed($0, 1) } ?? "-")
      cells.append(TraceInspection.fixed(r.sharePercent, 2) + "%")
      cells.append(r.timeSharePercent.map { TraceInspection.fixed($0, 2) + "%" } ?? "-")
      cells.append(f.meanNs.map { SVGChart.nanoseconds($0) } ?? "-")
      cells.append(ns(f.percentile(50)))
      cells.append(ns(f.percentile(99)))
      cells.append(ns(f.percentile(99.9)))
      cells.append(ns(f.timed > 0 ? f.maxNs : nil))
      out += "| " + cells.joined(separator: " | ") + " |\n"
    }
    return out
  }

  /// exits.json: the rows' figures, mergeable and comparable (`hvreplay compare`).
  public var json: JSONValue {
    func rowsJSON(_ rows: [Row]) -> JSONValue {
      .array(
        rows.map { r in
          var members: [(String, JSONValue)] = [
            ("vm", .string(r.vm)), ("vcpu", .string(r.vcpu)), ("reason", .string(r.reason)),
          ]
          for (metric, value, _) in metrics(r) {
            if let u = UInt64(value) {
              members.append((metric, .uint(u)))
            } else if let d = Double(value) {
              members.append((metric, .double(d)))
            }
          }
          // A merged part's own span, and the durations themselves, so that reports merge
          // exactly (`hvreplay merge`).
          if let s = r.spanNs { members.append(("span_ns", .uint(s))) }
          if r.figures.hasDistribution {
            members.append(("histogram", ReplayReport.histogramJSON(r.figures.histogram)))
          }
          return .object(members)
        })
    }
    var top: [(String, JSONValue)] = [
      ("format", .string("hvreplay-exits")), ("version", .uint(1)),
      ("file", .string(file)), ("layout", .string(layout.rawValue)),
    ]
    if let s = spanNs { top.append(("span_ns", .uint(s))) }
    if let i = intervalNs { top.append(("interval_ns", .uint(i))) }
    top.append(("events", .object(events.map { ($0.name, .uint($0.count)) })))
    top.append(("notes", .array(notes.map { .string($0) })))
    for (name, rows) in zip(Self.sectionNames, sections) { top.append((name, rowsJSON(rows))) }
    return .object(top)
  }
}

/// CSV quoting of a field (RFC 4180): quoted when it holds a comma, quote or line break.
enum CSVField {
  static func quote(_ s: String) -> String {
    guard s.contains(where: { $0 == "," || $0 == "\"" || $0 == "\n" || $0 == "\r" }) else {
      return s
    }
    return "\"" + s.replacingAll("\"", "\"\"") + "\""
  }
}

extension ExitReport {
  /// The name a recording's reports take: the file name without directories and its
  /// extensions (`host.report.txt.zst` → `host`); `-` → `stdin`.
  public static func name(of path: String) -> String {
    TraceIdentity.baseName(of: path, otherwise: "recording")
  }

  /// One line for the terminal: exits, reasons, the top reason and its median duration.
  public var summaryLine: String {
    let all =
      rows.first { $0.vm == "all" && $0.vcpu == "all" && $0.reason == "all" }
      ?? rows.first { $0.vm == "all" && $0.reason == "all" }
    guard let all, all.figures.count > 0 else {
      // A recording without kvm_exit (rule E2, E3) still says what it counted.
      var s = "exits: none"
      for (what, rows) in [("accesses", everyVMAccesses), ("returns to userspace", userspaceRows)] {
        let n = rows.reduce(UInt64(0)) { $0.adding(saturating: $1.figures.count) }
        if n > 0 { s += "; \(n == .max ? "more than 2^64" : "\(n)") \(what)" }
      }
      return s
    }
    var s = "exits: \(all.figures.count) (\(totals.count) reasons)"
    if let r = rate(all) { s += ", \(TraceInspection.fixed(r, 1)) per s" }
    if let top = totals.first {
      s += "; most: \(top.reason) \(TraceInspection.fixed(top.sharePercent, 1))%"
      if let p = top.figures.percentile(50) { s += ", p50 \(SVGChart.nanoseconds(Double(p)))" }
    }
    return s
  }
}
