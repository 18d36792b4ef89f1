extension Duration {
  /// Parses a duration such as `10s`, `250ms`, `30us`, `500ns`, `2m`, `1h` or `1.5s`
  /// (a bare number means seconds) into nanoseconds.
  public static func parseNanoseconds(_ text: String) -> UInt64? {
    let units: [(String, Double)] = [
      ("ns", 1), ("us", 1e3), ("µs", 1e3), ("ms", 1e6), ("s", 1e9), ("m", 60e9), ("h", 3600e9),
    ]
    let trimmed = text.trimmingCharacters(in: " ")
    for (suffix, scale) in units where trimmed.hasSuffix(suffix) {
      let number = trimmed.dropLast(suffix.count)
      if let value = Double(number), value >= 0, value * scale < 1.8e19 {
        return UInt64((value * scale).rounded())
      }
      if suffix == "s" || suffix == "m" { continue }
      return nil
    }
    if let value = Double(trimmed), value >= 0, value * 1e9 < 1.8e19 {
      return UInt64((value * 1e9).rounded())
    }
    return nil
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
