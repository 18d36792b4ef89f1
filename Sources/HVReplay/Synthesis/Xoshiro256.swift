#if canImport(Glibc)
  import Glibc
#elseif canImport(Musl)
  import Musl
#elseif canImport(Darwin)
  import Darwin
#endif

/// xoshiro256** (Blackman and Vigna, 2018), seeded through SplitMix64.
///
/// hvreplay's own generator, so that a seed gives the same trace on every
/// platform and Swift version; the system generator is never used.
public struct Xoshiro256: RandomNumberGenerator, Sendable {
  private var s0: UInt64
  private var s1: UInt64
  private var s2: UInt64
  private var s3: UInt64

  /// Seeds the state with four outputs of SplitMix64 started at `seed`.
  public init(seed: UInt64) {
    var x = seed
    func splitMix() -> UInt64 {
      x &+= 0x9E37_79B9_7F4A_7C15
      var z = x
      z = (z ^ (z >> 30)) &* 0xBF58_476D_1CE4_E5B9
      z = (z ^ (z >> 27)) &* 0x94D0_49BB_1331_11EB
      return z ^ (z >> 31)
    }
    s0 = splitMix()
    s1 = splitMix()
    s2 = splitMix()
    s3 = splitMix()
  }

  /// A generator with the given raw state (for checking against reference outputs).
  init(state: (UInt64, UInt64, UInt64, UInt64)) {
    (s0, s1, s2, s3) = state
  }

  /// A generator for sub-stream `index`, independent of the others for practical purposes.
  public init(seed: UInt64, stream index: UInt64) {
    self.init(seed: seed ^ (index &* 0xD1B5_4A32_D192_ED03) &+ index)
  }

  public mutating func next() -> UInt64 {
    let result = ((s1 &* 5) << 7 | (s1 &* 5) >> 57) &* 9
    let t = s1 << 17
    s2 ^= s0
    s3 ^= s1
    s1 ^= s2
    s0 ^= s3
    s2 ^= t
    s3 = s3 << 45 | s3 >> 19
    return result
  }

  /// A uniform double in [0, 1), from the top 53 bits.
  public mutating func unit() -> Double {
    Double(next() >> 11) * 0x1.0p-53
  }

  /// A uniform integer in `range`, without modulo bias (Lemire's method).
  public mutating func integer(in range: ClosedRange<UInt64>) -> UInt64 {
    let span = range.upperBound &- range.lowerBound &+ 1
    if span == 0 { return next() }
    var m = next().multipliedFullWidth(by: span)
    if m.low < span {
      let threshold = (0 &- span) % span
      while m.low < threshold { m = next().multipliedFullWidth(by: span) }
    }
    return range.lowerBound &+ m.high
  }

  /// An exponentially distributed value with the given mean.
  public mutating func exponential(mean: Double) -> Double {
    -mean * log(1 - unit())
  }

  /// `true` with probability `p`.
  public mutating func chance(_ p: Double) -> Bool { unit() < p }
}
