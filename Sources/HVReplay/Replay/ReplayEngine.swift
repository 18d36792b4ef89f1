/// Replays a trace through every selected backend in one streaming pass.
///
/// Events are read in chunks; each backend replays each chunk with its own
/// specialized loop, so the per-event path has no dynamic dispatch. Memory holds
/// one chunk, the channels and what the modelled queues hold, whatever the trace length.
public struct ReplayEngine {
  /// Events per chunk handed to the backends.
  static let chunkSize = 4096

  public let model: Model
  public let backendKinds: [BackendKind]

  public init(model: Model, backends: [BackendKind] = BackendKind.allCases) {
    self.model = model
    backendKinds = backends
  }

  /// How far a replay has got, for a progress line.
  public struct Progress: Sendable {
    /// Events replayed so far.
    public var events: UInt64
    /// File bytes read so far and the file's size (nil when unknown, as for a pipe).
    public var fileBytesRead: UInt64
    public var fileSize: UInt64?
  }

  /// Replays every event of `reader`.
  ///
  /// - Parameter progress: called after each chunk; return quickly.
  /// - Throws: ``HVReplayError`` when the trace is malformed.
  public func run(
    _ reader: inout TraceReader, progress: ((Progress) -> Void)? = nil
  ) throws(HVReplayError) -> ReplayResult {
    var backends = backendKinds.map { $0.make(model: model) }
    var table = ChannelTable()
    var statistics = TraceStatistics()
    var events = [TraceEvent](
      repeating: TraceEvent(timeNs: 0, vm: 0, op: .read), count: Self.chunkSize)
    var channels = [Int32](repeating: -1, count: Self.chunkSize)
    var done = false
    while !done {
      var n = 0
      while n < Self.chunkSize {
        guard let event = try reader.next() else {
          done = true
          break
        }
        statistics.add(event)
        events[n] = event
        if event.kind == .cpu {
          channels[n] = -1
        } else {
          let (index, isNew) = table.index(of: event)
          if isNew {
            for b in backends.indices { backends[b].addChannel(table.channels[Int(index)]) }
          }
          channels[n] = index
        }
        n += 1
      }
      if n > 0 {
        events.withUnsafeBufferPointer { e in
          channels.withUnsafeBufferPointer { c in
            let chunk = UnsafeBufferPointer(rebasing: e[..<n])
            let indices = UnsafeBufferPointer(rebasing: c[..<n])
            for b in backends.indices { backends[b].replay(chunk, channels: indices) }
          }
        }
      }
      progress?(
        Progress(
          events: statistics.events, fileBytesRead: reader.input.fileBytesRead,
          fileSize: reader.input.fileSize))
    }
    for b in backends.indices { backends[b].finish() }
    return ReplayResult(
      trace: TraceIdentity(reader: reader, statistics: statistics),
      model: model,
      channels: table.channels,
      backends: backends.map { BackendResult(name: $0.name, channels: $0.metrics) })
  }
}

/// What a replay measured.
public struct ReplayResult: Sendable {
  public var trace: TraceIdentity
  public var model: Model
  /// The channels, by index.
  public var channels: [Channel]
  /// One result per backend, in the order selected.
  public var backends: [BackendResult]
}

/// One backend's measurements, per channel.
public struct BackendResult: Sendable {
  public var name: String
  /// Metrics by channel index.
  public var channels: [ChannelMetrics]
}

/// What was replayed.
public struct TraceIdentity: Sendable {
  /// The trace's file name as given.
  public var path: String
  /// The name reports use: the file name without directories and extensions.
  public var name: String
  public var format: TraceFormat
  public var compression: Compression
  public var metadata: TraceMetadata
  public var statistics: TraceStatistics

  init(reader: TraceReader, statistics: TraceStatistics) {
    path = reader.input.name
    name = Self.name(of: reader.input.name)
    format = reader.format
    compression = reader.input.compression
    metadata = reader.metadata
    self.statistics = statistics
  }

  /// `Traces/mixed.hvt.zst` → `mixed`; `-` → `stdin`.
  public static func name(of path: String) -> String {
    if path == "-" { return "stdin" }
    var base = Substring(path.split(separator: "/").last ?? Substring(path))
    for suffix in [".zst", ".zstd", ".hvt", ".csv"] where base.hasSuffix(suffix) {
      base = base.dropLast(suffix.count)
    }
    return base.isEmpty ? "trace" : String(base)
  }
}
