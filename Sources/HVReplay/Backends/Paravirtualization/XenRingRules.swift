// The notification rules of Xen's shared I/O rings, as xen/include/public/io/ring.h
// states them (RING_PUSH_REQUESTS_AND_CHECK_NOTIFY, RING_PUSH_RESPONSES_AND_CHECK_NOTIFY,
// RING_FINAL_CHECK_FOR_REQUESTS, RING_FINAL_CHECK_FOR_RESPONSES). Indices are free-running
// u32 values; all arithmetic wraps.

/// Xen ring index rules.
enum XenRingRules {
  /// `RING_PUSH_*_AND_CHECK_NOTIFY`: after moving the shared producer index from `old`
  /// to `new`, whether the other side asked to be notified: `(u32)(new - event) < (u32)(new - old)`,
  /// that is, whether `event` lies in `(old, new]`.
  @inline(__always)
  static func needsNotify(old: UInt32, new: UInt32, event: UInt32) -> Bool {
    (new &- event) < (new &- old)
  }

  /// `RING_FINAL_CHECK_FOR_*`: the event index a consumer arms before sleeping, so
  /// that the next message notifies it: `cons + 1`.
  @inline(__always)
  static func armedEvent(consumer: UInt32) -> UInt32 { consumer &+ 1 }

  /// The event index `SHARED_RING_INIT` sets: 1, so the first message always notifies.
  static let initialEvent: UInt32 = 1

  /// blkif.h: segments (4 KiB grants) a request carries in its slot
  /// (`BLKIF_MAX_SEGMENTS_PER_REQUEST`).
  static let directSegments: UInt64 = 11

  /// Segment descriptors per indirect page: 4,096 / 8-byte `blkif_request_segment`.
  static let indirectPerPage: UInt64 = 512
}
