/// One key of the model: its JSON path, its value and what it means.
public struct ModelKey: Sendable {
  /// How a key's value is stored.
  public enum Access: Sendable {
    case integer(WritableKeyPath<Model, UInt64> & Sendable, range: ClosedRange<UInt64>)
    case flag(WritableKeyPath<Model, Bool> & Sendable)
    case powerOfTwo(WritableKeyPath<Model, UInt64> & Sendable, range: ClosedRange<UInt64>)
    case accounting(WritableKeyPath<Model, Model.Accounting> & Sendable)
    case loop(WritableKeyPath<Model, Model.Loop> & Sendable)
    case ratio(WritableKeyPath<Model, Double> & Sendable, range: ClosedRange<Double>)
    /// `"issuer"` (`nil`) or a vCPU number.
    case vcpuChoice(WritableKeyPath<Model, UInt16?> & Sendable)
  }

  /// The dotted path, such as `costs.trap_ns`.
  public let path: String
  public let access: Access
  /// The unit of the value (`ns`, `traps`, `entries`, `requests`, or empty).
  public let unit: String
  /// What the value means.
  public let meaning: String

  /// The key's value in `model` as JSON.
  public func value(in model: Model) -> JSONValue {
    switch access {
    case .integer(let k, _), .powerOfTwo(let k, _): .uint(model[keyPath: k])
    case .flag(let k): .bool(model[keyPath: k])
    case .accounting(let k): .string(model[keyPath: k].rawValue)
    case .loop(let k): .string(model[keyPath: k].rawValue)
    case .ratio(let k, _): .double(model[keyPath: k])
    case .vcpuChoice(let k): model[keyPath: k].map { .uint(UInt64($0)) } ?? .string("issuer")
    }
  }

  /// Sets the key in `model` from a JSON value, checking its type and range.
  func set(_ value: JSONValue, in model: inout Model) throws(ModelKeyError) {
    switch access {
    case .accounting(let k):
      guard case .string(let s) = value, let a = Model.Accounting(rawValue: s) else {
        throw .init("\(path) must be \"exact\" or \"tick\"")
      }
      model[keyPath: k] = a
    case .loop(let k):
      guard case .string(let s) = value, let l = Model.Loop(rawValue: s) else {
        throw .init("\(path) must be \"open\" or \"closed\"")
      }
      model[keyPath: k] = l
    case .vcpuChoice(let k):
      switch value {
      case .string("issuer"): model[keyPath: k] = nil
      case .uint(let u) where u <= 65535: model[keyPath: k] = UInt16(u)
      case .string(let s) where UInt16(s) != nil: model[keyPath: k] = UInt16(s)!
      default: throw .init("\(path) must be \"issuer\" or a vCPU number from 0 to 65535")
      }
    case .ratio(let k, let range):
      let number: Double
      switch value {
      case .uint(let u): number = Double(u)
      case .double(let d): number = d
      case .string(let s)
      where Double(s) != nil && s.allSatisfy({ "0123456789.eE+-".contains($0) }):
        number = Double(s)!
      default: throw .init("\(path) must be a number")
      }
      guard number.isFinite, range.contains(number) else {
        throw .init(
          "\(path) must be between \(Self.decimal(range.lowerBound)) and \(Self.decimal(range.upperBound)), found \(Self.decimal(number))"
        )
      }
      model[keyPath: k] = number
    case .flag(let k):
      switch value {
      case .bool(let b): model[keyPath: k] = b
      case .string("true"): model[keyPath: k] = true
      case .string("false"): model[keyPath: k] = false
      default: throw .init("\(path) must be true or false")
      }
    case .integer(let k, let range), .powerOfTwo(let k, let range):
      let number: UInt64
      switch value {
      case .uint(let u): number = u
      case .double(let d) where d >= 0 && d == d.rounded() && d < 1.8e19: number = UInt64(d)
      case .string(let s) where UInt64(s) != nil: number = UInt64(s)!
      default: throw .init("\(path) must be a whole number \(unit.isEmpty ? "" : "of \(unit) ")")
      }
      guard range.contains(number) else {
        throw .init(
          "\(path) must be between \(range.lowerBound) and \(range.upperBound), found \(number)")
      }
      if case .powerOfTwo = access, number & (number - 1) != 0 {
        throw .init(
          "\(path) must be a power of two (Xen rings are masked by size - 1), found \(number)")
      }
      model[keyPath: k] = number
    }
  }
}

extension ModelKey {
  /// `0.000001`, `2.5`, `1000000`: a decimal without exponent or trailing zeros.
  static func decimal(_ value: Double) -> String {
    guard value.isFinite else { return "\(value)" }
    var text = TraceInspection.fixed(value, 9)
    guard text.contains("."), !text.contains("e") else { return text }
    while text.hasSuffix("0") { text.removeLast() }
    if text.hasSuffix(".") { text.removeLast() }
    return text
  }
}

/// A key of an earlier version that sets a base service time and a bandwidth of 0.
struct ModelKeyAlias: Sendable {
  let path: String
  let base: ModelKey
  let bandwidth: WritableKeyPath<Model, UInt64> & Sendable
}

/// Why a model key could not be set.
struct ModelKeyError: Error {
  let message: String
  init(_ message: String) { self.message = message }
}

extension Model {
  /// Every key of the model, in the order `hvreplay model` prints them.
  public static let keys: [ModelKey] = [
    ModelKey(
      path: "replay.loop", access: .loop(\.replay.loop), unit: "",
      meaning:
        "open: each request at its recorded time; closed: each stream's request after the one it depended on (recordings default to closed)"
    ),
    ModelKey(
      path: "replay.depth", access: .integer(\.replay.depth, range: 1...4096), unit: "requests",
      meaning:
        "closed loop without recorded completions: a stream's request waits for its request this many before"
    ),
    ModelKey(
      path: "replay.time_scale", access: .ratio(\.replay.timeScale, range: 0.000001...1_000_000),
      unit: "",
      meaning:
        "replay at this many times the recorded rate (recorded and think times are divided by it)"),
    ModelKey(
      path: "costs.trap_ns", access: .integer(\.costs.trapNs, range: 0...1_000_000_000), unit: "ns",
      meaning: "one trapped register access: VM exit, emulation in the hypervisor, VM entry"),
    ModelKey(
      path: "costs.hypercall_ns", access: .integer(\.costs.hypercallNs, range: 0...1_000_000_000),
      unit: "ns", meaning: "one hypercall / event-channel send from the guest"),
    ModelKey(
      path: "costs.irq_inject_ns", access: .integer(\.costs.irqInjectNs, range: 0...1_000_000_000),
      unit: "ns", meaning: "injecting one virtual interrupt into the guest"),
    ModelKey(
      path: "costs.copy_ns_per_kib", access: .integer(\.costs.copyNsPerKiB, range: 0...1_000_000),
      unit: "ns", meaning: "copying 1 KiB between guest and hypervisor buffers"),
    ModelKey(
      path: "costs.grant_map_ns", access: .integer(\.costs.grantMapNs, range: 0...1_000_000_000),
      unit: "ns", meaning: "mapping and later unmapping one 4 KiB page grant"),
    ModelKey(
      path: "costs.ring_slot_ns", access: .integer(\.costs.ringSlotNs, range: 0...1_000_000_000),
      unit: "ns", meaning: "writing or reading one ring slot"),
    ModelKey(
      path: "costs.backend_wakeup_ns",
      access: .integer(\.costs.backendWakeupNs, range: 0...1_000_000_000), unit: "ns",
      meaning: "from a notification to the idle backend starting to work"),
    ModelKey(
      path: "costs.grant_copy_rx_ns",
      access: .integer(\.costs.grantCopyRxNs, range: 0...1_000_000_000), unit: "ns",
      meaning: "netback's grant copy of one received packet into a guest buffer"),
    ModelKey(
      path: "full.disk.submit_traps", access: .integer(\.full.disk.submitTraps, range: 0...1000),
      unit: "traps", meaning: "trapped register accesses to submit one disk request"),
    ModelKey(
      path: "full.disk.completion_traps",
      access: .integer(\.full.disk.completionTraps, range: 0...1000), unit: "traps",
      meaning:
        "trapped register accesses in the guest's disk completion handler besides the EOI (costs.irq_inject_ns prices it)"
    ),
    ModelKey(
      path: "full.disk.copy", access: .flag(\.full.disk.copy), unit: "",
      meaning:
        "whether the emulated disk copies payloads (QEMU's bus-master DMA maps guest memory: false)"
    ),
    ModelKey(
      path: "full.disk.emulated_queue_depth",
      access: .integer(\.full.disk.emulatedQueueDepth, range: 1...4096), unit: "commands",
      meaning: "commands the emulated disk controller holds at once (IDE: 1; AHCI with NCQ: 32)"),
    ModelKey(
      path: "full.net.submit_traps", access: .integer(\.full.net.submitTraps, range: 0...1000),
      unit: "traps", meaning: "trapped register accesses to send one packet"),
    ModelKey(
      path: "full.net.completion_traps",
      access: .integer(\.full.net.completionTraps, range: 0...1000), unit: "traps",
      meaning: "trapped register accesses in the guest's network completion handler besides the EOI"
    ),
    ModelKey(
      path: "full.net.copy", access: .flag(\.full.net.copy), unit: "",
      meaning: "whether the emulated NIC copies packets between guest memory and its buffers"),
    ModelKey(
      path: "full.net.emulated_queue_depth",
      access: .integer(\.full.net.emulatedQueueDepth, range: 1...4096), unit: "packets",
      meaning: "packets the emulated NIC holds at once, per direction (its descriptor ring)"),
    ModelKey(
      path: "full.net.irq_interval_ns",
      access: .integer(\.full.net.irqIntervalNs, range: 0...1_000_000_000), unit: "ns",
      meaning:
        "the emulated NIC's shortest time between interrupts (e1000 interrupt throttling); 0: one per completion"
    ),
    ModelKey(
      path: "full.disk.irq_interval_ns",
      access: .integer(\.full.disk.irqIntervalNs, range: 0...1_000_000_000), unit: "ns",
      meaning: "the emulated disk's shortest time between interrupts; 0: one per completion"),
    ModelKey(
      path: "full.device_model_ns",
      access: .integer(\.full.deviceModelNs, range: 0...1_000_000_000), unit: "ns",
      meaning: "device-model (emulator thread) CPU time per completion besides copies"),
    ModelKey(
      path: "full.device_model_weight",
      access: .integer(\.full.deviceModelWeight, range: 1...65535), unit: "",
      meaning: "the device model thread's weight on the host's scheduler"),
    ModelKey(
      path: "para.ring_entries", access: .powerOfTwo(\.para.ringEntries, range: 1...1 << 20),
      unit: "entries", meaning: "slots in each disk ring (Xen blkif: 32)"),
    ModelKey(
      path: "para.net_ring_entries",
      access: .powerOfTwo(\.para.netRingEntries, range: 1...1 << 20), unit: "entries",
      meaning: "slots in each network ring, tx and rx (Xen netif: 256)"),
    ModelKey(
      path: "para.notify_suppression", access: .flag(\.para.notifySuppression), unit: "",
      meaning: "true: Xen's req_event / rsp_event rules; false: every push notifies"),
    ModelKey(
      path: "virtio.queue_size", access: .powerOfTwo(\.virtio.queueSize, range: 1...32768),
      unit: "entries", meaning: "entries of each virtio-blk queue (QEMU's queue-size: 256)"),
    ModelKey(
      path: "virtio.net_queue_size",
      access: .powerOfTwo(\.virtio.netQueueSize, range: 1...32768), unit: "entries",
      meaning: "entries of each virtio-net queue, tx and rx (QEMU: 256)"),
    ModelKey(
      path: "virtio.kick_ns", access: .integer(\.virtio.kickNs, range: 0...1_000_000_000),
      unit: "ns",
      meaning: "the guest's kick: an exit caught in the kernel by ioeventfd (the exit round trip)"
    ),
    ModelKey(
      path: "virtio.event_idx", access: .flag(\.virtio.eventIdx), unit: "",
      meaning:
        "true: VIRTIO_RING_F_EVENT_IDX's used_event / avail_event; false: every push notifies"
    ),
    ModelKey(
      path: "passthrough.iommu_map_ns",
      access: .integer(\.passthrough.iommuMapNs, range: 0...1_000_000_000), unit: "ns",
      meaning: "a guest vIOMMU's per-request map and unmap, each an exit; 0: VFIO's static mapping"
    ),
    ModelKey(
      path: "passthrough.posted_interrupts", access: .flag(\.passthrough.postedInterrupts),
      unit: "", meaning: "true: VT-d posted interrupts, no exit; false: injected, the EOI exits"),
    ModelKey(
      path: "para.ring_pages", access: .powerOfTwo(\.para.ringPages, range: 1...256),
      unit: "pages", meaning: "pages of each disk ring (blkif multi-page rings: ring-page-order)"),
    ModelKey(
      path: "para.persistent_grants", access: .flag(\.para.persistentGrants), unit: "",
      meaning: "true: blkif persistent grants (copies into pages granted once, no maps)"),
    ModelKey(
      path: "vhost.poll_ns", access: .integer(\.vhost.pollNs, range: 0...1_000_000_000),
      unit: "ns", meaning: "how long a vhost worker busy-polls before sleeping; 0: no polling"),
    ModelKey(
      path: "backend.vcpus", access: .integer(\.backend.vcpus, range: 1...4096), unit: "vcpus",
      meaning: "vCPUs of the driver domain (dom0) that runs paravirtualization's backends"),
    ModelKey(
      path: "backend.weight", access: .integer(\.backend.weight, range: 1...65535), unit: "",
      meaning: "the driver domain's proportional-share weight (Xen: 256, as every domain)"),
    ModelKey(
      path: "backend.cap_pct", access: .integer(\.backend.capPercent, range: 0...409_600),
      unit: "%", meaning: "at most this percentage of one pCPU for the driver domain; 0 = no cap"),
    ModelKey(
      path: "guest.irq_vcpu", access: .vcpuChoice(\.guest.irqVCPU), unit: "",
      meaning:
        "the vCPU that takes a channel's interrupts: issuer (the vCPU that issued the request) or a number"
    ),
    ModelKey(
      path: "para.net_napi_budget",
      access: .integer(\.para.netNAPIBudget, range: 1...65536), unit: "packets",
      meaning: "received packets netfront's NAPI poll reads before it reposts buffers (64)"),
    ModelKey(
      path: "devices.disk.queue_depth",
      access: .integer(\.devices.disk.queueDepth, range: 1...4096), unit: "requests",
      meaning: "disk requests the physical device serves at once (FIFO)"),
    ModelKey(
      path: "devices.disk.base_service_ns",
      access: .integer(\.devices.disk.baseServiceNs, range: 0...3_600_000_000_000), unit: "ns",
      meaning:
        "assumed service time of disk events whose service_ns is 0: this, plus bytes / bandwidth_bytes_per_s"
    ),
    ModelKey(
      path: "devices.disk.bandwidth_bytes_per_s",
      access: .integer(\.devices.disk.bandwidthBytesPerS, range: 0...1_000_000_000_000_000),
      unit: "bytes/s",
      meaning:
        "transfer rate of the assumed disk service time (0: none, every request takes base_service_ns)"
    ),
    ModelKey(
      path: "devices.net.queue_depth",
      access: .integer(\.devices.net.queueDepth, range: 1...4096), unit: "requests",
      meaning: "packets the physical NIC serves at once, per direction (FIFO)"),
    ModelKey(
      path: "devices.net.base_service_ns",
      access: .integer(\.devices.net.baseServiceNs, range: 0...3_600_000_000_000), unit: "ns",
      meaning:
        "assumed service time of net events whose service_ns is 0: this, plus bytes / bandwidth_bytes_per_s"
    ),
    ModelKey(
      path: "devices.net.bandwidth_bytes_per_s",
      access: .integer(\.devices.net.bandwidthBytesPerS, range: 0...1_000_000_000_000_000),
      unit: "bytes/s",
      meaning:
        "transfer rate of the assumed net service time (0: none, every request takes base_service_ns)"
    ),
    ModelKey(
      path: "cpu.pcpus", access: .integer(\.cpu.pcpus, range: 1...4096), unit: "pcpus",
      meaning: "physical CPUs shared by all vCPUs"),
    ModelKey(
      path: "cpu.timeslice_ns", access: .integer(\.cpu.timesliceNs, range: 1_000...10_000_000_000),
      unit: "ns",
      meaning: "timeslice, and the credit scheduler's accounting period (Xen credit1: 30 ms)"),
    ModelKey(
      path: "cpu.tick_ns", access: .integer(\.cpu.tickNs, range: 1_000...10_000_000_000),
      unit: "ns",
      meaning: "scheduler tick: tick accounting charges it whole (Xen credit1: 10 ms)"),
    ModelKey(
      path: "cpu.context_switch_ns",
      access: .integer(\.cpu.contextSwitchNs, range: 0...1_000_000_000),
      unit: "ns", meaning: "pCPU time lost switching from one vCPU to another"),
    ModelKey(
      path: "cpu.accounting", access: .accounting(\.cpu.accounting), unit: "",
      meaning:
        "what drives the credit scheduler's decisions: exact (time run) or tick (whole ticks)"),
    ModelKey(
      path: "cpu.coupled", access: .flag(\.cpu.coupled), unit: "",
      meaning:
        "true: one host timeline, I/O work on the same pCPUs as the bursts; false: backends and schedulers replayed independently"
    ),
  ]

  /// The per-VM keys, `vms.<id>.weight` and `vms.<id>.cap_pct`, for `hvreplay model --keys`.
  public static let vmKeyDescriptions: [(path: String, unit: String, meaning: String)] = [
    ("vms.<id>.weight", "", "proportional-share weight of guest <id> (1-65535, default 256)"),
    ("vms.<id>.cap_pct", "%", "at most this percentage of one pCPU for guest <id>; 0 = no cap"),
  ]

  /// The key at `path`, or `nil`.
  public static func key(_ path: String) -> ModelKey? { keys.first { $0.path == path } }

  /// Keys of earlier versions still read: `devices.<kind>.default_service_ns = v` sets
  /// `base_service_ns` to v and `bandwidth_bytes_per_s` to 0, the fixed service time it
  /// meant, so older model files, trace metadata and report.json files keep their meaning.
  static let aliases: [ModelKeyAlias] = ["disk", "net"].map { kind in
    ModelKeyAlias(
      path: "devices.\(kind).default_service_ns", base: key("devices.\(kind).base_service_ns")!,
      bandwidth: kind == "disk"
        ? \.devices.disk.bandwidthBytesPerS : \.devices.net.bandwidthBytesPerS)
  }

  /// Sets an alias of ``aliases``; `nil` when `path` is not one.
  mutating func setAlias(_ path: String, _ value: JSONValue) -> Result<Void, ModelKeyError>? {
    guard let alias = Self.aliases.first(where: { $0.path == path }) else { return nil }
    do {
      try alias.base.set(value, in: &self)
    } catch {
      return .failure(
        .init("\(path) (now \(alias.base.path)): \(error.message)"))
    }
    self[keyPath: alias.bandwidth] = 0
    return .success(())
  }

  /// Sets `vms.<id>.weight` or `vms.<id>.cap_pct`; `nil` when `path` is not such a key.
  mutating func setVMKey(_ path: String, _ value: JSONValue) -> Result<Void, ModelKeyError>? {
    let parts = path.split(separator: ".", omittingEmptySubsequences: false)
    guard parts.count == 3, parts[0] == "vms" else { return nil }
    guard let id = UInt16(parts[1]) else {
      return .failure(.init("\(path): a VM id must be a number from 0 to 65535"))
    }
    let number: UInt64
    switch value {
    case .uint(let u): number = u
    case .string(let s) where UInt64(s) != nil: number = UInt64(s)!
    default: return .failure(.init("\(path) must be a whole number"))
    }
    var config = vm(id)
    switch parts[2] {
    case "weight":
      guard (1...65535).contains(number) else {
        return .failure(.init("\(path) must be between 1 and 65535, found \(number)"))
      }
      config.weight = number
    case "cap_pct":
      guard number <= 100 * 4096 else {
        return .failure(.init("\(path) must be between 0 and 409600, found \(number)"))
      }
      config.capPercent = number
    default:
      return .failure(.init("unknown model key \"\(path)\"; a VM has weight and cap_pct"))
    }
    vms[id] = config
    return .success(())
  }
}
