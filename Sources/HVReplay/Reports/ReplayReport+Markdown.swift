extension ReplayReport {
  /// `report.md`: what was replayed, the backends side by side, latency per op, rings,
  /// devices, and a one-line verdict.
  public var markdown: String {
    let trace = result.trace
    let s = trace.statistics
    var md = "# hvreplay report: \(MarkdownEscaping.text(trace.name))\n\n"
    let kinds = EventKind.allCases.filter { s.count($0) > 0 }
      .map { "\($0) \(Self.grouped(s.count($0)))" }.joined(separator: ", ")
    md += "Trace \(MarkdownEscaping.code(trace.path)) "
    md += "(\(trace.format)\(trace.compression == .zstd ? ", zstd" : "")): "
    md += "\(Self.grouped(s.events)) event\(s.events == 1 ? "" : "s")"
    md += kinds.isEmpty ? "" : " (\(kinds))"
    md += " from \(s.vms.count) VM\(s.vms.count == 1 ? "" : "s") over "
    md += "\(TraceInspection.seconds(s.spanNs)).\n"
    if let command = trace.metadata["command"] {
      md += "Made by \(MarkdownEscaping.code(command)).\n"
    }
    md += "Replayed by hvreplay \(HVReplayVersion.current) through "
    md += backends.map { "`\($0.name)`" }.joined(separator: " and ") + ", \(loopDescription).\n\n"
    md += "**Verdict**: \(verdict)\(assumedServiceWarning ?? "")\n"
    for b in backends where b.total.metrics.latencyClamped > 0 {
      md += "\n**Clamped**: \(Self.grouped(b.total.metrics.latencyClamped)) \(b.name) requests "
      md += "took longer than an hour; they count as one hour in the percentiles and the mean, "
      md += "which are lower bounds.\n"
    }
    if let cpu = cpuVerdict, !result.channels.isEmpty { md += "\n**CPU**: \(cpu)\n" }
    if !result.replayNotes.isEmpty {
      md += "\n**Replay** (docs/MODEL.md, replay):\n\n"
      for note in result.replayNotes { md += "- \(MarkdownEscaping.text(note))\n" }
    }
    if !trace.importNotes.isEmpty {
      md += "\n**Import** (\(trace.format); docs/IMPORTERS.md):\n\n"
      for note in trace.importNotes { md += "- \(MarkdownEscaping.text(note))\n" }
    }
    md += "\n"
    if !result.channels.isEmpty { md += ioMarkdown }
    md += cpuMarkdown
    md += modelMarkdown
    return md
  }

  /// The device sections: backends side by side, latency per op, rings, devices.
  private var ioMarkdown: String {
    var md = "## Backends side by side\n\n"
    md += comparisonTable()
    md += mermaidCharts
    md += "\nThe latency CDF per backend is in `latency-cdf.svg`"
    md +=
      backends.contains(where: { !$0.rings.isEmpty })
      ? ", the ring occupancy in `ring-occupancy.svg`.\n" : ".\n"
    md += timeSeriesMarkdown
    md += exitsMarkdown
    md += "\n## Latency per op (ns)\n\n"
    md += "| backend | op | requests | mean | p50 | p90 | p99 | p99.9 | p99.99 | max |\n"
    md += "|---|---|--:|--:|--:|--:|--:|--:|--:|--:|\n"
    for backend in backends {
      for op in EventOp.allCases {
        guard let h = backend.total.latencyByOp[Int(op.rawValue)] else { continue }
        let cells = [50, 90, 99, 99.9, 99.99].map { Self.grouped(h.value(at: $0)) }
        md += "| \(backend.name) | \(op) | \(Self.grouped(h.total)) | "
        let mean = backend.total.latencyMeanByOp[Int(op.rawValue)] ?? h.mean
        md += "\(Self.grouped(UInt64(mean.rounded()))) | \(cells.joined(separator: " | ")) | "
        md += "\(Self.grouped(h.maxRecorded)) |\n"
      }
    }

    for backend in backends where !backend.rings.isEmpty {
      md += "\n## Rings (\(backend.name))\n\n"
      md += "Occupancy is the number of requests holding a slot (or, for rx, a filled buffer)"
      md += " whose response the guest has not consumed, weighted by time.\n\n"
      md +=
        "| vm | ring | entries | mean occupancy | max | time full | ring-full stalls | stall time |\n"
      md += "|--:|---|--:|--:|--:|--:|--:|--:|\n"
      for (channel, figures) in backend.rings {
        let m = figures.metrics
        let o = m.occupancy
        md += "| \(channel.vm) | \(channel.name) | \(o?.entries ?? 0) | "
        md += "\(TraceInspection.fixed(o?.mean ?? 0, 2)) | \(o?.maximum ?? 0) | "
        md += "\(TraceInspection.fixed((o?.fullFraction ?? 0) * 100, 2))% | "
        md += "\(Self.grouped(m.ringFullStalls)) | \(TraceInspection.seconds(m.ringFullNs)) |\n"
      }
    }

    md += "\n## Per VM and device\n\n"
    md += "Latency per VM and device is kept at two significant digits (within 0.8% of the "
    md += "totals' three-digit buckets; docs/MODEL.md, per-channel precision).\n\n"
    // The columns are the metric registry's (those with a report.md column).
    let columns = Metric.deviceMetrics.filter { $0.column != nil }
    md +=
      "| backend | vm | device | " + columns.map { $0.column! }.joined(separator: " | ") + " |\n"
    md += "|---|--:|---|" + String(repeating: "--:|", count: columns.count) + "\n"
    for backend in backends {
      for (key, f) in backend.devices {
        let cells = columns.map { m in m.value(.device(f, host: nil)).map(m.markdown) ?? "n/a" }
        md += "| \(backend.name) | \(key.vm) | \(key.name) | " + cells.joined(separator: " | ")
        md += " |\n"
      }
    }

    return md
  }

  /// report.md's exits by reason per backend, in `perf kvm stat`'s vocabulary (docs/MODEL.md,
  /// "Exits by reason"); HLT and other exits the model does not make are not listed.
  var exitsMarkdown: String {
    let reasons: [(String, KeyPath<ChannelMetrics, UInt64>)] = [
      ("EPT_MISCONFIG (MMIO)", \.exitsMMIO), ("IO_INSTRUCTION", \.exitsPIO),
      ("EOI_INDUCED", \.exitsEOI), ("VMCALL", \.exitsVMCALL),
    ]
    var md = "\n## Exits by reason\n\n"
    md += "VM exits the I/O path takes, by `perf kvm stat` reason: trapped MMIO and port "
    md += "accesses (full virtualization's registers, virtio's kicks), the EOI of each virtual "
    md += "interrupt, and hypercalls (Xen's event-channel sends). HLT, EXTERNAL_INTERRUPT and "
    md += "other exits are not modelled (docs/MODEL.md, \"Exits by reason\").\n\n"
    md += "| backend | " + reasons.map(\.0).joined(separator: " | ") + " | total | per request |\n"
    md += "|---|" + String(repeating: "--:|", count: reasons.count + 2) + "\n"
    for b in backends {
      let m = b.total.metrics
      let perRequest = m.requests > 0 ? Double(m.exits) / Double(m.requests) : 0
      md +=
        "| \(b.name) | " + reasons.map { Self.grouped(m[keyPath: $0.1]) }.joined(separator: " | ")
      md += " | \(Self.grouped(m.exits)) | \(TraceInspection.fixed(perRequest, 2)) |\n"
    }
    return md
  }

  /// The model section: every key and its value.
  private var modelMarkdown: String {
    var md = "\n## Model\n\n"
    md += "Every key, its value and its meaning; `*` marks a value changed from the default. "
    md += "docs/MODEL.md gives each default's source"
    md +=
      result.model.calibration.isEmpty
      ? ".\n\n" : "; `†` marks a value measured by `hvreplay calibrate`.\n\n"
    md += "| key | value | meaning |\n|---|--:|---|\n"
    let defaults = Model()
    for key in Model.keys {
      let value = key.value(in: result.model).serialized(pretty: false)
      let changed = value != key.value(in: defaults).serialized(pretty: false)
      let unit = key.unit.isEmpty ? "" : " \(key.unit)"
      let measured = result.model.calibration[key.path].map { " (calibrated: \($0))" } ?? ""
      md +=
        "| `\(key.path)` | \(value)\(unit)\(changed ? " *" : "")\(measured.isEmpty ? "" : " †") | \(key.meaning)\(MarkdownEscaping.text(measured)) |\n"
    }
    for id in result.model.vms.keys.sorted() {
      let vm = result.model.vms[id]!
      md += "| `vms.\(id).weight` | \(vm.weight) * | weight of guest \(id) |\n"
      if vm.capPercent > 0 {
        md +=
          "| `vms.\(id).cap_pct` | \(vm.capPercent)% * | cap of guest \(id), percent of one pCPU |\n"
      }
    }
    return md
  }

  /// "1 stream", "2,048 streams".
  static func count(_ n: UInt64, _ noun: String) -> String {
    "\(grouped(n)) \(noun)\(n == 1 ? "" : "s")"
  }

  /// How the requests were issued, as report.md's header says it.
  var loopDescription: String {
    let replay = result.model.replay
    var text: String
    if replay.loop == .closed {
      let streams = result.backends.first?.streams ?? 0
      let depth = result.backends.first?.depthStreams ?? 0
      text =
        "closed loop (docs/MODEL.md, closed-loop replay) over \(Self.count(streams, "stream")): "
      if depth < streams {
        text +=
          "\(depth == 0 ? "each" : Self.grouped(streams - depth)) issues a request once the one "
          + "it depended on in the recording has completed, after its recorded think time"
        if depth > 0 { text += "; " }
      }
      if depth > 0 {
        text +=
          "\(depth == streams ? "each" : Self.grouped(depth)) without recorded completions issues "
          + "a request once its request \(replay.depth) before has completed "
          + "(replay.depth = \(replay.depth))"
      }
    } else {
      text = "open loop: every request at its recorded time, whatever the design"
    }
    if replay.timeScale != 1 {
      text += "; at \(ModelKey.decimal(replay.timeScale))x the recorded rate"
    }
    for b in result.backends where b.issuedLate > 0 {
      text +=
        "; \(Self.grouped(b.issuedLate)) \(b.name) requests issued late because more than "
        + "\(Self.grouped(UInt64(RequestDriver.heldLimit))) waited at once"
    }
    return text
  }

  /// The verdict lines printed after a replay: devices, then CPU.
  public var verdictLines: [String] {
    var lines = [verdict + (assumedServiceWarning ?? "")]
    if let cpu = cpuVerdict, !result.channels.isEmpty { lines.append(cpu) }
    return lines
  }

  /// When more than half of a backend's requests were served for the model's assumed service
  /// time (docs/MODEL.md, assumed service time), what the verdict rests on, such as
  /// "; rests on assumed service times: 963 of 963 requests (100%) had none in the trace ...".
  var assumedServiceWarning: String? {
    guard
      let b = backends.max(by: { $0.total.assumedServiceFraction < $1.total.assumedServiceFraction }
      ),
      b.total.assumedServiceFraction > 0.5
    else { return nil }
    let m = b.total.metrics
    let kinds = EventKind.allCases.filter { k in result.channels.contains { $0.kind == k } }
    let keys = kinds.map {
      "devices.\($0).base_service_ns + bytes / devices.\($0).bandwidth_bytes_per_s"
    }
    return "; rests on assumed service times: \(Self.grouped(m.assumedService)) of "
      + "\(Self.grouped(m.requests)) requests (\(TraceInspection.fixed(b.total.assumedServiceFraction * 100, 0))%) "
      + "had none in the trace and took the model's \(keys.joined(separator: " and "))"
  }

  /// The design every other is compared with: `--baseline`, else the default among those
  /// replayed (``defaultBaseline(among:)``).
  public var baselineDesign: String? {
    if let chosen = result.baseline { return chosen }
    return Self.defaultBaseline(
      among: result.backends.map { $0.design.isEmpty ? Self.design(of: $0.name) : $0.design })
  }

  /// The baseline when none is chosen: `native` when it was replayed (bare metal frames
  /// every design), else `full`, else the first design.
  public static func defaultBaseline(among designs: [String]) -> String? {
    designs.contains("native") ? "native" : designs.contains("full") ? "full" : designs.first
  }

  /// The design of backend result `name`.
  func design(_ name: String) -> String {
    let raw = result.backends.first { $0.name == name }
    return raw.map { $0.design.isEmpty ? Self.design(of: $0.name) : $0.design }
      ?? Self.design(of: name)
  }

  /// One line comparing each backend with the baseline design under the same scheduler,
  /// such as "para: 10.4x fewer VM exits, 3.1 GB of copies avoided, p99 latency
  /// 38% lower" (uncoupled), or "para/credit vs full/credit: ..., 3.2x less CPU on
  /// virtualization (1.20 s against 3.84 s)" for each host.
  public var verdict: String {
    guard let base = baselineDesign else { return cpuVerdict ?? "nothing was replayed" }
    let bases = backends.filter { design($0.name) == base }
    let others = backends.filter { design($0.name) != base }
    guard !others.isEmpty, let firstBase = bases.first else {
      let only = bases.first ?? backends[0]
      let m = only.total.metrics
      return "\(only.name): \(Self.grouped(m.requests)) requests, \(Self.grouped(m.traps)) traps, "
        + "p99 latency \(TraceInspection.seconds(only.total.latency(99)))"
    }
    guard firstBase.total.metrics.requests > 0 else {
      return cpuVerdict ?? "the trace has no disk or net requests to compare"
    }
    var clauses: [String] = []
    for other in others {
      let scheduler = result.backends.first { $0.name == other.name }?.scheduler
      guard
        let pair = bases.first(where: { b in
          result.backends.first { $0.name == b.name }?.scheduler == scheduler
        })
      else { continue }
      let head = scheduler == nil ? other.name : "\(other.name) vs \(pair.name)"
      clauses.append(head + ": " + comparison(base: pair, other: other))
    }
    return clauses.joined(separator: "; ")
  }

  /// How `other` compares with `base`: exits, copies avoided, p99 latency, the span (closed
  /// loop) and, for host simulations, the CPU spent on virtualization when it differs.
  func comparison(base: BackendFigures, other: BackendFigures) -> String {
    let f = base.total.metrics
    let p = other.total.metrics
    // Both designs' VM exits for I/O, of every reason (section "Exits by reason").
    var parts: [String] = []
    let baseExits = f.exits
    let otherExits = p.exits
    if otherExits == 0 {
      parts.append(
        baseExits == 0
          ? "no VM exits, as \(base.name)" : "no VM exits against \(Self.grouped(baseExits))")
    } else if baseExits == 0 {
      parts.append("\(Self.grouped(otherExits)) VM exits against none")
    } else {
      parts.append(Self.ratio(Double(baseExits), Double(otherExits), "VM exits"))
    }
    if p.bytesCopyAvoided > 0 || f.bytesCopyAvoided > 0 {
      parts.append("\(Self.decimalBytes(p.bytesCopyAvoided)) of copies avoided")
    }
    let fp99 = Double(base.total.latency(99))
    let pp99 = Double(other.total.latency(99))
    if fp99 > 0 {
      let change = (pp99 - fp99) / fp99 * 100
      if abs(change) < 0.5 {
        parts.append("p99 latency unchanged")
      } else if change <= -99.5 && pp99 > 0 {
        // Percentages round a large gap to "100% lower": say how many times instead.
        parts.append("p99 latency \(TraceInspection.fixed(fp99 / pp99, 0))x lower")
      } else if change >= 100 {
        // Twice or more: how many times, not thousands of percent.
        parts.append(
          "p99 latency \(TraceInspection.fixed(pp99 / fp99, pp99 >= 10 * fp99 ? 0 : 1))x higher")
      } else {
        parts.append(
          "p99 latency \(TraceInspection.fixed(abs(change), 0))% \(change < 0 ? "lower" : "higher")"
        )
      }
    }
    if result.model.replay.loop == .closed, let span = Self.spanComparison(base, other) {
      parts.append(span)
    }
    if let cpu = cpuComparison(base: base.name, other: other.name) { parts.append(cpu) }
    return parts.joined(separator: ", ")
  }

  /// "3.2x less CPU on virtualization (1.20 s against 3.84 s)", when the two hosts' CPU
  /// spent on virtualization differs by 10% or more.
  func cpuComparison(base: String, other: String) -> String? {
    guard let b = result.schedulers.first(where: { $0.name == base && $0.backend != nil }),
      let o = result.schedulers.first(where: { $0.name == other && $0.backend != nil })
    else { return nil }
    let vb = Double(b.virtCPUNs)
    let vo = Double(o.virtCPUNs)
    guard max(vb, vo) > 0, abs(vb - vo) >= 0.1 * max(vb, vo) else { return nil }
    let against =
      "(\(TraceInspection.seconds(o.virtCPUNs)) against \(TraceInspection.seconds(b.virtCPUNs)))"
    if vo == 0 { return "no CPU on virtualization \(against)" }
    if vb == 0 {
      return "\(TraceInspection.seconds(o.virtCPUNs)) of CPU on virtualization against none"
    }
    return vo < vb
      ? "\(TraceInspection.fixed(vb / vo, 1))x less CPU on virtualization \(against)"
      : "\(TraceInspection.fixed(vo / vb, 1))x more CPU on virtualization \(against)"
  }

  /// "finishes the workload 1.8x sooner": para's replayed span against full's (closed loop).
  static func spanComparison(_ full: BackendFigures, _ para: BackendFigures) -> String? {
    let f = Double(full.total.metrics.spanNs)
    let p = Double(para.total.metrics.spanNs)
    guard f > 0, p > 0 else { return nil }
    if abs(f - p) / f < 0.005 { return "finishes the workload in the same time" }
    return f > p
      ? "finishes the workload \(TraceInspection.fixed(f / p, 2))x sooner"
      : "finishes the workload \(TraceInspection.fixed(p / f, 2))x later"
  }

  /// One line on the CPU schedulers, when the trace has cpu events: the schedulers on the
  /// bursts alone when they ran (the recorded workload's fairness and billing), else each
  /// host's.
  var cpuVerdict: String? {
    let references = result.schedulers.filter { $0.backend == nil }
    let shown = references.isEmpty ? result.schedulers : references
    guard !shown.isEmpty else { return nil }
    let parts = shown.map { s -> String in
      "\(s.name): Jain's index \(TraceInspection.fixed(s.jainIndex, 3))\(Self.billingVerdict(s))"
    }
    return "cpu: " + parts.joined(separator: "; ")
  }

  /// The verdict's word on tick billing (docs/MODEL.md, CPU rule 6): the largest billing
  /// error of a VM whose error rests on at least ``VMCPUMetrics/billingTicksToQuote`` ticks,
  /// as ", tick billing off by -3% for vm 4 (115 ticks)"; or, when a larger error rests on
  /// fewer, that too few ticks were observed to quote it (model rule "Billing ticks").
  static func billingVerdict(_ s: SchedulerResult) -> String {
    func worst(_ vms: [VMCPUMetrics]) -> VMCPUMetrics? {
      vms.filter { abs($0.billingErrorPercent) >= 0.5 }
        .max { abs($0.billingErrorPercent) < abs($1.billingErrorPercent) }
    }
    // A guest as "vm 3"; the driver domain and device models by label ("dom0", "dm1").
    func name(_ vm: VMCPUMetrics) -> String { vm.domain == .guest ? "vm \(vm.vm)" : vm.label }
    let enough = s.vms.filter { s.billingTicks([$0]) >= VMCPUMetrics.billingTicksToQuote }
    let quoted = worst(enough)
    let few = s.vms.filter { s.billingTicks([$0]) < VMCPUMetrics.billingTicksToQuote }
    var text = ""
    if let vm = quoted {
      text +=
        ", tick billing off by \(TraceInspection.fixed(vm.billingErrorPercent, 0))% for \(name(vm)) (\(count(s.billingTicks([vm]), "tick")))"
    }
    if let vm = worst(few),
      abs(vm.billingErrorPercent) > abs(quoted?.billingErrorPercent ?? 0)
    {
      text +=
        ", too few ticks observed to quote tick billing for \(name(vm)) (\(count(s.billingTicks([vm]), "tick")), fewer than \(VMCPUMetrics.billingTicksToQuote))"
    }
    return text
  }

  private func comparisonTable() -> String {
    let rows = backends.map { $0.total.rows }
    var md = "| figure | unit | " + backends.map(\.name).joined(separator: " | ")
    let ratio = backends.count == 2
    if ratio { md += " | \(backends[1].name) / \(backends[0].name)" }
    md +=
      " |\n|---|---|" + String(repeating: "--:|", count: backends.count + (ratio ? 1 : 0)) + "\n"
    guard let first = rows.first else { return md }
    for row in first {
      var cells: [String] = []
      var values: [Double] = []
      for r in rows {
        if let match = r.first(where: { $0.metric == row.metric }) {
          cells.append(match.decimals == 0 ? Self.grouped(match.whole) : match.text)
          values.append(match.value)
        } else {
          cells.append("–")
        }
      }
      md += "| \(row.metric) | \(row.unit) | \(cells.joined(separator: " | "))"
      if ratio {
        if values.count == 2 && values[0] > 0 {
          md += " | \(TraceInspection.fixed(values[1] / values[0], 3))"
        } else {
          md += " | –"
        }
      }
      md += " |\n"
    }
    // Ring rows exist only for backends with rings.
    for (b, backend) in backends.enumerated() {
      for row in rows[b] where !first.contains(where: { $0.metric == row.metric }) {
        md += "| \(row.metric) (\(backend.name)) | \(row.unit) | "
        md += backends.indices.map { $0 == b ? row.text : "–" }.joined(separator: " | ")
        md += ratio ? " | – |\n" : " |\n"
      }
    }
    return md
  }

  static func ratio(_ a: Double, _ b: Double, _ noun: String) -> String {
    if a >= b {
      return "\(TraceInspection.fixed(a / b, 1))x fewer \(noun)"
    }
    return "\(TraceInspection.fixed(b / a, 1))x more \(noun)"
  }

  /// `1234567` → `1,234,567`.
  static func grouped(_ n: UInt64) -> String {
    let digits = Array(String(n))
    var out = ""
    for (i, d) in digits.enumerated() {
      if i > 0 && (digits.count - i) % 3 == 0 { out += "," }
      out.append(d)
    }
    return out
  }

  static func bytes(_ n: UInt64) -> String { TraceInspection.bytes(n) }

  /// Bytes in decimal units (kB, MB, GB), as a verdict reads.
  static func decimalBytes(_ n: UInt64) -> String {
    let units = ["bytes", "kB", "MB", "GB", "TB", "PB"]
    var v = Double(n)
    var u = 0
    while v >= 1000 && u < units.count - 1 {
      v /= 1000
      u += 1
    }
    return u == 0 ? "\(n) bytes" : "\(TraceInspection.fixed(v, 1)) \(units[u])"
  }
}
