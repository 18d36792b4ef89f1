extension ReplayReport {
  /// fio's reported percentiles.
  public static let fioPercentiles: [Double] = [
    1, 5, 10, 20, 30, 40, 50, 60, 70, 80, 90, 95, 99, 99.5, 99.9, 99.95, 99.99,
  ]

  /// `histograms.csv`: `backend,vm,device,op,percentile,latency_ns` at fio's percentiles
  /// plus `max`, per device and op, per device over all ops (`op` = `all`), and in total.
  public var histogramsCSV: String {
    var out = ""
    writeHistogramsCSV(to: &out)
    return out
  }

  /// Writes ``histogramsCSV`` to `out`.
  func writeHistogramsCSV<Out: TextOutputStream>(to out: inout Out) {
    out.write("backend,vm,device,op,percentile,latency_ns\n")
    func rows(
      _ backend: String, _ vm: String, _ device: String, _ op: String, _ h: PercentileIndex?
    ) {
      guard let h else { return }
      for p in Self.fioPercentiles {
        out.write(
          "\(backend),\(vm),\(device),\(op),\(Self.percentileName(p)),\(h.value(at: p))\n")
      }
      out.write("\(backend),\(vm),\(device),\(op),max,\(h.maxRecorded)\n")
    }
    for b in backends {
      for (key, f) in b.devices {
        for op in EventOp.allCases {
          rows(b.name, String(key.vm), key.name, op.description, f.latencyByOp[Int(op.rawValue)])
        }
        rows(b.name, String(key.vm), key.name, "all", f.percentiles)
      }
      for op in EventOp.allCases {
        rows(b.name, "all", "all", op.description, b.total.latencyByOp[Int(op.rawValue)])
      }
      rows(b.name, "all", "all", "all", b.total.percentiles)
    }
  }

  /// `occupancy.csv`: `backend,vm,ring,occupancy,time_ns,fraction`, the time each ring held
  /// each number of outstanding requests, and that time's fraction of the ring's observed time.
  public var occupancyCSV: String {
    var out = "backend,vm,ring,occupancy,time_ns,fraction\n"
    for b in backends {
      for (channel, f) in b.rings {
        guard let o = f.metrics.occupancy else { continue }
        let total = Double(o.observedNs)
        for (level, ns) in o.timeAtLevel.enumerated() where ns > 0 {
          out += "\(b.name),\(channel.vm),\(channel.name),\(level),\(ns),"
          out += "\(TraceInspection.fixed(total > 0 ? Double(ns) / total : 0, 6))\n"
        }
      }
    }
    return out
  }

  /// `99.9` → `99.9`, `50` → `50`.
  static func percentileName(_ p: Double) -> String {
    p == p.rounded() ? String(Int(p)) : String(p)
  }

  /// Mermaid charts for report.md: latency percentiles per backend, and VM exits and bytes
  /// copied per request per backend.
  var mermaidCharts: String {
    guard backends.contains(where: { $0.total.metrics.requests > 0 }) else { return "" }
    let points: [(String, Double)] = [
      ("p50", 50), ("p90", 90), ("p99", 99), ("p99.9", 99.9), ("p99.99", 99.99),
    ]
    var md = "\n```mermaid\nxychart-beta\n  title \"Latency percentiles (us); lines: "
    md += backends.map(\.name).joined(separator: ", ") + "\"\n"
    md += "  x-axis [" + points.map { "\"\($0.0)\"" }.joined(separator: ", ") + "]\n"
    md += "  y-axis \"latency (us)\"\n"
    for b in backends {
      let values = points.map { TraceInspection.fixed(Double(b.total.latency($0.1)) / 1000, 1) }
      md += "  line [" + values.joined(separator: ", ") + "]\n"
    }
    md += "```\n"
    let names = backends.map { "\"\($0.name)\"" }.joined(separator: ", ")
    func perRequest(_ f: (ChannelMetrics) -> UInt64, _ scale: Double) -> String {
      backends.map {
        let m = $0.total.metrics
        return TraceInspection.fixed(
          m.requests > 0 ? Double(f(m)) / Double(m.requests) / scale : 0, 2)
      }.joined(separator: ", ")
    }
    md += "\n```mermaid\nxychart-beta\n  title \"VM exits per request (every reason)\"\n"
    md += "  x-axis [\(names)]\n  y-axis \"exits per request\"\n"
    md += "  bar [\(perRequest({ $0.exits }, 1))]\n```\n"
    md += "\n```mermaid\nxychart-beta\n  title \"KiB copied per request\"\n"
    md += "  x-axis [\(names)]\n  y-axis \"KiB per request\"\n"
    md += "  bar [\(perRequest({ $0.bytesCopied }, 1024))]\n```\n"
    return md
  }
}
