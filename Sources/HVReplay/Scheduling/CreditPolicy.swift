// Xen's credit scheduler (credit1, xen/common/sched/credit.c) as docs/REFERENCES.md [XenCredit]
// describes it, rule by rule in docs/MODEL.md ("credit"):
// - Each accounting pass (every timeslice, 30 ms) hands out one timeslice of credit per pCPU
//   (credit1: 300 credits per pCPU), shared among active VMs by weight and, within a VM,
//   equally among its active vCPUs.
// - Credit is floored at minus one timeslice (-300); a vCPU above plus one timeslice (+300)
//   stops earning.
// - Priorities BOOST > UNDER > OVER: UNDER with credit >= 0, OVER below; a vCPU that wakes
//   UNDER is BOOSTed and preempts; BOOST ends at the next tick it is charged, or at the pass.
// - Running burns credit: the time run (exact accounting), or a whole tick at each tick
//   (tick accounting, credit1 before Xen 4.0), as `cpu.accounting` says.

/// The credit scheduler's run queue and credit rules.
struct CreditPolicy: SchedulingPolicy {
  static let boost: UInt8 = 0
  static let under: UInt8 = 1
  static let over: UInt8 = 2

  let name = "credit"
  /// Credit handed out per pass per pCPU, and the credit bounds, in ns.
  private let creditPerPass: Int64
  private let bound: Int64
  /// Run queues by priority: BOOST, UNDER, OVER; FIFO within each.
  private var queues = [RunQueue(), RunQueue(), RunQueue()]

  init(model: Model) {
    bound = Int64(model.cpu.timesliceNs)
    creditPerPass = Int64(model.cpu.timesliceNs) * Int64(model.cpu.pcpus)
  }

  mutating func enqueue(_ v: Int, reason: EnqueueReason, vcpus: inout [VCPUState]) {
    vcpus[v].active = true
    if reason == .wake && vcpus[v].priority == Self.under { vcpus[v].priority = Self.boost }
    queues[Int(vcpus[v].priority)].append(v, vcpus: &vcpus)
  }

  mutating func remove(_ v: Int, vcpus: inout [VCPUState]) { vcpus[v].ticket &+= 1 }

  mutating func dequeue(vcpus: [VCPUState]) -> Int? {
    for q in 0..<3 {
      if let v = queues[q].popFirst(vcpus) { return v }
    }
    return nil
  }

  func rank(_ v: Int, vcpus: [VCPUState]) -> Int { Int(vcpus[v].priority) }

  /// The vCPU with the least credit is preempted first (it has used most of its share).
  func standing(_ v: Int, vcpus: [VCPUState]) -> Int64 { vcpus[v].credit }

  mutating func bestQueuedRank(vcpus: [VCPUState]) -> Int {
    for q in 0..<3 where queues[q].hasCurrent(vcpus) { return q }
    return .max
  }

  mutating func charge(_ v: Int, ns: UInt64, vcpus: inout [VCPUState]) {
    vcpus[v].credit = max(vcpus[v].credit - Int64(ns), -bound)
    vcpus[v].active = true
    if vcpus[v].priority != Self.boost {
      vcpus[v].priority = vcpus[v].credit >= 0 ? Self.under : Self.over
    }
  }

  mutating func tick(_ v: Int, vcpus: inout [VCPUState]) {
    if vcpus[v].priority == Self.boost {
      vcpus[v].priority = vcpus[v].credit >= 0 ? Self.under : Self.over
    }
  }

  mutating func account(vcpus: inout [VCPUState], weights: [UInt64]) {
    // Active VMs share the pass's credit by weight; a VM's share is split among its active vCPUs.
    var activeVCPUs = [Int](repeating: 0, count: weights.count)
    for v in vcpus where v.active || v.state != .blocked { activeVCPUs[v.vm] += 1 }
    let totalWeight = weights.indices.reduce(UInt64(0)) {
      activeVCPUs[$1] > 0 ? $0 + weights[$1] : $0
    }
    for i in vcpus.indices {
      let vm = vcpus[i].vm
      if totalWeight > 0 && activeVCPUs[vm] > 0 && (vcpus[i].active || vcpus[i].state != .blocked) {
        if vcpus[i].credit < bound {
          let share = creditPerPass * Int64(weights[vm]) / Int64(totalWeight)
          vcpus[i].credit = min(vcpus[i].credit + share / Int64(activeVCPUs[vm]), bound)
        }
      }
      vcpus[i].active = false
      vcpus[i].priority = vcpus[i].credit >= 0 ? Self.under : Self.over
    }
    // Re-sort the run queues by the new priorities, keeping FIFO order within each.
    var queued: [Int] = []
    for q in 0..<3 { queued += queues[q].drain(vcpus) }
    for v in queued { queues[Int(vcpus[v].priority)].append(v, vcpus: &vcpus) }
  }
}
