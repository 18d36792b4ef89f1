import Foundation
import Testing

@testable import HVReplay

@Suite("Synthetic traces")
struct SynthesisTests {
  @Test("xoshiro256** matches the reference implementation")
  func xoshiroReference() {
    // Reference outputs of Vigna's xoshiro256starstar.c for the state {1, 2, 3, 4}.
    var rng = Xoshiro256(state: (1, 2, 3, 4))
    #expect(rng.next() == 11520)
    #expect(rng.next() == 0)
    #expect(rng.next() == 1_509_978_240)
    #expect(rng.next() == 1_215_971_899_390_074_240)
  }

  func events(
    _ profile: SynthesisProfile, _ configure: (inout SynthesisParameters) -> Void = { _ in }
  )
    -> [TraceEvent]
  {
    var p = SynthesisParameters(profile: profile)
    configure(&p)
    return Array(SyntheticTrace(p))
  }

  @Test(
    "the same seed gives the same trace; another seed another", arguments: SynthesisProfile.allCases
  )
  func determinism(profile: SynthesisProfile) {
    let a = events(profile) { $0.events = 5000 }
    #expect(a.count == 5000)
    #expect(a == events(profile) { $0.events = 5000 })
    if profile != .tickEvasion {  // the attack's timing is fixed; it draws no random numbers
      let other = events(profile) {
        $0.events = 5000
        $0.seed = 2
      }
      #expect(a != other)
    }
    #expect(zip(a, a.dropFirst()).allSatisfy { $0.timeNs <= $1.timeNs })
    #expect(a.allSatisfy { $0.violation == nil && $0.vm >= 1 })
  }

  @Test("--duration stops before the given time")
  func duration() {
    let a = events(.oltp) { $0.durationNs = 500_000_000 }
    #expect(a.allSatisfy { $0.timeNs < 500_000_000 })
    // 2 VMs at 2000 requests/s for 0.5 s: about 2000 requests plus commits.
    let requests = a.filter { $0.op == .read || $0.op == .write }.count
    #expect(abs(requests - 2000) < 200)
  }

  @Test("oltp: Poisson arrivals at the set rate, 70/30 reads, 4-16 KiB, a commit per write group")
  func oltp() {
    let a = events(.oltp) {
      $0.vms = 1
      $0.events = 200_000
      $0.iops = 1000
      $0.walGroup = 5
      $0.commit = .barrier
    }
    let requests = a.filter { $0.op != .barrier }
    let reads = requests.filter { $0.op == .read }.count
    let writes = requests.filter { $0.op == .write }.count
    #expect(abs(Double(reads) / Double(requests.count) - 0.7) < 0.005)
    #expect(requests.allSatisfy { $0.bytes % 4096 == 0 && (4096...16384).contains($0.bytes) })
    #expect(requests.allSatisfy { $0.offset % 4096 == 0 && $0.offset + 16384 <= 64 << 30 })
    // A barrier follows every 5th write at the same instant.
    let barriers = a.enumerated().filter { $0.element.op == .barrier }
    #expect(barriers.count == writes / 5)
    for (index, barrier) in barriers {
      #expect(a[index - 1].op == .write && a[index - 1].timeNs == barrier.timeNs)
    }
    // Exponential interarrival times: mean 1 ms and coefficient of variation 1, within 1%.
    let gaps = zip(requests, requests.dropFirst()).map { Double($1.timeNs - $0.timeNs) }
    let mean = gaps.reduce(0, +) / Double(gaps.count)
    let sd = (gaps.map { ($0 - mean) * ($0 - mean) }.reduce(0, +) / Double(gaps.count)).squareRoot()
    #expect(abs(mean / 1e6 - 1) < 0.01)
    #expect(abs(sd / mean - 1) < 0.02)
  }

  @Test("stream: sequential 128 KiB-1 MiB reads at the set bandwidth")
  func stream() {
    let a = events(.stream) {
      $0.vms = 1
      $0.events = 10_000
      $0.megabytesPerSecond = 100
    }
    #expect(a.allSatisfy { $0.op == .read && $0.bytes % 131072 == 0 && $0.bytes <= 1 << 20 })
    for (x, y) in zip(a, a.dropFirst()) {
      #expect(y.offset == x.offset + UInt64(x.bytes))
      // Each read starts when the previous one's bytes have streamed at 100 MB/s.
      #expect(abs(Double(y.timeNs - x.timeNs) - Double(x.bytes) * 10) <= 1)
    }
  }

  @Test("net-rpc: every tx burst is answered by as many rx packets one round trip later")
  func netRPC() {
    let a = events(.netRPC) {
      $0.vms = 1
      $0.events = 50_000
      $0.rttMicroseconds = 80
    }
    #expect(a.allSatisfy { $0.kind == .net && $0.bytes >= 64 && $0.bytes <= 1500 })
    var txAt: [UInt64: Int] = [:]
    var rxAt: [UInt64: Int] = [:]
    for e in a {
      if e.op == .tx { txAt[e.timeNs, default: 0] += 1 } else { rxAt[e.timeNs, default: 0] += 1 }
    }
    let last = a.last!.timeNs
    for (t, n) in txAt where t + 80_000 < last {
      #expect(rxAt[t + 80_000] == n)
    }
    // Mean burst size 4 (geometric).
    let meanBurst = Double(txAt.values.reduce(0, +)) / Double(txAt.count)
    #expect(abs(meanBurst - 4) < 0.1)
  }

  @Test("cpu-contention: CPU-bound VMs always runnable, interactive VMs about 10% busy")
  func cpuContention() {
    let a = events(.cpuContention) {
      $0.vms = 2
      $0.vcpus = 1
      $0.durationNs = 100_000_000_000
    }
    let bound = a.filter { $0.vm == 1 }
    #expect(bound.allSatisfy { $0.serviceNs == 10_000_000 && $0.timeNs % 10_000_000 == 0 })
    #expect(bound.count == 10_000)
    let interactive = a.filter { $0.vm == 2 }
    let demand = Double(interactive.reduce(0) { $0 + $1.serviceNs }) / 100e9
    #expect(abs(demand - 0.1) < 0.01)
  }

  @Test("mixed: every VM has disk, net and cpu events")
  func mixed() {
    let a = events(.mixed) {
      $0.vms = 3
      $0.durationNs = 1_000_000_000
    }
    for vm in 1...3 {
      for kind in EventKind.allCases {
        #expect(a.contains { $0.vm == vm && $0.kind == kind })
      }
    }
  }

  @Test(
    "durations parse with units",
    arguments: [
      ("10s", UInt64(10_000_000_000)), ("250ms", 250_000_000), ("30us", 30_000), ("7ns", 7),
      ("2m", 120_000_000_000), ("1h", 3_600_000_000_000), ("1.5s", 1_500_000_000),
      ("3", 3_000_000_000), ("0.0000000005s", 1), ("0.0000000004s", 0), (".5ms", 500_000),
      ("2.s", 2_000_000_000), ("1e-3s", 1_000_000), ("1.23456789012345678901s", 1_234_567_890),
      // Beyond 2^53 ns, exactly (through Double these would round).
      ("9999999999s", 9_999_999_999_000_000_000), ("104249991374.5us", 104_249_991_374_500),
      ("4999999h", 17_999_996_400_000_000_000),
    ])
  func durations(text: String, ns: UInt64) {
    #expect(Duration.parseNanoseconds(text) == ns)
    #expect(Duration.parseNanoseconds(Duration.format(nanoseconds: ns)) == ns)
  }

  @Test("a duration that is malformed, negative or 1.8e19 ns or more is refused")
  func durationsRefused() {
    for text in [
      "", ".", "s", "-5s", "1.2.3s", "5000000h", "18446744073709551616ns", "abc", "5 xs",
    ] {
      #expect(Duration.parseNanoseconds(text) == nil, "\(text)")
    }
  }
}
