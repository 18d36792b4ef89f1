import Histogram

/// A histogram whose non-empty buckets reports walk: HdrHistogram's, or ``ChannelHistogram``.
protocol LatencyBuckets {
  /// Values recorded.
  var totalCount: UInt64 { get }
  /// The smallest and largest values recorded.
  var min: UInt64 { get }
  var maxRecorded: UInt64 { get }
  /// The highest value equivalent to the largest recorded.
  var max: UInt64 { get }
  /// The non-empty buckets in increasing order: highest equivalent value, count, median.
  func nonEmptyBuckets() -> [(value: UInt64, count: UInt64, median: UInt64)]
}

extension Histogram: LatencyBuckets where Count == UInt64 {}
extension ChannelHistogram: LatencyBuckets {}

/// Answers many percentile queries on one histogram quickly.
///
/// Gives exactly `Histogram.valueAtPercentile`'s answers (the highest value equivalent to
/// the bucket that holds the percentile, clamped to the smallest and largest values
/// recorded), from one pass over the non-empty buckets instead of a scan of every bucket
/// per query.
struct PercentileIndex {
  /// The non-empty buckets' highest equivalent values, ascending, and the running count up
  /// to and including each.
  private(set) var values: [UInt64] = []
  private(set) var cumulative: [UInt64] = []
  let total: UInt64
  let min: UInt64
  let maxRecorded: UInt64
  /// The highest value equivalent to the largest recorded (`Histogram.max`).
  let max: UInt64
  /// The mean as `Histogram.mean` computes it (each bucket at its median equivalent value).
  let mean: Double

  init(_ h: some LatencyBuckets) {
    var running: UInt64 = 0
    var weighted = 0.0
    for bucket in h.nonEmptyBuckets() {
      weighted += Double(bucket.median) * Double(bucket.count)
      running = running.adding(saturating: bucket.count)
      values.append(bucket.value)
      cumulative.append(running)
    }
    total = h.totalCount
    min = h.min
    maxRecorded = h.maxRecorded
    max = h.max
    mean = total > 0 ? weighted / Double(total) : 0
  }

  /// How many of `total` values lie at or below `percentile` (0 < p < 100), as
  /// `Histogram.valueAtPercentile` counts: the percentile's value is the first bucket whose
  /// running count reaches it.
  static func rank(of percentile: Double, among total: UInt64) -> UInt64 {
    let requested = Swift.min(Swift.max(percentile.nextDown, 0), 100)
    return Swift.max(1, UInt64((requested * Double(total) / 100).rounded(.up)))
  }

  /// The value at `percentile` (0-100), as `Histogram.valueAtPercentile` computes it.
  func value(at percentile: Double) -> UInt64 {
    guard total > 0, !values.isEmpty else { return 0 }
    if percentile == 0 { return min }
    if percentile >= 100 { return maxRecorded }
    let count = Self.rank(of: percentile, among: total)
    // The first bucket whose running count reaches `count`.
    var lo = 0
    var hi = cumulative.count - 1
    while lo < hi {
      let mid = (lo + hi) / 2
      if cumulative[mid] >= count { hi = mid } else { lo = mid + 1 }
    }
    return Swift.max(Swift.min(values[lo], maxRecorded), min)
  }
}
