// Model rule "Entitlement per accounting period" (docs/MODEL.md, CPU rule 10): entitlement is
// worked out period by period, so that demand counts only from when it arrived. The window
// is cut at the accounting passes (every `cpu.timeslice_ns` from trace time 0); the first
// period begins at the first burst, the last ends with the window. In each period every
// vCPU claims the work it has outstanding (arrived before the period's end, not yet
// entitled by an earlier period), at most the time from its work's arrival (or the
// period's start, when work was outstanding then) to the period's end; a VM claims the sum,
// at most `cap_pct`% of the period. The period's capacity, `pcpus` x its length, is shared
// among the claims by weighted max-min fairness (water-filling, `FairAllocation`).

/// Each VM's entitlement, built period by period as bursts arrive.
struct PeriodEntitlement {
  private struct VCPU {
    var vm: Int
    /// Work arrived and not yet entitled, in ns.
    var backlog: Double = 0
    /// When the outstanding work arrived (the period's start once a period has passed).
    var since: UInt64 = 0
  }

  private struct VM {
    var weight: Double
    var capPercent: UInt64
    var vcpus: [Int] = []
    /// CPU time the VM is entitled to so far, in ns.
    var entitledNs: Double = 0
  }

  private let period: UInt64
  private let pcpus: Double
  private var vcpus: [VCPU] = []
  private var vms: [VM] = []
  /// vCPUs with work outstanding.
  private var backlogged = 0
  /// The open period: its start (its pass, or the first burst) and its end (the next pass).
  private var start: UInt64?
  private var end: UInt64 = 0

  /// - Parameters:
  ///   - period: the accounting period (`cpu.timeslice_ns`), in ns; at least 1.
  ///   - pcpus: the pCPUs sharing each period.
  init(period: UInt64, pcpus: UInt64) {
    self.period = max(period, 1)
    self.pcpus = Double(pcpus)
  }

  /// Registers VM `vm` (the next index) with its weight and cap.
  mutating func addVM(weight: UInt64, capPercent: UInt64) {
    vms.append(VM(weight: Double(weight), capPercent: capPercent))
  }

  /// Registers vCPU `v` (the next index) of VM `vm`.
  mutating func addVCPU(vm: Int) {
    vms[vm].vcpus.append(vcpus.count)
    vcpus.append(VCPU(vm: vm))
  }

  /// Records `ns` of work arriving on vCPU `v` at `time` (in time order).
  ///
  /// - Returns: the steps taken closing the periods before `time`, for the work budget.
  mutating func arrive(_ v: Int, at time: UInt64, ns: UInt64) -> UInt64 {
    let steps = advance(to: time)
    if start == nil {
      start = time
      end = Self.periodEnd(after: time, period: period)
    }
    guard ns > 0 else { return steps }
    if vcpus[v].backlog == 0 {
      vcpus[v].since = time
      backlogged += 1
    }
    vcpus[v].backlog += Double(ns)
    return steps
  }

  /// Closes every period up to `windowEnd`, the last one cut there.
  ///
  /// - Returns: each VM's entitlement in ns, by VM index, and the steps taken.
  mutating func finish(windowEnd: UInt64) -> (entitledNs: [Double], steps: UInt64) {
    var steps = advance(to: windowEnd)
    if let s = start, windowEnd > s {
      close(to: windowEnd)
      steps &+= UInt64(vcpus.count + vms.count)
    }
    return (vms.map(\.entitledNs), steps)
  }

  /// Closes the periods that end at or before `time`; skips the ones nobody claims.
  private mutating func advance(to time: UInt64) -> UInt64 {
    guard start != nil else { return 0 }
    var steps: UInt64 = 0
    while end <= time {
      if backlogged == 0 {
        // Nothing outstanding: the periods up to `time` entitle nobody.
        start = time - time % period
        end = Self.periodEnd(after: time, period: period)
        return steps
      }
      close(to: end)
      steps &+= UInt64(vcpus.count + vms.count)
      start = end
      end = end > .max - period ? .max : end + period
      if start == .max { break }
    }
    return steps
  }

  /// Shares the open period, from its start to `stop`, among the claims.
  private mutating func close(to stop: UInt64) {
    guard let s = start, stop > s, backlogged > 0 else { return }
    let length = Double(stop - s)
    var wanted = [Double](repeating: 0, count: vms.count)
    var vcpuClaims = [Double](repeating: 0, count: vcpus.count)
    for v in vcpus.indices where vcpus[v].backlog > 0 {
      let from = max(s, vcpus[v].since)
      let available = stop > from ? Double(stop - from) : 0
      vcpuClaims[v] = min(vcpus[v].backlog, available)
      wanted[vcpus[v].vm] += vcpuClaims[v]
    }
    let claims = vms.indices.map { i in
      vms[i].capPercent > 0 ? min(wanted[i], Double(vms[i].capPercent) / 100 * length) : wanted[i]
    }
    let allocation = FairAllocation.waterFill(
      capacity: pcpus * length, weights: vms.map(\.weight), limits: claims)
    for i in vms.indices where allocation[i] > 0 {
      vms[i].entitledNs += allocation[i]
      // The VM's allocation comes off its vCPUs' backlogs in proportion to their claims.
      let fraction = min(allocation[i] / wanted[i], 1)
      for v in vms[i].vcpus where vcpuClaims[v] > 0 {
        vcpus[v].backlog -= fraction == 1 ? vcpuClaims[v] : vcpuClaims[v] * fraction
        // Less than a nanosecond left is rounding, not work.
        if vcpus[v].backlog < 0.5 {
          vcpus[v].backlog = 0
          backlogged -= 1
        }
      }
    }
  }

  /// The first pass after `time`.
  private static func periodEnd(after time: UInt64, period: UInt64) -> UInt64 {
    let start = time - time % period
    return start > .max - period ? .max : start + period
  }
}
