/// A vCPU's scheduling state.
struct VCPUState {
  enum State: UInt8 {
    /// No work: waiting for its next burst.
    case blocked
    /// Runnable, in the policy's run queue.
    case queued
    /// On a pCPU.
    case running
    /// Runnable, but held back by its VM's cap until the next period.
    case parked
  }

  /// Index of its VM in the simulation's VM table.
  var vm: Int
  /// Work left, in ns.
  var remaining: UInt64 = 0
  var state = State.blocked
  /// When it last became runnable (for the wait time).
  var queuedSince: UInt64 = 0
  /// Credit, in ns of CPU time (credit1's credits: 1 credit = tick / 100).
  var credit: Int64 = 0
  /// credit1 priority: 0 BOOST, 1 UNDER, 2 OVER.
  var priority: UInt8 = CreditPolicy.under
  /// Whether it ran or wanted to run since the last accounting pass.
  var active = false
  /// Its run-queue entry's number: an entry with an older number was removed (lazily).
  var ticket: UInt32 = 0
}

/// A vCPU's place in a run queue; stale once the vCPU's ticket moved on.
struct QueueEntry {
  var vcpu: Int
  var ticket: UInt32

  /// Whether this entry is still the vCPU's current one.
  @inline(__always)
  func isCurrent(_ vcpus: [VCPUState]) -> Bool { vcpus[vcpu].ticket == ticket }
}

/// A FIFO run queue with O(1) removal: a removed vCPU's entry is skipped when reached.
struct RunQueue {
  private var entries: [QueueEntry] = []
  private var head = 0

  /// Appends `v` with a new ticket.
  mutating func append(_ v: Int, vcpus: inout [VCPUState]) {
    vcpus[v].ticket &+= 1
    entries.append(QueueEntry(vcpu: v, ticket: vcpus[v].ticket))
  }

  /// Drops stale entries at the front; true when a current entry is left.
  mutating func hasCurrent(_ vcpus: [VCPUState]) -> Bool {
    while head < entries.count && !entries[head].isCurrent(vcpus) { head += 1 }
    compact()
    return head < entries.count
  }

  /// Removes and returns the first current vCPU.
  mutating func popFirst(_ vcpus: [VCPUState]) -> Int? {
    guard hasCurrent(vcpus) else { return nil }
    let v = entries[head].vcpu
    head += 1
    compact()
    return v
  }

  /// Takes every current vCPU out, in order.
  mutating func drain(_ vcpus: [VCPUState]) -> [Int] {
    let current = entries[head...].filter { $0.isCurrent(vcpus) }.map(\.vcpu)
    entries.removeAll(keepingCapacity: true)
    head = 0
    return current
  }

  private mutating func compact() {
    if head > 1024 && head * 2 > entries.count {
      entries.removeFirst(head)
      head = 0
    }
  }
}

/// Why a vCPU enters the run queue.
enum EnqueueReason {
  /// It had no work and a burst arrived.
  case wake
  /// Its timeslice ended, or a higher-priority vCPU preempted it.
  case requeue
  /// Its VM's cap period began again.
  case unpark
}

/// The rules that make a scheduler: its run queue, priorities and credit.
protocol SchedulingPolicy {
  var name: String { get }
  /// Puts runnable vCPU `v` in the run queue.
  mutating func enqueue(_ v: Int, reason: EnqueueReason, vcpus: inout [VCPUState])
  /// Takes `v` out of the run queue (it was queued), in O(1).
  mutating func remove(_ v: Int, vcpus: inout [VCPUState])
  /// Takes the vCPU that should run next out of the run queue.
  mutating func dequeue(vcpus: [VCPUState]) -> Int?
  /// A rank for priority: lower runs first.
  func rank(_ v: Int, vcpus: [VCPUState]) -> Int
  /// Among running vCPUs of the same rank, the one with the lowest value is preempted first.
  func standing(_ v: Int, vcpus: [VCPUState]) -> Int64
  /// The best rank in the run queue, or `Int.max` when it is empty.
  mutating func bestQueuedRank(vcpus: [VCPUState]) -> Int
  /// Charges `ns` of CPU time to `v` for the policy's decisions.
  mutating func charge(_ v: Int, ns: UInt64, vcpus: inout [VCPUState])
  /// A tick fired while `v` was running.
  mutating func tick(_ v: Int, vcpus: inout [VCPUState])
  /// The periodic accounting pass (every timeslice).
  mutating func account(vcpus: inout [VCPUState], weights: [UInt64])
}

/// Fair share: one FIFO run queue; every runnable vCPU gets an equal timeslice in turn.
struct FairSharePolicy: SchedulingPolicy {
  let name = "fair"
  private var queue = RunQueue()

  mutating func enqueue(_ v: Int, reason: EnqueueReason, vcpus: inout [VCPUState]) {
    queue.append(v, vcpus: &vcpus)
  }

  mutating func remove(_ v: Int, vcpus: inout [VCPUState]) { vcpus[v].ticket &+= 1 }

  mutating func dequeue(vcpus: [VCPUState]) -> Int? { queue.popFirst(vcpus) }

  func rank(_ v: Int, vcpus: [VCPUState]) -> Int { 0 }
  func standing(_ v: Int, vcpus: [VCPUState]) -> Int64 { 0 }
  mutating func bestQueuedRank(vcpus: [VCPUState]) -> Int {
    queue.hasCurrent(vcpus) ? 0 : .max
  }
  mutating func charge(_ v: Int, ns: UInt64, vcpus: inout [VCPUState]) {}
  mutating func tick(_ v: Int, vcpus: inout [VCPUState]) {}
  mutating func account(vcpus: inout [VCPUState], weights: [UInt64]) {}
}
