extension Duration {
  /// Parses a duration such as `10s`, `250ms`, `30us`, `500ns`, `2m`, `1h` or `1.5s`
  /// (a bare number means seconds) into nanoseconds.
  public static func parseNanoseconds(_ text: String) -> UInt64? {
    let units: [(String, UInt64)] = [
      ("ns", 1), ("us", 1_000), ("µs", 1_000), ("ms", 1_000_000), ("s", 1_000_000_000),
      ("m", 60_000_000_000), ("h", 3_600_000_000_000),
    ]
    let trimmed = text.trimmingCharacters(in: " ")
    for (suffix, scale) in units where trimmed.hasSuffix(suffix) {
      if let ns = nanoseconds(String(trimmed.dropLast(suffix.count)), scale) { return ns }
      if suffix == "s" || suffix == "m" { continue }
      return nil
    }
    return nanoseconds(trimmed, 1_000_000_000)
  }

  /// `number` (decimal digits with an optional fraction: exactly; another form Double
  /// reads, such as `1e-3`: through Double) times `scale` ns, rounded half up; nil when
  /// malformed, negative or at least 1.8e19 ns.
  private static func nanoseconds(_ number: String, _ scale: UInt64) -> UInt64? {
    let parts = number.split(separator: ".", omittingEmptySubsequences: false)
    let digits = parts.allSatisfy { $0.allSatisfy { $0.isASCII && $0.isNumber } }
    if digits && parts.count <= 2 && parts.contains(where: { !$0.isEmpty }) {
      // Exactly: the whole part times the scale, plus the fraction's share of it.
      var whole: UInt64 = 0
      for d in parts[0] {
        let (times, o1) = whole.multipliedReportingOverflow(by: 10)
        let (plus, o2) = times.addingReportingOverflow(UInt64(d.asciiValue! - 48))
        guard !o1 && !o2 else { return nil }
        whole = plus
      }
      var (ns, overflow) = whole.multipliedReportingOverflow(by: scale)
      guard !overflow else { return nil }
      if parts.count == 2 {
        // Digits beyond the scale's (at most 13 for an hour in ns) only round.
        var fraction: UInt64 = 0
        var denominator: UInt64 = 1
        for d in parts[1].prefix(18) {
          fraction = fraction * 10 + UInt64(d.asciiValue! - 48)
          denominator *= 10
        }
        // fraction x scale / denominator, rounded half up, without overflow.
        let product = fraction.multipliedFullWidth(by: scale)
        let (q, r) = denominator.dividingFullWidth(product)
        let share = r >= denominator - r ? q + 1 : q
        (ns, overflow) = ns.addingReportingOverflow(share)
        guard !overflow else { return nil }
      }
      return ns < 18_000_000_000_000_000_000 ? ns : nil
    }
    guard let value = Double(number), value >= 0, value * Double(scale) < 1.8e19 else {
      return nil
    }
    return UInt64((value * Double(scale)).rounded())
  }

  /// Formats nanoseconds with the largest unit that keeps the value whole.
  public static func format(nanoseconds ns: UInt64) -> String {
    for (suffix, scale) in [
      ("h", 3_600_000_000_000), ("m", 60_000_000_000), ("s", 1_000_000_000),
      ("ms", 1_000_000), ("us", 1_000),
    ] as [(String, UInt64)]
    where ns >= scale && ns % scale == 0 {
      return "\(ns / scale)\(suffix)"
    }
    return "\(ns)ns"
  }
}

extension String {
  /// The string without leading and trailing `set` characters.
  public func trimmingCharacters(in set: Character) -> String {
    var s = Substring(self)
    while s.first == set { s.removeFirst() }
    while s.last == set { s.removeLast() }
    return String(s)
  }
}
