// The notification rule of virtio's split virtqueues with VIRTIO_RING_F_EVENT_IDX, as
// Linux's include/uapi/linux/virtio_ring.h states it (`vring_need_event`) and the virtio
// specification's "Used Buffer Notification Suppression" and its driver-side mirror
// require it. Indices are free-running u16 values; all arithmetic wraps at 2^16.

/// virtio split-ring index rules.
enum VirtioRingRules {
  /// `vring_need_event(event_idx, new_idx, old)`: after moving an index from `old` to
  /// `new`, whether the other side asked to be notified: `(u16)(new - event - 1) <
  /// (u16)(new - old)`, that is, whether `event` lies in `[old, new)`.
  @inline(__always)
  static func needEvent(event: UInt16, new: UInt16, old: UInt16) -> Bool {
    (new &- event &- 1) < (new &- old)
  }

  /// The same rule on the backend's free-running u32 indices, whose event index is Xen's
  /// (`virtio_ring.h`: Xen's `req_event` corresponds to virtio's `event_idx + 1`): the
  /// indices are taken modulo 2^16, as the virtqueue holds them.
  @inline(__always)
  static func needsNotify(old: UInt32, new: UInt32, event: UInt32) -> Bool {
    needEvent(
      event: UInt16(truncatingIfNeeded: event &- 1), new: UInt16(truncatingIfNeeded: new),
      old: UInt16(truncatingIfNeeded: old))
  }
}
