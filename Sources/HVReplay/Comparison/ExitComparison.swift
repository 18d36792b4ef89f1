/// `hvreplay compare` of two exits.json files (docs/REPORT-FORMAT.md, "Exit reports"):
/// every figure of every scope, gated by the exit thresholds.
extension ReportComparison {
  /// Default thresholds of exit reports in percent, by `exits.<metric>`: more exits or
  /// longer exits are worse.
  public static let exitThresholds: [(metric: String, percent: Double)] = [
    ("exits.count", 1), ("exits.rate", 1), ("exits.total", 5), ("exits.mean", 5),
    ("exits.p50", 5), ("exits.p90", 5), ("exits.p99", 10), ("exits.p99.9", 10),
    ("exits.max", 25),
  ]

  /// The metrics of exit reports a threshold can name.
  public static var knownExitMetrics: Set<String> {
    Set(
      exitThresholds.map(\.metric) + [
        "exits.share", "exits.time_share", "exits.timed", "exits.min",
      ])
  }

  /// Whether `json` is an exits.json.
  public static func isExitReport(_ json: JSONValue) -> Bool {
    json["format"]?.string == "hvreplay-exits"
  }

  /// Compares two exits.json documents figure by figure.
  public init(
    exitsBase a: JSONValue, exitsNew b: JSONValue, baseName: String, newName: String,
    thresholds: [String: Double] = [:]
  ) {
    var limits = Dictionary(
      uniqueKeysWithValues: Self.exitThresholds.map { ($0.metric, $0.percent) })
    for (k, v) in thresholds where k.hasPrefix("exits.") { limits[k] = v }
    func figures(_ json: JSONValue) -> [(key: String, row: Row)] {
      var out: [(String, Row)] = []
      for section in ExitReport.sectionNames {
        for item in json[section]?.array ?? [] {
          guard case .object(let members) = item else { continue }
          let vm = item["vm"]?.string ?? ""
          let device = "\(item["vcpu"]?.string ?? "") \(item["reason"]?.string ?? "")"
          for (name, value) in members where !["vm", "vcpu", "reason", "span_ns"].contains(name) {
            guard let v = value.double else { continue }
            let metric = "exits.\(name)"
            out.append(
              (
                "\(section)|\(vm)|\(device)|\(name)",
                Row(
                  scope: section, vm: vm, device: device, metric: metric,
                  unit: "", base: v, new: nil, threshold: limits[metric],
                  direction: limits[metric] == nil ? nil : .higherIsWorse,
                  decimals: name.contains("share") || name == "rate" ? 3 : 0)
              ))
          }
        }
      }
      return out
    }
    let fa = figures(a)
    let fb = figures(b)
    let bIndex = Dictionary(fb.enumerated().map { ($1.key, $0) }, uniquingKeysWith: { x, _ in x })
    var rows: [Row] = []
    var seen = Set<String>()
    for (key, row) in fa {
      seen.insert(key)
      var r = row
      r.new = bIndex[key].map { fb[$0].row.base! }
      rows.append(r)
    }
    for (key, row) in fb where !seen.contains(key) {
      var r = row
      r.new = r.base
      r.base = nil
      rows.append(r)
    }
    self.init(rows: rows, baseName: baseName, newName: newName)
  }
}
