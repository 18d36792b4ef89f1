/// The synthetic workloads `hvreplay synth` can generate.
public enum SynthesisProfile: String, CaseIterable, Sendable, CustomStringConvertible {
  /// Random 4-16 KiB disk reads and writes (70/30), Poisson arrivals, a flush or
  /// barrier after each group of writes, as a database's write-ahead log does.
  case oltp
  /// Sequential 128 KiB-1 MiB disk reads.
  case stream
  /// Bursts of small network packets: requests sent, responses received.
  case netRPC = "net-rpc"
  /// CPU bursts from VMs of different demand: CPU-bound beside interactive.
  case cpuContention = "cpu-contention"
  /// Several VMs with disk, net and CPU activity together.
  case mixed
  /// One guest running just under a scheduler tick and yielding before it fires, beside
  /// honest CPU-bound guests.
  case tickEvasion = "tick-evasion"

  public var description: String { rawValue }

  /// One line on what the profile generates.
  public var summary: String {
    switch self {
    case .oltp:
      "random 4-16 KiB disk reads and writes, Poisson arrivals, a flush or barrier after each group of writes"
    case .stream: "sequential 128 KiB-1 MiB disk reads, back to back at a set bandwidth"
    case .netRPC: "bursts of small tx packets answered by rx packets one round trip later"
    case .cpuContention: "CPU-bound VMs (10 ms bursts every 10 ms) beside interactive VMs"
    case .mixed: "VMs each with oltp disk traffic, RPC network traffic and interactive CPU bursts"
    case .tickEvasion:
      "VM 1 runs 97% of every tick and yields before it fires; the other VMs are CPU-bound"
    }
  }

  /// How the profile's trace is replayed by default, written into its metadata as
  /// `model.replay.loop`. Every profile draws its arrivals from a process that does not wait
  /// for completions (Poisson for oltp, net-rpc and mixed, a fixed rate for stream, fixed
  /// periods for the CPU profiles): open by definition, as an M/M/1 queue's arrivals are.
  public var loop: Model.Loop {
    switch self {
    case .oltp, .stream, .netRPC, .cpuContention, .mixed, .tickEvasion: .open
    }
  }
}

/// The settings of a synthetic trace. Each profile reads the ones it names.
public struct SynthesisParameters: Sendable, Equatable {
  public var profile: SynthesisProfile
  /// Seed of hvreplay's own generator: the same seed gives the same trace.
  public var seed: UInt64 = 1
  /// Stop after this many events (`nil`: no limit).
  public var events: UInt64?
  /// Stop at this trace time in nanoseconds (`nil`: no limit).
  public var durationNs: UInt64?
  /// Number of guests.
  public var vms: Int = 2
  /// vCPUs per guest.
  public var vcpus: Int = 2

  /// oltp, mixed: mean disk requests per second per VM (Poisson).
  public var iops: Double = 2000
  /// oltp, mixed: percentage of disk requests that are reads.
  public var readPercent: Double = 70
  /// oltp, mixed: writes per write-ahead-log group, each group ended by a commit.
  public var walGroup: Int = 8
  /// oltp, mixed: the op that commits a group: flush or barrier.
  public var commit: EventOp = .flush
  /// oltp, mixed: disk size in GiB over which offsets are spread.
  public var diskGiB: UInt64 = 64

  /// stream: read bandwidth per VM in MB/s (10^6 bytes).
  public var megabytesPerSecond: Double = 400

  /// net-rpc, mixed: mean RPC bursts per second per VM (Poisson).
  public var rpcPerSecond: Double = 5000
  /// net-rpc, mixed: mean packets per burst (geometric, at least 1).
  public var burst: Double = 4
  /// net-rpc, mixed: round trip from a request burst to its responses, in microseconds.
  public var rttMicroseconds: Double = 50

  /// tick-evasion: the scheduler tick the evader times itself against, in ns (credit1: 10 ms).
  public var tickNs: UInt64 = 10_000_000

  public init(profile: SynthesisProfile) { self.profile = profile }

  /// The generator's limit when neither ``events`` nor ``durationNs`` is set.
  public static let defaultEvents: UInt64 = 100_000

  /// The options that reproduce these parameters, as `hvreplay synth` takes them.
  public var commandLine: String {
    var parts = ["hvreplay synth --profile \(profile)", "--seed \(seed)"]
    if let events { parts.append("--events \(events)") }
    if let durationNs { parts.append("--duration \(Duration.format(nanoseconds: durationNs))") }
    parts.append("--vms \(vms)")
    switch profile {
    case .oltp:
      parts += [
        "--vcpus \(vcpus)", "--iops \(Self.format(iops))", "--read-pct \(Self.format(readPercent))",
        "--wal-group \(walGroup)", "--commit \(commit)", "--disk-gib \(diskGiB)",
      ]
    case .stream: parts.append("--mbps \(Self.format(megabytesPerSecond))")
    case .netRPC:
      parts += [
        "--vcpus \(vcpus)", "--rps \(Self.format(rpcPerSecond))", "--burst \(Self.format(burst))",
        "--rtt-us \(Self.format(rttMicroseconds))",
      ]
    case .cpuContention: parts.append("--vcpus \(vcpus)")
    case .tickEvasion: parts.append("--tick \(Duration.format(nanoseconds: tickNs))")
    case .mixed:
      parts += [
        "--vcpus \(vcpus)", "--iops \(Self.format(iops))", "--read-pct \(Self.format(readPercent))",
        "--wal-group \(walGroup)", "--commit \(commit)", "--disk-gib \(diskGiB)",
        "--rps \(Self.format(rpcPerSecond))", "--burst \(Self.format(burst))",
        "--rtt-us \(Self.format(rttMicroseconds))",
      ]
    }
    return parts.joined(separator: " ")
  }

  /// The trace metadata recording what produced it, with the model keys the scenario
  /// needs (`model.<key>` entries, which a replay applies before `--model` and `--set`).
  public var metadata: TraceMetadata {
    var m = TraceMetadata([
      ("producer", "hvreplay \(HVReplayVersion.current)"),
      ("command", commandLine),
      ("profile", profile.rawValue),
      ("seed", String(seed)),
    ])
    for (key, value) in modelKeys { m["model." + key] = value }
    return m
  }

  /// Model settings that belong to the scenario: how it is replayed (``SynthesisProfile/loop``)
  /// and the guests' weights in cpu-contention.
  public var modelKeys: [(String, String)] {
    var keys = [("replay.loop", profile.loop.rawValue)]
    guard profile == .cpuContention else { return keys }
    keys += (1...max(vms, 1)).map {
      ("vms.\($0).weight", String(Self.contentionWeights[($0 - 1) % 4]))
    }
    return keys
  }

  /// cpu-contention's weights, cycling over VMs 1, 2, 3, 4, ...: CPU-bound VMs (odd) get
  /// 512 and 256, interactive VMs (even) 256 and 128.
  static let contentionWeights: [UInt64] = [512, 256, 256, 128]

  static func format(_ value: Double) -> String {
    value == value.rounded() && abs(value) < 1e15 ? String(Int64(value)) : String(value)
  }
}

/// hvreplay's version.
public enum HVReplayVersion {
  public static let current = "0.1.0"
}
