/// Reading exits.json back and merging the exit reports of several hosts
/// (`hvreplay merge`; docs/REPORT-FORMAT.md, "Exit reports").
extension ExitReport {
  /// An exits.json read back: every section's rows with their figures, each duration
  /// histogram exact (its `[value, count]` pairs).
  ///
  /// - Throws: ``HVReplayError`` (`.badData`) naming `file` and the member that is wrong.
  public init(json: JSONValue, file path: String) throws(HVReplayError) {
    let top = JSONFields(value: json, path: "", file: path)
    guard try top.string("format") == "hvreplay-exits" else {
      throw top.fail("\"format\" must be \"hvreplay-exits\"")
    }
    guard try top.uint("version") == 1 else { throw top.fail("only version 1 can be read") }
    let layoutName = try top.string("layout")
    guard let layout = KVMRecordingLayout(rawValue: layoutName) else {
      throw top.fail("unknown \"layout\" \"\(layoutName)\"")
    }
    self.init(file: try top.string("file"), layout: layout)
    // A recording has a span; a perf kvm stat summary has none.
    spanNs = json["span_ns"] == nil && layout == .perfKVMStat ? nil : try top.uint("span_ns")
    let eventsMember = try top.child("events")
    guard case .object(let members) = eventsMember.value else {
      throw eventsMember.fail("an object of event names and counts")
    }
    for (name, value) in members {
      guard let n = value.uint else {
        throw eventsMember.fail("\"\(name)\" must be a whole number")
      }
      guard !events.contains(where: { $0.name == name }) else {
        throw eventsMember.fail("\"\(name)\" is given twice")
      }
      events.append((name, n))
    }
    notes = try top.array("notes").map { (n) throws(HVReplayError) in
      guard let s = n.value.string else { throw n.fail("a note is a string") }
      return s
    }
    var read: [[Row]] = []
    for section in Self.sectionNames {
      // `userspace` is younger than the other sections.
      if section == "userspace" && json[section] == nil {
        read.append([])
        continue
      }
      let items = try top.array(section)
      var rows: [Row] = []
      var seen = Set<[String]>()
      var groups: [[String]: (all: UInt64?, sum: UInt64, at: JSONFields)] = [:]
      for item in items {
        let r = try Self.row(fromJSON: item)
        guard seen.insert([r.vm, r.vcpu, r.reason]).inserted else {
          throw item.fail(
            "a second row of vm \"\(r.vm)\", vcpu \"\(r.vcpu)\", reason \"\(r.reason)\"")
        }
        var g = groups[[r.vm, r.vcpu], default: (nil, 0, item)]
        if r.reason == "all" {
          g.all = r.figures.count
        } else {
          g.sum = g.sum.adding(saturating: r.figures.count)
        }
        groups[[r.vm, r.vcpu]] = g
        rows.append(r)
      }
      // A scope's `all` row is the sum of its reasons.
      for (key, g) in groups.sorted(by: { $0.key.lexicographicallyPrecedes($1.key) }) {
        if let all = g.all, all != g.sum {
          throw top.fail(
            "\(section): the reasons of vm \"\(key[0])\", vcpu \"\(key[1])\" add up to \(g.sum) exits, its \"all\" row says \(all)"
          )
        }
      }
      read.append(rows)
    }
    sections = read
    hasDurations = read.joined().contains { $0.figures.hasDistribution }
  }

  init(file: String, layout: KVMRecordingLayout) {
    self.file = file
    self.layout = layout
  }

  private static func row(fromJSON r: JSONFields) throws(HVReplayError) -> Row {
    var f = ExitFigures()
    f.count = try r.uint("count")
    let timed = r.value["timed"] != nil
    if timed {
      f.timed = try r.uint("timed")
      f.totalNs = try r.uint("total")
      f.minNs = try r.uint("min")
      f.maxNs = try r.uint("max")
    }
    guard f.timed <= f.count else { throw r.fail("\"timed\" exceeds \"count\"") }
    if r.value["histogram"] != nil {
      for (value, count) in try ReplayResult.histogramPairs(r.child("histogram")) {
        f.histogram.record(value, count: count)
      }
      guard f.histogram.totalCount == f.timed else {
        throw r.fail(
          "the histogram holds \(f.histogram.totalCount) durations, \"timed\" says \(f.timed)")
      }
    }
    if timed {
      guard f.minNs! <= f.maxNs! else { throw r.fail("\"min\" exceeds \"max\"") }
      // The total of `timed` durations from min to max.
      let (low, o1) = f.minNs!.multipliedReportingOverflow(by: f.timed)
      let (high, o2) = f.maxNs!.multipliedReportingOverflow(by: f.timed)
      guard f.timed > 0, o1 || f.totalNs >= low, o2 || f.totalNs <= high else {
        throw r.fail("\"total\" is not the sum of \"timed\" durations between \"min\" and \"max\"")
      }
    }
    if f.histogram.totalCount > 0 {
      // The histogram keeps durations up to an hour; min and max are exact.
      let cap = ChannelMetrics.highestLatencyNs
      guard f.histogram.min == Swift.min(f.minNs!, cap),
        f.histogram.maxRecorded == Swift.min(f.maxNs!, cap)
      else {
        throw r.fail(
          "the histogram's durations run from \(f.histogram.min) to \(f.histogram.maxRecorded) ns, \"min\" and \"max\" say \(f.minNs!) and \(f.maxNs!)"
        )
      }
    }
    var row = Row(
      vm: try r.string("vm"), vcpu: try r.string("vcpu"), reason: try r.string("reason"),
      figures: f, sharePercent: r.value["share"]?.double ?? 0,
      timeSharePercent: r.value["time_share"]?.double)
    if r.value["span_ns"] != nil { row.spanNs = try r.uint("span_ns") }
    return row
  }

  /// The exit reports of several hosts as one (rule E6, docs/MODEL.md): each part's VMs
  /// and host CPUs keep their rows under the part's name (`host1:qemu-1234`, `host1`,
  /// `pcpu 3`), the rows of every VM (vm `all`) add up, shares are recomputed from the
  /// sums, and durations merge exactly (histograms add). Rates are over the longest part's
  /// span, as if the parts were recorded at once; time series are not merged.
  ///
  /// - Parameter names: each part's name, unique (``ExitReport/name(of:)`` of its folder).
  /// - Throws: ``HVReplayError`` (`.badData`) when perf kvm stat summaries are mixed
  ///   with recordings, whose figures are not alike.
  public static func merge(_ parts: [ExitReport], names: [String]) throws(HVReplayError)
    -> ExitReport
  {
    let summaries = parts.filter { $0.layout == .perfKVMStat }.count
    guard summaries == 0 || summaries == parts.count else {
      throw HVReplayError(
        .badData,
        "cannot merge perf kvm stat reports with recordings: a summary has no durations one by one; merge each kind on its own"
      )
    }
    var merged = ExitReport(
      file: names.joined(separator: " + "), layout: parts.first?.layout ?? .traceCmd)
    func overflow(_ name: String, _ what: String) -> HVReplayError {
      HVReplayError(
        .badData, "cannot merge \(name): \(what) would pass 2^64 when added to the other parts'")
    }
    merged.spanNs = parts.compactMap(\.spanNs).max()
    merged.hasDurations = parts.contains { $0.hasDurations }
    var eventIndex: [String: Int] = [:]
    for (partName, part) in zip(names, parts) {
      for (name, n) in part.events {
        if let i = eventIndex[name] {
          let (sum, o) = merged.events[i].count.addingReportingOverflow(n)
          if o { throw overflow(partName, "its \(name) events") }
          merged.events[i].count = sum
        } else {
          eventIndex[name] = merged.events.count
          merged.events.append((name, n))
        }
      }
    }
    let layouts = zip(names, parts).map { "\($0) from \($1.file), \($1.layout.rawValue)" }
    merged.notes.append(
      "merged \(parts.count) exit report\(parts.count == 1 ? "" : "s") (\(layouts.joined(separator: "; "))): each part's VMs and host CPUs under its name with their own rates; the rows of every VM summed, their rates over the longest span, as if the parts were recorded at once"
        + (summaries == 0 ? "; no time series (see each part's exits-timeseries.csv)" : "")
    )
    for (name, part) in zip(names, parts) {
      merged.notes += part.notes.map { "\(name): \($0)" }
    }
    var sections: [[Row]] = []
    // Which part each merged VM label came from: two parts must not meet in one label
    // (a part `x` with VM `y:z` and a part `x:y` with VM `z`).
    var owner: [String: Int] = [:]
    for s in Self.sectionNames.indices {
      var groups = MergedGroups()
      for (name, part) in zip(names, parts) {
        for r in part.sections[s] {
          // A part's own VMs and host CPUs keep their name and rate; every VM's rows add up.
          let own = r.vm != "all"
          let vm = !own ? "all" : r.vm == "host" ? name : "\(name):\(r.vm)"
          if own {
            let p = names.firstIndex(of: name)!
            if let other = owner[vm], other != p {
              throw HVReplayError(
                .badData,
                "cannot merge: \(names[other]) and \(name) both give the VM label \"\(vm)\"; rename a recording (its name is the part's)"
              )
            }
            owner[vm] = p
          }
          let span = own ? r.spanNs ?? part.spanNs : nil
          guard groups.add(vm: vm, vcpu: r.vcpu, reason: r.reason, r.figures, spanNs: span) else {
            throw overflow(
              name, "the \(Self.sectionNames[s]) of vm \(r.vm), vcpu \(r.vcpu), \(r.reason)")
          }
        }
      }
      sections.append(groups.rows)
    }
    merged.sections = sections
    return merged
  }

  /// Each part's name in a merge: its recording's name (``name(of:)``); where two
  /// recordings share one, the name of each exits.json's folder (without `-exits`); names
  /// still alike get `-2`, `-3`.
  public static func partNames(_ parts: [ExitReport], _ paths: [String]) -> [String] {
    var names = parts.map { name(of: $0.file) }
    if Set(names).count < names.count {
      names = paths.map { path in
        let folder = path.split(separator: "/").dropLast().last.map(String.init) ?? "."
        let base = name(of: folder)
        return base.hasSuffix("-exits") && base.count > 6 ? String(base.dropLast(6)) : base
      }
    }
    // `all` and `host` name every VM's rows and an unmerged host's CPUs: never a part.
    var seen: [String: Int] = ["all": 1, "host": 1]
    return names.map { n in
      seen[n, default: 0] += 1
      return seen[n]! == 1 ? n : "\(n)-\(seen[n]!)"
    }
  }

  /// Rows keyed by (vm, vcpu) group and reason, in first-appearance order, their figures
  /// added.
  private struct MergedGroups {
    var order: [String] = []
    var groups:
      [String: (
        vm: String, vcpu: String, reasons: [String], figures: [String: ExitFigures],
        spanNs: UInt64?
      )] = [:]

    /// Adds `f`, or returns false where a count or the total would pass 2^64.
    mutating func add(vm: String, vcpu: String, reason: String, _ f: ExitFigures, spanNs: UInt64?)
      -> Bool
    {
      let key = vm + "\u{0}" + vcpu
      if groups[key] == nil {
        order.append(key)
        groups[key] = (vm, vcpu, [], [:], spanNs)
      }
      guard let sum = groups[key]!.figures[reason, default: ExitFigures()].checkedSum(f) else {
        return false
      }
      if groups[key]!.figures[reason] == nil { groups[key]!.reasons.append(reason) }
      groups[key]!.figures[reason] = sum
      return true
    }

    /// Each group's reasons, most first (ties in first-appearance order), its `all` row
    /// last, with shares of the group's total.
    var rows: [Row] {
      var out: [Row] = []
      for key in order {
        let g = groups[key]!
        let reasons = g.reasons.enumerated().filter { $0.element != "all" }
          .sorted {
            (g.figures[$0.element]!.count, $1.offset) > (g.figures[$1.element]!.count, $0.offset)
          }
          .map(\.element)
        let total =
          g.figures["all"]
          ?? reasons.reduce(into: ExitFigures()) { $0.add(g.figures[$1]!) }
        for reason in reasons + (g.figures["all"] == nil ? [] : ["all"]) {
          var r = row(vm: g.vm, vcpu: g.vcpu, reason: reason, g.figures[reason]!, of: total)
          r.spanNs = g.spanNs
          out.append(r)
        }
      }
      return out
    }
  }
}
