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
        """)

    @Argument(help: "The recording (`-` for standard input).")
    var recording: String

    @Option(name: .shortAndLong, help: "The model file to write.")
    var output: String

    @Option(name: .customLong("model"), help: "A model file to start from (default: the defaults).")
    var model: String?

    @Option(name: .customLong("skip-bad"), help: "Skip up to this many unreadable lines.")
    var skipBad: UInt64 = 0

    func validate() throws {
      try requireNonEmpty(output, "--output")
      try requireNonEmpty(model, "--model")
    }

    func run() throws {
      try reportingErrors { () throws(HVReplayError) in
        var base = Model()
        if let model { try base.load(file: model) }
        var options = ExitOptions()
        options.skipBad = skipBad
        let report = try ExitReport.read(path: recording, options: options)
        let keys = report.calibration
        guard !keys.isEmpty else {
          throw HVReplayError(
            .badData, file: recording,
            "no exit durations to calibrate from: the recording needs kvm_exit and kvm_entry lines of MMIO or port I/O (EPT_MISCONFIG, IO_INSTRUCTION), EOI_INDUCED or VMCALL exits"
          )
        }
        for k in keys {
          do throws(HVReplayError) { try base.set("\(k.key)=\(k.value)") } catch {
            throw HVReplayError(
              .badData, file: recording,
              "the measured \(k.key) (\(k.value) ns, the \(k.provenance)) is not a value the model takes: \(error.message.hasPrefix("--set: ") ? String(error.message.dropFirst(7)) : error.message)"
            )
          }
          base.calibration[k.key] = k.provenance
        }
        let out = try ByteOutput(path: output, compression: .none)
        try out.write(base.json.serialized() + "\n")
        try out.close()
        var text = ""
        for k in keys {
          text += "\(k.key) = \(k.value) ns: \(k.provenance.escapingControlCharacters)\n"
        }
        text += "wrote \(output.escapingControlCharacters)\n"
        do { try writeStandardOutput(text) } catch {
          throw HVReplayError(.ioError, "cannot write to standard output")
        }
      }
    }
  }
}
