extension ReplayReport {
  /// `summary.csv`: `backend,vm,device,metric,value,unit`, one row per figure; `vm` and
  /// `device` are `all` on totals.
  public var summaryCSV: String {
    var out = ""
    writeSummaryCSV(to: &out)
    return out
  }

  /// Writes ``summaryCSV`` to `out`.
  func writeSummaryCSV<Out: TextOutputStream>(to out: inout Out) {
    out.write("backend,vm,device,metric,value,unit\n")
    for backend in backends {
      for (key, figures) in backend.devices {
        for row in figures.rows {
          out.write(
            "\(backend.name),\(key.vm),\(key.name),\(row.metric),\(row.text),\(row.unit)\n")
        }
      }
      let host = result.schedulers.first { $0.name == backend.name && $0.backend != nil }
      for row in backend.total.rows(host: host) {
        out.write("\(backend.name),all,all,\(row.metric),\(row.text),\(row.unit)\n")
      }
    }
  }
}
