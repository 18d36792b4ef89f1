extension String {
  /// This text with every character that could steer a terminal or reorder what it shows
  /// written as a Swift escape, `\u{1B}`: the C0 controls (newline and tab included),
  /// DEL, the C1 controls, and the bidirectional formatting characters (U+061C, U+200E,
  /// U+200F, U+202A to U+202E, U+2066 to U+2069).
  ///
  /// Text from a trace (metadata values, file and task names) goes through this before
  /// it reaches a terminal, so a trace cannot recolour, retitle or rewrite the screen.
  /// Printable text, non-ASCII letters included, is unchanged.
  public var escapingControlCharacters: String {
    guard unicodeScalars.contains(where: Self.needsEscape) else { return self }
    var out = ""
    out.reserveCapacity(utf8.count + 16)
    for scalar in unicodeScalars {
      if Self.needsEscape(scalar) {
        out += "\\u{\(String(scalar.value, radix: 16, uppercase: true))}"
      } else {
        out.unicodeScalars.append(scalar)
      }
    }
    return out
  }

  static func needsEscape(_ scalar: Unicode.Scalar) -> Bool {
    switch scalar.value {
    case 0x00...0x1F, 0x7F...0x9F: true
    case 0x061C, 0x200E, 0x200F, 0x202A...0x202E, 0x2066...0x2069: true
    default: false
    }
  }
}
