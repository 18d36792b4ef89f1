import ArgumentParser
import HVReplay

extension HVReplayCommand {
  struct Compare: ParsableCommand {
    static let configuration = CommandConfiguration(
      abstract:
        "Compare two report.json (or two exits.json) files figure by figure; exit 1 on a regression.",
      discussion: """
        Prints a Markdown table of every figure with its change (only those that changed with
        --changed-only), marking those that cross their regression threshold (❌ worse, ✅
        better), and a closing line counting regressed, improved, otherwise changed and
        unchanged figures. Exits 0 when nothing regressed, 1 when a
        figure regressed beyond its threshold, 65 when a report cannot be read or the two were
        made from different traces or models (unless --allow-different).

        Default thresholds (percent):
        \(ReportComparison.defaultThresholds.map { "  \($0.metric) \(TraceInspection.fixed($0.percent, 0))% (\($0.direction == .higherIsWorse ? "higher" : "lower") is worse)" }.joined(separator: "\n"))
        """
    )

    @Argument(help: "The baseline report.json.")
    var base: String

    @Argument(help: "The new report.json.")
    var new: String

    @Option(
      name: .customLong("threshold"),
      help: "Change one threshold, e.g. --threshold latency_p99_ns=10 (repeatable).")
    var thresholds: [String] = []

    @Flag(help: "Compare reports of different traces or models anyway.")
    var allowDifferent = false

    @Flag(help: "Show only the figures whose value changed (the summary line still counts all).")
    var changedOnly = false

    func run() throws {
      var limits: [String: Double] = [:]
      for t in thresholds {
        let parts = t.split(separator: "=", maxSplits: 1).map(String.init)
        guard parts.count == 2, let pct = Double(parts[1].replacingAll("%", "")), pct >= 0 else {
          throw ValidationError("--threshold expects metric=PERCENT, found \"\(t)\"")
        }
        let known = ReportComparison.knownMetrics.union(ReportComparison.knownExitMetrics)
        guard known.contains(parts[0]) else {
          throw ValidationError(
            "--threshold: unknown metric \"\(parts[0])\"; metrics: \(known.sorted().joined(separator: ", "))"
          )
        }
        limits[parts[0]] = pct
      }
      var regressed = false
      try reportingErrors { () throws(HVReplayError) in
        let ja = try readReportJSON(base)
        let jb = try readReportJSON(new)
        let exitsA = ReportComparison.isExitReport(ja)
        let exitsB = ReportComparison.isExitReport(jb)
        if exitsA || exitsB {
          guard exitsA && exitsB else {
            throw HVReplayError(
              .badData,
              "\(exitsA ? new : base) is not an exits.json like \(exitsA ? base : new): compare two replay reports or two exit reports"
            )
          }
          let comparison = ReportComparison(
            exitsBase: ja, exitsNew: jb, baseName: base, newName: new, thresholds: limits)
          regressed = comparison.hasRegression
          do { try writeStandardOutput(comparison.markdown(changedOnly: changedOnly)) } catch {
            throw HVReplayError(.ioError, "cannot write to standard output")
          }
          return
        }
        let a = try ReplayResult(reportJSON: ja, file: base)
        let b = try ReplayResult(reportJSON: jb, file: new)
        if !allowDifferent {
          if a.trace.statistics.contentHash != b.trace.statistics.contentHash {
            throw HVReplayError(
              .badData,
              "\(base) and \(new) were made from different traces (\(a.trace.name), content hash \(a.trace.contentHashText); \(b.trace.name), \(b.trace.contentHashText)); pass --allow-different to compare them anyway"
            )
          }
          let diff = a.model.differences(from: b.model)
          if !diff.isEmpty {
            throw HVReplayError(
              .badData,
              "\(base) and \(new) were made with different models (\(diff.joined(separator: ", "))); pass --allow-different to compare them anyway"
            )
          }
        }
        let comparison = ReportComparison(
          base: a, new: b, baseName: base, newName: new, thresholds: limits)
        regressed = comparison.hasRegression
        do { try writeStandardOutput(comparison.markdown(changedOnly: changedOnly)) } catch {
          throw HVReplayError(.ioError, "cannot write to standard output")
        }
      }
      if regressed { throw ExitCode(1) }
    }
  }
}
