/// A first-in first-out queue in one array: appends at a moving tail, takes from a moving
/// head, and starts again at the array's start whenever it empties (cheaper than a ring
/// buffer for a queue drained as often as it is filled, as finished CPU work is).
struct FIFO<Element> {
  private var storage: [Element] = []
  private var head = 0
  private var tail = 0

  var isEmpty: Bool {
    @inline(__always) get { head == tail }
  }

  @inline(__always)
  mutating func append(_ element: Element) {
    if tail < storage.count {
      storage[tail] = element
    } else {
      storage.append(element)
    }
    tail += 1
  }

  @inline(__always)
  mutating func popFirst() -> Element? {
    guard head < tail else { return nil }
    let element = storage[head]
    head += 1
    if head == tail {
      head = 0
      tail = 0
    } else if head >= 4096 && head * 2 >= tail {
      // Never drained: move the rest to the front (amortised O(1) per element).
      for k in head..<tail { storage[k - head] = storage[k] }
      tail -= head
      head = 0
    }
    return element
  }
}
