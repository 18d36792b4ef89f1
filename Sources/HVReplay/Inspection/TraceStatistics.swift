/// Counts and totals of a trace, gathered in one streaming pass in fixed memory.
public struct TraceStatistics: Sendable {
  /// Number of events.
  public private(set) var events: UInt64 = 0
  /// Events per op, indexed by ``EventOp/rawValue``.
  public private(set) var byOp = [UInt64](repeating: 0, count: EventOp.allCases.count)
  /// Payload bytes per op, indexed by ``EventOp/rawValue``.
  public private(set) var bytesByOp = [UInt64](repeating: 0, count: EventOp.allCases.count)
  /// Events per VM and kind, indexed by `vm * 3 + kind`.
  private var byVMKind = [UInt64](repeating: 0, count: 65536 * EventKind.allCases.count)
  /// The time of the first and last event in nanoseconds.
  public private(set) var firstNs: UInt64 = 0
  public private(set) var lastNs: UInt64 = 0
  /// Total CPU work of cpu bursts in nanoseconds.
  public private(set) var cpuWorkNs: UInt64 = 0
  /// A 64-bit hash of every event's fields in order: the same events give the same hash,
  /// whatever the file format or compression.
  public internal(set) var contentHash: UInt64 = 0xCBF2_9CE4_8422_2325

  public init() {}

  /// Statistics read back from a report.
  init(
    events: UInt64, byOp: [UInt64], bytesByOp: [UInt64], vms: [(UInt16, UInt64, UInt64, UInt64)],
    firstNs: UInt64, lastNs: UInt64, cpuWorkNs: UInt64, contentHash: UInt64
  ) {
    self.events = events
    self.byOp = byOp
    self.bytesByOp = bytesByOp
    for (vm, d, n, c) in vms {
      byVMKind[Int(vm) * 3] = d
      byVMKind[Int(vm) * 3 + 1] = n
      byVMKind[Int(vm) * 3 + 2] = c
    }
    self.firstNs = firstNs
    self.lastNs = lastNs
    self.cpuWorkNs = cpuWorkNs
    self.contentHash = contentHash
  }

  /// Adds the counts of `other` (a shard of the same trace set); the span covers both.
  mutating func merge(_ other: TraceStatistics) {
    if other.events == 0 { return }
    firstNs = events == 0 ? other.firstNs : min(firstNs, other.firstNs)
    lastNs = events == 0 ? other.lastNs : max(lastNs, other.lastNs)
    events = events.adding(saturating: other.events)
    for i in byOp.indices {
      byOp[i] = byOp[i].adding(saturating: other.byOp[i])
      bytesByOp[i] = bytesByOp[i].adding(saturating: other.bytesByOp[i])
    }
    for i in byVMKind.indices where other.byVMKind[i] != 0 {
      byVMKind[i] = byVMKind[i].adding(saturating: other.byVMKind[i])
    }
    cpuWorkNs = cpuWorkNs.adding(saturating: other.cpuWorkNs)
  }

  /// Folds one event into ``contentHash`` (multiply-xorshift over the fields).
  @inline(__always)
  private static func mix(_ h: UInt64, _ v: UInt64) -> UInt64 {
    var x = (h ^ v) &* 0x9E37_79B9_7F4A_7C15
    x ^= x >> 29
    return x
  }

  /// Adds one event.
  @inline(__always)
  public mutating func add(_ event: TraceEvent) {
    if events == 0 { firstNs = event.timeNs }
    lastNs = event.timeNs
    events &+= 1
    let op = Int(event.op.rawValue)
    byOp[op] &+= 1
    bytesByOp[op] &+= UInt64(event.bytes)
    byVMKind[Int(event.vm) &* 3 &+ Int(event.kind.rawValue)] &+= 1
    if event.op == .burst { cpuWorkNs &+= event.serviceNs }
    var h = Self.mix(contentHash, event.timeNs)
    h = Self.mix(h, event.offset)
    h = Self.mix(h, event.serviceNs)
    h = Self.mix(
      h,
      UInt64(event.bytes) << 32 | UInt64(event.vm) << 16 | UInt64(event.vcpu))
    contentHash = Self.mix(h, UInt64(event.device) << 8 | UInt64(event.op.rawValue))
  }

  /// Events of `kind`.
  public func count(_ kind: EventKind) -> UInt64 {
    kind.ops.map { byOp[Int($0.rawValue)] }.saturatingSum()
  }

  /// Events of `op`.
  public func count(_ op: EventOp) -> UInt64 { byOp[Int(op.rawValue)] }

  /// Payload bytes of disk and net events. A discard carries a range, not data: its bytes
  /// (``discardedBytes``) are not payload.
  public var payloadBytes: UInt64 {
    EventOp.allCases.filter { $0 != .discard }.map { bytesByOp[Int($0.rawValue)] }
      .saturatingSum()
  }

  /// The bytes the discards' ranges cover.
  public var discardedBytes: UInt64 { bytesByOp[Int(EventOp.discard.rawValue)] }

  /// The span from the first to the last event in nanoseconds.
  public var spanNs: UInt64 { lastNs - firstNs }

  /// The counts as JSON members, as inspect --json and report.json give them.
  public var jsonMembers: [(String, JSONValue)] {
    [
      ("events", .uint(events)),
      ("by_kind", .object(EventKind.allCases.map { ($0.description, .uint(count($0))) })),
      ("by_op", .object(EventOp.allCases.map { ($0.description, .uint(count($0))) })),
      (
        "bytes_by_op",
        .object(EventOp.allCases.map { ($0.description, .uint(bytesByOp[Int($0.rawValue)])) })
      ),
      (
        "by_vm",
        .array(
          vms.map {
            .object([
              ("vm", .uint(UInt64($0.vm))), ("disk", .uint($0.disk)), ("net", .uint($0.net)),
              ("cpu", .uint($0.cpu)),
            ])
          })
      ),
      ("payload_bytes", .uint(payloadBytes)),
      ("cpu_work_ns", .uint(cpuWorkNs)),
      ("first_ns", .uint(firstNs)),
      ("last_ns", .uint(lastNs)),
      ("span_ns", .uint(spanNs)),
    ]
  }

  /// The VMs that have events, with their event counts per kind, in VM order.
  public var vms: [(vm: UInt16, disk: UInt64, net: UInt64, cpu: UInt64)] {
    var result: [(UInt16, UInt64, UInt64, UInt64)] = []
    for vm in 0..<65536 {
      let d = byVMKind[vm * 3]
      let n = byVMKind[vm * 3 + 1]
      let c = byVMKind[vm * 3 + 2]
      if d | n | c != 0 { result.append((UInt16(vm), d, n, c)) }
    }
    return result
  }
}

/// What `hvreplay inspect` reports about a trace file.
public struct TraceInspection: Sendable {
  public var file: String
  public var format: TraceFormat
  public var compression: Compression
  public var fileBytes: UInt64
  public var decodedBytes: UInt64
  public var metadata: TraceMetadata
  public var statistics: TraceStatistics
  public var reordered: UInt64
  public var reorderWindow: Int

  /// How the importer filled missing fields; empty for hvreplay's own formats.
  public var importNotes: [String]
  /// Bad records skipped under `--skip-bad`.
  public var skipped: UInt64

  /// Reads the whole trace at `path` in one streaming pass.
  public init(path: String, reorderWindow: Int = TraceReader.defaultReorderWindow)
    throws(HVReplayError)
  {
    var options = TraceReadOptions()
    options.reorderWindow = reorderWindow
    try self.init(paths: [path], options: options)
  }

  /// Reads the whole trace made of `paths` in one streaming pass.
  public init(paths: [String], options: TraceReadOptions) throws(HVReplayError) {
    var reader = try TraceReader(paths: paths, options: options)
    var statistics = TraceStatistics()
    while let event = try reader.next() { statistics.add(event) }
    self.file = paths.joined(separator: " ")
    format = reader.format
    compression = reader.input.compression
    fileBytes = reader.input.fileBytesRead
    decodedBytes = reader.input.windowOffset + UInt64(reader.input.end)
    metadata = reader.metadata
    self.statistics = statistics
    reordered = reader.reorderedCount
    self.reorderWindow = reader.reorderWindow
    importNotes = reader.importNotes
    skipped = reader.skippedRecords
  }
}
