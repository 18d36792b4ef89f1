/// The text layouts `hvreplay exits` reads (docs/IMPORTERS.md, "KVM exit recordings").
public enum KVMRecordingLayout: String, Sendable {
  /// `trace-cmd report` (its first line `cpus=N`).
  case traceCmd = "trace-cmd report"
  /// The kernel's trace file (its header `# tracer: nop`, or headerless lines).
  case ftrace
  /// `perf script` of kvm events.
  case perfScript = "perf script"
  /// `perf kvm stat report`: per-reason counts and min, max and mean durations.
  case perfKVMStat = "perf kvm stat report"
}

/// How `hvreplay exits` reads a recording.
public struct ExitOptions: Sendable {
  public var grouping = ExitGrouping.tgid
  /// The time series' interval.
  public var intervalNs: UInt64 = 1_000_000_000
  /// Unreadable lines skipped (counted) before the read stops.
  public var skipBad: UInt64 = 0

  public init() {}
}

extension ExitReport {
  /// Reads the recording at `path` (`-` for standard input; plain, zstd or gzip) in one
  /// streaming pass.
  public static func read(path: String, options: ExitOptions = ExitOptions())
    throws(HVReplayError) -> ExitReport
  {
    let input = try ByteInput(path: path)
    while input.end < min(1 << 16, input.capacity) && !input.atEnd { try input.refill(from: 0) }
    guard input.end > 0 else {
      throw HVReplayError(
        .badData, file: input.name,
        "the file holds no data; expected a KVM recording (`trace-cmd report` of kvm events)")
    }
    let layout = try detect(input)
    var lines = LineScanner(input: input)
    var budget = BadRecordBudget(limit: options.skipBad)
    func bad(_ message: String) -> HVReplayError {
      HVReplayError(.badData, file: input.name, location: .line(lines.line), message)
    }
    if layout == .perfKVMStat {
      var table = PerfKVMStatTable()
      while let line = try lines.next() {
        do throws(ExitLineError) {
          try table.add(line)
        } catch {
          try budget.skip(bad(error.message))
        }
      }
      return ExitReport(table: table, file: input.name, skipped: budget.skipped)
    }
    var analysis = ExitAnalysis(grouping: options.grouping, intervalNs: options.intervalNs)
    while let line = try lines.next() {
      if line.isEmpty || line.first == UInt8(ascii: "#") || isHeader(line) { continue }
      guard let event = KVMTraceLine.split(line) else {
        // `CPU:2 [LOST 120 EVENTS]` is no event line.
        if Bytes.find("LOST ", in: line) != nil && Bytes.find(" EVENTS", in: line) != nil {
          analysis.lost(at: analysis.lastTime)
          continue
        }
        try budget.skip(
          bad(
            "expected an event line `comm-pid [cpu] seconds: event: fields` (trace-cmd report, ftrace) or `comm pid [cpu] seconds: kvm:event: fields` (perf script)"
          ))
        continue
      }
      do throws(ExitLineError) {
        try analysis.add(event)
      } catch {
        try budget.skip(bad(error.message))
      }
    }
    analysis.finish()
    guard analysis.firstTime == nil || analysis.eventCounts.contains(where: { $0 > 0 }) else {
      throw HVReplayError(
        .badData, file: input.name,
        "no kvm events: of \(analysis.otherEvents) event lines none is a kvm tracepoint (\(KVMEventKind.allCases.prefix(5).map(\.name).joined(separator: ", ")), ...); record them with `trace-cmd record -e kvm`"
      )
    }
    guard analysis.firstTime != nil else {
      throw HVReplayError(
        .badData, file: input.name,
        "no event lines: expected kvm tracepoints as `trace-cmd report`, the kernel's trace file or `perf script` print them (record with `trace-cmd record -e kvm`)"
      )
    }
    var report = ExitReport(
      analysis: analysis, layout: layout, file: input.name, skipped: budget.skipped)
    if lines.lastLineUnterminated {
      report.notes.append(
        "the file's last line (\(lines.line)) has no line end: the file may have been cut there, and that line read as far as it goes"
      )
    }
    return report
  }

  /// Lines of trace-cmd report's header (`cpus=2`, `version = 6`, `CPU 1 is empty`).
  private static func isHeader(_ line: UnsafeRawBufferPointer) -> Bool {
    Bytes.hasPrefix(line, "cpus=") || Bytes.hasPrefix(line, "version = ")
      || (Bytes.hasPrefix(line, "CPU ") && Bytes.hasSuffix(line, " is empty"))
  }

  /// The layout of `input`, from its first lines.
  static func detect(_ input: ByteInput) throws(HVReplayError) -> KVMRecordingLayout {
    let prefix = UnsafeRawBufferPointer(start: input.base, count: input.end)
    for (line, _) in Bytes.lines(of: prefix, limit: 200) {
      if Bytes.hasPrefix(line, "cpus=") { return .traceCmd }
      if Bytes.hasPrefix(line, "# tracer:") { return .ftrace }
      if PerfKVMStatTable.isHeader(line) || Bytes.find("Analyze events for ", in: line) != nil {
        return .perfKVMStat
      }
      if let event = KVMTraceLine.split(line) {
        let name = Bytes.string(event.event)
        if Bytes.find("kvm:", in: line) != nil && name.hasPrefix("kvm_") { return .perfScript }
        return .ftrace
      }
    }
    throw HVReplayError(
      .badData, file: input.name, location: .line(1),
      "not a KVM recording: expected `trace-cmd report` text (first line `cpus=N`), the kernel's trace file, `perf script` output of kvm events, or `perf kvm stat report` output"
    )
  }
}

/// The tables of `perf kvm stat report` (classic and histogram layouts): per reason or
/// accessed address, counts and min, max and mean durations (no distribution).
struct PerfKVMStatTable {
  /// What the current table lists: exits, or MMIO or port accesses.
  enum Kind { case exits, mmio, ioport }

  var kind = Kind.exits
  /// The vCPU the tables are of (`VCPU n:`), or nil for all.
  var vcpu: UInt32?
  var rows: [(kind: Kind, vcpu: UInt32?, name: String, figures: ExitFigures)] = []
  /// The histogram layout's columns (`Time (ns)` present), else the classic one.
  private var nanosecondColumns = false
  private var inTable = false
  var totalSamples: UInt64?
  /// Every row's samples so far: beyond 2^64 the figures could not be summed.
  private var samples: UInt64 = 0

  static func isHeader(_ line: UnsafeRawBufferPointer) -> Bool {
    let s = Bytes.string(Bytes.trim(line))
    return
      (s.hasPrefix("VM-EXIT ") || s.hasPrefix("MMIO Access ")
      || s.hasPrefix("IO Port Access ") || s.hasPrefix("Event name "))
      && s.contains("Samples")
  }

  mutating func add(_ raw: UnsafeRawBufferPointer) throws(ExitLineError) {
    let line = Bytes.string(Bytes.trim(raw))
    if line.isEmpty { return }
    if line.hasPrefix("Analyze events for ") {
      inTable = false
      if let r = line.firstRange(of: "VCPU ") {
        vcpu = UInt32(line[r.upperBound...].prefix { $0.isNumber })
      } else {
        vcpu = nil
      }
      return
    }
    if Self.isHeader(raw) {
      inTable = true
      nanosecondColumns = line.contains("Time (ns)")
      kind =
        line.hasPrefix("MMIO Access") ? .mmio : line.hasPrefix("IO Port Access") ? .ioport : .exits
      return
    }
    if line.hasPrefix("Total Samples:") {
      totalSamples = UInt64(
        line.dropFirst("Total Samples:".count).prefix { $0.isNumber })
      inTable = false
      return
    }
    if line.hasPrefix("Lost events:") || line.hasPrefix("#") || !inTable { return }
    // Classic: NAME SAMPLES S% T% MINus MAXus AVGus ( +- R% ); histogram: NAME SAMPLES
    // S% TIME T% MAX MIN MEAN (ns).
    let fields = line.split(separator: " ", omittingEmptySubsequences: true).map(String.init)
    guard fields.count >= (nanosecondColumns ? 8 : 7), let count = UInt64(fields[1]) else {
      throw ExitLineError(
        nanosecondColumns
          ? "expected `NAME SAMPLES SAMPLE% TIME(ns) TIME% MAX(ns) MIN(ns) MEAN(ns)` in the table"
          : "expected `NAME SAMPLES SAMPLES% TIME% MINus MAXus AVGus ( +- N% )` in the table")
    }
    let (sum, overflow) = samples.addingReportingOverflow(count)
    guard !overflow else { throw ExitLineError("the tables' samples add up to more than 2^64") }
    samples = sum
    var f = ExitFigures()
    f.count = count
    f.timed = count
    if nanosecondColumns {
      guard let total = UInt64(fields[3]), let maxNs = UInt64(fields[5]),
        let minNs = UInt64(fields[6])
      else { throw ExitLineError("expected whole nanoseconds in the time columns") }
      f.totalNs = total
      f.maxNs = maxNs
      f.minNs = minNs
    } else {
      guard let minNs = Self.microseconds(fields[4]), let maxNs = Self.microseconds(fields[5]),
        let avgNs = Self.microseconds(fields[6])
      else { throw ExitLineError("expected times as `12.34us` in the time columns") }
      f.minNs = minNs
      f.maxNs = maxNs
      // The table gives the mean to 10 ns: the total is the mean times the count.
      f.totalNs = avgNs.multipliedReportingOverflow(by: count).overflow ? .max : avgNs * count
    }
    guard f.minNs! <= f.maxNs! else { throw ExitLineError("the minimum time exceeds the maximum") }
    rows.append((kind, vcpu, fields[0], f))
  }

  /// `12.34us` as nanoseconds.
  static func microseconds(_ s: String) -> UInt64? {
    guard s.hasSuffix("us"), let v = Double(s.dropLast(2)), v >= 0, v < 1.8e13 else { return nil }
    return UInt64((v * 1000).rounded())
  }
}
