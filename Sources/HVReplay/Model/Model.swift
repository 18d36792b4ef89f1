// The cost model and rules every backend reads. Each default below is derived in
// docs/MODEL.md from a figure in docs/REFERENCES.md; cycle counts are converted
// to nanoseconds at the 3.0 GHz clock of the Skylake-class parts they were measured on.

/// The effective model of a replay: costs, backend rules and device parameters.
///
/// `hvreplay model` prints it as JSON; `--model FILE` and `--set key.path=value`
/// change it. ``Model/keys`` lists every key with its unit and meaning.
public struct Model: Sendable, Equatable {
  /// Costs of the primitive operations, in nanoseconds.
  public struct Costs: Sendable, Equatable {
    /// One trapped register access: VM exit, emulation in the device model, VM entry.
    /// (1,100 + 13,000) cycles: exit round trip plus a userspace device model.
    public var trapNs: UInt64 = 4_700
    /// One hypercall / event-channel send from the guest: 1,545 cycles (VMCALL exit).
    public var hypercallNs: UInt64 = 515
    /// Injecting one virtual interrupt (with its EOI): 1,510 cycles (Dall et al.).
    public var irqInjectNs: UInt64 = 503
    /// Copying 1 KiB between guest and hypervisor buffers: 11 GB/s large copies.
    public var copyNsPerKiB: UInt64 = 93
    /// Mapping and later unmapping one 4 KiB page grant: netback mapped-grant TX, 3.6 Mpps.
    public var grantMapNs: UInt64 = 278
    /// Writing or reading one ring slot (112 bytes at cache-hot memcpy speed).
    public var ringSlotNs: UInt64 = 2
    /// From a notification to the idle backend starting to work: a virtual IPI, 3,700 cycles.
    public var backendWakeupNs: UInt64 = 1_233
    /// netback's grant copy of one received packet into a guest buffer: 1.02 Mpps per core
    /// (netback grant-copy receive, Martins 2017), instead of a memcpy.
    public var grantCopyRxNs: UInt64 = 980
  }

  /// An emulated device of full virtualization (docs/MODEL.md, "full virtualization").
  public struct TrapCounts: Sendable, Equatable {
    /// Trapped register accesses to submit one request.
    public var submitTraps: UInt64
    /// Trapped register accesses in the guest's completion handler besides the EOI, which
    /// ``Costs/irqInjectNs`` prices (the status read).
    public var completionTraps: UInt64
    /// Whether the emulation copies the payload between guest memory and its own buffers.
    public var copy: Bool
    /// Commands the emulated controller holds at once (its own queue, before the device's).
    public var emulatedQueueDepth: UInt64
    /// The shortest time between two of its interrupts (interrupt throttling); completions
    /// in between share the next interrupt. 0: one interrupt per completion.
    public var irqIntervalNs: UInt64 = 0
  }

  /// Full virtualization (trap and emulate).
  public struct Full: Sendable, Equatable {
    /// An emulated ATA (IDE) controller with bus-master DMA: 6 taskfile writes and 2
    /// bus-master writes; one status read on completion; one command at a time; its DMA
    /// maps guest memory instead of copying (QEMU dma-helpers).
    public var disk = TrapCounts(
      submitTraps: 8, completionTraps: 1, copy: false, emulatedQueueDepth: 1)
    /// An emulated e1000 NIC: one tail-register write per packet sent, one interrupt-cause
    /// read per interrupt; packets copied to and from guest memory; a 256-descriptor ring;
    /// Linux's default interrupt throttling (dynamic conservative, 20,000 interrupts/s for
    /// low-latency traffic), which QEMU's e1000 honours.
    public var net = TrapCounts(
      submitTraps: 1, completionTraps: 1, copy: true, emulatedQueueDepth: 256,
      irqIntervalNs: 50_000)
    /// CPU time of the device model (QEMU's emulator thread) per completion besides copies.
    public var deviceModelNs: UInt64 = 0
    /// The device model thread's weight on the host's scheduler.
    public var deviceModelWeight: UInt64 = 256
  }

  /// The driver domain (Xen's dom0) that runs paravirtualization's backends.
  public struct Backend: Sendable, Equatable {
    public var vcpus: UInt64 = 1
    public var weight: UInt64 = 256
    /// At most this percentage of one pCPU; 0 means no cap.
    public var capPercent: UInt64 = 0
  }

  /// Where guest-side I/O work runs.
  public struct Guest: Sendable, Equatable {
    /// The vCPU that takes a channel's interrupts; `nil`: the vCPU that issued the request.
    public var irqVCPU: UInt16?
  }

  /// Paravirtualization (Xen split drivers over shared rings).
  public struct Para: Sendable, Equatable {
    /// Slots in each disk ring (Xen blkif, one 4 KiB page: 32).
    public var ringEntries: UInt64 = 32
    /// Slots in each network ring, tx and rx (Xen netif, one page: 256).
    public var netRingEntries: UInt64 = 256
    /// `true`: Xen's `req_event` / `rsp_event` rules; `false`: every push notifies.
    public var notifySuppression = true
    /// Received packets netfront's NAPI poll reads before it reposts buffers and polls
    /// again (NAPI_POLL_WEIGHT).
    public var netNAPIBudget: UInt64 = 64
    /// Pages of each disk ring (blkif's multi-page rings, `ring-page-order`): the ring has
    /// `ringEntries` slots per page.
    public var ringPages: UInt64 = 1
    /// `true`: blkif's persistent grants: the frontend copies payloads into and out of pages
    /// granted once, and the backend maps nothing per request.
    public var persistentGrants = false
  }

  /// virtio's split virtqueues (KVM with QEMU's userspace backend, and vhost).
  public struct Virtio: Sendable, Equatable {
    /// Entries of each virtio-blk queue (QEMU's `queue-size`: 256).
    public var queueSize: UInt64 = 256
    /// Entries of each virtio-net queue, tx and rx (QEMU's `tx_queue_size`/`rx_queue_size`: 256).
    public var netQueueSize: UInt64 = 256
    /// The guest's kick: a notify-register write that exits and is caught in the kernel by
    /// ioeventfd, in ns (the VM exit round trip).
    public var kickNs: UInt64 = 367
    /// `true`: `VIRTIO_RING_F_EVENT_IDX` (`used_event` / `avail_event`); `false`: every
    /// publish kicks and every used push interrupts.
    public var eventIdx = true
  }

  /// vhost's in-kernel workers.
  public struct Vhost: Sendable, Equatable {
    /// How long a worker busy-polls its queue before sleeping, in ns
    /// (`VHOST_SET_VRING_BUSYLOOP_TIMEOUT`, QEMU's `poll-us`); 0: no polling.
    public var pollNs: UInt64 = 0
  }

  /// Device assignment (VFIO, SR-IOV).
  public struct Passthrough: Sendable, Equatable {
    /// CPU per request for a per-request IOMMU mapping by a guest vIOMMU, map and unmap
    /// each (an exit each), in ns; 0: VFIO's static mapping of the guest's memory.
    public var iommuMapNs: UInt64 = 0
    /// `true`: VT-d posted interrupts reach the running vCPU with no exit; `false`: each
    /// interrupt is injected and its EOI exits.
    public var postedInterrupts = true
  }

  /// A physical device class.
  public struct Device: Sendable, Equatable {
    /// Requests the device serves at once, in FIFO order.
    public var queueDepth: UInt64
    /// The fixed part of the service time assumed for events whose `service_ns` is 0, in
    /// nanoseconds.
    public var baseServiceNs: UInt64
    /// The transfer rate of the assumed service time, in bytes per second; 0: no transfer
    /// term (every request takes ``baseServiceNs``).
    public var bandwidthBytesPerS: UInt64

    /// The service time assumed for a request of `bytes` payload bytes, in nanoseconds:
    /// ``baseServiceNs`` + `bytes` / ``bandwidthBytesPerS`` (rounded to nearest).
    @inlinable
    public func assumedServiceNs(bytes: UInt32) -> UInt64 {
      guard bandwidthBytesPerS > 0 else { return baseServiceNs }
      // bytes x 10^9 < 2^32 x 10^9 < 2^63: no overflow.
      let transfer = (UInt64(bytes) &* 1_000_000_000 &+ bandwidthBytesPerS / 2) / bandwidthBytesPerS
      let (sum, overflow) = baseServiceNs.addingReportingOverflow(transfer)
      return overflow ? .max : sum
    }
  }

  /// The physical devices behind the guests' virtual devices.
  public struct Devices: Sendable, Equatable {
    /// An NVMe-class disk: 32 commands at once (NCQ depth); 54.86 us plus the transfer over a
    /// PCIe 3.0 x4 link (3,938,461,538 bytes/s), so a 4 KiB request takes 55.9 us, btt's D2C
    /// mean of the 4 KiB-read fixture.
    public var disk = Device(
      queueDepth: 32, baseServiceNs: 54_860, bandwidthBytesPerS: 3_938_461_538)
    /// A 10 Gb/s NIC: one packet at a time, no fixed part, 1.25 GB/s on the wire (1.2 us per
    /// 1,500-byte packet).
    public var net = Device(queueDepth: 1, baseServiceNs: 0, bandwidthBytesPerS: 1_250_000_000)
  }

  /// How a scheduler charges CPU time.
  public enum Accounting: String, Sendable, Equatable, CaseIterable {
    /// Charge each vCPU for exactly the time it ran (Xen 4.0's "accurate accounting").
    case exact
    /// Charge the whole tick to whichever vCPU runs when the tick fires (credit1 before Xen 4.0).
    case tick
  }

  /// Physical CPUs and the schedulers' parameters.
  public struct CPU: Sendable, Equatable {
    /// Physical CPUs shared by all vCPUs.
    public var pcpus: UInt64 = 2
    /// Timeslice and accounting period (Xen credit1: 30 ms).
    public var timesliceNs: UInt64 = 30_000_000
    /// Scheduler tick (Xen credit1: 10 ms, 3 ticks a slice).
    public var tickNs: UInt64 = 10_000_000
    /// pCPU time lost switching from one vCPU to another: one VM exit and entry, 1,100 cycles.
    public var contextSwitchNs: UInt64 = 367
    /// Which accounting drives the credit scheduler's own decisions.
    public var accounting = Accounting.exact
    /// `true`: one host timeline, the I/O paths' CPU work on the same pCPUs as the bursts;
    /// `false`: backends and schedulers replayed independently (docs/MODEL.md, "One host").
    public var coupled = true
  }

  /// A guest's scheduling parameters.
  public struct VM: Sendable, Equatable {
    /// Proportional-share weight (Xen: 1-65535, default 256).
    public var weight: UInt64 = 256
    /// At most this percentage of one pCPU; 0 means no cap.
    public var capPercent: UInt64 = 0

    public init(weight: UInt64 = 256, capPercent: UInt64 = 0) {
      self.weight = weight
      self.capPercent = capPercent
    }
  }

  /// How requests are issued: open or closed loop (docs/MODEL.md, "replay").
  public enum Loop: String, Sendable, Equatable, CaseIterable {
    /// Each request at its recorded time, whatever the design.
    case open
    /// Each stream's request after the one it depended on, with its think time.
    case closed
  }

  /// How the trace is replayed.
  public struct Replay: Sendable, Equatable {
    /// Recordings are closed loop unless they say otherwise (synthetic open profiles do).
    public var loop = Loop.closed
    /// Closed loop without recorded completions: a stream's request waits for its request
    /// this many before (fio's iodepth; 1: synchronous I/O).
    public var depth: UInt64 = 1
    /// Replay at this many times the recorded rate (fio's replay_time_scale).
    public var timeScale: Double = 1

    /// A recorded time (or think time) at the replay's rate: divided by ``timeScale``,
    /// saturating at 2^64 - 1.
    @inline(__always)
    public func scaled(_ t: UInt64) -> UInt64 {
      if timeScale == 1 { return t }
      let v = Double(t) / timeScale
      return v >= 18_446_744_073_709_551_615.0 ? .max : UInt64(v)
    }
  }

  public var replay = Replay()
  public var costs = Costs()
  public var full = Full()
  public var para = Para()
  public var virtio = Virtio()
  public var passthrough = Passthrough()
  public var vhost = Vhost()
  public var devices = Devices()
  public var cpu = CPU()
  public var backend = Backend()
  public var guest = Guest()
  /// Per-guest parameters, by VM id; VMs not listed have ``VM/init(weight:capPercent:)``'s defaults.
  public var vms: [UInt16: VM] = [:]
  /// Keys whose values were measured (`hvreplay calibrate`): each key's provenance, what
  /// it was measured from. Reports mark them.
  public var calibration: [String: String] = [:]

  /// The scheduling parameters of guest `vm`.
  public func vm(_ vm: UInt16) -> VM { vms[vm] ?? VM() }

  /// The default model.
  public init() {}

  /// Slots in the ring of a channel of `kind`.
  @inlinable
  public func ringEntries(for kind: EventKind) -> UInt64 {
    kind == .net ? para.netRingEntries : para.ringEntries &* para.ringPages
  }

  /// The physical device parameters for `kind`.
  @inlinable
  public func device(_ kind: EventKind) -> Device {
    kind == .net ? devices.net : devices.disk
  }

  /// The trap counts of the emulated device for `kind`.
  @inlinable
  public func traps(_ kind: EventKind) -> TrapCounts {
    kind == .net ? full.net : full.disk
  }

  /// The service time the model assumes for a disk or net request whose trace gives none:
  /// `devices.<kind>.base_service_ns` + bytes / `devices.<kind>.bandwidth_bytes_per_s`
  /// (docs/MODEL.md, assumed service time). A discard carries a range, not data: no
  /// transfer term.
  @inlinable @inline(__always)
  public func serviceNs(for event: TraceEvent) -> UInt64 {
    device(event.kind).assumedServiceNs(bytes: event.op == .discard ? 0 : event.bytes)
  }

  /// Nanoseconds to copy `bytes` at ``Costs/copyNsPerKiB`` (rounded to nearest).
  @inlinable
  public func copyNs(_ bytes: UInt64) -> UInt64 {
    (bytes &* costs.copyNsPerKiB &+ 512) >> 10
  }
}
