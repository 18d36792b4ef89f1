import ArgumentParser
import HVReplay

extension HVReplayCommand {
  struct Calibrate: ParsableCommand {
    static let configuration = CommandConfiguration(
      abstract: "Turn a KVM recording into a model file whose costs are measured.",
      discussion: """
        Reads the recording as `hvreplay exits` does and writes a model file (the shape \
        `hvreplay model` prints) with costs.trap_ns, virtio.kick_ns, costs.irq_inject_ns \
        and costs.hypercall_ns measured from the exits' durations where the recording has \
        them; each measured key's source is in the file's `calibration` member, and a \
        replay with `--model FILE` marks those keys in report.md.

        With the number of I/O requests the exits served (`--io TRACE`, an I/O trace of the \
        same run in any format hvreplay reads, or `--requests disk=N,tx=N,rx=N`), it also \
        measures full virtualization's traps per request: register writes of the emulated \
        disk controller (`--disk-registers`, default the legacy IDE ports) and NIC \
        (`--net-registers`, e1000's BAR as `lspci -v` shows it in the guest) per submitted \
        request give full.<kind>.submit_traps, register reads per request \
        full.<kind>.completion_traps where each completion has its own interrupt.
        """)

    @Argument(help: "The recording (`-` for standard input).")
    var recording: String

    @Option(name: .shortAndLong, help: "The model file to write.")
    var output: String

    @Option(name: .customLong("model"), help: "A model file to start from (default: the defaults).")
    var model: String?

    @Option(name: .customLong("skip-bad"), help: "Skip up to this many unreadable lines.")
    var skipBad: UInt64 = 0

    @Option(
      name: .customLong("io"),
      help:
        "An I/O trace of the same run: its requests turn register accesses into traps per request.")
    var io: String?

    @Option(
      name: .customLong("io-from"), help: "The I/O trace's format, when its content does not tell.")
    var ioFrom: String?

    @Option(
      help: ArgumentHelp(
        "The I/O requests the recorded exits served, instead of --io.",
        valueName: "disk=N,tx=N,rx=N"))
    var requests: String?

    @Option(
      name: .customLong("disk-registers"),
      help: ArgumentHelp(
        "The emulated disk controller's registers (default: the legacy IDE ports).",
        valueName: "pio:LOW-HIGH,mmio:LOW-HIGH,..."))
    var diskRegisters: String?

    @Option(
      name: .customLong("net-registers"),
      help: ArgumentHelp(
        "The emulated NIC's registers, such as e1000's BAR (no default).",
        valueName: "mmio:LOW-HIGH,..."))
    var netRegisters: String?

    func validate() throws {
      try requireNonEmpty(output, "--output")
      try requireNonEmpty(model, "--model")
      try requireNonEmpty(io, "--io")
      if io != nil && requests != nil { throw ValidationError("give --io or --requests, not both") }
      if let requests, Self.requestCounts(requests) == nil {
        throw ValidationError(
          "--requests takes disk=N, tx=N and rx=N (each once) separated by commas; found \"\(requests)\""
        )
      }
      for (name, value) in [("--disk-registers", diskRegisters), ("--net-registers", netRegisters)]
      {
        if let value, RegisterRange.parseList(value) == nil {
          throw ValidationError(
            "\(name) takes pio:LOW-HIGH or mmio:LOW-HIGH ranges (0x hexadecimal or decimal) separated by commas; found \"\(value)\""
          )
        }
      }
      if io == nil && requests == nil {
        for (name, given) in [
          ("--disk-registers", diskRegisters != nil), ("--net-registers", netRegisters != nil),
          ("--io-from", ioFrom != nil),
        ] where given {
          throw ValidationError(
            "\(name) needs --io or --requests: the request counts traps are per")
        }
      }
      if io == "-" && recording == "-" {
        throw ValidationError("the recording and --io cannot both be standard input")
      }
      if let ioFrom, TraceFormat(rawValue: ioFrom) == nil {
        throw ValidationError(
          "--io-from: unknown format \"\(ioFrom)\"; expected one of \(TraceFormat.allCases.map(\.rawValue).joined(separator: ", "))"
        )
      }
    }

    static func requestCounts(_ text: String) -> IORequestCounts? {
      var counts = IORequestCounts(source: "--requests \(text)")
      var seen = Set<Substring>()
      for item in text.split(separator: ",", omittingEmptySubsequences: false) {
        let kv = item.split(separator: "=", maxSplits: 1)
        guard kv.count == 2, kv[1].first?.isNumber == true, let n = UInt64(kv[1]),
          seen.insert(kv[0]).inserted
        else { return nil }
        switch kv[0] {
        case "disk": counts.disk = n
        case "tx": counts.tx = n
        case "rx": counts.rx = n
        default: return nil
        }
      }
      return counts
    }

    func run() throws {
      try reportingErrors { () throws(HVReplayError) in
        var base = Model()
        if let model { try base.load(file: model) }
        var options = ExitOptions()
        options.skipBad = skipBad
        let report = try ExitReport.read(path: recording, options: options)
        var keys = report.calibration
        var skipped: [String] = []
        var counts: IORequestCounts?
        if let io {
          var options = TraceReadOptions()
          options.format = ioFrom.flatMap(TraceFormat.init(rawValue:))
          counts = try IORequestCounts(trace: io, options: options)
        } else if let requests {
          counts = Self.requestCounts(requests)
        }
        if let counts {
          var registers: [EventKind: [RegisterRange]] = [
            .disk: diskRegisters.flatMap(RegisterRange.parseList) ?? RegisterRange.ideDefaults
          ]
          if let netRegisters { registers[.net] = RegisterRange.parseList(netRegisters) }
          let traps = report.trapCalibration(requests: counts, registers: registers, base: base)
          keys += traps.keys
          skipped = traps.skipped
        }
        guard !keys.isEmpty else {
          throw HVReplayError(
            .badData, file: recording,
            "no exit durations to calibrate from: the recording needs kvm_exit and kvm_entry lines of MMIO or port I/O (EPT_MISCONFIG, IO_INSTRUCTION), EOI_INDUCED or VMCALL exits"
              + (counts == nil
                ? (report.accessRows.isEmpty
                  ? ""
                  : "; its register accesses give traps per request with --io TRACE or --requests disk=N,tx=N,rx=N")
                : ", and no accesses to the devices' registers made traps per request (\(skipped.joined(separator: "; ")))")
          )
        }
        for k in keys {
          do throws(HVReplayError) { try base.set("\(k.key)=\(k.value)") } catch {
            throw HVReplayError(
              .badData, file: recording,
              "the measured \(k.key) (\(k.value) \(k.unit), the \(k.provenance)) is not a value the model takes: \(error.message.hasPrefix("--set: ") ? String(error.message.dropFirst(7)) : error.message)"
            )
          }
          base.calibration[k.key] = k.provenance
        }
        let out = try ByteOutput(path: output, compression: .none)
        try out.write(base.json.serialized() + "\n")
        try out.close()
        var text = ""
        for k in keys {
          let unit = k.unit == "traps" && k.value == 1 ? "trap" : k.unit
          text += "\(k.key) = \(k.value) \(unit): \(k.provenance.escapingControlCharacters)\n"
        }
        for line in skipped { text += "not calibrated: \(line.escapingControlCharacters)\n" }
        text += "wrote \(output.escapingControlCharacters)\n"
        do { try writeStandardOutput(text) } catch {
          throw HVReplayError(.ioError, "cannot write to standard output")
        }
      }
    }
  }
}
