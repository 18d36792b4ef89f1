import Histogram

/// Self-contained SVG charts: nothing but the file is needed to view them.
enum SVGChart {
  static let width = 720.0
  static let height = 420.0
  static let left = 70.0
  static let right = 20.0
  static let top = 40.0
  static let bottom = 60.0
  static let colors = [
    "#1f77b4", "#d62728", "#2ca02c", "#9467bd", "#ff7f0e", "#8c564b", "#e377c2", "#7f7f7f",
  ]

  /// A line chart; `logX` plots x on a base-10 logarithmic axis, `logY` y (from
  /// `logYFloor`, values below it drawn at it); `integerX` puts x ticks on whole numbers
  /// only (for counts). The legend sits below the plot, two entries a row, so it covers
  /// no curve.
  static func lines(
    title: String, xLabel: String, yLabel: String,
    series: [(name: String, points: [(Double, Double)])],
    logX: Bool, yMax: Double? = nil, logY: Bool = false, logYFloor: Double = 1e-6,
    integerX: Bool = false
  ) -> String {
    let all = series.flatMap(\.points)
    let xs = all.map { logX ? log10(max($0.0, 1)) : $0.0 }
    var xMin = xs.min() ?? 0
    var xMax = xs.max() ?? 1
    if logX {
      xMin = xMin.rounded(.down)
      xMax = max(xMax.rounded(.up), xMin + 1)
    } else if xMax == xMin {
      xMax = xMin + 1
    }
    let yTop = yMax ?? max(all.map(\.1).max() ?? 1, 1e-9)
    // Decades from the floor to the top, on a log axis.
    let yHigh = logY ? max(log10(yTop).rounded(.up), log10(logYFloor) + 1) : 0
    let yLow = logY ? log10(logYFloor) : 0
    let legendRows = (series.count + 1) / 2
    let chartHeight = height + Double(legendRows) * 16
    let plotW = width - left - right
    let plotH = height - top - bottom
    func px(_ x: Double) -> Double {
      left + ((logX ? log10(max(x, 1)) : x) - xMin) / (xMax - xMin) * plotW
    }
    func py(_ y: Double) -> Double {
      guard logY else { return top + plotH - y / yTop * plotH }
      return top + plotH - (log10(max(y, logYFloor)) - yLow) / (yHigh - yLow) * plotH
    }

    var svg = header(title: title, height: chartHeight)
    // Axes and grid: quarters, or one line per decade on a log axis.
    var yTicks: [(y: Double, label: String)] = []
    if logY {
      for e in stride(from: yHigh, through: yLow, by: -1) {
        let label: String = e == 0 ? "1" : "1e\(Int(e))"
        yTicks.append((py(pow(10, e)), label))
      }
    } else {
      for i in 0...4 {
        yTicks.append((top + plotH * Double(i) / 4, short(yTop * Double(4 - i) / 4)))
      }
    }
    svg += "<g stroke=\"#ccc\" stroke-width=\"1\">\n"
    for t in yTicks {
      svg +=
        "<line x1=\"\(f(left))\" y1=\"\(f(t.y))\" x2=\"\(f(left + plotW))\" y2=\"\(f(t.y))\"/>\n"
    }
    svg += "</g>\n"
    svg += "<g font-family=\"sans-serif\" font-size=\"11\" fill=\"#333\">\n"
    for t in yTicks {
      svg += "<text x=\"\(f(left - 6))\" y=\"\(f(t.y + 4))\" text-anchor=\"end\">"
      svg += "\(escape(t.label))</text>\n"
    }
    if logX {
      var e = xMin
      while e <= xMax {
        let x = left + (e - xMin) / (xMax - xMin) * plotW
        svg +=
          "<line x1=\"\(f(x))\" y1=\"\(f(top))\" x2=\"\(f(x))\" y2=\"\(f(top + plotH))\" stroke=\"#eee\"/>\n"
        svg += "<text x=\"\(f(x))\" y=\"\(f(top + plotH + 16))\" text-anchor=\"middle\">"
        svg += "\(escape(nanoseconds(pow(10, e))))</text>\n"
        e += 1
      }
    } else if integerX {
      // Whole-number ticks 1, 2 or 5 times a power of ten apart, at most about 8.
      let span = max(xMax - xMin, 1)
      var step = 1.0
      while span / step > 8 {
        for m in [2.0, 2.5, 2.0] where span / step > 8 { step *= m }
      }
      step = max(step.rounded(), 1)
      var v = (xMin / step).rounded(.up) * step
      while v <= xMax {
        svg += "<text x=\"\(f(px(v)))\" y=\"\(f(top + plotH + 16))\" text-anchor=\"middle\">"
        svg += "\(Int(v))</text>\n"
        v += step
      }
    } else {
      for i in 0...4 {
        let value = xMin + (xMax - xMin) * Double(i) / 4
        let x = left + plotW * Double(i) / 4
        svg +=
          "<text x=\"\(f(x))\" y=\"\(f(top + plotH + 16))\" text-anchor=\"middle\">\(escape(short(value)))</text>\n"
      }
    }
    svg +=
      "<text x=\"\(f(left + plotW / 2))\" y=\"\(f(top + plotH + 36))\" text-anchor=\"middle\">\(escape(xLabel))</text>\n"
    svg +=
      "<text transform=\"translate(16 \(f(top + plotH / 2))) rotate(-90)\" text-anchor=\"middle\">"
    svg += "\(escape(yLabel))</text>\n</g>\n"
    svg +=
      "<rect x=\"\(f(left))\" y=\"\(f(top))\" width=\"\(f(plotW))\" height=\"\(f(plotH))\" fill=\"none\" stroke=\"#333\"/>\n"
    for (i, s) in series.enumerated() {
      let color = colors[i % colors.count]
      let points = s.points.map { "\(f(px($0.0))),\(f(py($0.1)))" }.joined(separator: " ")
      // Beyond the eight colours, the lines are dashed.
      let dash = (i / colors.count) % 2 == 1 ? " stroke-dasharray=\"6 3\"" : ""
      svg +=
        "<polyline fill=\"none\" stroke=\"\(color)\" stroke-width=\"2\"\(dash) points=\"\(points)\"/>\n"
      // The legend, below the axis label: two columns.
      let lx = left + Double(i % 2) * plotW / 2
      let ly = top + plotH + 56 + Double(i / 2) * 16
      svg +=
        dash.isEmpty
        ? "<rect x=\"\(f(lx))\" y=\"\(f(ly - 9))\" width=\"12\" height=\"12\" fill=\"\(color)\"/>\n"
        : "<line x1=\"\(f(lx))\" y1=\"\(f(ly - 3))\" x2=\"\(f(lx + 12))\" y2=\"\(f(ly - 3))\" stroke=\"\(color)\" stroke-width=\"2\"\(dash)/>\n"
      svg +=
        "<text x=\"\(f(lx + 18))\" y=\"\(f(ly + 2))\" font-family=\"sans-serif\" font-size=\"12\">"
      svg += "\(escape(s.name))</text>\n"
    }
    return svg + "</svg>\n"
  }

  /// The cumulative distribution of a histogram: (value, fraction at or below it).
  static func cdf(_ h: PercentileIndex) -> [(Double, Double)] {
    var points: [(Double, Double)] = []
    let total = Double(h.total)
    for (value, seen) in zip(h.values, h.cumulative) {
      if points.isEmpty { points.append((Double(max(value, 1)), 0)) }
      points.append((Double(max(value, 1)), Double(seen) / total))
    }
    return points
  }

  static func header(title: String, height: Double = height) -> String {
    "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n"
      + "<svg xmlns=\"http://www.w3.org/2000/svg\" width=\"\(Int(width))\" height=\"\(Int(height))\" "
      + "viewBox=\"0 0 \(Int(width)) \(Int(height))\">\n"
      + "<rect width=\"100%\" height=\"100%\" fill=\"white\"/>\n"
      + "<text x=\"\(f(width / 2))\" y=\"24\" text-anchor=\"middle\" font-family=\"sans-serif\" "
      + "font-size=\"15\" font-weight=\"bold\">\(escape(title))</text>\n"
  }

  /// Two charts side by side in one picture (each a nested `<svg>`).
  static func sideBySide(_ a: String, _ b: String) -> String {
    // The taller chart's height (its legend may have more rows).
    func chartHeight(_ chart: String) -> Double {
      guard let r = chart.firstRange(of: "height=\"") else { return height }
      return Double(chart[r.upperBound...].prefix { $0 != "\"" }) ?? height
    }
    let h = max(chartHeight(a), chartHeight(b))
    func inner(_ chart: String, x: Double) -> String {
      let body = chart.split(separator: "\n", maxSplits: 1, omittingEmptySubsequences: false)
      var svg = body.count == 2 && body[0].hasPrefix("<?xml") ? String(body[1]) : chart
      if let r = svg.firstRange(of: "<svg xmlns=\"http://www.w3.org/2000/svg\" ") {
        svg.replaceSubrange(r, with: "<svg x=\"\(Int(x))\" y=\"0\" ")
      }
      return svg
    }
    return "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n"
      + "<svg xmlns=\"http://www.w3.org/2000/svg\" width=\"\(Int(2 * width))\" height=\"\(Int(h))\" "
      + "viewBox=\"0 0 \(Int(2 * width)) \(Int(h))\">\n" + inner(a, x: 0) + inner(b, x: width)
      + "</svg>\n"
  }

  static func f(_ v: Double) -> String { TraceInspection.fixed(v, 1) }

  static func short(_ v: Double) -> String {
    if v >= 100 || v == v.rounded() { return TraceInspection.fixed(v, 0) }
    return TraceInspection.fixed(v, v >= 1 ? 2 : 3)
  }

  static func nanoseconds(_ ns: Double) -> String {
    if ns >= 1e9 { return short(ns / 1e9) + " s" }
    if ns >= 1e6 { return short(ns / 1e6) + " ms" }
    if ns >= 1e3 { return short(ns / 1e3) + " us" }
    return short(ns) + " ns"
  }

  static func escape(_ s: String) -> String {
    s.replacingAll("&", "&amp;").replacingAll("<", "&lt;").replacingAll(">", "&gt;")
      .replacingAll("\"", "&quot;")
  }
}

extension String {
  /// The string with every `target` character replaced by `replacement`.
  public func replacingAll(_ target: String, _ replacement: String) -> String {
    split(separator: Character(target), omittingEmptySubsequences: false).joined(
      separator: replacement)
  }
}

#if canImport(Glibc)
  import Glibc
#elseif canImport(Musl)
  import Musl
#elseif canImport(Darwin)
  import Darwin
#endif

extension ReplayReport {
  /// `latency-cdf.svg`: the latency CDF per backend, on a logarithmic axis.
  public var latencySVG: String {
    SVGChart.lines(
      title: "Latency CDF: \(result.trace.name)", xLabel: "latency (log scale)",
      yLabel: "fraction of requests at or below",
      series: backends.compactMap { b in
        b.total.percentiles.map { (b.name, SVGChart.cdf($0)) }
      },
      logX: true, yMax: 1)
  }

  /// `ring-occupancy.svg`: for each ring, the fraction of time at each occupancy.
  public var occupancySVG: String {
    // The complementary CDF on a log axis: the fraction of time the ring held at least k
    // requests, so that rare full rings show beside the hours it sat idle.
    var series: [(String, [(Double, Double)])] = []
    for b in backends {
      for (channel, f) in b.rings {
        guard let o = f.metrics.occupancy, o.observedNs > 0 else { continue }
        let total = Double(o.observedNs)
        let top = Int(o.maximum)
        var atLeast = total
        var points: [(Double, Double)] = []
        for k in 0...max(top, 1) {
          points.append((Double(k), max(atLeast, 0) / total))
          atLeast -= Double(k < o.timeAtLevel.count ? o.timeAtLevel[k] : 0)
        }
        series.append(("\(b.name) vm \(channel.vm) \(channel.name)", points))
      }
    }
    return SVGChart.lines(
      title: "Ring occupancy: \(result.trace.name)",
      xLabel: "outstanding requests in the ring (at least)",
      yLabel: "fraction of time (log)", series: Array(series.prefix(8)), logX: false, yMax: 1,
      logY: true, integerX: true)
  }
}
