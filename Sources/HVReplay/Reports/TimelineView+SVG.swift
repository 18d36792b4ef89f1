// The timeline as a picture (docs/TIMELINE.md, "Without a trace viewer"): per backend, a
// row per CPU thread with what it ran, then the requests, packed into rows, each drawn as
// its phases in colour. Self-contained SVG; the same layout a trace viewer shows, without one.

extension TimelineView {
  /// Request rows drawn per backend at most; the rest are counted in the row's label.
  static let requestRowLimit = 40
  /// CPU threads drawn per backend at most.
  static let cpuRowLimit = 48

  /// A colour per phase, in ``TimelinePhase`` order, then CPU work's: I/O, burst.
  static let phaseColors = [
    "#c7c7c7", "#d62728", "#ff7f0e", "#bcbd22", "#9467bd", "#1f77b4", "#17becf", "#e377c2",
    "#2ca02c", "#8c564b", "#7f7f7f",
  ]
  static let ioColor = 9
  static let burstColor = 10

  /// Draws one row's pieces in time order, gathering pieces narrower than a pixel that
  /// are less than a pixel apart into one rectangle (coloured as most of its time, its
  /// title counting the pieces), so a row holds at most about two rectangles per pixel
  /// however many pieces it has.
  struct RowPainter {
    let y: Double
    let height: Double
    private var x0 = 0.0
    private var x1 = -Double.infinity
    private var pieces = 0
    private var label = ""
    private var ns: UInt64 = 0
    private var colorNs = [UInt64](repeating: 0, count: TimelineView.phaseColors.count)

    init(y: Double, height: Double) {
      self.y = y
      self.height = height
    }

    mutating func add(
      _ start: Double, _ end: Double, color: Int, ns: UInt64, label: String,
      into out: inout String
    ) {
      // A rectangle a pixel wide or more is drawn as it is; narrower pieces are gathered
      // until they make a pixel or a pixel's gap follows.
      if pieces > 0 && (start >= x1 + 1 || x1 - x0 >= 1) { flush(into: &out) }
      if pieces == 0 {
        x0 = start
        self.label = label
      }
      x1 = max(x1, end)
      pieces += 1
      self.ns += ns
      colorNs[color] += max(ns, 1)
    }

    mutating func flush(into out: inout String) {
      guard pieces > 0 else { return }
      var color = 0
      for k in colorNs.indices where colorNs[k] > colorNs[color] { color = k }
      let title =
        pieces == 1
        ? "\(label), \(Duration.format(nanoseconds: ns))"
        : "\(pieces) pieces from \(label), \(Duration.format(nanoseconds: ns)) in all"
      out +=
        "<rect x=\"\(TimelineView.f(x0))\" y=\"\(TimelineView.f(y))\" width=\"\(TimelineView.f(max(x1 - x0, 0.5)))\" height=\"\(TimelineView.f(height))\" fill=\"\(TimelineView.phaseColors[color])\"><title>\(SVGChart.escape(title))</title></rect>\n"
      pieces = 0
      ns = 0
      x1 = -.infinity
      for k in colorNs.indices { colorNs[k] = 0 }
    }
  }

  /// The timeline as an SVG picture.
  public func svg(trace: TraceIdentity) -> String {
    let width = 1200.0
    let labelWidth = 190.0
    let plotWidth = width - labelWidth - 20
    let rowHeight = 14.0
    let top = 64.0
    // The x axis: the window, or up to the last thing drawn when that ends sooner; what
    // runs past the window's end is drawn up to the plot's edge.
    let start = processes.map(\.startNs).min() ?? 0
    let windowEnd = processes.map { $0.startNs.adding(saturating: $0.lengthNs) }.max() ?? 1
    var last = start
    for p in processes {
      for r in p.requests { last = max(last, r.endNs) }
      for t in p.threads { last = max(last, t.slices.last?.endNs ?? 0) }
    }
    var end = min(windowEnd, last)
    if end <= start { end = start + 1 }
    func x(_ t: UInt64) -> Double {
      labelWidth + Double(min(t, end) - min(t, start)) / Double(end - start) * plotWidth
    }
    var body = ""
    var y = top
    for process in processes {
      body +=
        "<text x=\"4\" y=\"\(Self.f(y + 12))\" font-weight=\"bold\">\(SVGChart.escape(process.name))\(process.cut ? " (cut: record limit)" : "")</text>\n"
      y += 18
      let cpuThreads = process.threads.filter { !$0.slices.isEmpty }
      for thread in cpuThreads.prefix(Self.cpuRowLimit) {
        body +=
          "<text x=\"8\" y=\"\(Self.f(y + 10))\" font-size=\"10\">\(SVGChart.escape(thread.name))</text>\n"
        var row = RowPainter(y: y + 1, height: rowHeight - 3)
        for slice in thread.slices where slice.startNs < end {
          row.add(
            x(slice.startNs), x(slice.endNs),
            color: slice.channel >= 0 ? Self.ioColor : Self.burstColor,
            ns: slice.endNs - slice.startNs, label: slice.name, into: &body)
        }
        row.flush(into: &body)
        y += rowHeight
      }
      if cpuThreads.count > Self.cpuRowLimit {
        body +=
          "<text x=\"8\" y=\"\(Self.f(y + 10))\" font-size=\"10\">(\(cpuThreads.count - Self.cpuRowLimit) more CPU threads not drawn)</text>\n"
        y += rowHeight
      }
      // Requests, packed greedily into rows in order of issue.
      var rowEnds: [UInt64] = []
      var painters: [RowPainter] = []
      var hidden = 0
      var drawn = ""
      for request in process.requests {
        guard
          let row = rowEnds.firstIndex(where: { $0 <= request.startNs })
            ?? (rowEnds.count < Self.requestRowLimit ? rowEnds.count : nil)
        else {
          hidden += 1
          continue
        }
        if row == rowEnds.count {
          rowEnds.append(0)
          painters.append(
            RowPainter(y: y + Double(row) * (rowHeight - 4) + 1, height: rowHeight - 6))
        }
        rowEnds[row] = max(request.endNs, request.startNs + 1)
        let name = "\(Self.name(of: channels[request.channel])) \(request.op)"
        for phase in request.phases where phase.startNs < end {
          painters[row].add(
            x(phase.startNs), x(phase.endNs), color: Int(phase.phase.rawValue),
            ns: phase.endNs - phase.startNs, label: "\(name): \(phase.phase.label)", into: &drawn)
        }
      }
      for k in painters.indices { painters[k].flush(into: &drawn) }
      let shown = process.requests.count - hidden
      body +=
        "<text x=\"8\" y=\"\(Self.f(y + 10))\" font-size=\"10\">requests: \(shown)\(hidden > 0 ? " (\(hidden) more not drawn)" : "")</text>\n"
      body += drawn
      y += Double(max(rowEnds.count, 1)) * (rowHeight - 4) + 12
    }
    // Time axis.
    let axisY = y + 4
    var axis =
      "<line x1=\"\(Self.f(labelWidth))\" y1=\"\(Self.f(axisY))\" x2=\"\(Self.f(labelWidth + plotWidth))\" y2=\"\(Self.f(axisY))\" stroke=\"#333\"/>\n"
    let span = end - start
    let step = Self.tickStep(span)
    // Ticks at round times since the start.
    var t = start
    while t <= end {
      let tx = x(t)
      axis +=
        "<line x1=\"\(Self.f(tx))\" y1=\"\(Self.f(top))\" x2=\"\(Self.f(tx))\" y2=\"\(Self.f(axisY + 4))\" stroke=\"#ddd\"/>\n<text x=\"\(Self.f(tx))\" y=\"\(Self.f(axisY + 16))\" font-size=\"10\" text-anchor=\"middle\">\(Self.time(t - start))</text>\n"
      guard t <= UInt64.max - step else { break }
      t += step
    }
    // Legend: the CPU colours and the phases.
    var legend = ""
    var lx = 4.0
    let entries =
      [
        (Self.phaseColors[Self.ioColor], "CPU: I/O work"),
        (Self.phaseColors[Self.burstColor], "CPU: burst"),
      ]
      + TimelinePhase.allCases.map { (Self.phaseColors[Int($0.rawValue)], $0.label) }
    var ly = 36.0
    for (color, label) in entries {
      let w = 16 + Double(label.count) * 6.2
      if lx + w > width {
        lx = 4
        ly += 14
      }
      legend +=
        "<rect x=\"\(Self.f(lx))\" y=\"\(Self.f(ly - 9))\" width=\"10\" height=\"10\" fill=\"\(color)\"/><text x=\"\(Self.f(lx + 13))\" y=\"\(Self.f(ly))\" font-size=\"10\">\(SVGChart.escape(label))</text>\n"
      lx += w + 8
    }
    let shift = ly - 36
    let height = axisY + 28 + shift
    let title =
      "hvreplay timeline: \(trace.name), from \(Self.time(start)) (\(Duration.format(nanoseconds: window.lengthNs)) window)"
    return """
      <svg xmlns="http://www.w3.org/2000/svg" width="\(Int(width))" height="\(Int(height))" viewBox="0 0 \(Int(width)) \(Int(height))" font-family="sans-serif" font-size="12">
      <rect width="100%" height="100%" fill="white"/>
      <text x="4" y="18" font-size="14" font-weight="bold">\(SVGChart.escape(title))</text>
      \(legend)<g transform="translate(0 \(Self.f(shift)))">
      \(axis)\(body)</g>
      </svg>

      """
  }

  /// A round tick step giving 4 to 10 ticks over `span` ns.
  static func tickStep(_ span: UInt64) -> UInt64 {
    var step: UInt64 = 1
    while span / step > 10 {
      if span / (step * 2) <= 10 { return step * 2 }
      if span / (step * 5) <= 10 { return step * 5 }
      step *= 10
    }
    return step
  }

  /// `ns` with a unit: `250us`, `1.5ms`.
  public static func time(_ ns: UInt64) -> String {
    if ns >= 1_000_000_000 { return "\(Self.f(Double(ns) / 1e9))s" }
    if ns >= 1_000_000 { return "\(Self.f(Double(ns) / 1e6))ms" }
    if ns >= 1_000 { return "\(Self.f(Double(ns) / 1e3))us" }
    return "\(ns)ns"
  }

  /// A number with at most two decimals, trailing zeros dropped.
  static func f(_ v: Double) -> String {
    let scaled = (v * 100).rounded()
    let whole = Int64(scaled) / 100
    let frac = abs(Int64(scaled) % 100)
    if frac == 0 { return "\(scaled < 0 && whole == 0 ? "-" : "")\(whole)" }
    let digits = frac % 10 == 0 ? "\(frac / 10)" : (frac < 10 ? "0\(frac)" : "\(frac)")
    return "\(scaled < 0 && whole == 0 ? "-" : "")\(whole).\(digits)"
  }
}
