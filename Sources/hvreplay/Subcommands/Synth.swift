import ArgumentParser
import HVReplay

extension SynthesisProfile: ExpressibleByArgument {}

extension HVReplayCommand {
  struct Synth: ParsableCommand {
    static let configuration = CommandConfiguration(
      abstract: "Generate a synthetic trace, deterministic for a given seed.",
      discussion: """
        Profiles:
        \(SynthesisProfile.allCases.map { "  \($0.rawValue): \($0.summary)" }.joined(separator: "\n"))

        Without --events or --duration, a trace has \(SynthesisParameters.defaultEvents) events.
        The output format follows the file's extension (.hvt, .hvt.zst, .csv, .csv.zst) or --to.
        """
    )

    @Option(
      help: "The workload: \(SynthesisProfile.allCases.map(\.rawValue).joined(separator: ", ")).")
    var profile: SynthesisProfile

    @Option(name: .shortAndLong, help: "The file to write (`-` for standard output).")
    var output: String

    @Option(help: "The output type: hvt, hvt.zst, csv or csv.zst (default: from the file's name).")
    var to: String?

    @Option(help: "Seed of hvreplay's generator; the same seed gives the same trace.")
    var seed: UInt64 = 1

    @Option(help: "Stop after this many events.")
    var events: UInt64?

    @Option(help: "Stop at this trace time, e.g. 10s, 500ms, 2m.")
    var duration: String?

    @Option(help: "Number of guests (VMs 1...N).")
    var vms: Int = 2

    @Option(help: "vCPUs per guest.")
    var vcpus: Int = 2

    @Option(help: "oltp, mixed: mean disk requests per second per VM.")
    var iops: Double = 2000

    @Option(name: .customLong("read-pct"), help: "oltp, mixed: percentage of reads.")
    var readPercent: Double = 70

    @Option(name: .customLong("wal-group"), help: "oltp, mixed: writes per commit.")
    var walGroup: Int = 8

    @Option(help: "oltp, mixed: the op ending each group of writes: flush or barrier.")
    var commit: String = "flush"

    @Option(name: .customLong("disk-gib"), help: "oltp, stream, mixed: disk size in GiB.")
    var diskGiB: UInt64 = 64

    @Option(help: "stream: read bandwidth per VM in MB/s.")
    var mbps: Double = 400

    @Option(help: "net-rpc, mixed: mean RPC bursts per second per VM.")
    var rps: Double = 5000

    @Option(help: "net-rpc, mixed: mean packets per burst.")
    var burst: Double = 4

    @Option(name: .customLong("rtt-us"), help: "net-rpc, mixed: round trip in microseconds.")
    var rttMicroseconds: Double = 50

    @Option(help: "tick-evasion: the scheduler tick the evader times itself against.")
    var tick: String = "10ms"

    func validate() throws {
      try requireNonEmpty(output, "-o/--output")
      guard (1...65535).contains(vms) else { throw ValidationError("--vms must be 1...65535") }
      guard (1...65535).contains(vcpus) else { throw ValidationError("--vcpus must be 1...65535") }
      guard iops > 0, rps > 0, mbps > 0 else {
        throw ValidationError("--iops, --rps and --mbps must be positive")
      }
      guard (0...100).contains(readPercent) else {
        throw ValidationError("--read-pct must be between 0 and 100")
      }
      guard walGroup >= 1 else { throw ValidationError("--wal-group must be at least 1") }
      guard burst >= 1 else { throw ValidationError("--burst must be at least 1") }
      guard rttMicroseconds >= 0 else { throw ValidationError("--rtt-us must not be negative") }
      guard diskGiB >= 1 else { throw ValidationError("--disk-gib must be at least 1") }
      guard commit == "flush" || commit == "barrier" else {
        throw ValidationError("--commit must be flush or barrier, found \"\(commit)\"")
      }
      guard let tickNs = Duration.parseNanoseconds(tick), tickNs >= 1000 else {
        throw ValidationError(
          "--tick: expected a duration of at least 1us such as 10ms, found \"\(tick)\"")
      }
      _ = tickNs
      if let duration, Duration.parseNanoseconds(duration) == nil {
        throw ValidationError(
          "--duration: expected a duration such as 10s or 500ms, found \"\(duration)\"")
      }
    }

    func run() throws {
      let type = try outputType(path: output, to: to)
      var parameters = SynthesisParameters(profile: profile)
      parameters.seed = seed
      parameters.events = events
      parameters.durationNs = duration.flatMap(Duration.parseNanoseconds)
      parameters.vms = vms
      parameters.vcpus = vcpus
      parameters.iops = iops
      parameters.readPercent = readPercent
      parameters.walGroup = walGroup
      parameters.commit = commit == "barrier" ? .barrier : .flush
      parameters.diskGiB = diskGiB
      parameters.megabytesPerSecond = mbps
      parameters.rpcPerSecond = rps
      parameters.burst = burst
      parameters.rttMicroseconds = rttMicroseconds
      parameters.tickNs = Duration.parseNanoseconds(tick) ?? parameters.tickNs
      try reportingErrors { () throws(HVReplayError) in
        var writer = try TraceWriter(path: output, type: type, metadata: parameters.metadata)
        var trace = SyntheticTrace(parameters)
        while let event = trace.next() { try writer.write(event) }
        try writer.finish()
      }
    }
  }
}
