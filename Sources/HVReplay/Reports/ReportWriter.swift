/// Writes report files into a directory, each atomically.
public enum ReportWriter {
  /// The directory reports of `trace` go to when no `--out` is given: `Reports/<name>`.
  public static func defaultDirectory(for trace: TraceIdentity) -> String {
    "Reports/\(trace.name)"
  }

  /// Writes `files` (name and contents) into `directory`, creating it when missing.
  ///
  /// Each file appears whole or not at all (temporary file, then rename).
  /// - Throws: ``HVReplayError`` `.cannotCreateOutput`.
  public static func write(_ files: [(name: String, contents: String)], into directory: String)
    throws(HVReplayError)
  {
    if let failure = SystemCalls.makeDirectories(directory) {
      throw HVReplayError(
        .cannotCreateOutput, file: directory, "cannot create the directory: \(failure)")
    }
    for (name, contents) in files {
      let output = try ByteOutput(path: directory + "/" + name, compression: .none)
      try output.write(contents)
      try output.close()
    }
  }
}

extension ReplayReport {
  /// The files `hvreplay replay` writes.
  public var files: [(name: String, contents: String)] {
    var files = [("report.md", markdown), ("summary.csv", summaryCSV)]
    if !result.schedulers.isEmpty { files.append(("cpu.csv", cpuCSV)) }
    if !result.channels.isEmpty {
      files.append(("histograms.csv", histogramsCSV))
      files.append(("latency-cdf.svg", latencySVG))
    }
    if backends.contains(where: { !$0.rings.isEmpty }) {
      files.append(("occupancy.csv", occupancyCSV))
      files.append(("ring-occupancy.svg", occupancySVG))
    }
    files.append(("report.json", json.serialized() + "\n"))
    return files
  }
}
