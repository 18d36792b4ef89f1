import Testing

@testable import HVReplay

@Suite("Event queue and FIFO")
struct QueueTests {
  @Test("the event queue gives steps in time order, first scheduled first at one time")
  func eventQueueOrder() {
    var queue = EventQueue<Int>()
    #expect(queue.isEmpty && queue.nextTime == .max)
    var rng = Xoshiro256(seed: 7)
    var expected: [(UInt64, Int)] = []
    var taken: [(UInt64, Int)] = []
    for k in 0..<5_000 {
      let t = rng.integer(in: 0...300) as UInt64
      queue.schedule(k, at: t)
      expected.append((t, k))
      // Take some as we go: the earliest left is always next.
      if k % 3 == 0 {
        let next = queue.nextTime
        let e = queue.pop()
        #expect(e.time == next)
        taken.append((e.time, e.payload))
      }
    }
    while !queue.isEmpty {
      let next = queue.nextTime
      let e = queue.pop()
      #expect(e.time == next)
      taken.append((e.time, e.payload))
    }
    #expect(queue.nextTime == .max && queue.count == 0)
    #expect(taken.count == expected.count)
    // Each pop took the earliest of what was scheduled by then, ties in scheduling order.
    var pending: [(UInt64, Int)] = []
    var j = 0
    for k in 0..<5_000 {
      pending.append(expected[k])
      if k % 3 == 0 {
        let m = pending.indices.min {
          (pending[$0].0, pending[$0].1) < (pending[$1].0, pending[$1].1)
        }!
        #expect(taken[j] == pending[m])
        pending.remove(at: m)
        j += 1
      }
    }
    pending.sort { ($0.0, $0.1) < ($1.0, $1.1) }
    #expect(Array(taken[j...]).elementsEqual(pending) { $0 == $1 })
  }

  @Test("a FIFO gives back what it was given, in order, drained or not")
  func fifoOrder() {
    var fifo = FIFO<Int>()
    #expect(fifo.isEmpty && fifo.popFirst() == nil)
    var next = 0
    var expected = 0
    // Never drained for long stretches (the front is compacted), then drained.
    for round in 0..<3 {
      for _ in 0..<20_000 {
        fifo.append(next)
        next += 1
        if next % 2 == 0 {
          #expect(fifo.popFirst() == expected)
          expected += 1
        }
      }
      if round == 1 {
        while let x = fifo.popFirst() {
          #expect(x == expected)
          expected += 1
        }
        #expect(fifo.isEmpty)
      }
    }
    while let x = fifo.popFirst() {
      #expect(x == expected)
      expected += 1
    }
    #expect(expected == next)
  }
}
