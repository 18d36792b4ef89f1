/// How to read a trace.
public struct TraceReadOptions: Sendable {
  /// Events held back to fix local disorder.
  public var reorderWindow = TraceReader.defaultReorderWindow
  /// The format, or `nil` to decide by content.
  public var format: TraceFormat?
  /// Bad records an import may skip (counted and reported) before it stops.
  public var skipBad: UInt64 = 0
  /// How scheduler-trace tasks map to VMs.
  public var grouping = TaskGrouping.pid
  /// A CSV's column mapping (`--columns`): the file is then read by it.
  public var columns: ColumnMapping?

  public init() {}
}

extension TraceReader {
  /// How a replay's refusal of a KVM recording begins its advice (calibrate's `--io`
  /// recognises the refusal by it).
  static let kvmRecordingAdvice = "read it with `hvreplay exits"

  /// The format of `input`, decided from its first (decompressed) bytes.
  static func detect(_ input: ByteInput) throws(HVReplayError) -> TraceFormat {
    let prefix = UnsafeRawBufferPointer(start: input.base, count: input.end)
    if NativeTraceDecoder.matches(UnsafeRawBufferPointer(rebasing: prefix.prefix(8))) {
      return .hvt
    }
    if BlktraceFile.sniff(prefix) != nil { return .blktrace }
    if VSCSIDecoder.sniff(prefix) != nil { return .vscsi }
    // Text: look at the first lines that are not blank or comments.
    var tracerHeader = false
    var kvmLine: Int?
    for (index, (line, last)) in Bytes.lines(of: prefix, limit: 200).enumerated() {
      let lines = index + 1
      if Bytes.hasPrefix(line, "\u{FEFF}time_ns,") || Bytes.hasPrefix(line, "time_ns,") {
        return .csv
      }
      if Bytes.hasPrefix(line, "fio version ") { return .fio }
      // ftrace's header: its events tell a scheduler trace from a KVM recording.
      if Bytes.hasPrefix(line, "# tracer:") {
        tracerHeader = true
        continue
      }
      if SchedTraceDecoder.matches(line) { return .ftrace }
      if line.isEmpty || line.first == UInt8(ascii: "#") || Bytes.hasPrefix(line, "cpus=") {
        continue
      }
      if BlockCSVDecoder.dialect(of: line) != nil {
        switch BlockCSVDecoder.dialect(of: line)! {
        case .msr: return .msr
        case .systor: return .systor
        case .alibaba: return .alibaba
        case .tencent: return .tencent
        case .libcachesim: return .libcachesim
        }
      }
      if BlkparseDecoder.matches(line) { return .blkparse }
      // trace-cmd report, the kernel's trace file or perf script, by their line prefix.
      // kvm events alone make a KVM recording; with scheduler events (later in the
      // prefix) a scheduler trace.
      if let event = KVMTraceLine.split(line) {
        guard
          KVMEventKind.named(event.event) != nil || Bytes.hasPrefix(event.event, "kvm_")
            || Bytes.hasPrefix(event.event, "kvm:")
        else { return .ftrace }
        kvmLine = kvmLine ?? lines
        if last { break }
        continue
      }
      if (lines == 1 && !tracerHeader) || last { break }
    }
    if let kvmLine {
      throw HVReplayError(
        .badData, file: input.name, location: .line(kvmLine),
        "a KVM exit recording (kvm tracepoints), not a trace to replay: \(kvmRecordingAdvice) \(input.name)`"
      )
    }
    if tracerHeader { return .ftrace }
    return .csv  // whose decoder explains what the header should be
  }

  static func importer(_ format: TraceFormat, inputs: [ByteInput], options: TraceReadOptions)
    throws(HVReplayError) -> any ImportingDecoder
  {
    let input = inputs[0]
    switch format {
    case .blktrace: return try BlktraceDecoder(inputs: inputs, skipBad: options.skipBad)
    case .blkparse: return BlkparseDecoder(input: input, skipBad: options.skipBad)
    case .fio: return try FioLogDecoder(input: input, skipBad: options.skipBad)
    case .msr: return BlockCSVDecoder(input: input, dialect: .msr, skipBad: options.skipBad)
    case .systor: return BlockCSVDecoder(input: input, dialect: .systor, skipBad: options.skipBad)
    case .alibaba: return BlockCSVDecoder(input: input, dialect: .alibaba, skipBad: options.skipBad)
    case .tencent: return BlockCSVDecoder(input: input, dialect: .tencent, skipBad: options.skipBad)
    case .libcachesim:
      return BlockCSVDecoder(input: input, dialect: .libcachesim, skipBad: options.skipBad)
    case .columns:
      guard let mapping = options.columns else {
        throw HVReplayError(
          .usage,
          "--from columns needs --columns time=COL[:unit],op=COL,offset=COL[:scale],bytes=COL[:scale]"
        )
      }
      return try ColumnCSVDecoder(input: input, mapping: mapping, skipBad: options.skipBad)
    case .vscsi: return try VSCSIDecoder(input: input, skipBad: options.skipBad)
    case .ftrace:
      return SchedTraceDecoder(input: input, grouping: options.grouping, skipBad: options.skipBad)
    case .hvt, .csv: preconditionFailure("native formats have their own decoders")
    }
  }

  /// A blktrace base name (`sda`, as blkparse -i takes it) stands for its per-CPU files
  /// `sda.blktrace.0`, `sda.blktrace.1`, ... when no file of that name exists.
  /// At most one more than ``BlktraceDecoder/maximumFiles`` are returned: enough for the
  /// decoder to refuse them, before they are all opened.
  static func expand(_ paths: [String]) -> [String] {
    let all = paths.flatMap { path -> [String] in
      guard path != "-", !SystemCalls.exists(path) else { return [path] }
      // Every number is probed, not only up to the first gap: a CPU that was offline while
      // blktrace ran leaves one (a file past the limit is found, so the decoder refuses it).
      var files: [String] = []
      for cpu in 0...BlktraceDecoder.maximumFiles
      where SystemCalls.exists("\(path).blktrace.\(cpu)") {
        files.append("\(path).blktrace.\(cpu)")
      }
      return files.isEmpty ? [path] : files
    }
    return Array(all.prefix(BlktraceDecoder.maximumFiles + 1))
  }
}
