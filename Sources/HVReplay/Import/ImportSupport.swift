/// Gives VMs numbers 1, 2, ... to the sources (devices, LUNs, volumes, tasks) of a trace
/// that has no VM ids, in order of first appearance.
struct VMAssigner {
  private var ids: [String: UInt16] = [:]
  /// The sources in VM order, for the import notes.
  private(set) var names: [String] = []
  private let limit = 65535
  /// The most bytes the sources' names may take together (16 MiB).
  static let maximumNameBytes = 16 << 20
  private var nameBytes = 0

  /// The VM for `source`, or `nil` when it would be the 65,536th source or take the names
  /// past ``maximumNameBytes`` (``refusal(_:)`` says which).
  mutating func vm(for source: String) -> UInt16? {
    if let id = ids[source] { return id }
    guard names.count < limit, nameBytes + source.utf8.count <= Self.maximumNameBytes else {
      return nil
    }
    nameBytes += source.utf8.count
    names.append(source)
    let id = UInt16(names.count)
    ids[source] = id
    return id
  }

  /// Why ``vm(for:)`` refused a new source; `sources` names them (`"files"`).
  func refusal(_ sources: String) -> String {
    names.count >= limit
      ? "more than \(limit) \(sources); each is a VM, and VM ids are 16 bits"
      : "the names of the \(sources) take more than \(Self.maximumNameBytes >> 20) MiB together"
  }

  /// "vm 1 = ..., vm 2 = ..." (the first 8, then a count).
  func describe(_ what: String) -> String {
    let prefix = what.isEmpty ? "" : what + " "
    var parts = names.prefix(8).enumerated().map { "vm \($0.offset + 1) = \(prefix)\($0.element)" }
    if names.count > 8 { parts.append("... (\(names.count) in all)") }
    return parts.joined(separator: ", ")
  }
}

/// Counts the bad records an import may skip (`--skip-bad N`), and stops it beyond that.
struct BadRecordBudget {
  let limit: UInt64
  private(set) var skipped: UInt64 = 0

  init(limit: UInt64) { self.limit = limit }

  /// Skips the record `error` describes, or throws it when the budget is spent.
  mutating func skip(_ error: HVReplayError) throws(HVReplayError) {
    guard skipped < limit else {
      if limit == 0 { throw error }
      var e = error
      e.message += " (and \(skipped) bad records were already skipped: --skip-bad \(limit))"
      throw e
    }
    skipped += 1
  }
}

/// A decoder of an imported format: how it filled the fields its format lacks.
protocol ImportingDecoder: TraceDecoder {
  /// Sentences for `inspect` and docs/IMPORTERS.md: which fields were filled and how,
  /// and what the import counted (requests without a completion, skipped records, ...).
  var notes: [String] { get }
  /// Bad records skipped under `--skip-bad`.
  var skipped: UInt64 { get }
}
