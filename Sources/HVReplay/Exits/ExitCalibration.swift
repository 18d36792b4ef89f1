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
  /// The value's unit: `ns`, or `traps` for trap counts.
  public var unit = "ns"
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

// Model rule "calibrated traps per request" (docs/MODEL.md): with the number of I/O
// requests the recorded exits served (`--io TRACE` or `--requests`), the emulated devices'
// trap counts are measured from the accesses to their registers (rule E2):
// - full.<kind>.submit_traps: register writes (POUT, W) per submitted request (disk: every
//   request; net: every transmitted packet);
// - full.<kind>.completion_traps: register reads (PIN, R) per request, where the base model
//   gives each completion its own interrupt (full.<kind>.irq_interval_ns = 0), so that per
//   request is per interrupt; under interrupt throttling the recording cannot tell which
//   interrupt served which request, and the key is left as it is.
// Each is rounded to the nearest whole trap; the provenance gives the exact ratio.

/// A range of emulated device registers: ports (`pio:0x1f0-0x1f7`) or guest physical
/// addresses (`mmio:0xfebc0000-0xfebdffff`).
public struct RegisterRange: Sendable, Equatable, CustomStringConvertible {
  public var mmio: Bool
  public var low: UInt64
  public var high: UInt64

  /// The legacy ATA ports of an emulated IDE controller (primary and secondary channels'
  /// command blocks and device control registers): the default disk registers.
  public static let ideDefaults: [RegisterRange] = [
    RegisterRange(mmio: false, low: 0x1f0, high: 0x1f7),
    RegisterRange(mmio: false, low: 0x3f6, high: 0x3f6),
    RegisterRange(mmio: false, low: 0x170, high: 0x177),
    RegisterRange(mmio: false, low: 0x376, high: 0x376),
  ]

  public init(mmio: Bool, low: UInt64, high: UInt64) {
    (self.mmio, self.low, self.high) = (mmio, low, high)
  }

  /// Parses `pio:LOW[-HIGH]` or `mmio:LOW[-HIGH]` (hexadecimal with `0x`, or decimal),
  /// several separated by commas.
  public static func parseList(_ text: String) -> [RegisterRange]? {
    var out: [RegisterRange] = []
    for item in text.split(separator: ",", omittingEmptySubsequences: false) {
      let parts = item.split(separator: ":", maxSplits: 1)
      guard parts.count == 2, parts[0] == "pio" || parts[0] == "mmio" else { return nil }
      let bounds = parts[1].split(separator: "-", omittingEmptySubsequences: false)
      guard bounds.count <= 2, let low = number(bounds[0]),
        let high = bounds.count == 2 ? number(bounds[1]) : low, low <= high
      else { return nil }
      out.append(RegisterRange(mmio: parts[0] == "mmio", low: low, high: high))
    }
    return out.isEmpty ? nil : out
  }

  private static func number(_ s: Substring) -> UInt64? {
    let digits = s.hasPrefix("0x") ? s.dropFirst(2) : s
    guard let first = digits.first, first.isHexDigit else { return nil }
    return s.hasPrefix("0x") ? UInt64(digits, radix: 16) : UInt64(digits)
  }

  public var description: String {
    (mmio ? "mmio:" : "pio:") + "0x" + String(low, radix: 16)
      + (high == low ? "" : "-0x" + String(high, radix: 16))
  }

  /// Whether an access row's label (`pio:0x1f7:POUT`, `mmio:0xfebc0038:W`) is in the range,
  /// and whether it is a write.
  static func access(_ label: String) -> (mmio: Bool, address: UInt64, write: Bool)? {
    let parts = label.split(separator: ":")
    guard parts.count == 3, parts[0] == "pio" || parts[0] == "mmio", parts[1].hasPrefix("0x"),
      let address = UInt64(parts[1].dropFirst(2), radix: 16)
    else { return nil }
    return (parts[0] == "mmio", address, parts[2] == "POUT" || parts[2] == "W")
  }
}

/// How many I/O requests a recording's exits served, and where the counts come from.
public struct IORequestCounts: Sendable, Equatable {
  /// Disk requests (every op), transmitted and received packets.
  public var disk: UInt64 = 0
  public var tx: UInt64 = 0
  public var rx: UInt64 = 0
  /// Where the counts come from (`an I/O trace io.csv`, `--requests`).
  public var source: String

  public init(source: String) { self.source = source }

  /// Counts the requests of an I/O trace in one streaming pass.
  public init(trace path: String, options: TraceReadOptions) throws(HVReplayError) {
    self.init(source: "the I/O trace \(path)")
    var reader: TraceReader
    do {
      reader = try TraceReader(paths: [path], options: options)
    } catch  where error.message.contains(TraceReader.kvmRecordingAdvice) {
      throw HVReplayError(
        .badData, file: path,
        "a KVM recording, not an I/O trace: --io takes the I/O trace of the recorded run (a blktrace, blkparse text, fio log or any trace `hvreplay formats` lists)"
      )
    }
    while let e = try reader.next() {
      switch e.op {
      case .tx: tx &+= 1
      case .rx: rx &+= 1
      default: if e.kind == .disk { disk &+= 1 }
      }
    }
  }
}

extension ExitReport {
  /// The trap counts measured from register accesses per request (model rule "calibrated
  /// traps per request"), and, for each key left alone, why.
  public func trapCalibration(
    requests: IORequestCounts, registers: [EventKind: [RegisterRange]], base: Model
  ) -> (keys: [CalibratedKey], skipped: [String]) {
    let rows = everyVMAccesses
    var keys: [CalibratedKey] = []
    var skipped: [String] = []
    for kind in [EventKind.disk, .net] {
      guard let ranges = registers[kind], !ranges.isEmpty else { continue }
      guard unitemisedAccesses == 0 else {
        skipped.append(
          "full.\(kind) traps: \(unitemisedAccesses) accesses of \(file) beyond \(ExitAnalysis.maximumAddresses) distinct addresses are under no address, so its registers' counts would be low"
        )
        continue
      }
      var writes: UInt64 = 0
      var reads: UInt64 = 0
      for r in rows {
        guard let a = RegisterRange.access(r.reason),
          ranges.contains(where: { $0.mmio == a.mmio && (($0.low)...($0.high)).contains(a.address) }
          )
        else { continue }
        if a.write {
          writes = writes.adding(saturating: r.figures.count)
        } else {
          reads = reads.adding(saturating: r.figures.count)
        }
      }
      let shown = ranges.map(\.description).joined(separator: ",")
      guard writes > 0 || reads > 0 else {
        skipped.append("full.\(kind) traps: no accesses to \(shown) in \(file)")
        continue
      }
      let submitted = kind == .disk ? requests.disk : requests.tx
      let completed = kind == .disk ? requests.disk : requests.tx &+ requests.rx
      func key(_ name: String, _ accesses: UInt64, _ what: String, per n: UInt64, _ unit: String) {
        let ratio = Double(accesses) / Double(n)
        // Accesses that round to no trap would switch trapping off: more likely the request
        // count is not the recording's.
        guard accesses == 0 || ratio >= 0.5 else {
          skipped.append(
            "full.\(kind).\(name): \(accesses) register \(what) per \(n) \(unit) is \(TraceInspection.fixed(ratio, 3)), less than half a trap: are the requests those of the recorded run?"
          )
          return
        }
        keys.append(
          CalibratedKey(
            key: "full.\(kind).\(name)", value: UInt64(Swift.min(ratio, 1e15).rounded()),
            provenance:
              "\(accesses) register \(what) of \(shown) in \(file) per \(n) \(unit) in \(requests.source) = \(TraceInspection.fixed(ratio, 3)), rounded",
            unit: "traps"))
      }
      let unit = kind == .disk ? "requests" : "packets"
      if submitted > 0 {
        key(
          "submit_traps", writes, "writes", per: submitted,
          kind == .disk ? unit : "transmitted packets")
      } else {
        skipped.append(
          "full.\(kind).submit_traps: \(requests.source) has no \(kind == .disk ? "disk requests" : "transmitted packets")"
        )
      }
      if base.traps(kind).irqIntervalNs != 0 {
        skipped.append(
          "full.\(kind).completion_traps: the model throttles \(kind) interrupts (full.\(kind).irq_interval_ns = \(base.traps(kind).irqIntervalNs)), so reads per request are not reads per interrupt"
        )
      } else if completed > 0 {
        key("completion_traps", reads, "reads", per: completed, unit)
      } else {
        skipped.append("full.\(kind).completion_traps: \(requests.source) has no \(kind) requests")
      }
    }
    return (keys, skipped)
  }
}
