import Histogram

/// Where a replay's `cpu.pcpus` came from (docs/MODEL.md, CPU defaults).
public enum PCPUSource: String, Sendable {
  /// The trace states it: its metadata's `model.cpu.pcpus` (ftrace's `#P:` header, imported).
  case trace
  /// `--model` or `--set` chose a value other than the trace's, or than the default.
  case user
  /// Neither the trace nor the user said: the model's default.
  case `default`
}

extension ReplayResult {
  /// The pCPU count the trace states, from its metadata's `model.cpu.pcpus`.
  public var statedPCPUs: UInt64? { trace.metadata["model.cpu.pcpus"].flatMap { UInt64($0) } }

  /// Where `model.cpu.pcpus` came from. A value equal to the trace's is the trace's, and one
  /// equal to the default with nothing stated is the default, even when the user set the same.
  public var pcpusSource: PCPUSource {
    if let stated = statedPCPUs { return stated == model.cpu.pcpus ? .trace : .user }
    return model.cpu.pcpus == Model().cpu.pcpus ? .default : .user
  }

  /// How report.md says where `cpu.pcpus` came from.
  var pcpusSourceText: String {
    switch pcpusSource {
    case .trace:
      "stated by the trace: its metadata's model.cpu.pcpus"
        + (trace.metadata["imported-from"] == "scheduler trace" ? ", from ftrace's #P: header" : "")
    case .user:
      "set by --model or --set" + (statedPCPUs.map { "; the trace states \($0)" } ?? "")
    case .default:
      "the default: the trace does not state its CPUs; set the host's with --set cpu.pcpus=N"
    }
  }
}

extension SchedulerResult {
  /// The figures of one VM (or of all, for `nil`) in `cpu.csv`'s order (the metric
  /// registry's), leaving out those without meaning there.
  public func rows(vm index: Int?) -> [Figures.Row] {
    let scope = MetricScope.cpu(CPUScope(self, index: index))
    return Metric.cpuMetrics.compactMap { $0.row(scope) }
  }
}

extension SchedulerResult {
  /// The share of its vCPUs' capacity over the window a driver domain or device model used.
  public func backendUtilisation(_ vm: VMCPUMetrics) -> Double {
    let capacity = Double(windowNs) * Double(max(vm.vcpus, 1))
    return capacity > 0 ? Double(vm.cpuNs) / capacity : 0
  }

  /// The CPU this host spent on virtualization for its guests, in ns.
  public var virtCPUNs: UInt64 {
    vms.filter { $0.domain == .guest }.map { $0.virtGuestNs.adding(saturating: $0.virtBackendNs) }
      .saturatingSum()
  }
}

extension ReplayReport {
  /// `cpu.csv`: `scheduler,vm,metric,value,unit`; `vm` is `all` on totals.
  public var cpuCSV: String {
    var out = ""
    writeCPUCSV(to: &out)
    return out
  }

  /// Writes ``cpuCSV`` to `out`.
  func writeCPUCSV<Out: TextOutputStream>(to out: inout Out) {
    out.write("scheduler,vm,metric,value,unit\n")
    for s in result.schedulers {
      for i in s.vms.indices {
        for row in s.rows(vm: i) {
          out.write("\(s.name),\(s.vms[i].label),\(row.metric),\(row.text),\(row.unit)\n")
        }
      }
      for row in s.rows(vm: nil) {
        out.write("\(s.name),all,\(row.metric),\(row.text),\(row.unit)\n")
      }
    }
  }

  /// The CPU section of `report.md`, or "" when the trace has no cpu events.
  var cpuMarkdown: String {
    guard let first = result.schedulers.first else { return "" }
    let m = result.model.cpu
    var md = "\n## CPU\n\n"
    md += "\(m.pcpus) pCPUs (\(result.pcpusSourceText)) over "
    md += "\(TraceInspection.seconds(first.windowNs)) (from the trace's first event to "
    let last = result.trace.statistics.lastNs
    md +=
      first.windowEnd > last
      ? "the end of its CPU work, after its last event"
      : first.windowEnd == last ? "its last event" : "--horizon"
    md += "); timeslice \(TraceInspection.seconds(m.timesliceNs)), tick "
    md += "\(TraceInspection.seconds(m.tickNs)); the credit scheduler's decisions use "
    md += "\(m.accounting) accounting. Shares are of the pCPUs' capacity over the window; the "
    md += "entitled share is what the VM's weight and cap give it among the VMs that wanted "
    md += "CPU, period by period from when its work arrived. Work still queued at the window's "
    md += "end is unserved. A billing error rests on its ticks: the larger of the ticks billed "
    md += "and the ticks' worth of CPU billed exactly.\n\n"
    md +=
      "| scheduler | vm | weight | demand | received | unserved | share | entitled | wait p50 | wait p99 | wait max | billed exact | billed tick | billing error | ticks | switches | virt (guest) | virt (backend) | burst slowdown |\n"
    md += "|---|--:|--:|--:|--:|--:|--:|--:|--:|--:|--:|--:|--:|--:|--:|--:|--:|--:|--:|\n"
    for s in result.schedulers {
      for vm in s.vms {
        let w = PercentileIndex(vm.wait)
        md +=
          "| \(s.name) | \(vm.label) | \(vm.weight)\(vm.capPercent > 0 ? " (cap \(vm.capPercent)%)" : "") | "
        md += "\(TraceInspection.seconds(vm.demandNs)) | \(TraceInspection.seconds(vm.cpuNs)) | "
        md += "\(TraceInspection.seconds(vm.unservedNs)) | \(Self.percent(vm.share)) | "
        md += "\(Self.percent(vm.entitledShare)) | "
        md +=
          "\(TraceInspection.seconds(w.value(at: 50))) | "
        md +=
          "\(TraceInspection.seconds(w.value(at: 99))) | "
        md +=
          "\(TraceInspection.seconds(w.maxRecorded)) | \(TraceInspection.seconds(vm.billedExactNs)) | "
        md += "\(TraceInspection.seconds(vm.billedTickNs)) | "
        md +=
          "\(TraceInspection.fixed(vm.billingErrorPercent, 1))% | \(Self.grouped(s.billingTicks([vm]))) | "
        md += "\(Self.grouped(vm.contextSwitches)) | "
        if s.backend == nil {
          md += "n/a | n/a | n/a |\n"
        } else if vm.domain == .guest {
          md += "\(TraceInspection.seconds(vm.virtGuestNs)) | "
          md += "\(TraceInspection.seconds(vm.virtBackendNs)) | "
          md += "\(vm.burstSlowdown.map { TraceInspection.fixed($0, 3) + "x" } ?? "n/a") |\n"
        } else {
          md += "n/a | \(TraceInspection.seconds(vm.cpuNs)) "
          md += "(\(Self.percent(s.backendUtilisation(vm))) busy) | n/a |\n"
        }
      }
    }
    md += "\n| scheduler | Jain's index | pCPU time switching | idle while a vCPU waited |\n"
    md += "|---|--:|--:|--:|\n"
    for s in result.schedulers {
      md += "| \(s.name) | \(TraceInspection.fixed(s.jainIndex, 4)) | "
      md +=
        "\(TraceInspection.seconds(s.switchingNs)) | \(TraceInspection.seconds(s.idleWhileRunnableNs)) |\n"
    }
    // A chart: each scheduler's received share per guest, against the entitled share (the
    // first scheduler's); a guest a scheduler did not see has none.
    let guests = Array(
      Set(result.schedulers.flatMap { $0.vms.filter { $0.domain == .guest }.map(\.vm) })
    ).sorted()
    // Each scheduler's (share, entitled share) by guest, the first VM of an id (looked up
    // per guest: a search of the VMs per guest would be quadratic in the VMs).
    let shares = result.schedulers.map { s in
      Dictionary(
        s.vms.filter { $0.domain == .guest }.map { ($0.vm, ($0.share, $0.entitledShare)) },
        uniquingKeysWith: { first, _ in first })
    }
    let labels = guests.map { "\"vm \($0)\"" }.joined(separator: ", ")
    let top =
      result.schedulers.flatMap { $0.vms.map { max($0.share, $0.entitledShare) } }.max() ?? 0
    let axis = min(100, Int((top * 100 / 10).rounded(.up)) * 10 + 10)
    md += "\n```mermaid\nxychart-beta\n"
    md += "  title \"CPU share per VM (bars: "
    md += result.schedulers.map(\.name).joined(separator: ", ") + "; line: entitled)\"\n"
    md += "  x-axis [\(labels)]\n  y-axis \"% of pCPU capacity\" 0 --> \(axis)\n"
    for share in shares {
      md +=
        "  bar ["
        + guests.map { TraceInspection.fixed((share[$0]?.0 ?? 0) * 100, 1) }
        .joined(separator: ", ") + "]\n"
    }
    md +=
      "  line ["
      + guests.map { TraceInspection.fixed((shares[0][$0]?.1 ?? 0) * 100, 1) }
      .joined(separator: ", ") + "]\n```\n"
    return md
  }

  static func percent(_ fraction: Double) -> String {
    TraceInspection.fixed(fraction * 100, 1) + "%"
  }
}
