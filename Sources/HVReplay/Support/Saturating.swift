import Histogram

extension UInt64 {
  /// `self + other`, stopping at `UInt64.max` instead of trapping: figures built from
  /// hostile inputs stay finite.
  @inline(__always)
  func adding(saturating other: UInt64) -> UInt64 {
    let (sum, overflow) = addingReportingOverflow(other)
    return overflow ? .max : sum
  }

  /// Adds `other`, stopping at `UInt64.max`.
  @inline(__always)
  mutating func add(saturating other: UInt64) { self = adding(saturating: other) }

  /// `self * other`, or `nil` when it does not fit.
  @inline(__always)
  func multiplied(checked other: UInt64) -> UInt64? {
    let (product, overflow) = multipliedReportingOverflow(by: other)
    return overflow ? nil : product
  }
}

extension Sequence where Element == UInt64 {
  /// The sum, saturating at `UInt64.max`.
  func saturatingSum() -> UInt64 { reduce(0) { $0.adding(saturating: $1) } }
}

extension Histogram where Count == UInt64 {
  /// The non-empty buckets in increasing order, as (the bucket's highest equivalent value,
  /// count, the bucket's median equivalent value). Walks the buckets directly: the library's iterators total count x value and
  /// trap when that passes 2^64.
  func nonEmptyBuckets() -> [(value: UInt64, count: UInt64, median: UInt64)] {
    guard totalCount > 0 else { return [] }
    var result: [(value: UInt64, count: UInt64, median: UInt64)] = []
    var v = lowestEquivalentForValue(self.min)
    let top = maxRecorded
    var seen: UInt64 = 0
    while v <= top && seen < totalCount {
      let c = UInt64(countForValue(v))
      let next = nextNonEquivalentForValue(v)
      if c > 0 {
        let low = lowestEquivalentForValue(v)
        result.append((highestEquivalentForValue(v), c, low + (next &- low) >> 1))
        seen = seen.adding(saturating: c)
      }
      if next <= v { break }
      v = next
    }
    return result
  }
}
