// Model rule "calibrated keys" (docs/MODEL.md): `hvreplay calibrate` measures these keys
// from a KVM recording's exit durations (rules E1-E3, docs/IMPORTERS.md), each the median
// of the exits named (the mean where the source has no distribution, as perf kvm stat):
// - costs.trap_ns: MMIO and port-I/O exits (EPT_MISCONFIG, IO_INSTRUCTION; SVM npf, io)
//   handled in userspace, the emulated register access full virtualization's trap prices;
//   every such exit when the recording has no kvm_userspace_exit to tell them apart;
// - virtio.kick_ns: the same exits handled in the kernel (ioeventfd), where the recording
//   tells them apart;
// - costs.irq_inject_ns: EOI_INDUCED exits (APICv's EOI exit);
// - costs.hypercall_ns: VMCALL exits (SVM vmmcall).

/// One key measured from a recording.
public struct CalibratedKey: Sendable, Equatable {
  public var key: String
  public var value: UInt64
  /// What it was measured from: exits, reasons, count, statistic, file.
  public var provenance: String
}

extension ExitReport {
  static let ioReasons: Set<String> = [
    "EPT_MISCONFIG", "IO_INSTRUCTION", "npf", "io", "EXIT_NPF", "EXIT_IOIO",
  ]
  static let eoiReasons: Set<String> = ["EOI_INDUCED"]
  static let hypercallReasons: Set<String> = ["VMCALL", "vmmcall", "EXIT_VMMCALL"]

  /// The keys this recording measures (model rule "calibrated keys").
  public var calibration: [CalibratedKey] {
    var keys: [CalibratedKey] = []
    // Every VM's exits by reason, once (a perf kvm stat report's per-vCPU sections are in
    // their sum).
    let allRows = totals
    let userspace = handlerRows.filter { $0.vcpu == "userspace" }
    let kernel = handlerRows.filter { $0.vcpu == "kernel" }
    let split = events.contains { $0.name == KVMEventKind.userspaceExit.name }
    func measure(_ key: String, _ rows: [Row], _ reasons: Set<String>, _ what: String) {
      let chosen = rows.filter { reasons.contains($0.reason) }
      var f = ExitFigures()
      for r in chosen { f.add(r.figures) }
      guard f.timed > 0 else { return }
      let statistic: String
      let value: UInt64
      if let median = f.percentile(50) {
        (statistic, value) = ("median", median)
      } else {
        (statistic, value) = ("mean", UInt64(f.meanNs!.rounded()))
      }
      let names = chosen.map(\.reason).sorted().joined(separator: ", ")
      keys.append(
        CalibratedKey(
          key: key, value: value,
          provenance:
            "\(statistic) of \(f.timed) \(names) exits\(what.isEmpty ? "" : " " + what) in \(file) (\(layout.rawValue))"
        ))
    }
    if split {
      measure("costs.trap_ns", userspace, Self.ioReasons, "handled in userspace")
      measure("virtio.kick_ns", kernel, Self.ioReasons, "handled in the kernel")
    } else {
      measure(
        "costs.trap_ns", allRows, Self.ioReasons,
        "(no kvm_userspace_exit: kernel and userspace together)")
    }
    measure("costs.irq_inject_ns", allRows, Self.eoiReasons, "")
    measure("costs.hypercall_ns", allRows, Self.hypercallReasons, "")
    return keys
  }
}
