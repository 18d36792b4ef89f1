// Merging reports of shards of one trace set (docs/SCALING.md): counts add, histograms
// merge exactly, and every percentile is recomputed from the merged histograms.

extension ReplayResult {
  /// Combines the results of shards replayed with the same model.
  ///
  /// Channels seen in several shards add up. CPU results treat shards as separate hosts:
  /// their pCPUs add, and the window spans all of them.
  /// - Throws: ``HVReplayError`` (`.badData`) when the models or backends differ.
  public static func merge(_ parts: [ReplayResult], names: [String]) throws(HVReplayError)
    -> ReplayResult
  {
    guard var merged = parts.first else {
      throw HVReplayError(.usage, "merge needs at least one report")
    }
    let model = merged.model.json.serialized(pretty: false)
    for (part, name) in zip(parts, names).dropFirst() {
      guard part.model.json.serialized(pretty: false) == model else {
        throw HVReplayError(
          .badData, file: name,
          "made with a different model than \(names[0]); merge only reports of one model")
      }
      guard part.backends.map(\.name) == merged.backends.map(\.name),
        part.schedulers.map(\.name) == merged.schedulers.map(\.name)
      else {
        throw HVReplayError(
          .badData, file: name, "replayed through different backends or schedulers than \(names[0])"
        )
      }
      do {
        try merged.add(part)
      } catch {
        throw error.inFile(name)
      }
    }
    if parts.count > 1 {
      // An order-independent hash of the shards' content hashes.
      var h: UInt64 = 0xCBF2_9CE4_8422_2325
      for shard in parts.map(\.trace.statistics.contentHash).sorted() {
        h = (h ^ shard) &* 0x9E37_79B9_7F4A_7C15
        h ^= h >> 29
      }
      merged.trace.statistics.contentHash = h
      let traceNames = Set(parts.map(\.trace.name))
      merged.trace.name = traceNames.count == 1 ? merged.trace.name : "merged"
      merged.trace.path = parts.map(\.trace.path).joined(separator: " + ")
      // The shards' replay notes, each once.
      var seen = Set<String>()
      merged.replayNotes = parts.flatMap(\.replayNotes).filter { seen.insert($0).inserted }
      // The shards' import notes: once when they agree, else each shard's under its path.
      if !parts.allSatisfy({ $0.trace.importNotes == parts[0].trace.importNotes }) {
        merged.trace.importNotes = parts.flatMap { p in
          p.trace.importNotes.map { "\(p.trace.path): \($0)" }
        }
      }
      merged.trace.metadata = TraceMetadata(
        merged.trace.metadata.entries.filter { entry in
          parts.allSatisfy { $0.trace.metadata[entry.key] == entry.value }
        }.map { ($0.key, $0.value) })
    }
    return merged
  }

  private mutating func add(_ other: ReplayResult) throws(HVReplayError) {
    trace.statistics.merge(other.trace.statistics)
    var index = Dictionary(uniqueKeysWithValues: channels.enumerated().map { ($1, $0) })
    for c in other.channels where index[c] == nil {
      index[c] = channels.count
      channels.append(c)
      for b in backends.indices { backends[b].channels.append(ChannelMetrics()) }
    }
    for b in backends.indices {
      // Each part observed its rings to its own end; the merged replay ends at the later.
      var theirs = other.backends[b]
      if let mine = backends[b].endNs, let end = theirs.endNs {
        backends[b].extendRings(by: max(mine, end) - mine)
        theirs.extendRings(by: max(mine, end) - end)
      }
      for (i, c) in other.channels.enumerated() {
        backends[b].channels[index[c]!].add(theirs.channels[i])
      }
      try backends[b].latency.add(other.backends[b].latency)
      backends[b].streams = backends[b].streams.adding(saturating: other.backends[b].streams)
      backends[b].depthStreams = backends[b].depthStreams.adding(
        saturating: other.backends[b].depthStreams)
      backends[b].issuedLate = backends[b].issuedLate.adding(
        saturating: other.backends[b].issuedLate)
    }
    for s in schedulers.indices {
      let o = other.schedulers[s]
      var mine = schedulers[s]
      mine.windowStart = min(mine.windowStart, o.windowStart)
      mine.windowEnd = max(mine.windowEnd, o.windowEnd)
      mine.pcpus = mine.pcpus.adding(saturating: o.pcpus)
      mine.switchingNs = mine.switchingNs.adding(saturating: o.switchingNs)
      mine.idleWhileRunnableNs = mine.idleWhileRunnableNs.adding(saturating: o.idleWhileRunnableNs)
      guard mine.wait.totalCount.adding(saturating: o.wait.totalCount) <= OpLatency.countLimit
      else {
        throw HVReplayError(.badData, "the merged wait histograms would hold more than 2^60 waits")
      }
      mine.wait.add(o.wait)
      var vmIndex = Dictionary(
        mine.vms.enumerated().map { ($1.label, $0) }, uniquingKeysWith: { first, _ in first })
      for vm in o.vms {
        if let i = vmIndex[vm.label] {
          mine.vms[i].add(vm)
        } else {
          vmIndex[vm.label] = mine.vms.count
          mine.vms.append(vm)
        }
      }
      mine.vms.sort { ($0.domain.rawValue, $0.vm) < ($1.domain.rawValue, $1.vm) }
      mine.entitle()
      schedulers[s] = mine
    }
  }
}

extension BackendResult {
  /// The end of the replay its ring occupancy runs to: the last completion on any channel
  /// (docs/MODEL.md), or `nil` for a report without spans (report.json schema 1).
  var endNs: UInt64? {
    guard channels.contains(where: { $0.firstIssueNs != .max }) else { return nil }
    return channels.lazy.map(\.lastCompletionNs).max()
  }

  /// Extends every ring's occupancy by `ns` at occupancy 0, where a replay leaves a ring.
  mutating func extendRings(by ns: UInt64) {
    guard ns > 0 else { return }
    for c in channels.indices { channels[c].occupancy?.extendEmpty(by: ns) }
  }
}

extension VMCPUMetrics {
  mutating func add(_ o: VMCPUMetrics) {
    vcpus = max(vcpus, o.vcpus)
    demandNs = demandNs.adding(saturating: o.demandNs)
    cpuNs = cpuNs.adding(saturating: o.cpuNs)
    unservedNs = unservedNs.adding(saturating: o.unservedNs)
    billedExactNs = billedExactNs.adding(saturating: o.billedExactNs)
    billedTickNs = billedTickNs.adding(saturating: o.billedTickNs)
    billedTicks = billedTicks.adding(saturating: o.billedTicks)
    // Shards are separate hosts: their entitlements add, when both kept them.
    entitledNs = entitledNs.flatMap { mine in o.entitledNs.map { mine + $0 } }
    contextSwitches = contextSwitches.adding(saturating: o.contextSwitches)
    virtGuestNs = virtGuestNs.adding(saturating: o.virtGuestNs)
    virtBackendNs = virtBackendNs.adding(saturating: o.virtBackendNs)
    burstsDone = burstsDone.adding(saturating: o.burstsDone)
    burstResponseNs = burstResponseNs.adding(saturating: o.burstResponseNs)
    referenceBurstResponseNs = referenceBurstResponseNs.flatMap { mine in
      o.referenceBurstResponseNs.map { mine.adding(saturating: $0) }
    }
    wait.add(o.wait)
  }
}
