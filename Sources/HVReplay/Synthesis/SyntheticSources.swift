import HeapModule

/// One stream of synthetic events of one VM, in non-decreasing time order; endless.
protocol SyntheticSource {
  /// The next event of this stream.
  mutating func next() -> TraceEvent
}

/// oltp disk traffic: Poisson arrivals of random 4-16 KiB reads and writes, and a
/// commit (flush or barrier) issued with the last write of each write-ahead-log group.
struct OLTPDiskSource: SyntheticSource {
  var rng: Xoshiro256
  let vm: UInt16
  let parameters: SynthesisParameters
  private var clock = 0.0
  private var writesInGroup = 0
  private var commit: TraceEvent?

  init(vm: UInt16, parameters: SynthesisParameters, rng: Xoshiro256) {
    self.vm = vm
    self.parameters = parameters
    self.rng = rng
  }

  mutating func next() -> TraceEvent {
    if let pending = commit {
      commit = nil
      return pending
    }
    clock += rng.exponential(mean: 1e9 / parameters.iops)
    let time = UInt64(clock)
    let vcpu = UInt16(rng.integer(in: 0...UInt64(parameters.vcpus - 1)))
    let pages = rng.integer(in: 1...4)
    let diskPages = max(parameters.diskGiB << 18, 8)
    let offset = rng.integer(in: 0...(diskPages - 4)) << 12
    if rng.chance(parameters.readPercent / 100) {
      return TraceEvent(
        timeNs: time, vm: vm, vcpu: vcpu, op: .read, offset: offset, bytes: UInt32(pages << 12))
    }
    writesInGroup += 1
    if writesInGroup >= parameters.walGroup {
      writesInGroup = 0
      commit = TraceEvent(timeNs: time, vm: vm, vcpu: vcpu, op: parameters.commit)
    }
    return TraceEvent(
      timeNs: time, vm: vm, vcpu: vcpu, op: .write, offset: offset, bytes: UInt32(pages << 12))
  }
}

/// stream disk traffic: sequential reads of 128 KiB-1 MiB at a set bandwidth.
struct StreamDiskSource: SyntheticSource {
  var rng: Xoshiro256
  let vm: UInt16
  let parameters: SynthesisParameters
  private var clock = 0.0
  private var offset: UInt64 = 0

  init(vm: UInt16, parameters: SynthesisParameters, rng: Xoshiro256) {
    self.vm = vm
    self.parameters = parameters
    self.rng = rng
  }

  mutating func next() -> TraceEvent {
    let bytes = rng.integer(in: 1...8) << 17
    let diskBytes = max(parameters.diskGiB << 30, 1 << 20)
    if offset + bytes > diskBytes { offset = 0 }
    let event = TraceEvent(
      timeNs: UInt64(clock), vm: vm, op: .read, offset: offset, bytes: UInt32(bytes))
    offset += bytes
    clock += Double(bytes) * 1e3 / parameters.megabytesPerSecond
    return event
  }
}

/// net-rpc traffic: Poisson bursts of small tx packets, each burst answered by as
/// many rx packets one round trip later.
struct RPCNetSource: SyntheticSource {
  var rng: Xoshiro256
  let vm: UInt16
  let parameters: SynthesisParameters
  private var clock = 0.0
  private var sequence: UInt64 = 0
  private var pending = Heap<SequencedEvent>()

  init(vm: UInt16, parameters: SynthesisParameters, rng: Xoshiro256) {
    self.vm = vm
    self.parameters = parameters
    var rng = rng
    clock = rng.exponential(mean: 1e9 / parameters.rpcPerSecond)
    self.rng = rng
  }

  mutating func next() -> TraceEvent {
    while pending.isEmpty || pending.min!.event.timeNs >= UInt64(clock) {
      let time = UInt64(clock)
      let vcpu = UInt16(rng.integer(in: 0...UInt64(parameters.vcpus - 1)))
      // Geometric number of packets with the given mean, at least one.
      let p = 1 / max(parameters.burst, 1)
      var packets = 1
      while packets < 64 && !rng.chance(p) { packets += 1 }
      let reply = time + UInt64(parameters.rttMicroseconds * 1e3)
      for _ in 0..<packets {
        let request = UInt32(rng.integer(in: 64...512))
        let response = UInt32(rng.integer(in: 64...1500))
        push(TraceEvent(timeNs: time, vm: vm, vcpu: vcpu, op: .tx, bytes: request))
        push(TraceEvent(timeNs: reply, vm: vm, vcpu: vcpu, op: .rx, bytes: response))
      }
      clock += rng.exponential(mean: 1e9 / parameters.rpcPerSecond)
    }
    return pending.removeMin().event
  }

  private mutating func push(_ event: TraceEvent) {
    pending.insert(SequencedEvent(event: event, sequence: sequence))
    sequence += 1
  }
}

/// CPU bursts of one vCPU.
///
/// CPU-bound: a burst of `burstNs` every `burstNs` (always runnable). Otherwise
/// interactive: exponential bursts of mean `burstNs` separated by exponential
/// think times of mean `thinkNs`, both at least 50 us.
struct CPUBurstSource: SyntheticSource {
  var rng: Xoshiro256
  let vm: UInt16
  let vcpu: UInt16
  let burstNs: Double
  let thinkNs: Double
  private var clock = 0.0

  init(
    vm: UInt16, vcpu: UInt16, burstNs: Double, thinkNs: Double, startNs: Double = 0,
    rng: Xoshiro256
  ) {
    self.vm = vm
    self.vcpu = vcpu
    self.burstNs = burstNs
    self.thinkNs = thinkNs
    clock = startNs
    var rng = rng
    if thinkNs > 0 { clock += rng.exponential(mean: thinkNs) }
    self.rng = rng
  }

  mutating func next() -> TraceEvent {
    let time = UInt64(clock)
    let work: UInt64
    if thinkNs == 0 {
      work = UInt64(burstNs)
      clock += burstNs
    } else {
      work = max(UInt64(rng.exponential(mean: burstNs)), 50_000)
      clock += Double(work) + max(rng.exponential(mean: thinkNs), 50_000)
    }
    return TraceEvent(timeNs: time, vm: vm, vcpu: vcpu, op: .burst, serviceNs: work)
  }
}

/// The tick-evasion attacker (Zhou et al., NCA 2011): one vCPU that wakes just after each
/// scheduler tick, runs 97% of a tick and blocks before the next one fires.
struct TickEvaderSource: SyntheticSource {
  let vm: UInt16
  let tickNs: UInt64
  private var tick: UInt64 = 0

  init(vm: UInt16, tickNs: UInt64) {
    self.vm = vm
    self.tickNs = tickNs
  }

  mutating func next() -> TraceEvent {
    let start = tick * tickNs + tickNs / 100
    tick += 1
    return TraceEvent(timeNs: start, vm: vm, op: .burst, serviceNs: tickNs * 97 / 100)
  }
}
