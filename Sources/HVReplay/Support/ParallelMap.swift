import Dispatch

/// `count` results of `transform`, computed side by side on the machine's cores and
/// returned in index order (so what is made from them is the same as made one by one).
func parallelMap<T: Sendable>(_ count: Int, _ transform: @Sendable (Int) -> T) -> [T] {
  guard count > 1 else { return (0..<count).map(transform) }
  var results = [T?](repeating: nil, count: count)
  results.withUnsafeMutableBufferPointer { buffer in
    // Each index is written by one iteration only.
    nonisolated(unsafe) let slots = buffer
    DispatchQueue.concurrentPerform(iterations: count) { i in slots[i] = transform(i) }
  }
  return results.map { $0! }
}
