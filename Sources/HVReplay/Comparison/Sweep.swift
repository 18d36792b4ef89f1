import Dispatch

/// What a sweep keeps of one combination's replay: each backend's and scheduler's total
/// figures as summary.csv and cpu.csv print them. The replay itself is dropped as soon as it
/// ends, so a sweep holds at most one replay per core, whatever its number of combinations.
public struct SweepResult: Sendable {
  public var backends: [(name: String, figures: [String: String])]
  public var schedulers: [(name: String, figures: [String: String])]

  init(_ result: ReplayResult) {
    func table(_ rows: [Figures.Row]) -> [String: String] {
      Dictionary(rows.map { ($0.metric, $0.text) }, uniquingKeysWith: { a, _ in a })
    }
    backends = ReplayReport(result).backends.map { ($0.name, table($0.total.rows)) }
    schedulers = result.schedulers.map { ($0.name, table($0.rows(vm: nil))) }
  }
}

/// A parameter sweep: one replay per combination of model settings, run side by side.
public struct Sweep: Sendable {
  /// One swept key and its values, as `--set key=v1,v2,...` gives them.
  public struct Axis: Sendable {
    public var key: String
    public var values: [String]
  }

  /// The headline figures of sweep.csv, per backend: the registry's swept device metrics.
  public static let headline = Metric.deviceMetrics.filter(\.swept).map(\.name)
  /// The headline figures of sweep-cpu.csv, per scheduler: the registry's swept CPU metrics.
  public static let cpuHeadline = Metric.cpuMetrics.filter(\.swept).map(\.name)

  public let axes: [Axis]
  /// Every combination, as one value index per axis, the first axis varying slowest.
  public let combinations: [[Int]]

  /// Parses `key=v1,v2,...` assignments, checking every value against `base`.
  public init(assignments: [String], base: Model) throws(HVReplayError) {
    var axes: [Axis] = []
    for assignment in assignments {
      guard let eq = assignment.firstIndex(of: "=") else {
        throw HVReplayError(.usage, "--set expects key.path=v1,v2,..., found \"\(assignment)\"")
      }
      let key = String(assignment[..<eq])
      let values = assignment[assignment.index(after: eq)...].split(separator: ",").map(String.init)
      guard !values.isEmpty else {
        throw HVReplayError(.usage, "--set \(key): give at least one value")
      }
      for v in values {
        var m = base
        try m.set("\(key)=\(v)")
      }
      if axes.contains(where: { $0.key == key }) {
        throw HVReplayError(.usage, "--set \(key) is given twice")
      }
      axes.append(Axis(key: key, values: values))
    }
    guard !axes.isEmpty else {
      throw HVReplayError(.usage, "sweep needs at least one --set key=v1,v2,...")
    }
    self.axes = axes
    var count = 1
    for axis in axes { count = min(count * axis.values.count, 10_001) }
    guard count <= 10_000 else {
      throw HVReplayError(.usage, "the sweep has more than 10000 combinations; sweep fewer values")
    }
    var combos: [[Int]] = [[]]
    for axis in axes {
      combos = combos.flatMap { prefix in axis.values.indices.map { prefix + [$0] } }
    }
    combinations = combos
  }

  /// The model of combination `c`.
  public func model(_ c: [Int], base: Model) -> Model {
    var m = base
    for (axis, i) in zip(axes, c) { try? m.set("\(axis.key)=\(axis.values[i])") }
    return m
  }

  /// Replays every combination, as many at once as the machine has cores.
  public func run(
    trace: String, base: Model, readOptions: TraceReadOptions, backends: [BackendKind],
    schedulers: [SchedulerKind], horizon: UInt64?, parallelism: Int,
    progress: (@Sendable (SweepProgress) -> Void)? = nil
  ) throws(HVReplayError) -> [SweepResult] {
    // Written by one worker per slot, under `lock`; read after `group.wait()`.
    final class Slots: @unchecked Sendable {
      var results: [Result<SweepResult, HVReplayError>?]
      /// Each combination's events and file bytes read so far.
      var events: [UInt64]
      var bytes: [UInt64]
      init(_ n: Int) {
        results = Array(repeating: nil, count: n)
        events = Array(repeating: 0, count: n)
        bytes = Array(repeating: 0, count: n)
      }
      func snapshot(total: Int, fileSize: UInt64?) -> SweepProgress {
        SweepProgress(
          done: results.count { $0 != nil }, total: total, events: events.reduce(0, &+),
          bytesRead: bytes.reduce(0, &+), bytesTotal: fileSize.map { $0 &* UInt64(total) })
      }
    }
    let slots = Slots(combinations.count)
    let lock = DispatchSemaphore(value: 1)
    let gate = DispatchSemaphore(value: max(parallelism, 1))
    let group = DispatchGroup()
    for (i, c) in combinations.enumerated() {
      let model = self.model(c, base: base)
      gate.wait()
      group.enter()
      DispatchQueue.global().async {
        let outcome = Result { () throws(HVReplayError) -> SweepResult in
          var reader = try TraceReader(paths: [trace], options: readOptions)
          let engine = ReplayEngine(
            model: model, backends: backends, schedulers: schedulers, horizon: horizon)
          guard let progress else { return SweepResult(try engine.run(&reader)) }
          return SweepResult(
            try engine.run(&reader) { p in
              lock.wait()
              slots.events[i] = p.events
              slots.bytes[i] = p.fileBytesRead
              let snapshot = slots.snapshot(total: combinations.count, fileSize: p.fileSize)
              progress(snapshot)
              lock.signal()
            })
        }
        lock.wait()
        slots.results[i] = outcome
        if let progress, case .success = outcome {
          progress(slots.snapshot(total: combinations.count, fileSize: nil))
        }
        lock.signal()
        gate.signal()
        group.leave()
      }
    }
    group.wait()
    return try slots.results.map { outcome throws(HVReplayError) in try outcome!.get() }
  }

  /// `sweep.csv`: the swept keys, `backend`, then the headline figures, one row per
  /// combination and backend.
  public func csv(_ results: [SweepResult]) -> String {
    var out = (axes.map(\.key) + ["backend"] + Self.headline).joined(separator: ",") + "\n"
    for (c, result) in zip(combinations, results) {
      for b in result.backends {
        out +=
          (values(c) + [b.name] + Self.headline.map { b.figures[$0] ?? "" })
          .joined(separator: ",") + "\n"
      }
    }
    return out
  }

  /// `sweep-cpu.csv`: the swept keys, `scheduler`, then the CPU headline figures.
  public func cpuCSV(_ results: [SweepResult]) -> String {
    var out = (axes.map(\.key) + ["scheduler"] + Self.cpuHeadline).joined(separator: ",") + "\n"
    for (c, result) in zip(combinations, results) {
      for s in result.schedulers {
        out +=
          (values(c) + [s.name] + Self.cpuHeadline.map { s.figures[$0] ?? "" })
          .joined(separator: ",") + "\n"
      }
    }
    return out
  }

  private func values(_ c: [Int]) -> [String] { zip(axes, c).map { $0.values[$1] } }

  /// `sweep.md`: the figure against the first swept key, as a table and a chart.
  ///
  /// - Parameter baseline: the design every other's figure is divided by, under the same
  ///   scheduler and settings (default: ``ReplayReport/defaultBaseline(among:)``).
  public func markdown(
    _ results: [SweepResult], figure: String, trace: String, baseline: String? = nil
  ) -> String {
    let first = axes[0]
    var md = "# hvreplay sweep: \(MarkdownEscaping.text(trace))\n\n"
    md += "\(combinations.count) combinations of "
    md += axes.map { "`\($0.key)` = \($0.values.joined(separator: ", "))" }.joined(separator: "; ")
    md += ". `\(figure)` against `\(first.key)`; every figure is in sweep.csv.\n\n"
    let series = figureSeries(results, figure: figure)
    let names = results.first.map { $0.backends.map(\.name) } ?? []
    md +=
      "| series | " + first.values.map { "\(first.key)=\($0)" }.joined(separator: " | ") + " |\n"
    md += "|---|" + String(repeating: "--:|", count: first.values.count) + "\n"
    for s in series { md += "| \(s.name) | " + s.values.joined(separator: " | ") + " |\n" }
    md += "\n```mermaid\nxychart-beta\n  title \"\(figure) against \(first.key) (lines: "
    md += series.prefix(8).map(\.name).joined(separator: "; ") + ")\"\n"
    md += "  x-axis [" + first.values.map { "\"\($0)\"" }.joined(separator: ", ") + "]\n"
    md += "  y-axis \"\(figure)\"\n"
    for s in series.prefix(8) { md += "  line [" + s.values.joined(separator: ", ") + "]\n" }
    md += "```\n\n![\(figure) against \(first.key)](sweep.svg)\n"
    md += against(baseline, series: series, names: names, figure: figure)
    return md
  }

  /// `figure` of each backend and combination of the other keys, over the first key's
  /// values (one series each).
  func figureSeries(_ results: [SweepResult], figure: String) -> [(name: String, values: [String])]
  {
    let first = axes[0]
    var series: [(name: String, values: [String])] = []
    let others = combinations.filter { $0[0] == 0 }.map { Array($0.dropFirst()) }
    let names = results.first.map { $0.backends.map(\.name) } ?? []
    let position = Dictionary(
      combinations.enumerated().map { ($1, $0) }, uniquingKeysWith: { a, _ in a })
    for rest in others {
      for backend in names {
        var values: [String] = []
        for i in first.values.indices {
          let result = results[position[[i] + rest]!]
          values.append(result.backends.first { $0.name == backend }?.figures[figure] ?? "0")
        }
        let label = zip(axes.dropFirst(), rest).map { "\($0.key)=\($0.values[$1])" }
        series.append(
          ((label.isEmpty ? [backend] : [backend] + label).joined(separator: " "), values))
      }
    }
    return series
  }

  /// sweep.svg: `figure` against the first swept key, one line per backend and combination
  /// of the other keys (at most 12, the rest in sweep.csv). Numeric values are placed by
  /// value; others by their order, named in the axis label.
  public func chart(_ results: [SweepResult], figure: String) -> String {
    let first = axes[0]
    let numbers = first.values.map { Double($0) }
    let numeric = numbers.allSatisfy { $0 != nil }
    let xs = numeric ? numbers.map { $0! } : first.values.indices.map(Double.init)
    let series = figureSeries(results, figure: figure).prefix(12).map { s in
      (name: s.name, points: zip(xs, s.values).map { ($0, Double($1) ?? 0) })
    }
    let xLabel =
      numeric
      ? first.key
      : "\(first.key) (0 to \(first.values.count - 1): \(first.values.joined(separator: ", ")))"
    return SVGChart.lines(
      title: "\(figure) against \(first.key)", xLabel: xLabel, yLabel: figure,
      series: Array(series), logX: false)
  }

  /// `r` with 3 significant digits (at least 3 decimals, at most 9): 0.00324, 0.250, 12.500.
  static func significant(_ r: Double) -> String {
    guard r.isFinite, r > 0 else { return TraceInspection.fixed(r, 3) }
    var decimals = 3
    var scaled = r
    while scaled < 0.1 && decimals < 9 {
      scaled *= 10
      decimals += 1
    }
    return TraceInspection.fixed(r, decimals)
  }

  /// sweep.md's table of each design's figure over the baseline design's, under the same
  /// scheduler and settings; "" with one design.
  private func against(
    _ chosen: String?, series: [(name: String, values: [String])], names: [String],
    figure: String
  ) -> String {
    let designs = names.map(ReplayReport.design(of:))
    guard Set(designs).count > 1,
      let baseline = chosen ?? ReplayReport.defaultBaseline(among: designs)
    else { return "" }
    // A backend's name is its design, then "/scheduler" on the host timeline.
    func counterpart(_ name: String) -> String {
      guard let slash = name.firstIndex(of: "/") else { return baseline }
      return baseline + name[slash...]
    }
    var rows = ""
    let byName = Dictionary(series.map { ($0.name, $0.values) }, uniquingKeysWith: { a, _ in a })
    for s in series {
      let words = s.name.split(separator: " ", maxSplits: 1).map(String.init)
      guard ReplayReport.design(of: words[0]) != baseline,
        let base = byName[([counterpart(words[0])] + words.dropFirst()).joined(separator: " ")]
      else { continue }
      let ratios = zip(s.values, base).map { v, b in
        guard let v = Double(v), let b = Double(b), b != 0 else { return "n/a" }
        return Self.significant(v / b)
      }
      rows += "| \(s.name) | " + ratios.joined(separator: " | ") + " |\n"
    }
    guard !rows.isEmpty else { return "" }
    let first = axes[0]
    var md = "\n## Against the baseline\n\n`\(figure)` of each design over \(baseline)'s under "
    md += "the same scheduler and settings (below 1: lower than \(baseline)'s; `--baseline` "
    md += "chooses the design).\n\n"
    md +=
      "| series | " + first.values.map { "\(first.key)=\($0)" }.joined(separator: " | ") + " |\n"
    md += "|---|" + String(repeating: "--:|", count: first.values.count) + "\n"
    return md + rows
  }
}

/// How far a sweep is: combinations done, and events and file bytes read by all of them.
public struct SweepProgress: Sendable {
  public var done: Int
  public var total: Int
  public var events: UInt64
  public var bytesRead: UInt64
  /// The bytes all combinations read in the end, when the file's size is known.
  public var bytesTotal: UInt64?
}
