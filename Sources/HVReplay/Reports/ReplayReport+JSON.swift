import Histogram

// report.json, schema version 1 (docs/REPORT-FORMAT.md): the figures of summary.csv and
// cpu.csv, and the raw data they come from (counters, histograms, occupancy), so that
// reports can be merged exactly and percentiles recomputed.

extension ReplayReport {
  /// The version of `report.json`'s schema.
  /// Version 2 added each backend's and scheduler's full-precision totals; version 1 reports
  /// (whose channel histograms are full-precision) are still read.
  public static let schemaVersion: UInt64 = 2

  /// `report.json`.
  public var json: JSONValue { .object(jsonMembers.map { ($0.0, $0.1.value) }) }

  /// report.json's members, its backends and schedulers made one by one as they are
  /// written (``JSONValue/writeObject(_:to:)``).
  var jsonMembers: [(String, JSONValue.StreamedMember)] {
    [
      ("schema", .value(.string("hvreplay-report"))),
      ("schema_version", .value(.uint(Self.schemaVersion))),
      ("hvreplay_version", .value(.string(HVReplayVersion.current))),
      ("trace", .value(result.trace.json)),
      ("model", .value(result.model.json)),
      ("replay_notes", .value(.array(result.replayNotes.map { .string($0) }))),
    ] + (result.baseline.map { [("baseline", .value(.string($0)))] } ?? []) + [
      ("backends", .objects(count: backends.count) { backendJSON(backends[$0]) }),
      (
        "schedulers",
        .objects(count: result.schedulers.count) {
          Self.schedulerJSON(result.schedulers[$0], pcpusSource: result.pcpusSource)
        }
      ),
    ]
  }

  static func figures(_ rows: [Figures.Row]) -> JSONValue {
    .object(
      rows.map { ($0.metric, $0.decimals == 0 ? .uint($0.whole) : .double($0.value)) })
  }

  private func backendJSON(_ b: BackendFigures) -> JSONValue {
    let raw = result.backends.first { $0.name == b.name }!
    return .object(
      [("name", .string(b.name)), ("design", .string(raw.design))]
        + (raw.scheduler.map { [("scheduler", .string($0))] } ?? []) + [
          ("streams", .uint(raw.streams)),
          ("depth_streams", .uint(raw.depthStreams)),
          ("requests_issued_late", .uint(raw.issuedLate)),
          ("metrics", .array(raw.metrics.map { .string($0) })),
          ("total", Self.figures(b.total.rows)),
          ("latency", Self.latencyJSON(raw.latency.byOp)),
          (
            "latency_sum_ns",
            .object(
              EventOp.allCases.filter { raw.latency.byOp[Int($0.rawValue)] != nil }.map {
                ($0.description, .uint(raw.latency.sumNs[Int($0.rawValue)]))
              })
          ),
          (
            "devices",
            .array(
              b.devices.map {
                .object([
                  ("vm", .uint(UInt64($0.key.vm))), ("device", .string($0.key.name)),
                  ("figures", Self.figures($0.figures.rows)),
                ])
              })
          ),
          (
            "channels",
            .array(
              result.channels.indices.sorted { result.channels[$0] < result.channels[$1] }.map {
                Self.channelJSON(result.channels[$0], raw.channels[$0])
              })
          ),
        ])
  }

  /// A design's name: what `--backends` calls it (the part of `full/credit` before the slash).
  static func design(of name: String) -> String {
    String(name.split(separator: "/", maxSplits: 1).first ?? Substring(name))
  }

  private static func channelJSON(_ c: Channel, _ m: ChannelMetrics) -> JSONValue {
    var members: [(String, JSONValue)] = [
      ("vm", .uint(UInt64(c.vm))), ("kind", .string(c.kind.description)),
      ("device", .uint(UInt64(c.device))), ("direction", .string(c.receive ? "rx" : "tx")),
      ("counters", .object(ChannelMetrics.counters.map { ($0.name, .uint(m[keyPath: $0.key])) })),
      ("latency", latencyJSON(m.latency)),
    ]
    if m.requests > 0 {
      members.append(
        (
          "span",
          .object([
            ("first_issue_ns", .uint(m.firstIssueNs)),
            ("last_completion_ns", .uint(m.lastCompletionNs)),
            ("offered_first_ns", .uint(m.offeredFirstNs)),
            ("offered_last_ns", .uint(m.offeredLastNs)),
          ])
        ))
    }
    if let o = m.occupancy {
      members.append(
        (
          "occupancy",
          .object([
            ("entries", .uint(o.entries)), ("max", .uint(o.maximum)), ("full_ns", .uint(o.fullNs)),
            (
              "time_at_level_ns",
              .array(
                o.timeAtLevel.enumerated().filter { $0.element > 0 }.map {
                  .array([.uint(UInt64($0.offset)), .uint($0.element)])
                })
            ),
          ])
        ))
    }
    return .object(members)
  }

  /// Per-op histograms as an object keyed by op name, ops without requests left out.
  static func latencyJSON(_ byOp: [(some LatencyBuckets)?]) -> JSONValue {
    .object(
      EventOp.allCases.compactMap { op in
        byOp[Int(op.rawValue)].map { (op.description, histogramJSON($0)) }
      })
  }

  /// A histogram as `[value, count]` pairs of its non-empty buckets. Each value lies in
  /// its bucket, so recording it again lands in the same bucket; the first and last pairs
  /// carry the exact smallest and largest values recorded, which percentiles are clamped to.
  static func histogramJSON(_ h: some LatencyBuckets) -> JSONValue {
    var pairs = h.nonEmptyBuckets().map { (value: $0.value, count: $0.count) }
    guard !pairs.isEmpty else { return .raw("[]") }
    if pairs.count == 1 && pairs[0].count > 1 && h.min != h.maxRecorded {
      pairs = [(h.min, 1), (h.maxRecorded, pairs[0].count - 1)]
    } else {
      pairs[0].value = h.min
      pairs[pairs.count - 1].value = h.maxRecorded
    }
    var text = "["
    text.reserveCapacity(pairs.count * 16)
    for (i, pair) in pairs.enumerated() {
      text += i == 0 ? "[" : ", ["
      text += String(pair.value)
      text += ", "
      text += String(pair.count)
      text += "]"
    }
    return .raw(text + "]")
  }

  private static func schedulerJSON(_ s: SchedulerResult, pcpusSource: PCPUSource) -> JSONValue {
    .object(
      [("name", .string(s.name)), ("policy", .string(s.policy))]
        + (s.backend.map { [("backend", .string($0))] } ?? []) + [
          ("window_start_ns", .uint(s.windowStart)),
          ("window_end_ns", .uint(s.windowEnd)),
          ("pcpus", .uint(s.pcpus)),
          ("pcpus_source", .string(pcpusSource.rawValue)),
          ("switching_ns", .uint(s.switchingNs)),
          ("idle_while_runnable_ns", .uint(s.idleWhileRunnableNs)),
          ("total", figures(s.rows(vm: nil))),
          ("wait", histogramJSON(s.wait)),
          (
            "vms",
            .array(
              s.vms.indices.map { i in
                let v = s.vms[i]
                return .object([
                  ("vm", .uint(UInt64(v.vm))),
                  ("domain", .string(v.domain.name)),
                  ("label", .string(v.label)),
                  ("figures", figures(s.rows(vm: i))),
                  (
                    "data",
                    .object(
                      [
                        ("vcpus", .uint(UInt64(v.vcpus))), ("weight", .uint(v.weight)),
                        ("cap_pct", .uint(v.capPercent)), ("demand_ns", .uint(v.demandNs)),
                        ("cpu_ns", .uint(v.cpuNs)), ("unserved_ns", .uint(v.unservedNs)),
                        ("billed_exact_ns", .uint(v.billedExactNs)),
                        ("billed_tick_ns", .uint(v.billedTickNs)),
                        ("billed_ticks", .uint(v.billedTicks)),
                        ("context_switches", .uint(v.contextSwitches)),
                        ("virt_guest_ns", .uint(v.virtGuestNs)),
                        ("virt_backend_ns", .uint(v.virtBackendNs)),
                        ("bursts_done", .uint(v.burstsDone)),
                        ("burst_response_ns", .uint(v.burstResponseNs)),
                      ]
                        + (v.referenceBurstResponseNs.map {
                          [("reference_burst_response_ns", .uint($0))]
                        } ?? [])
                        // Whole nanoseconds; absent when read from a report that did not keep it.
                        + (v.entitledNs.map {
                          [("entitled_ns", .uint(UInt64(min($0.rounded(), 1.8e19))))]
                        }
                          ?? []))
                  ),
                  ("wait", histogramJSON(v.wait)),
                ])
              })
          ),
        ])
  }
}

extension TraceIdentity {
  var json: JSONValue {
    let s = statistics
    return .object(
      [
        ("name", .string(name)),
        ("path", .string(path)),
        ("format", .string(format.rawValue)),
        ("compression", .string(compression.rawValue)),
        ("content_hash", .string(Self.hex(s.contentHash))),
        ("metadata", .object(metadata.entries.map { ($0.key, .string($0.value)) })),
        ("import_notes", .array(importNotes.map { .string($0) })),
      ] + s.jsonMembers)
  }

  /// The content hash as 16 hex digits.
  public var contentHashText: String { Self.hex(statistics.contentHash) }

  static func hex(_ v: UInt64) -> String {
    let digits = String(v, radix: 16)
    return String(repeating: "0", count: 16 - digits.count) + digits
  }
}

// MARK: Reading report.json back

extension ReplayResult {
  /// Reads a `report.json` back into the result it was written from.
  ///
  /// - Throws: ``HVReplayError`` (`.badData`) naming `file` and what is missing or wrong.
  public init(reportJSON value: JSONValue, file: String) throws(HVReplayError) {
    let root = JSONFields(value: value, path: "", file: file)
    guard (try? root.string("schema")) == "hvreplay-report" else {
      throw HVReplayError(
        .badData, file: file, "not an hvreplay report.json (no \"schema\": \"hvreplay-report\")")
    }
    let version = try root.uint("schema_version")
    guard version == 1 || version == ReplayReport.schemaVersion else {
      throw HVReplayError(
        .badData, file: file,
        "report.json schema version \(version) is not supported; this hvreplay reads versions 1 and \(ReplayReport.schemaVersion)"
      )
    }
    // Sizes are checked before anything is allocated for them.
    let backendFields = try root.array("backends")
    guard backendFields.count <= Self.maxBackends else {
      throw root.fail("more than \(Self.maxBackends) backends")
    }
    trace = try TraceIdentity(json: root.child("trace"))
    var model = Model()
    // Reports from before replay modes were all replayed open loop.
    if root.value["model"]?["replay"] == nil { model.replay.loop = .open }
    try model.apply(json: root.child("model").value, file: file)
    self.model = model

    var channelIndex: [Channel: Int] = [:]
    var channels: [Channel] = []
    var backends: [BackendResult] = []
    // Channels first, from every backend, so all backends share one channel table.
    for b in backendFields {
      for c in try b.array("channels") {
        let channel = try Self.channel(c)
        if channelIndex[channel] == nil {
          channelIndex[channel] = channels.count
          channels.append(channel)
        }
      }
      guard channels.count <= Self.maxChannels else {
        throw root.fail("more than \(Self.maxChannels) channels")
      }
    }
    for b in backendFields {
      var metrics = [ChannelMetrics](repeating: ChannelMetrics(), count: channels.count)
      // Version 1 kept channels at full precision and no totals: rebuild them from those.
      var rebuilt = OpLatency()
      var listed = Set<Int>()
      for c in try b.array("channels") {
        let i = channelIndex[try Self.channel(c)]!
        // A report hvreplay writes lists a channel once per backend.
        guard listed.insert(i).inserted else { throw c.fail("this channel is listed twice") }
        metrics[i] = try Self.channelMetrics(c, rebuilding: version == 1, into: &rebuilt)
        // Reports from before `span` divided rates by the trace's span: keep that meaning.
        if metrics[i].requests > 0 && metrics[i].firstIssueNs == .max {
          metrics[i].firstIssueNs = trace.statistics.firstNs
          metrics[i].lastCompletionNs = trace.statistics.lastNs
          metrics[i].offeredFirstNs = trace.statistics.firstNs
          metrics[i].offeredLastNs = trace.statistics.lastNs
        }
      }
      var latency =
        version == 1 ? rebuilt : try Self.opLatency(b.child("latency"))
      try Self.readSums(b, into: &latency)
      // Closed-loop counts came with schema 2's later reports; older ones have none.
      func count(_ key: String) throws(HVReplayError) -> UInt64 {
        b.value[key] == nil ? 0 : try b.uint(key)
      }
      var backend = BackendResult(
        name: try b.string("name"), channels: metrics, latency: latency,
        streams: try count("streams"), depthStreams: try count("depth_streams"),
        issuedLate: try count("requests_issued_late"))
      // Reports before host simulations name the design alone.
      backend.design =
        b.value["design"] == nil ? ReplayReport.design(of: backend.name) : try b.string("design")
      if b.value["scheduler"] != nil { backend.scheduler = try b.string("scheduler") }
      backend.metrics = try Self.declaredMetrics(b, channels: metrics)
      backends.append(backend)
    }
    self.channels = channels
    self.backends = backends
    replayNotes = try (root.value["replay_notes"] == nil ? [] : root.array("replay_notes")).map {
      n throws(HVReplayError) in
      guard let text = n.value.string else { throw n.fail("a replay note is a string") }
      return text
    }
    if root.value["baseline"] != nil { baseline = try root.string("baseline") }
    schedulers = try root.array("schedulers").map { s throws(HVReplayError) in
      try Self.scheduler(s, version: version, tickNs: model.cpu.tickNs)
    }
    // Figures are told apart by backend or scheduler name and VM: each must be unique.
    guard Set(backends.map(\.name)).count == backends.count,
      Set(schedulers.map(\.name)).count == schedulers.count
    else { throw root.fail("a backend or scheduler name appears twice") }
  }

  /// A backend's declared device figures; a report from before declarations has the ring
  /// figures where its channels have rings.
  private static func declaredMetrics(_ b: JSONFields, channels: [ChannelMetrics])
    throws(HVReplayError) -> [String]
  {
    guard b.value["metrics"] != nil else {
      let rings = channels.contains { $0.occupancy != nil }
      return Metric.commonDeviceMetrics + (rings ? Metric.ringMetrics : [])
    }
    let known = Set(Metric.deviceMetrics.map(\.name))
    var names = Set<String>()
    for m in try b.array("metrics") {
      guard let name = m.value.string, known.contains(name) else {
        throw m.fail("expected the name of a device metric (docs/REPORT-FORMAT.md, \"Metrics\")")
      }
      names.insert(name)
    }
    return Metric.deviceMetrics.map(\.name).filter(names.contains)
  }

  /// The most backends and distinct channels a report.json may hold.
  static let maxBackends = 16
  static let maxChannels = 1 << 20

  private static func channel(_ c: JSONFields) throws(HVReplayError) -> Channel {
    guard let kind = EventKind.allCases.first(where: { $0.description == (try? c.string("kind")) }),
      let vm = UInt16(exactly: try c.uint("vm")), let device = UInt16(exactly: try c.uint("device"))
    else { throw c.fail("a channel needs vm, kind (disk or net) and device") }
    return Channel(vm: vm, kind: kind, device: device, receive: try c.string("direction") == "rx")
  }

  /// A channel's metrics; with `rebuilding`, its histograms are also added to `totals` at
  /// full precision.
  private static func channelMetrics(
    _ c: JSONFields, rebuilding: Bool, into totals: inout OpLatency
  ) throws(HVReplayError) -> ChannelMetrics {
    var m = ChannelMetrics()
    let counters = try c.child("counters")
    for (name, key) in ChannelMetrics.counters {
      let absent = counters.value[name] == nil && ChannelMetrics.laterCounters.contains(name)
      m[keyPath: key] = absent ? 0 : try counters.uint(name)
    }
    // Every latency is at most an hour as recorded, so their sum is at most that many hours.
    guard m.latencySumNs <= m.requests.multiplied(checked: ChannelMetrics.highestLatencyNs) ?? .max
    else { throw counters.fail("latency_sum_ns is more than an hour per request") }
    let latency = try c.child("latency")
    for op in EventOp.allCases where latency.value[op.description] != nil {
      let pairs = try histogramPairs(latency.child(op.description))
      var h = ChannelHistogram()
      for (value, count) in pairs { h.record(value, count: count) }
      m.latency[Int(op.rawValue)] = h
      if rebuilding {
        // Recorded straight into the totals: no histogram per channel.
        guard totals.totalCount.adding(saturating: h.totalCount) <= OpLatency.countLimit else {
          throw c.fail("the latency histograms hold more than 2^60 values")
        }
        for (value, count) in pairs { totals.record(op, value, count: count) }
      }
    }
    if c.value["span"] != nil {
      let span = try c.child("span")
      m.firstIssueNs = try span.uint("first_issue_ns")
      m.lastCompletionNs = try span.uint("last_completion_ns")
      m.offeredFirstNs = try span.uint("offered_first_ns")
      m.offeredLastNs = try span.uint("offered_last_ns")
    }
    if c.value["occupancy"] != nil {
      let o = try c.child("occupancy")
      let entries = try o.uint("entries")
      guard entries <= 1 << 20 else { throw o.fail("entries must be at most 1048576") }
      let maximum = try o.uint("max")
      guard maximum <= entries else { throw o.fail("max must be at most entries") }
      // Levels above the maximum hold no time, so no more than max + 1 are allocated.
      var levels = [UInt64](repeating: 0, count: Int(maximum) + 1)
      for pair in try o.array("time_at_level_ns") {
        guard let p = pair.value.array, p.count == 2, let level = p[0].uint, let ns = p[1].uint,
          level <= maximum
        else { throw pair.fail("expected [level, ns] with level at most \(maximum)") }
        levels[Int(level)] = ns
      }
      m.occupancy = OccupancyMetrics(
        entries: entries, timeAtLevel: levels, maximum: maximum, fullNs: try o.uint("full_ns"))
    }
    return m
  }

  /// A histogram's `[value, count]` pairs, checked: values up to an hour, at most 2^60 values.
  static func histogramPairs(_ h: JSONFields) throws(HVReplayError) -> [(UInt64, UInt64)] {
    guard let items = h.value.array else {
      throw h.fail("a histogram is an array of [value, count]")
    }
    var total: UInt64 = 0
    var pairs: [(UInt64, UInt64)] = []
    pairs.reserveCapacity(items.count)
    for pair in items {
      guard let p = pair.array, p.count == 2, let value = p[0].uint, let count = p[1].uint,
        value <= ChannelMetrics.highestLatencyNs
      else { throw h.fail("expected [value, count] pairs with values up to one hour in ns") }
      total = total.adding(saturating: count)
      guard total <= OpLatency.countLimit else {
        throw h.fail("a histogram holds more than 2^60 values")
      }
      pairs.append((value, count))
    }
    return pairs
  }

  /// A full-precision histogram.
  static func histogram(_ h: JSONFields) throws(HVReplayError) -> Histogram<UInt64> {
    var histogram = ChannelMetrics.makeHistogram()
    for (value, count) in try histogramPairs(h) { histogram.record(value, count: count) }
    return histogram
  }

  /// Each op's latency sum from `latency_sum_ns`; without it (reports written before the
  /// sums were), the sums are marked unknown and means come from the histograms.
  static func readSums(_ b: JSONFields, into latency: inout OpLatency) throws(HVReplayError) {
    guard b.value["latency_sum_ns"] != nil else {
      latency.sumsKnown = false
      return
    }
    let sums = try b.child("latency_sum_ns")
    for op in EventOp.allCases {
      let i = Int(op.rawValue)
      guard let h = latency.byOp[i] else {
        guard sums.value[op.description] == nil else {
          throw sums.fail("\(op) has a latency sum but no histogram")
        }
        continue
      }
      let sum = try sums.uint(op.description)
      // Every latency is at most an hour as recorded.
      guard sum <= h.totalCount.multiplied(checked: ChannelMetrics.highestLatencyNs) ?? .max else {
        throw sums.fail("the \(op) latency sum is more than an hour per request")
      }
      latency.sumNs[i] = sum
    }
  }

  /// Per-op full-precision histograms.
  static func opLatency(_ o: JSONFields) throws(HVReplayError) -> OpLatency {
    var latency = OpLatency()
    for op in EventOp.allCases where o.value[op.description] != nil {
      latency.byOp[Int(op.rawValue)] = try histogram(o.child(op.description))
    }
    guard latency.totalCount <= OpLatency.countLimit else {
      throw o.fail("the histograms hold more than 2^60 values")
    }
    return latency
  }

  /// One scheduler's figures; `tickNs` counts the ticks of a report that did not keep them.
  private static func scheduler(_ s: JSONFields, version: UInt64, tickNs: UInt64)
    throws(HVReplayError) -> SchedulerResult
  {
    var vms: [VMCPUMetrics] = []
    var wait = version == 1 ? ChannelMetrics.makeHistogram() : try histogram(s.child("wait"))
    var seenVMs = Set<String>()
    for v in try s.array("vms") {
      let d = try v.child("data")
      guard let id = UInt16(exactly: try v.uint("vm")) else { throw v.fail("vm must be 0-65535") }
      var m = VMCPUMetrics(
        vm: id, config: Model.VM(weight: try d.uint("weight"), capPercent: try d.uint("cap_pct")))
      // Reports before host simulations hold guests alone.
      if v.value["domain"] != nil {
        let name = try v.string("domain")
        guard let domain = CPUDomain.allCases.first(where: { $0.name == name }) else {
          throw v.fail("domain must be guest, dom0 or dm, found \"\(name)\"")
        }
        m.domain = domain
      }
      func count(_ key: String) throws(HVReplayError) -> UInt64 {
        d.value[key] == nil ? 0 : try d.uint(key)
      }
      m.virtGuestNs = try count("virt_guest_ns")
      m.virtBackendNs = try count("virt_backend_ns")
      m.burstsDone = try count("bursts_done")
      m.burstResponseNs = try count("burst_response_ns")
      if d.value["reference_burst_response_ns"] != nil {
        m.referenceBurstResponseNs = try d.uint("reference_burst_response_ns")
      }
      guard let vcpus = Int(exactly: try d.uint("vcpus")), vcpus <= 65536 else {
        throw d.fail("vcpus must be at most 65536")
      }
      m.vcpus = vcpus
      m.demandNs = try d.uint("demand_ns")
      m.cpuNs = try d.uint("cpu_ns")
      m.unservedNs = try d.uint("unserved_ns")
      m.billedExactNs = try d.uint("billed_exact_ns")
      m.billedTickNs = try d.uint("billed_tick_ns")
      // Reports before billed_ticks and entitled_ns: ticks from the bill, entitlement rebuilt.
      m.billedTicks =
        d.value["billed_ticks"] == nil
        ? m.billedTickNs / max(tickNs, 1) : try d.uint("billed_ticks")
      if d.value["entitled_ns"] != nil { m.entitledNs = Double(try d.uint("entitled_ns")) }
      m.contextSwitches = try d.uint("context_switches")
      guard seenVMs.insert(m.label).inserted else {
        throw v.fail("vm \(m.label) is listed twice")
      }
      let pairs = try histogramPairs(v.child("wait"))
      for (value, count) in pairs { m.wait.record(value, count: count) }
      if version == 1 {
        guard wait.totalCount.adding(saturating: m.wait.totalCount) <= OpLatency.countLimit else {
          throw v.fail("the wait histograms hold more than 2^60 values")
        }
        for (value, count) in pairs { wait.record(value, count: count) }
      }
      vms.append(m)
    }
    guard try s.uint("pcpus") >= 1 else { throw s.fail("pcpus must be at least 1") }
    guard try s.uint("window_start_ns") <= s.uint("window_end_ns") else {
      throw s.fail("window_start_ns is after window_end_ns")
    }
    var result = SchedulerResult(
      name: try s.string("name"), vms: vms, windowStart: try s.uint("window_start_ns"),
      windowEnd: try s.uint("window_end_ns"), pcpus: try s.uint("pcpus"),
      switchingNs: try s.uint("switching_ns"),
      idleWhileRunnableNs: try s.uint("idle_while_runnable_ns"), wait: wait, tickNs: tickNs)
    result.policy = s.value["policy"] == nil ? result.name : try s.string("policy")
    if s.value["backend"] != nil { result.backend = try s.string("backend") }
    result.entitle()
    return result
  }
}

extension TraceIdentity {
  init(json t: JSONFields) throws(HVReplayError) {
    name = try t.string("name")
    path = try t.string("path")
    guard let f = TraceFormat(rawValue: try t.string("format")),
      let c = Compression(rawValue: try t.string("compression"))
    else { throw t.fail("unknown format or compression") }
    format = f
    compression = c
    var metadata = TraceMetadata()
    for (k, v) in try t.child("metadata").value.members ?? [] { metadata[k] = v.string ?? "" }
    self.metadata = metadata
    // Reports written before import notes were kept have none.
    importNotes = try (t.value["import_notes"] == nil ? [] : t.array("import_notes")).map {
      n throws(HVReplayError) in
      guard let text = n.value.string else { throw n.fail("an import note is a string") }
      return text
    }
    let byOp = try t.child("by_op")
    let bytes = try t.child("bytes_by_op")
    var vms: [(UInt16, UInt64, UInt64, UInt64)] = []
    for v in try t.array("by_vm") {
      guard let id = UInt16(exactly: try v.uint("vm")) else { throw v.fail("vm must be 0-65535") }
      vms.append((id, try v.uint("disk"), try v.uint("net"), try v.uint("cpu")))
    }
    guard try t.uint("first_ns") <= t.uint("last_ns") else {
      throw t.fail("first_ns is after last_ns")
    }
    guard let hash = UInt64(try t.string("content_hash"), radix: 16) else {
      throw t.fail("content_hash must be 16 hex digits")
    }
    statistics = TraceStatistics(
      events: try t.uint("events"),
      byOp: try EventOp.allCases.map { op throws(HVReplayError) in try byOp.uint(op.description) },
      bytesByOp: try EventOp.allCases.map { op throws(HVReplayError) in
        try bytes.uint(op.description)
      },
      vms: vms, firstNs: try t.uint("first_ns"), lastNs: try t.uint("last_ns"),
      cpuWorkNs: try t.uint("cpu_work_ns"), contentHash: hash)
  }
}

/// Reads a report.json file (at most 256 MiB).
public func readReport(_ path: String) throws(HVReplayError) -> ReplayResult {
  try ReplayResult(reportJSON: readReportJSON(path), file: path)
}

/// The JSON of a report file (report.json or exits.json), at most 256 MiB.
public func readReportJSON(_ path: String) throws(HVReplayError) -> JSONValue {
  let input = try ByteInput(path: path)
  if let size = input.fileSize, size > 256 << 20 {
    throw HVReplayError(.badData, file: path, "the report is larger than 256 MiB")
  }
  var bytes: [UInt8] = []
  while true {
    try input.refill(from: input.end)
    if input.end == 0 { break }
    bytes.append(contentsOf: UnsafeRawBufferPointer(start: input.base, count: input.end))
    guard bytes.count <= 256 << 20 else {
      throw HVReplayError(.badData, file: path, "the report is larger than 256 MiB")
    }
  }
  return try JSONParser.parse(String(decoding: bytes, as: UTF8.self), file: path)
}
