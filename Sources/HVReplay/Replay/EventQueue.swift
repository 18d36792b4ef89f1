/// A binary min-heap of scheduled simulation steps, ordered by time and then by
/// the order they were scheduled in (so equal times run first-scheduled first).
///
/// Storage grows to the largest number of steps pending at once and is reused.
public struct EventQueue<Payload> {
  public struct Entry {
    public var time: UInt64
    var sequence: UInt64
    public var payload: Payload

    @inline(__always)
    func precedes(_ other: Entry) -> Bool {
      time < other.time || (time == other.time && sequence < other.sequence)
    }
  }

  private var entries: [Entry] = []
  private var nextSequence: UInt64 = 0
  /// The earliest step's time, kept beside the heap: it is asked for far more often than
  /// steps are scheduled or taken.
  private var earliest = UInt64.max

  public init() {}

  public var isEmpty: Bool {
    @inline(__always) get { size == 0 }
  }
  public var count: Int { size }
  private var size = 0

  /// The time of the earliest step, or `UInt64.max` when empty.
  @inline(__always)
  public var nextTime: UInt64 { earliest }

  /// Schedules `payload` at `time`.
  @inline(__always)
  public mutating func schedule(_ payload: Payload, at time: UInt64) {
    let entry = Entry(time: time, sequence: nextSequence, payload: payload)
    nextSequence &+= 1
    size += 1
    entries.append(entry)
    var i = entries.count - 1
    entries.withUnsafeMutableBufferPointer { heap in
      while i > 0 {
        let parent = (i - 1) >> 1
        guard entry.precedes(heap[parent]) else { break }
        heap[i] = heap[parent]
        i = parent
      }
      heap[i] = entry
    }
    if time < earliest { earliest = time }
  }

  /// Removes and returns the earliest step.
  @inline(__always)
  public mutating func pop() -> Entry {
    let top = entries[0]
    let last = entries.removeLast()
    size -= 1
    if entries.isEmpty {
      earliest = .max
      return top
    }
    entries.withUnsafeMutableBufferPointer { heap in
      let n = heap.count
      var i = 0
      while true {
        var child = 2 * i + 1
        if child >= n { break }
        if child + 1 < n && heap[child + 1].precedes(heap[child]) { child += 1 }
        guard heap[child].precedes(last) else { break }
        heap[i] = heap[child]
        i = child
      }
      heap[i] = last
      earliest = heap[0].time
    }
    return top
  }
}
