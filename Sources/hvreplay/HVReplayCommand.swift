import ArgumentParser
import HVReplay

#if canImport(Glibc)
  #if os(Linux)
    import CMalloc
  #endif
  import Glibc
#elseif canImport(Musl)
  import Musl
#elseif canImport(Darwin)
  import Darwin
#endif

@main
struct HVReplayCommand: ParsableCommand {
  static let configuration = CommandConfiguration(
    commandName: "hvreplay",
    abstract:
      "Replay guest I/O and CPU traces through virtualization designs and measure their cost.",
    discussion: """
      Traces are hvreplay's CSV or native binary (.hvt) format, or what your systems \
      record: blktrace binary and blkparse text, fio iologs, the MSR Cambridge, SYSTOR '17, \
      Alibaba 2020 and Tencent CBS block-trace CSVs, libCacheSim's CloudPhysics CSV, VMware \
      vscsi traces, any block-trace CSV by its columns (--columns), and sched_switch text \
      from ftrace, perf script or trace-cmd report; plain, zstd- or \
      gzip-compressed. The format is detected from the content (`--from FORMAT` names it \
      where the content does not tell; `hvreplay formats` lists them). KVM hosts' exit \
      recordings (trace-cmd report, ftrace, perf script, perf kvm stat report of kvm \
      events) are read by `hvreplay exits` and `hvreplay calibrate`. `-` reads standard \
      input or writes standard output.
      """,
    version: HVReplayVersion.current,
    subcommands: [
      Replay.self, Compare.self, Sweep.self, Merge.self, Inspect.self, Exits.self, Calibrate.self,
      Synth.self,
      Convert.self, Formats.self, ModelCommand.self,
    ],
    defaultSubcommand: Replay.self
  )

  /// Runs the command; an interrupt (SIGINT, SIGTERM, SIGHUP) first removes the
  /// temporary files and folders of outputs not yet in place.
  static func main() {
    TemporaryFiles.removeOnInterrupt()
    #if os(Linux) && canImport(Glibc)
      limitMallocArenas()
    #endif
    main(nil)
  }
}

#if os(Linux) && canImport(Glibc)
  /// One malloc arena per core (at least two) rather than glibc's eight per core: the
  /// host simulations' worker threads then reuse memory the others freed, and a replay of
  /// 2,000 one-disk VMs under every design peaks at 310 MB rather than 409 MB, at the same
  /// speed (docs/SCALING.md). A `MALLOC_ARENA_MAX` or `GLIBC_TUNABLES` in the environment
  /// wins.
  private func limitMallocArenas() {
    guard getenv("MALLOC_ARENA_MAX") == nil, getenv("GLIBC_TUNABLES") == nil else { return }
    let cores = max(2, sysconf(Int32(_SC_NPROCESSORS_ONLN)))
    _ = mallopt(M_ARENA_MAX, Int32(clamping: cores))
  }
#endif

/// Throws a usage error when `path`, the value of `option`, is empty (which would
/// otherwise name the current or root directory).
func requireNonEmpty(_ path: String?, _ option: String) throws {
  if let path, path.isEmpty {
    throw ValidationError("\(option) must name a file or directory, not be empty")
  }
}

/// Options every command that reads a trace shares.
struct ReadOptions: ParsableArguments {
  @Option(
    name: .customLong("reorder-window"),
    help: "Events held back to put a locally disordered trace in time order.")
  var reorderWindow: Int = TraceReader.defaultReorderWindow

  @Option(
    name: .customLong("from"),
    help: "The input format, when the content does not tell (hvreplay formats lists them).")
  var from: String?

  @Option(
    name: .customLong("skip-bad"),
    help: "Skip up to this many unreadable records of an imported trace, counted and reported.")
  var skipBad: UInt64 = 0

  @Option(
    name: .customLong("group-by"),
    help: "Scheduler traces: map tasks to VMs by pid, tgid or comm.")
  var groupBy: String = "pid"

  @Option(
    help: ArgumentHelp(
      "Read any block-trace CSV by its columns: names from its header (or #N), units and scales.",
      valueName:
        "time=COL[:unit],op=COL,offset=COL[:scale],bytes=COL[:scale][,service=COL[:unit]][,vm=COL]"
    ))
  var columns: String?

  func validate() throws {
    guard reorderWindow >= 0 && reorderWindow <= 100_000_000 else {
      throw ValidationError("--reorder-window must be between 0 and 100000000")
    }
    if let from, TraceFormat(rawValue: from) == nil {
      throw ValidationError(
        "--from: unknown format \"\(from)\"; expected one of \(TraceFormat.allCases.map(\.rawValue).joined(separator: ", "))"
      )
    }
    guard TaskGrouping(rawValue: groupBy) != nil else {
      throw ValidationError("--group-by must be pid, tgid or comm, found \"\(groupBy)\"")
    }
    if let columns {
      do throws(HVReplayError) { _ = try ColumnMapping.parse(columns) } catch {
        throw ValidationError(error.message)
      }
      if let from, from != TraceFormat.columns.rawValue {
        throw ValidationError(
          "--columns reads the file as a CSV by its columns: leave out --from \(from)")
      }
    }
  }

  /// The library's read options.
  var options: TraceReadOptions {
    var o = TraceReadOptions()
    o.reorderWindow = reorderWindow
    o.format = from.flatMap(TraceFormat.init(rawValue:))
    o.skipBad = skipBad
    o.grouping = TaskGrouping(rawValue: groupBy) ?? .pid
    o.columns = columns.flatMap { try? ColumnMapping.parse($0) }
    return o
  }
}

/// Runs `body`, printing an ``HVReplayError`` as `hvreplay: message` on standard
/// error and exiting with its sysexits code.
func reportingErrors(_ body: () throws(HVReplayError) -> Void) throws {
  do {
    try body()
  } catch {
    writeStandardError("hvreplay: \(error)\n")
    throw ExitCode(error.exitCode)
  }
}

func writeStandardError(_ text: String) {
  var text = text
  text.withUTF8 { buffer in _ = write(2, buffer.baseAddress, buffer.count) }
}

func writeStandardOutput(_ text: String) throws {
  var text = text
  let ok = text.withUTF8 { buffer -> Bool in
    var done = 0
    while done < buffer.count {
      let n = write(1, buffer.baseAddress! + done, buffer.count - done)
      if n <= 0 { return false }
      done += n
    }
    return true
  }
  if !ok { throw ExitCode(74) }
}

/// Resolves the trace file type of an output from `--to`, the file name, or CSV for a
/// stream (`-`, a FIFO, `/dev/null`, `/dev/stdout`).
func outputType(path: String, to: String?) throws -> TraceFileType {
  if let to {
    guard let type = TraceFileType(name: to) else {
      throw ValidationError(
        "--to must be one of \(TraceFileType.allNames.joined(separator: ", ")), found \"\(to)\"")
    }
    return type
  }
  if let type = TraceFileType(path: path) { return type }
  // Standard output, a pipe or a device such as /dev/null: CSV, as for `-`.
  if ByteOutput.isStream(path) { return TraceFileType(format: .csv, compression: .none) }
  throw ValidationError(
    "cannot tell the output format from \"\(path)\": name it .hvt, .hvt.zst, .csv or .csv.zst, or pass --to"
  )
}
