import HeapModule

/// Generates a synthetic trace: each VM's sources merged into one stream in time order.
///
/// Every source draws from its own generator stream derived from the seed, so a
/// seed always gives the same trace. VMs are numbered from 1, as Xen numbers guests.
public struct SyntheticTrace: Sequence, IteratorProtocol {
  private struct Head: Comparable {
    var time: UInt64
    var source: Int
    static func < (a: Head, b: Head) -> Bool { (a.time, a.source) < (b.time, b.source) }
  }

  public let parameters: SynthesisParameters
  private var sources: [any SyntheticSource] = []
  private var heads: [TraceEvent] = []
  private var order = Heap<Head>()
  private var produced: UInt64 = 0
  private let limit: UInt64
  private let endNs: UInt64

  public init(_ parameters: SynthesisParameters) {
    self.parameters = parameters
    limit =
      parameters.events
      ?? (parameters.durationNs == nil ? SynthesisParameters.defaultEvents : UInt64.max)
    endNs = parameters.durationNs ?? UInt64.max
    var stream: UInt64 = 0
    func rng() -> Xoshiro256 {
      stream += 1
      return Xoshiro256(seed: parameters.seed, stream: stream)
    }
    let vms = Swift.max(parameters.vms, 1)
    let vcpus = Swift.max(parameters.vcpus, 1)
    for index in 0..<vms {
      let vm = UInt16(index + 1)
      switch parameters.profile {
      case .oltp:
        sources.append(OLTPDiskSource(vm: vm, parameters: parameters, rng: rng()))
      case .stream:
        sources.append(StreamDiskSource(vm: vm, parameters: parameters, rng: rng()))
      case .netRPC:
        sources.append(RPCNetSource(vm: vm, parameters: parameters, rng: rng()))
      case .cpuContention:
        // Odd VMs are CPU-bound, even VMs interactive (1 ms bursts, 10% demand).
        let cpuBound = index % 2 == 0
        for vcpu in 0..<vcpus {
          sources.append(
            CPUBurstSource(
              vm: vm, vcpu: UInt16(vcpu), burstNs: cpuBound ? 10e6 : 1e6,
              thinkNs: cpuBound ? 0 : 9e6, rng: rng()))
        }
      case .tickEvasion:
        if index == 0 {
          // Wakes 1% into each tick, runs 97% of a tick, and blocks before the next tick.
          sources.append(
            TickEvaderSource(vm: vm, tickNs: parameters.tickNs))
        } else {
          // Honest CPU-bound guests start one per tick, half-way through ticks 2, 3, ...:
          // each is running at the next tick, so it is not BOOSTed when the evader wakes
          // (a woken guest is, and BOOST does not preempt BOOST). The real attacker times
          // itself the same way; from then on every guest is always runnable.
          let tick = Double(parameters.tickNs)
          sources.append(
            CPUBurstSource(
              vm: vm, vcpu: 0, burstNs: tick, thinkNs: 0, startNs: tick * (Double(index) + 1.5),
              rng: rng()))
        }
      case .mixed:
        sources.append(OLTPDiskSource(vm: vm, parameters: parameters, rng: rng()))
        sources.append(RPCNetSource(vm: vm, parameters: parameters, rng: rng()))
        for vcpu in 0..<vcpus {
          sources.append(
            CPUBurstSource(vm: vm, vcpu: UInt16(vcpu), burstNs: 3e6, thinkNs: 7e6, rng: rng()))
        }
      }
    }
    for i in sources.indices {
      let event = sources[i].next()
      heads.append(event)
      order.insert(Head(time: event.timeNs, source: i))
    }
  }

  public mutating func next() -> TraceEvent? {
    guard produced < limit, let head = order.popMin(), head.time < endNs else { return nil }
    let event = heads[head.source]
    let following = sources[head.source].next()
    heads[head.source] = following
    order.insert(Head(time: following.timeNs, source: head.source))
    produced += 1
    return event
  }
}
