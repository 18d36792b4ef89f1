#if canImport(Glibc)
  import Glibc
#elseif canImport(Musl)
  import Musl
#elseif canImport(Darwin)
  import Darwin
#endif

/// Small parsers over byte slices of a line.
enum Bytes {
  /// Splits `line` on `separator`, or on runs of spaces and tabs when `separator` is nil.
  static func fields(_ line: UnsafeRawBufferPointer, separator: UInt8? = nil)
    -> [UnsafeRawBufferPointer]
  {
    var result: [UnsafeRawBufferPointer] = []
    var i = 0
    let n = line.count
    if let separator {
      var start = 0
      while i <= n {
        if i == n || line[i] == separator {
          result.append(trim(UnsafeRawBufferPointer(rebasing: line[start..<i])))
          start = i + 1
        }
        i += 1
      }
      return result
    }
    while i < n {
      while i < n && (line[i] == 0x20 || line[i] == 0x09) { i += 1 }
      let start = i
      while i < n && line[i] != 0x20 && line[i] != 0x09 { i += 1 }
      if i > start { result.append(UnsafeRawBufferPointer(rebasing: line[start..<i])) }
    }
    return result
  }

  static func trim(_ s: UnsafeRawBufferPointer) -> UnsafeRawBufferPointer {
    var a = 0
    var b = s.count
    while a < b && (s[a] == 0x20 || s[a] == 0x09) { a += 1 }
    while b > a && (s[b - 1] == 0x20 || s[b - 1] == 0x09) { b -= 1 }
    return UnsafeRawBufferPointer(rebasing: s[a..<b])
  }

  /// An unsigned decimal integer, or `nil`.
  static func uint(_ s: UnsafeRawBufferPointer) -> UInt64? {
    guard !s.isEmpty else { return nil }
    var v: UInt64 = 0
    for b in s {
      let d = b &- 0x30
      guard d < 10 else { return nil }
      let (m, o1) = v.multipliedReportingOverflow(by: 10)
      let (a, o2) = m.addingReportingOverflow(UInt64(d))
      guard !o1 && !o2 else { return nil }
      v = a
    }
    return v
  }

  /// A non-negative decimal `seconds[.fraction]` as nanoseconds (exact up to 9 decimals,
  /// rounded below), or `nil`.
  static func secondsAsNanoseconds(_ s: UnsafeRawBufferPointer) -> UInt64? {
    decimal(s, times: 1_000_000_000)
  }

  /// A non-negative decimal `whole[.fraction]` times `factor`, exactly and rounded below
  /// (the fraction's digits F of k places add F x factor / 10^k; digits past the 18th
  /// change nothing a factor up to 10^9 resolves), or `nil` when it is not a number or
  /// passes 2^64.
  static func decimal(_ s: UnsafeRawBufferPointer, times factor: UInt64) -> UInt64? {
    let dot = s.firstIndex(of: UInt8(ascii: "."))
    guard let whole = uint(UnsafeRawBufferPointer(rebasing: s[..<(dot ?? s.endIndex)])),
      let value = whole.multiplied(checked: factor)
    else { return nil }
    guard let dot else { return value }
    var digits: UInt64 = 0
    var power: UInt64 = 1
    for b in s[(dot + 1)...] {
      let d = b &- 0x30
      guard d < 10 else { return nil }
      if power < 1_000_000_000_000_000_000 {
        digits = digits * 10 + UInt64(d)
        power *= 10
      }
    }
    let product = digits.multipliedFullWidth(by: factor)
    guard product.high < power else { return nil }
    let (sum, overflow) = value.addingReportingOverflow(power.dividingFullWidth(product).quotient)
    return overflow ? nil : sum
  }

  static func string(_ s: UnsafeRawBufferPointer) -> String { String(decoding: s, as: UTF8.self) }

  static func equals(_ s: UnsafeRawBufferPointer, _ text: StaticString) -> Bool {
    s.count == text.utf8CodeUnitCount
      && (s.count == 0 || memcmp(s.baseAddress!, text.utf8Start, s.count) == 0)
  }

  static func hasPrefix(_ s: UnsafeRawBufferPointer, _ text: String) -> Bool {
    s.starts(with: text.utf8)
  }

  static func hasSuffix(_ s: UnsafeRawBufferPointer, _ text: String) -> Bool {
    let n = text.utf8.count
    return n <= s.count && UnsafeRawBufferPointer(rebasing: s.suffix(n)).elementsEqual(text.utf8)
  }

  /// The index of the first occurrence of `needle` in `s`, or `nil`.
  static func find(_ needle: String, in s: UnsafeRawBufferPointer, from: Int = 0) -> Int? {
    let n = Array(needle.utf8)
    guard n.count <= s.count else { return nil }
    var i = from
    while i + n.count <= s.count {
      if let p = memchr(s.baseAddress! + i, Int32(n[0]), s.count - i - n.count + 1) {
        let j = s.baseAddress!.distance(to: UnsafeRawPointer(p))
        if memcmp(s.baseAddress! + j, n, n.count) == 0 { return j }
        i = j + 1
      } else {
        return nil
      }
    }
    return nil
  }

  /// The first `limit` lines of `prefix` (without their `\n` or `\r\n`), each with whether
  /// it is the last line the prefix holds (perhaps cut short).
  static func lines(of prefix: UnsafeRawBufferPointer, limit: Int)
    -> [(line: UnsafeRawBufferPointer, last: Bool)]
  {
    var result: [(UnsafeRawBufferPointer, Bool)] = []
    var start = 0
    while start < prefix.count && result.count < limit {
      var stop = start
      while stop < prefix.count && prefix[stop] != 0x0A { stop += 1 }
      var line = UnsafeRawBufferPointer(rebasing: prefix[start..<stop])
      if line.last == 0x0D { line = UnsafeRawBufferPointer(rebasing: line.dropLast()) }
      start = stop + 1
      result.append((line, stop >= prefix.count))
    }
    return result
  }
}
