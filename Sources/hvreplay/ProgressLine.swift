import HVReplay

#if canImport(Glibc)
  import Glibc
#elseif canImport(Musl)
  import Musl
#elseif canImport(Darwin)
  import Darwin
#endif

/// A progress line on standard error while a replay runs for more than a second on a
/// terminal: bytes read of the total, events per second, time left.
struct ProgressLine {
  private var pace: ProgressPace

  init(enabled: Bool) { pace = ProgressPace(enabled: enabled) }

  mutating func update(_ p: ReplayEngine.Progress) {
    guard let seconds = pace.draw() else { return }
    let rate = Double(p.events) / seconds
    var line = "\r\(Self.mib(p.fileBytesRead))"
    if let size = p.fileSize, size > 0 {
      let fraction = min(Double(p.fileBytesRead) / Double(size), 1)
      line = "\r\(Int(fraction * 100))%  \(Self.mib(p.fileBytesRead)) of \(Self.mib(size))"
      if fraction > 0 {
        let left = seconds * (1 - fraction) / fraction
        line += "  \(Self.decimal(rate / 1e6)) M events/s  \(Int(left.rounded())) s left"
      }
    } else {
      line += "  \(Self.decimal(rate / 1e6)) M events/s"
    }
    writeStandardError(line + "\u{1B}[K")
  }

  mutating func finish() { pace.finish() }

  static func mib(_ bytes: UInt64) -> String { "\(decimal(Double(bytes) / 1048576)) MiB" }

  static func decimal(_ v: Double) -> String {
    let tenths = Int((v * 10).rounded())
    return "\(tenths / 10).\(tenths % 10)"
  }
}

/// A sweep's progress line: combinations done, the share of all their reading, events per
/// second over every combination, time left. Updated by the sweep's workers one at a time.
final class SweepProgressLine: @unchecked Sendable {
  private var pace: ProgressPace

  init(enabled: Bool) { pace = ProgressPace(enabled: enabled) }

  func update(_ p: SweepProgress) {
    guard let seconds = pace.draw() else { return }
    var line = "\r\(p.done) of \(p.total) combinations"
    if let total = p.bytesTotal, total > 0 {
      let fraction = min(Double(p.bytesRead) / Double(total), 1)
      line += "  \(Int(fraction * 100))%"
      if fraction > 0 {
        line += "  \(Int((seconds * (1 - fraction) / fraction).rounded())) s left"
      }
    }
    line += "  \(ProgressLine.decimal(Double(p.events) / seconds / 1e6)) M events/s"
    writeStandardError(line + "\u{1B}[K")
  }

  func finish() { pace.finish() }
}

/// When a progress line draws: on a terminal, after the first second, at most five times
/// a second; and its erasure at the end.
struct ProgressPace {
  private let enabled: Bool
  private let start = ContinuousClock.now
  private var lastDraw: ContinuousClock.Instant?
  private var drawn = false

  init(enabled: Bool) { self.enabled = enabled && isatty(2) != 0 }

  /// The seconds since the start when a line should be drawn now, else nil.
  mutating func draw() -> Double? {
    guard enabled else { return nil }
    let now = ContinuousClock.now
    let elapsed = now - start
    guard elapsed > .seconds(1) else { return nil }
    if let lastDraw, now - lastDraw < .milliseconds(200) { return nil }
    lastDraw = now
    drawn = true
    return Double(elapsed.components.seconds) + Double(elapsed.components.attoseconds) / 1e18
  }

  func finish() {
    if drawn { writeStandardError("\r\u{1B}[K") }
  }
}
