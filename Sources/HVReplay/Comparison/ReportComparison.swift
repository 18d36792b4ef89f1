/// The comparison of two reports of the same trace and model, figure by figure, against
/// per-metric regression thresholds (docs/REPORT-FORMAT.md lists the defaults).
public struct ReportComparison: Sendable {
  /// Which way a metric gets worse.
  public typealias Direction = Metric.Direction

  /// One figure in both reports.
  public struct Row: Sendable {
    /// `full`, `para`, or a scheduler (`credit`, `fair`).
    public var scope: String
    public var vm: String
    public var device: String
    public var metric: String
    public var unit: String
    public var base: Double?
    public var new: Double?
    /// The regression threshold in percent, when the metric has one.
    public var threshold: Double?
    public var direction: Direction?
    public var decimals: Int

    /// The change from base to new in percent (`nil` when base is 0 or a side is missing).
    public var changePercent: Double? {
      guard let base, let new, base != 0 else { return nil }
      return (new - base) / abs(base) * 100
    }

    /// Whether the change crosses the threshold in the worse direction.
    public var regressed: Bool { crossed(worse: true) }
    /// Whether it crosses the threshold in the better direction.
    public var improved: Bool { crossed(worse: false) }

    private func crossed(worse: Bool) -> Bool {
      guard let threshold, let direction, let base, let new, base != new else { return false }
      let up = new > base
      let getsWorse = (direction == .higherIsWorse) == up
      guard getsWorse == worse else { return false }
      guard let change = changePercent else { return true }  // from 0 to something
      return abs(change) > threshold
    }
  }

  /// Default regression thresholds in percent, and the direction each metric worsens in:
  /// the metric registry's.
  public static let defaultThresholds: [(metric: String, percent: Double, direction: Direction)] =
    Metric.all.compactMap { m in
      guard let percent = m.threshold, let direction = m.worse else { return nil }
      return (m.name, percent, direction)
    }

  /// The direction each metric a threshold can name worsens in (the registry's; metrics
  /// without a default threshold gate only with `--threshold`).
  static let directions: [String: Direction] = Dictionary(
    Metric.all.compactMap { m in m.worse.map { (m.name, $0) } }, uniquingKeysWith: { a, _ in a })

  /// Every metric a threshold can name.
  public static var knownMetrics: Set<String> { Set(directions.keys) }

  public let rows: [Row]
  public let baseName: String
  public let newName: String

  init(rows: [Row], baseName: String, newName: String) {
    self.rows = rows
    self.baseName = baseName
    self.newName = newName
  }

  /// Compares `new` with `base`.
  ///
  /// - Parameter thresholds: percent per metric, over the defaults.
  public init(
    base: ReplayResult, new: ReplayResult, baseName: String, newName: String,
    thresholds: [String: Double] = [:]
  ) {
    self.baseName = baseName
    self.newName = newName
    var limits = Dictionary(
      uniqueKeysWithValues: Self.defaultThresholds.map { ($0.metric, $0.percent) })
    for (k, v) in thresholds { limits[k] = v }
    let a = Self.figures(base)
    let b = Self.figures(new)
    let bIndex = Dictionary(b.enumerated().map { ($1.key, $0) }, uniquingKeysWith: { x, _ in x })
    var rows: [Row] = []
    var seen = Set<String>()
    for (key, fig) in a {
      seen.insert(key)
      let other = bIndex[key].map { b[$0].figure }
      rows.append(Self.row(fig, base: fig.value, new: other?.value, limits))
    }
    for (key, fig) in b where !seen.contains(key) {
      rows.append(Self.row(fig, base: nil, new: fig.value, limits))
    }
    self.rows = rows
  }

  private struct Figure {
    var scope, vm, device, metric, unit: String
    var value: Double
    var decimals: Int
  }

  private static func row(_ f: Figure, base: Double?, new: Double?, _ limits: [String: Double])
    -> Row
  {
    Row(
      scope: f.scope, vm: f.vm, device: f.device, metric: f.metric, unit: f.unit, base: base,
      new: new, threshold: limits[f.metric], direction: directions[f.metric], decimals: f.decimals)
  }

  /// Every figure of a result, keyed by scope, VM, device and metric, in report order.
  private static func figures(_ result: ReplayResult) -> [(key: String, figure: Figure)] {
    let report = ReplayReport(result)
    var out: [(String, Figure)] = []
    func add(_ scope: String, _ vm: String, _ device: String, _ rows: [Figures.Row]) {
      for r in rows {
        out.append(
          (
            "\(scope)|\(vm)|\(device)|\(r.metric)",
            Figure(
              scope: scope, vm: vm, device: device, metric: r.metric, unit: r.unit,
              value: r.decimals == 0 ? r.value : Double(r.text) ?? r.value, decimals: r.decimals)
          ))
      }
    }
    for b in report.backends {
      for (key, f) in b.devices { add(b.name, String(key.vm), key.name, f.rows) }
      add(b.name, "all", "all", b.total.rows)
    }
    for s in result.schedulers {
      // By label: a guest's id, dom0 or dm<id> (a device model shares its guest's id).
      for i in s.vms.indices { add(s.name, s.vms[i].label, "cpu", s.rows(vm: i)) }
      add(s.name, "all", "cpu", s.rows(vm: nil))
    }
    return out
  }

  /// Whether any figure regressed beyond its threshold.
  public var hasRegression: Bool { rows.contains { $0.regressed } }

  /// The comparison as a Markdown table, regressions marked.
  public var markdown: String { markdown(changedOnly: false) }

  /// The table, with only the figures whose value changed when `changedOnly`, and a
  /// closing line counting regressed, improved, otherwise changed and unchanged figures.
  public func markdown(changedOnly: Bool) -> String {
    let regressions = rows.filter(\.regressed).count
    let improvements = rows.filter(\.improved).count
    let changed = rows.filter { $0.base != $0.new }.count
    var md = "# hvreplay compare\n\n`\(baseName)` (base) against `\(newName)` (new): "
    md +=
      regressions == 0
      ? "no regression" : "**\(regressions) regression\(regressions == 1 ? "" : "s")**"
    md += ", \(improvements) improvement\(improvements == 1 ? "" : "s") beyond their thresholds, "
    md += "\(rows.count) figures.\n\n"
    md += "| | scope | vm | device | metric | base | new | change | threshold |\n"
    md += "|---|---|--:|---|---|--:|--:|--:|--:|\n"
    for r in rows where !changedOnly || r.base != r.new {
      let mark = r.regressed ? "❌" : r.improved ? "✅" : ""
      let change: String
      if let c = r.changePercent {
        change = (c > 0 ? "+" : "") + TraceInspection.fixed(c, 2) + "%"
      } else if r.base == nil || r.new == nil {
        change = r.base == nil ? "new" : "gone"
      } else {
        change = r.base == r.new ? "0%" : "from 0"
      }
      let threshold = r.threshold.map { "\(TraceInspection.fixed($0, 1))%" } ?? ""
      md += "| \(mark) | \(r.scope) | \(r.vm) | \(r.device) | \(r.metric) | "
      md += "\(r.base.map { TraceInspection.fixed($0, r.decimals) } ?? "–") | "
      md +=
        "\(r.new.map { TraceInspection.fixed($0, r.decimals) } ?? "–") | \(change) | \(threshold) |\n"
    }
    let newOrGone = rows.filter { ($0.base == nil) != ($0.new == nil) }.count
    let within = changed - regressions - improvements - newOrGone
    md += "\n\(regressions) regressed, \(improvements) improved, \(within) changed within "
    md += "their thresholds, \(newOrGone) new or gone, \(rows.count - changed) unchanged"
    md += changedOnly && changed < rows.count ? " (not shown: --changed-only)" : ""
    md += ".\n"
    return md
  }
}
