// Model rule "device queue": each channel's physical device serves requests in FIFO
// order with `queue_depth` servers; a request occupies a server for its service time.
// Flush and barrier follow blkif (xen/include/public/io/blkif.h): every earlier request
// completes before the barrier starts, and no later request starts before it completes.

/// A FIFO queue served by a fixed number of servers, with blkif barrier ordering.
///
/// Requests must be offered in the order they reach the device (non-decreasing ready times).
public struct DeviceQueue {
  /// The time each server becomes free, in nanoseconds.
  private var serverFree: [UInt64]
  /// The start time of the last request (FIFO: no request starts before an earlier one).
  private var lastStart: UInt64 = 0
  /// The latest completion time of any request so far.
  private var lastDone: UInt64 = 0

  public init(servers: UInt64) {
    serverFree = [UInt64](repeating: 0, count: Int(max(servers, 1)))
  }

  /// Serves a request that reaches the device at `ready`.
  ///
  /// - Returns: when it starts and completes.
  @inline(__always)
  public mutating func serve(ready: UInt64, service: UInt64, ordering: Bool) -> (
    start: UInt64, done: UInt64
  ) {
    if ordering {
      let start = max(ready, max(lastDone, lastStart))
      let done = start.adding(saturating: service)
      for i in serverFree.indices { serverFree[i] = done }
      lastStart = start
      lastDone = done
      return (start, done)
    }
    var best = 0
    serverFree.withUnsafeBufferPointer { free in
      var earliest = free[0]
      for i in 1..<free.count where free[i] < earliest {
        earliest = free[i]
        best = i
      }
    }
    let start = max(ready, max(serverFree[best], lastStart))
    let done = start.adding(saturating: service)
    serverFree[best] = done
    lastStart = start
    if done > lastDone { lastDone = done }
    return (start, done)
  }
}
