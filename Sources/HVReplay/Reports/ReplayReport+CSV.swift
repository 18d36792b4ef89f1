extension ReplayReport {
  /// `summary.csv`: `backend,vm,device,metric,value,unit`, one row per figure; `vm` and
  /// `device` are `all` on totals.
  public var summaryCSV: String {
    var out = "backend,vm,device,metric,value,unit\n"
    for backend in backends {
      for (key, figures) in backend.devices {
        for row in figures.rows {
          out += "\(backend.name),\(key.vm),\(key.name),\(row.metric),\(row.text),\(row.unit)\n"
        }
      }
      for row in backend.total.rows + hostRows(backend.name) {
        out += "\(backend.name),all,all,\(row.metric),\(row.text),\(row.unit)\n"
      }
    }
    return out
  }

  /// A host simulation's CPU spent on virtualization for its guests (docs/MODEL.md, "One
  /// host"): on their vCPUs and in the driver domain or device models; none uncoupled.
  func hostRows(_ name: String) -> [Figures.Row] {
    guard let s = result.schedulers.first(where: { $0.name == name && $0.backend != nil })
    else { return [] }
    let guests = s.vms.filter { $0.domain == .guest }
    return [
      Figures.Row(
        metric: "virt_guest_ns", value: Double(guests.map(\.virtGuestNs).saturatingSum()),
        unit: "ns", decimals: 0),
      Figures.Row(
        metric: "virt_backend_ns", value: Double(guests.map(\.virtBackendNs).saturatingSum()),
        unit: "ns", decimals: 0),
    ]
  }
}
