import Testing

@testable import HVReplay

@Suite("Device queue and Xen ring rules")
struct DeviceAndRingRuleTests {
  @Test("the notify rule as coded agrees with ring.h on random indices, u32 wrap-around included")
  func notifyRule() {
    var rng = Xoshiro256(seed: 42)
    for i in 0..<200_000 {
      // Around 0, around the wrap, and anywhere.
      let base: UInt32 =
        i % 3 == 0
        ? UInt32.max &- UInt32(rng.integer(in: 0...64))
        : i % 3 == 1 ? UInt32(rng.integer(in: 0...64)) : UInt32(truncatingIfNeeded: rng.next())
      let pushed = UInt32(rng.integer(in: 0...40))
      let new = base &+ pushed
      let event = base &+ UInt32(truncatingIfNeeded: Int64(rng.integer(in: 0...80)) - 20)
      // ring.h: notify exactly when the consumer's event index lies in (old, new].
      var expected = false
      var k: UInt32 = 1
      while k <= pushed {
        if base &+ k == event { expected = true }
        k += 1
      }
      #expect(XenRingRules.needsNotify(old: base, new: new, event: event) == expected)
    }
  }

  @Test("after the final check arms cons + 1, the next single push always notifies")
  func armedEventNotifies() {
    for cons in [0, 1, 31, 32, 1000, UInt32.max - 1, UInt32.max] as [UInt32] {
      let armed = XenRingRules.armedEvent(consumer: cons)
      #expect(XenRingRules.needsNotify(old: cons, new: cons &+ 1, event: armed))
      #expect(!XenRingRules.needsNotify(old: cons &+ 1, new: cons &+ 2, event: armed))
    }
    #expect(XenRingRules.needsNotify(old: 0, new: 1, event: XenRingRules.initialEvent))
  }

  @Test("a barrier never overtakes an earlier request and is never overtaken by a later one")
  func barrierOrdering() {
    var rng = Xoshiro256(seed: 3)
    for depth in [1, 4, 32] as [UInt64] {
      var queue = DeviceQueue(servers: depth)
      var ready: UInt64 = 0
      var done: [(start: UInt64, done: UInt64, barrier: Bool)] = []
      for _ in 0..<5000 {
        ready += rng.integer(in: 0...20_000)
        let barrier = rng.chance(0.05)
        let served = queue.serve(
          ready: ready, service: rng.integer(in: 1_000...100_000), ordering: barrier)
        #expect(served.start >= ready)
        done.append((served.start, served.done, barrier))
      }
      for (i, b) in done.enumerated() where b.barrier {
        #expect(done[..<i].allSatisfy { $0.done <= b.start }, "earlier request after barrier")
        #expect(done[(i + 1)...].allSatisfy { $0.start >= b.done }, "later request before barrier")
      }
      // FIFO: starts never go backwards; never more than `depth` in service at once.
      #expect(zip(done, done.dropFirst()).allSatisfy { $0.start <= $1.start })
      for r in done {
        let busy = done.filter { $0.start <= r.start && $0.done > r.start }.count
        #expect(busy <= Int(depth))
      }
    }
  }

  @Test("in a replay, writes after a barrier wait for it, and it waits for writes before it")
  func barrierInReplay() throws {
    var model = zeroCostModel()
    model.devices.disk.queueDepth = 8
    // An emulated controller that holds every command (AHCI), so the device's rule is the
    // only one ordering them.
    model.full.disk.emulatedQueueDepth = 32
    let events = [
      TraceEvent(timeNs: 0, vm: 1, op: .write, bytes: 4096, serviceNs: 100_000),
      TraceEvent(timeNs: 0, vm: 1, op: .write, bytes: 4096, serviceNs: 10_000),
      TraceEvent(timeNs: 1_000, vm: 1, op: .barrier, serviceNs: 5_000),
      TraceEvent(timeNs: 2_000, vm: 1, op: .write, bytes: 4096, serviceNs: 10_000),
    ]
    for name in ["full", "para"] {
      let result = try replay(events, model: model)
      let t = result.total(name)
      // Barrier starts when the 100 us write ends: done at 105 us, latency 104 us.
      #expect(result.latencies(name, .barrier) == [BackendModelTests.bucket(104_000)], "\(name)")
      // The last write starts at 105 us: latency 115 - 2 = 113 us.
      #expect(t.latencySumNs == 100_000 + 10_000 + 104_000 + 113_000, "\(name)")
    }
  }
}
