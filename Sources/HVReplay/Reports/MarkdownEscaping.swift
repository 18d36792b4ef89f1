/// Escaping of text that comes from a trace (file and trace names, metadata values) for
/// `report.md`, so that it shows as written and cannot add markup, HTML, table cells or
/// lines to the report.
enum MarkdownEscaping {
  /// `text` as Markdown inline text that renders as exactly `text` on one line.
  ///
  /// `\`, `` ` ``, `*`, `_`, `[`, `]`, `|`, `~`, `#` and `$` get a backslash; `<`, `>` and
  /// `&` become `&lt;`, `&gt;` and `&amp;`; newlines and other control characters become
  /// `\u{A}` escapes (``Swift/String/escapingControlCharacters``).
  static func text(_ text: String) -> String {
    var out = ""
    out.reserveCapacity(text.utf8.count)
    for scalar in text.unicodeScalars {
      switch scalar {
      case "\\", "`", "*", "_", "[", "]", "|", "~", "#", "$":
        out += "\\"
        out.unicodeScalars.append(scalar)
      case "<": out += "&lt;"
      case ">": out += "&gt;"
      case "&": out += "&amp;"
      default: out.unicodeScalars.append(scalar)
      }
    }
    return out.escapingControlCharacters
  }

  /// `text` as an inline code span that renders as exactly `text` on one line: fenced by
  /// one more backtick than its longest run of backticks, padded with a space where it
  /// starts or ends with a backtick, control characters escaped. (Inside a code span
  /// Markdown and HTML are not interpreted.)
  static func code(_ text: String) -> String {
    let body = text.escapingControlCharacters
    if body.isEmpty { return "` `" }
    var longest = 0
    var run = 0
    for c in body.unicodeScalars {
      run = c == "`" ? run + 1 : 0
      longest = max(longest, run)
    }
    let fence = String(repeating: "`", count: longest + 1)
    let pad =
      body.hasPrefix("`") || body.hasSuffix("`")
      || (body.hasPrefix(" ") && body.hasSuffix(" "))
    return pad ? "\(fence) \(body) \(fence)" : "\(fence)\(body)\(fence)"
  }
}
