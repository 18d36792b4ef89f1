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
  private let enabled: Bool
  private let start = ContinuousClock.now
  private var lastDraw: ContinuousClock.Instant?
  private var drawn = false

  init(enabled: Bool) {
    self.enabled = enabled && isatty(2) != 0
  }

  mutating func update(_ p: ReplayEngine.Progress) {
    guard enabled else { return }
    let now = ContinuousClock.now
    let elapsed = now - start
    guard elapsed > .seconds(1) else { return }
    if let lastDraw, now - lastDraw < .milliseconds(200) { return }
    lastDraw = now
    let seconds = Double(elapsed.components.seconds) + Double(elapsed.components.attoseconds) / 1e18
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
    drawn = true
  }

  mutating func finish() {
    if drawn { writeStandardError("\r\u{1B}[K") }
  }

  static func mib(_ bytes: UInt64) -> String { "\(decimal(Double(bytes) / 1048576)) MiB" }

  static func decimal(_ v: Double) -> String {
    let tenths = Int((v * 10).rounded())
    return "\(tenths / 10).\(tenths % 10)"
  }
}
