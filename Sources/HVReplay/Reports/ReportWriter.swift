import SystemPackage

/// Writes a report folder as a whole: every file of a run, and nothing else, appears at
/// once.
public enum ReportWriter {
  /// The directory reports of `trace` go to when no `--out` is given: `Reports/<name>`,
  /// always inside `Reports/` (a name of `.`, `..` or with a `/` becomes `trace`).
  public static func defaultDirectory(for trace: TraceIdentity) -> String {
    defaultDirectory(for: trace.name)
  }

  /// The directory reports of the trace named `name` (``TraceIdentity/name``) go to.
  public static func defaultDirectory(for name: String) -> String {
    let safe = name.isEmpty || name == "." || name == ".." || name.contains("/")
    return "Reports/\(safe ? "trace" : name)"
  }

  /// The files hvreplay writes into report folders (`replay`, `merge` and `sweep`): a
  /// folder holding only these (or nothing) may be replaced.
  /// The files `hvreplay exits` writes: a folder of them (or nothing) may be replaced by
  /// another exit report, and only by one.
  public static let exitFileNames: Set<String> = [
    "exits.md", "exits.csv", "exits.json", "exits-timeseries.csv", "exits.svg",
  ]

  public static let reportFileNames: Set<String> = [
    "report.md", "summary.csv", "cpu.csv", "histograms.csv", "latency-cdf.svg", "occupancy.csv",
    "ring-occupancy.svg", "report.json", "sweep.csv", "sweep.md", "sweep-cpu.csv", "sweep.svg",
    "timeseries.csv", "timeseries.svg",
  ]

  /// Makes `directory` hold exactly `files` (name and contents).
  ///
  /// The files are written into a new temporary folder beside `directory` (created
  /// exclusively, under an unpredictable name), which then takes `directory`'s place in
  /// one atomic rename (`renameat2(RENAME_EXCHANGE)` on Linux, `renamex_np(RENAME_SWAP)`
  /// on macOS; elsewhere the old folder is renamed aside first, leaving a moment with no
  /// folder), and the previous folder is removed. So a failed or interrupted run leaves
  /// the previous folder exactly as it was, a re-run leaves no stale file behind, and
  /// concurrent runs into one directory leave one run's folder whole. Missing parent
  /// directories are created. A symbolic link to a directory keeps the link; the folder
  /// it points to is replaced.
  ///
  /// - Throws: ``HVReplayError`` `.usage` for an empty path; `.cannotCreateOutput` when
  ///   `directory` is a file, `.` or `..`, or holds anything other than the files hvreplay
  ///   writes in reports (``reportFileNames``): a user's own folder is never replaced.
  public static func write(
    _ files: [(name: String, contents: String)], into directory: String,
    replacing family: Set<String> = reportFileNames
  )
    throws(HVReplayError)
  {
    try write(
      makers: files.map { file in (file.name, { $0.write(file.contents) }) }, into: directory,
      replacing: family)
  }

  /// As ``write(_:into:replacing:)``, each file written by its maker, on its own core where
  /// there are several, into the file as it is made (report.json and the CSV files of
  /// channels row by row, never whole in memory).
  public static func write(
    makers files: [(name: String, write: @Sendable (inout ReportFileStream) -> Void)],
    into directory: String,
    replacing family: Set<String> = reportFileNames
  )
    throws(HVReplayError)
  {
    func failure(_ why: String) -> HVReplayError {
      HVReplayError(.cannotCreateOutput, file: directory, why)
    }
    guard !directory.isEmpty else {
      throw HVReplayError(.usage, "the report directory is empty; name a directory")
    }
    let destination = OutputDestination(directory)
    let target = destination.path
    guard let last = FilePath(target).lastComponent?.string, last != ".", last != ".." else {
      throw failure("cannot replace: name the report folder itself, not \(target)")
    }
    let allowed = family.union(files.map(\.name))
    switch destination.kind {
    case .replace(let permissions) where permissions == nil:
      let parent = FilePath(target).removingLastComponent().string
      if let e = SystemCalls.makeDirectories(parent) {
        throw failure("cannot create the directory: \(e)")
      }
    case .directory:
      try checkReplaceable(target, allowed: allowed, naming: directory)
    default:
      throw failure("cannot create the directory: it exists and is not a directory")
    }
    let temporary = try TemporaryFiles.createDirectory(beside: target, naming: directory)
    do throws(HVReplayError) {
      let failures = parallelMap(files.count) { i -> HVReplayError? in
        do throws(HVReplayError) {
          let output = try ByteOutput(path: temporary + "/" + files[i].name, compression: .none)
          var stream = ReportFileStream(output: output)
          files[i].write(&stream)
          if let failure = stream.failure { throw failure }
          try output.close()
          return nil
        } catch {
          return error
        }
      }
      // Named by the report folder, not the temporary file (gone once this fails) nor the
      // file that failed (which core met a full disk first changes from run to run).
      if let failure = failures.lazy.compactMap({ $0 }).first {
        throw HVReplayError(
          .cannotCreateOutput, file: directory,
          "cannot write the report (\(failure.message)); nothing was replaced")
      }
      try swap(temporary, into: target, allowed: allowed, naming: directory)
    } catch {
      TemporaryFiles.discard(temporary)
      throw error
    }
  }

  /// Throws unless `path` holds only regular files named in `allowed`.
  private static func checkReplaceable(
    _ path: String, allowed: Set<String>, naming name: String
  ) throws(HVReplayError) {
    guard let foreign = foreignEntries(path, allowed: allowed) else {
      throw HVReplayError(.cannotCreateOutput, file: name, "cannot read the directory")
    }
    guard foreign.isEmpty else {
      let shown = foreign.prefix(3).map { "\"\($0)\"" }.joined(separator: ", ")
      let more = foreign.count > 3 ? " and \(foreign.count - 3) more" : ""
      throw HVReplayError(
        .cannotCreateOutput, file: name,
        "cannot replace: it holds \(shown)\(more), \(foreign.allSatisfy(reportFileNames.union(exitFileNames).contains) ? "another kind of hvreplay report" : "which hvreplay did not write"); remove \(foreign.count == 1 ? "it" : "them") or choose another directory"
      )
    }
  }

  /// The entries of directory `path` that are not regular files named in `allowed`,
  /// sorted, or `nil` when `path` is not a readable directory.
  private static func foreignEntries(_ path: String, allowed: Set<String>) -> [String]? {
    guard SystemCalls.fileType(path) == .directory,
      let entries = SystemCalls.directoryEntries(path)
    else { return nil }
    // An entry gone by the time it is looked at was replaced by a concurrent run.
    return entries.filter { name in
      guard allowed.contains(name) else { return true }
      let type = SystemCalls.fileType(path + "/" + name)
      return type != .regular && type != .missing
    }.sorted()
  }

  /// What one attempt at putting the new folder in place did.
  private enum SwapOutcome {
    /// The new folder is in place; nothing was there.
    case placed
    /// The new folder is in place; the temporary name now holds the previous folder.
    case exchanged
    /// `target` changed between two steps (a concurrent run): try again.
    case retry
    /// `target` is no longer a folder hvreplay may replace.
    case notReplaceable
    /// The system cannot exchange names.
    case unsupported
    case failed(Errno)
  }

  /// Puts the complete folder `temporary` in `target`'s place and removes what was there.
  private static func swap(
    _ temporary: String, into target: String, allowed: Set<String>, naming name: String
  ) throws(HVReplayError) {
    for _ in 0..<100 {
      let outcome: SwapOutcome = TemporaryFiles.registry.locked { live in
        switch SystemCalls.rename(temporary, target, how: .noReplace) {
        case nil:
          live[temporary] = nil
          return .placed
        case .fileExists?:
          break
        case .noFunction?, .invalidArgument?, .notSupported?:
          return .unsupported
        case let e?:
          return .failed(e)
        }
        guard let foreign = foreignEntries(target, allowed: allowed) else { return .retry }
        guard foreign.isEmpty else { return .notReplaceable }
        switch SystemCalls.rename(temporary, target, how: .exchange) {
        case nil: return .exchanged
        case .noSuchFileOrDirectory?: return .retry
        case .noFunction?, .invalidArgument?, .notSupported?: return .unsupported
        case let e?: return .failed(e)
        }
      }
      switch outcome {
      case .placed: return
      case .exchanged:
        TemporaryFiles.discard(temporary)
        return
      case .retry: continue
      case .notReplaceable: try checkReplaceable(target, allowed: allowed, naming: name)
      case .unsupported: return try swapInSteps(temporary, into: target, naming: name)
      case .failed(let e):
        throw HVReplayError(.cannotCreateOutput, file: name, "cannot create: \(e)")
      }
    }
    throw HVReplayError(
      .cannotCreateOutput, file: name, "cannot create: it kept changing while being replaced")
  }

  /// The fallback where the system cannot exchange two names: the previous folder is
  /// renamed aside, the new one renamed in, and the previous one removed.
  private static func swapInSteps(_ temporary: String, into target: String, naming name: String)
    throws(HVReplayError)
  {
    let aside = try TemporaryFiles.createDirectory(beside: target, naming: name)
    let failure: Errno? = TemporaryFiles.registry.locked { live in
      if SystemCalls.fileType(target) == .directory, let e = SystemCalls.rename(target, aside) {
        return e
      }
      if let e = SystemCalls.rename(temporary, target) {
        _ = SystemCalls.rename(aside, target)
        return e
      }
      live[temporary] = nil
      return nil
    }
    TemporaryFiles.discard(aside)
    if let failure {
      throw HVReplayError(.cannotCreateOutput, file: name, "cannot create: \(failure)")
    }
  }
}

/// A report file's text as it is made, written on into the file (through the file's
/// buffer), so that a report of many channels is never whole in memory.
public struct ReportFileStream: TextOutputStream {
  let output: ByteOutput
  /// The first write that failed; the writes after it are skipped.
  private(set) var failure: HVReplayError?

  init(output: ByteOutput) { self.output = output }

  public mutating func write(_ string: String) {
    guard failure == nil else { return }
    do { try output.write(string) } catch { failure = error }
  }
}

/// The files of a replay report.
enum ReplayReportFile: Sendable {
  case markdown, summary, cpu, histograms, latencySVG, occupancy, occupancySVG, timeSeries
  case timeSeriesSVG, json
}

extension ReplayReport {
  /// The files `hvreplay replay` writes, each made on its own core where there are several.
  public var files: [(name: String, contents: String)] {
    let made = fileKinds
    let contents = parallelMap(made.count) { i -> String in
      var text = ""
      write(made[i].file, to: &text)
      return text
    }
    return zip(made, contents).map { ($0.name, $1) }
  }

  /// The files `hvreplay replay` writes, each with the maker that writes it (for
  /// ``ReportWriter/write(makers:into:replacing:)``, which writes them as they are made).
  public var fileMakers: [(name: String, write: @Sendable (inout ReportFileStream) -> Void)] {
    let report = self
    return fileKinds.map { kind in (kind.name, { report.write(kind.file, to: &$0) }) }
  }

  /// The files of this report, by name.
  private var fileKinds: [(name: String, file: ReplayReportFile)] {
    var files: [(name: String, file: ReplayReportFile)] = [
      ("report.md", .markdown), ("summary.csv", .summary),
    ]
    if !result.schedulers.isEmpty { files.append(("cpu.csv", .cpu)) }
    if !result.channels.isEmpty {
      files.append(("histograms.csv", .histograms))
      files.append(("latency-cdf.svg", .latencySVG))
    }
    if backends.contains(where: { !$0.rings.isEmpty }) {
      files.append(("occupancy.csv", .occupancy))
      files.append(("ring-occupancy.svg", .occupancySVG))
    }
    if !seriesBackends.isEmpty {
      files.append(("timeseries.csv", .timeSeries))
      if seriesHasRequests { files.append(("timeseries.svg", .timeSeriesSVG)) }
    }
    files.append(("report.json", .json))
    return files
  }

  /// Writes `file` to `out`.
  func write<Out: TextOutputStream>(_ file: ReplayReportFile, to out: inout Out) {
    switch file {
    case .markdown: out.write(markdown)
    case .summary: writeSummaryCSV(to: &out)
    case .cpu: writeCPUCSV(to: &out)
    case .histograms: writeHistogramsCSV(to: &out)
    case .latencySVG: out.write(latencySVG)
    case .occupancy: out.write(occupancyCSV)
    case .occupancySVG: out.write(occupancySVG)
    case .timeSeries: writeTimeSeriesCSV(to: &out)
    case .timeSeriesSVG: out.write(timeSeriesSVG)
    case .json:
      JSONValue.writeObject(jsonMembers, to: &out)
      out.write("\n")
    }
  }
}
