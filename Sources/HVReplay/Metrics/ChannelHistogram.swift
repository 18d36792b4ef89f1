// Model rule "per-channel precision" (docs/MODEL.md): totals keep HdrHistogram's three
// significant digits; each channel and VM keeps HdrHistogram's bucketing at two significant
// digits (256 sub-buckets per power of two, every value within 1/128 of its bucket's
// lowest value), stored sparsely, so memory grows with the distinct latencies a channel
// saw, not with the range a histogram could hold (Tene, HdrHistogram; docs/REFERENCES.md).

/// A latency histogram small enough to keep one per channel, VM and op.
///
/// Buckets are HdrHistogram's (lowest discernible value 1) with 256 sub-buckets per power of
/// two: a bucket holds values within 1/128 (0.78%) of each other, and every bucket of a
/// three-digit HdrHistogram lies inside one bucket here, so such a histogram's values record
/// exactly into this one. Percentiles are answered the way ``PercentileIndex`` answers them
/// for HdrHistogram: the highest value equivalent to the bucket, clamped to the smallest and
/// largest values recorded, which are kept exactly.
///
/// Storage starts as a sorted list of the non-empty buckets (10 bytes each) and becomes one
/// count per bucket between the lowest and highest non-empty ones once more than
/// ``sparseLimit`` buckets are in use: at most 4,608 counts (36 KiB) for values up to an hour.
public struct ChannelHistogram: Sendable, Equatable {
  /// Bits of the sub-bucket index: 256 sub-buckets, HdrHistogram's choice for two digits.
  static let subBucketBits = 8
  static let subBucketCount = 1 << subBucketBits
  static let subBucketHalfCount = subBucketCount >> 1
  /// Non-empty buckets kept as a sorted list before the storage becomes dense.
  static let sparseLimit = 128

  /// Values recorded.
  public private(set) var totalCount: UInt64 = 0
  /// The smallest and largest values recorded (0 when empty).
  public private(set) var min: UInt64 = 0
  public private(set) var maxRecorded: UInt64 = 0
  /// Sparse: the non-empty bucket indices, ascending. Dense: empty.
  private var indices: [UInt16] = []
  /// Sparse: the counts of `indices`. Dense: the count of bucket `base + i` at `i`.
  private var counts: [UInt64] = []
  /// The bucket of `counts[0]` when dense; `nil` while sparse.
  private var base: Int?

  public init() {}

  /// The bucket holding `value`.
  @inline(__always)
  static func bucket(of value: UInt64) -> Int {
    if value < UInt64(subBucketCount) { return Int(value) }
    let shift = (63 - value.leadingZeroBitCount) - (subBucketBits - 1)
    return (shift + 1) * subBucketHalfCount + Int(value >> UInt64(shift)) - subBucketHalfCount
  }

  /// The lowest value of bucket `index`, and the number of values it spans.
  @inline(__always)
  static func range(of index: Int) -> (lowest: UInt64, size: UInt64) {
    if index < subBucketCount { return (UInt64(index), 1) }
    let shift = index / subBucketHalfCount - 1
    let sub = UInt64(index - (shift + 1) * subBucketHalfCount + subBucketHalfCount)
    return (sub << UInt64(shift), 1 << UInt64(shift))
  }

  /// The highest value in `value`'s bucket.
  static func highestEquivalent(_ value: UInt64) -> UInt64 {
    let (lowest, size) = range(of: bucket(of: value))
    return lowest.adding(saturating: size - 1)
  }

  /// The highest value equivalent to the largest recorded (HdrHistogram's `max`).
  public var max: UInt64 { totalCount > 0 ? Self.highestEquivalent(maxRecorded) : 0 }

  /// Records `value` `count` times.
  ///
  /// - Complexity: O(1) once dense; O(log k) for a known bucket and O(k) for a new one
  ///   while sparse, with k at most ``sparseLimit``.
  @inline(__always)
  public mutating func record(_ value: UInt64, count: UInt64 = 1) {
    guard count > 0 else { return }
    noteExtremes(value, value)
    addToBucket(Self.bucket(of: value), count)
  }

  /// Adds every value of `other`.
  public mutating func add(_ other: ChannelHistogram) {
    guard other.totalCount > 0 else { return }
    noteExtremes(other.min, other.maxRecorded)
    if let base, let otherBase = other.base {
      // Both dense: widen this one's range to hold the other's, then add count by count.
      let last = otherBase + other.counts.count - 1
      if otherBase < base { growDense(toInclude: otherBase, base: base) }
      if last >= self.base! + counts.count { growDense(toInclude: last, base: self.base!) }
      let offset = otherBase - self.base!
      counts.withUnsafeMutableBufferPointer { mine in
        other.counts.withUnsafeBufferPointer { theirs in
          for i in theirs.indices where theirs[i] > 0 {
            mine[offset + i] = mine[offset + i].adding(saturating: theirs[i])
          }
        }
      }
      totalCount = totalCount.adding(saturating: other.totalCount)
      return
    }
    if base == nil && other.base == nil {
      mergeSparse(other)
      return
    }
    other.forEachBucket { index, count in addToBucket(index, count) }
  }

  /// Both sparse: one merge of the two sorted lists (the storage then is what recording
  /// the other's buckets one by one would leave: sparse up to ``sparseLimit`` buckets,
  /// else dense from the lowest to the highest).
  private mutating func mergeSparse(_ other: ChannelHistogram) {
    var mergedIndices: [UInt16] = []
    var mergedCounts: [UInt64] = []
    mergedIndices.reserveCapacity(indices.count + other.indices.count)
    mergedCounts.reserveCapacity(indices.count + other.indices.count)
    var i = 0
    var j = 0
    while i < indices.count || j < other.indices.count {
      if j == other.indices.count || (i < indices.count && indices[i] < other.indices[j]) {
        mergedIndices.append(indices[i])
        mergedCounts.append(counts[i])
        i += 1
      } else if i == indices.count || other.indices[j] < indices[i] {
        mergedIndices.append(other.indices[j])
        mergedCounts.append(other.counts[j])
        j += 1
      } else {
        mergedIndices.append(indices[i])
        mergedCounts.append(counts[i].adding(saturating: other.counts[j]))
        i += 1
        j += 1
      }
    }
    totalCount = totalCount.adding(saturating: other.totalCount)
    indices = mergedIndices
    counts = mergedCounts
    if indices.count > Self.sparseLimit { makeDense() }
  }

  /// The values at `percentiles` (0-100, ascending), each as ``PercentileIndex`` answers
  /// it, in one walk over the buckets.
  func values(at percentiles: [Double]) -> [UInt64] {
    guard totalCount > 0 else { return percentiles.map { _ in 0 } }
    var out = [UInt64](repeating: 0, count: percentiles.count)
    var wanted: [(k: Int, count: UInt64)] = []
    for (k, p) in percentiles.enumerated() {
      if p == 0 {
        out[k] = min
      } else if p >= 100 {
        out[k] = maxRecorded
      } else {
        wanted.append((k, PercentileIndex.rank(of: p, among: totalCount)))
      }
    }
    var next = 0
    var running: UInt64 = 0
    var lastValue: UInt64 = 0
    forEachBucket { index, count in
      guard next < wanted.count else { return }
      running = running.adding(saturating: count)
      let (lowest, size) = Self.range(of: index)
      lastValue = lowest.adding(saturating: size - 1)
      while next < wanted.count && running >= wanted[next].count {
        out[wanted[next].k] = Swift.max(Swift.min(lastValue, maxRecorded), min)
        next += 1
      }
    }
    // Counts short of the total (saturated sums): the last bucket, as the index answers.
    while next < wanted.count {
      out[wanted[next].k] = Swift.max(Swift.min(lastValue, maxRecorded), min)
      next += 1
    }
    return out
  }

  @inline(__always)
  private mutating func noteExtremes(_ low: UInt64, _ high: UInt64) {
    if totalCount == 0 {
      min = low
      maxRecorded = high
    } else {
      if low < min { min = low }
      if high > maxRecorded { maxRecorded = high }
    }
  }

  @inline(__always)
  private mutating func addToBucket(_ index: Int, _ count: UInt64) {
    totalCount = totalCount.adding(saturating: count)
    guard let base else {
      recordSparse(UInt16(index), count)
      return
    }
    let i = index - base
    if i >= 0 && i < counts.count {
      counts[i] = counts[i].adding(saturating: count)
    } else {
      growDense(toInclude: index, base: base)
      counts[index - self.base!] = count
    }
  }

  private mutating func recordSparse(_ index: UInt16, _ count: UInt64) {
    var lo = 0
    var hi = indices.count
    while lo < hi {
      let mid = (lo + hi) >> 1
      if indices[mid] < index { lo = mid + 1 } else { hi = mid }
    }
    if lo < indices.count && indices[lo] == index {
      counts[lo] = counts[lo].adding(saturating: count)
      return
    }
    indices.insert(index, at: lo)
    counts.insert(count, at: lo)
    if indices.count > Self.sparseLimit { makeDense() }
  }

  private mutating func makeDense() {
    let first = Int(indices[0])
    var dense = [UInt64](repeating: 0, count: Int(indices[indices.count - 1]) - first + 1)
    for (index, count) in zip(indices, counts) { dense[Int(index) - first] = count }
    indices = []
    counts = dense
    base = first
  }

  private mutating func growDense(toInclude index: Int, base: Int) {
    if index < base {
      counts.insert(contentsOf: repeatElement(0, count: base - index), at: 0)
      self.base = index
    } else {
      counts.append(contentsOf: repeatElement(0, count: index - base - counts.count + 1))
    }
  }

  /// Calls `body` with every non-empty bucket's index and count, in increasing order.
  func forEachBucket(_ body: (Int, UInt64) -> Void) {
    if let base {
      for (i, count) in counts.enumerated() where count > 0 { body(base + i, count) }
    } else {
      for (index, count) in zip(indices, counts) { body(Int(index), count) }
    }
  }

  /// The non-empty buckets in increasing order, as (the bucket's highest equivalent value,
  /// count, the bucket's median equivalent value), like `Histogram.nonEmptyBuckets()`.
  func nonEmptyBuckets() -> [(value: UInt64, count: UInt64, median: UInt64)] {
    var result: [(value: UInt64, count: UInt64, median: UInt64)] = []
    forEachBucket { index, count in
      let (lowest, size) = Self.range(of: index)
      result.append((lowest.adding(saturating: size - 1), count, lowest + size >> 1))
    }
    return result
  }

  /// Bytes of storage this histogram holds (for the memory figures in docs/SCALING.md).
  var storageBytes: Int { indices.capacity * 2 + counts.capacity * 8 }
}
