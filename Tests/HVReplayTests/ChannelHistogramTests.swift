import Histogram
import Testing

@testable import HVReplay

@Suite("Per-channel histograms")
struct ChannelHistogramTests {
  /// HdrHistogram at two significant digits: the bucketing ChannelHistogram claims to have.
  static func twoDigits() -> Histogram<UInt64> {
    Histogram<UInt64>(
      lowestDiscernibleValue: 1, highestTrackableValue: ChannelMetrics.highestLatencyNs,
      numberOfSignificantValueDigits: .two)
  }

  static func values(_ n: Int, seed: UInt64) -> [UInt64] {
    var rng = Xoshiro256(seed: seed)
    return (0..<n).map { _ in
      // Spread over 1 ns to about an hour: a log-uniform exponent, then a mantissa.
      let exponent = rng.integer(in: 0...41)
      let mantissa = rng.integer(in: 0...1023)
      return min(
        (1 << exponent) + ((1 << exponent) * mantissa) >> 10, ChannelMetrics.highestLatencyNs)
    }
  }

  @Test("buckets are HdrHistogram's at two significant digits")
  func bucketsMatchHdrHistogram() {
    let reference = Self.twoDigits()
    for v in Self.values(20_000, seed: 3) + [0, 1, 255, 256, 257, 511, 512, 1 << 40] {
      #expect(
        ChannelHistogram.highestEquivalent(v) == reference.highestEquivalentForValue(v), "\(v)")
      let (lowest, size) = ChannelHistogram.range(of: ChannelHistogram.bucket(of: v))
      #expect(lowest == reference.lowestEquivalentForValue(v), "\(v)")
      #expect(size == reference.nextNonEquivalentForValue(v) - lowest, "\(v)")
    }
  }

  @Test("every three-digit bucket lies inside one two-digit bucket")
  func threeDigitBucketsNest() {
    let fine = ChannelMetrics.makeHistogram()
    for v in Self.values(20_000, seed: 5) {
      let low = fine.lowestEquivalentForValue(v)
      let high = fine.highestEquivalentForValue(v)
      #expect(ChannelHistogram.bucket(of: low) == ChannelHistogram.bucket(of: high), "\(v)")
    }
  }

  @Test(
    "percentiles, extremes and counts equal HdrHistogram's, sparse and dense",
    arguments: [1, 2, 5, 100, 129, 1_000, 50_000])
  func percentilesMatch(size: Int) {
    var mine = ChannelHistogram()
    var reference = Self.twoDigits()
    for v in Self.values(size, seed: UInt64(size)) {
      mine.record(v)
      reference.record(v)
    }
    let index = PercentileIndex(mine)
    let ps = ([0, 0.001, 1, 10, 50, 90, 99, 99.9, 99.99, 100] + ReplayReport.fioPercentiles)
      .sorted()
    // In one walk, several at once: the same values.
    let walked = mine.values(at: ps)
    for (k, p) in ps.enumerated() {
      #expect(index.value(at: p) == reference.valueAtPercentile(p), "size \(size) p\(p)")
      #expect(walked[k] == reference.valueAtPercentile(p), "size \(size) p\(p)")
    }
    #expect(mine.totalCount == reference.totalCount)
    #expect(mine.min == reference.min && mine.maxRecorded == reference.maxRecorded)
    #expect(mine.max == reference.max)
  }

  @Test("adding histograms equals recording every value into one")
  func addEqualsRecordingAll() {
    let a = Self.values(3_000, seed: 8)
    let b = Self.values(40, seed: 9).map { $0 / 3 }
    var left = ChannelHistogram()
    var right = ChannelHistogram()
    var both = ChannelHistogram()
    for v in a {
      left.record(v)
      both.record(v)
    }
    for v in b {
      right.record(v, count: 3)
      both.record(v, count: 3)
    }
    var sparseFirst = right
    sparseFirst.add(left)
    // Dense into dense, the other's range reaching past this one's on both sides.
    var wide = ChannelHistogram()
    for v in Self.values(2_000, seed: 10) where v > 1_000 && v < 1 << 30 { wide.record(v) }
    var denseBoth = both
    denseBoth.add(wide)
    var denseRef = wide
    for bucket in both.nonEmptyBuckets() { denseRef.record(bucket.value, count: bucket.count) }
    #expect(denseBoth.nonEmptyBuckets().map(\.count) == denseRef.nonEmptyBuckets().map(\.count))
    #expect(denseBoth.nonEmptyBuckets().map(\.value) == denseRef.nonEmptyBuckets().map(\.value))
    #expect(denseBoth.totalCount == denseRef.totalCount)
    var narrow = wide
    narrow.add(both)
    #expect(narrow.nonEmptyBuckets().map(\.count) == denseRef.nonEmptyBuckets().map(\.count))
    left.add(right)
    #expect(left.nonEmptyBuckets().map(\.count) == both.nonEmptyBuckets().map(\.count))
    #expect(sparseFirst.nonEmptyBuckets().map(\.value) == both.nonEmptyBuckets().map(\.value))
    #expect(left.totalCount == both.totalCount && left.min == both.min)
    #expect(sparseFirst.maxRecorded == both.maxRecorded)
  }

  @Test(
    "two sparse histograms add to the very histogram recording every value gives, below and across the sparse limit",
    arguments: [(20, 30), (60, 60), (100, 90)])
  func sparseAdd(sizes: (Int, Int)) {
    var a = ChannelHistogram()
    var b = ChannelHistogram()
    var both = ChannelHistogram()
    // Few distinct buckets each (values on a coarse grid), overlapping in part.
    for k in 0..<sizes.0 {
      let v = UInt64(1_000 + k * 977)
      a.record(v, count: 2)
      both.record(v, count: 2)
    }
    for k in 0..<sizes.1 {
      let v = UInt64(20_000 + k * 1_301)
      b.record(v)
      both.record(v)
    }
    var sum = a
    sum.add(b)
    // The same buckets, counts, extremes and storage form (sparse up to the limit, dense
    // past it) as recording every value into one.
    #expect(sum == both)
    #expect(
      (both.nonEmptyBuckets().count > ChannelHistogram.sparseLimit) == (sizes.0 + sizes.1 > 128))
    var reversed = b
    reversed.add(a)
    #expect(reversed.nonEmptyBuckets().map(\.count) == both.nonEmptyBuckets().map(\.count))
  }

  @Test("a channel with a few distinct latencies holds a few bytes, and never more than 36 KiB")
  func storageIsBounded() {
    var few = ChannelHistogram()
    for v in [50_000, 51_000, 50_000, 2_000_000] as [UInt64] { few.record(v) }
    #expect(few.storageBytes <= 3 * 10 + 64)  // three buckets, with the arrays' spare room
    var all = ChannelHistogram()
    var v: UInt64 = 1
    while v <= ChannelMetrics.highestLatencyNs {
      all.record(v)
      v += max(1, v / 300)
    }
    all.record(ChannelMetrics.highestLatencyNs)
    #expect(all.storageBytes <= 4_608 * 8 * 2)  // one count per bucket, with growth room
    #expect(all.totalCount > 4_000)
  }
}
