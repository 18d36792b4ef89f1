// KVM tracepoints as text (docs/IMPORTERS.md, "KVM exit recordings"). One line holds one
// event behind a prefix that names the task, the host CPU and the time:
// - trace-cmd report: `comm-pid [cpu] [flags] seconds: event:<padding> payload`;
// - ftrace's trace file: `comm-pid [(tgid)] [cpu] flags seconds: event: payload`;
// - perf script: `comm pid[/tid] [cpu] seconds: kvm:event: payload`.
// The payloads are the kernel's TP_printk formats (arch/x86/kvm/trace.h and
// include/trace/events/kvm.h), in every layout kernels printed them.

/// The KVM events hvreplay reads.
enum KVMEventKind: UInt8, CaseIterable, Sendable {
  case exit, entry, mmio, fastMMIO, pio, userspaceExit, msiSetIRQ, setIRQ, injectVIRQ, hypercall

  /// The tracepoint's name.
  var name: String {
    switch self {
    case .exit: "kvm_exit"
    case .entry: "kvm_entry"
    case .mmio: "kvm_mmio"
    case .fastMMIO: "kvm_fast_mmio"
    case .pio: "kvm_pio"
    case .userspaceExit: "kvm_userspace_exit"
    case .msiSetIRQ: "kvm_msi_set_irq"
    case .setIRQ: "kvm_set_irq"
    case .injectVIRQ: "kvm_inj_virq"
    case .hypercall: "kvm_hypercall"
    }
  }

  /// The kind named `name` (without perf's `kvm:`), or `nil` for another event.
  static func named(_ name: UnsafeRawBufferPointer) -> KVMEventKind? {
    guard Bytes.hasPrefix(name, "kvm_") else { return nil }
    for kind in allCases
    where name.count == kind.name.utf8.count && Bytes.hasPrefix(name, kind.name) {
      return kind
    }
    return nil
  }
}

/// One event line, split into its prefix's fields and its payload.
struct KVMTraceLine {
  /// The task's name, its thread id and, where the line shows it, its thread group.
  var comm: UnsafeRawBufferPointer
  var pid: UInt32
  var tgid: UInt32?
  /// The host CPU the event was recorded on.
  var cpu: UInt32
  var timeNs: UInt64
  /// The event's name (without perf's `kvm:` prefix) and its payload.
  var event: UnsafeRawBufferPointer
  var payload: UnsafeRawBufferPointer

  /// Splits `line`, or returns `nil` when it is no event line in any of the three layouts.
  /// Throws nothing: the caller decides whether an unreadable line is bad.
  static func split(_ line: UnsafeRawBufferPointer) -> KVMTraceLine? {
    // The CPU field: the first `[digits]` after the task that the rest of a prefix follows
    // (a task's name may hold one too).
    // At most 8 candidates are tried, so a hostile line costs linear time.
    var i = 1
    var tried = 0
    while i < line.count && tried < 8 {
      if line[i] == UInt8(ascii: "["), line[i - 1] == 0x20 {
        var j = i + 1
        while j < line.count, line[j] &- 0x30 < 10 { j += 1 }
        if j > i + 1, j < line.count, line[j] == UInt8(ascii: "]") {
          tried += 1
          if let parsed = split(line, cpuFieldAt: i, closing: j) { return parsed }
        }
      }
      i += 1
    }
    return nil
  }

  /// `line` split with its CPU field at `open...close`, or `nil`.
  private static func split(
    _ line: UnsafeRawBufferPointer, cpuFieldAt open: Int, closing close: Int
  )
    -> KVMTraceLine?
  {
    guard let cpu = Bytes.uint(slice(line, open + 1, close)), cpu <= UInt32.max
    else { return nil }
    // The task: `comm-pid`, optionally `(tgid)` after it; or perf's `comm pid[/tid]`.
    var task = Bytes.trim(slice(line, 0, open))
    var tgid: UInt32?
    if task.last == UInt8(ascii: ")"), let lp = task.lastIndex(of: UInt8(ascii: "(")) {
      let inside = Bytes.trim(slice(task, lp + 1, task.count - 1))
      if let g = Bytes.uint(inside), g <= UInt32.max {
        tgid = UInt32(g)
      } else if inside.isEmpty || !inside.allSatisfy({ $0 == UInt8(ascii: "-") }) {
        return nil
      }  // `(-------)`: ftrace has no thread group cached for the task
      task = Bytes.trim(slice(task, 0, lp))
    }
    var digitsStart = task.count
    while digitsStart > 0, task[digitsStart - 1] &- 0x30 < 10 { digitsStart -= 1 }
    guard digitsStart < task.count, digitsStart > 0 else { return nil }
    guard let pid = Bytes.uint(slice(task, digitsStart, task.count)), pid <= UInt32.max
    else { return nil }
    var comm: UnsafeRawBufferPointer
    switch task[digitsStart - 1] {
    case UInt8(ascii: "-"):
      comm = slice(task, 0, digitsStart - 1)
    case UInt8(ascii: "/"):
      // perf script's `pid/tid`: the thread is tid, its group pid.
      var groupStart = digitsStart - 1
      while groupStart > 0, task[groupStart - 1] &- 0x30 < 10 { groupStart -= 1 }
      guard groupStart < digitsStart - 1,
        let g = Bytes.uint(slice(task, groupStart, digitsStart - 1)), g <= UInt32.max
      else { return nil }
      tgid = UInt32(g)
      comm = Bytes.trim(slice(task, 0, groupStart))
    case 0x20, 0x09:
      comm = Bytes.trim(slice(task, 0, digitsStart))
    default:
      return nil
    }
    // After the CPU: optional flags, the timestamp ending in `:`, the event ending in `:`.
    var k = close + 1
    var timeNs: UInt64?
    while k < line.count {
      while k < line.count, line[k] == 0x20 { k += 1 }
      var end = k
      while end < line.count, line[end] != 0x20 { end += 1 }
      let token = slice(line, k, end)
      k = end
      if token.last == UInt8(ascii: ":"), token.first.map({ $0 &- 0x30 < 10 }) == true {
        timeNs = Bytes.secondsAsNanoseconds(slice(token, 0, token.count - 1))
        break
      }
    }
    guard let time = timeNs else { return nil }
    while k < line.count, line[k] == 0x20 { k += 1 }
    var nameEnd = k
    while nameEnd < line.count, line[nameEnd] != UInt8(ascii: ":") || isPerfSystem(line, k, nameEnd)
    {
      guard line[nameEnd] != 0x20 else { return nil }
      nameEnd += 1
    }
    guard nameEnd < line.count, nameEnd > k else { return nil }
    var event = slice(line, k, nameEnd)
    if Bytes.hasPrefix(event, "kvm:") { event = slice(event, 4, event.count) }
    var payloadStart = nameEnd + 1
    while payloadStart < line.count, line[payloadStart] == 0x20 { payloadStart += 1 }
    return KVMTraceLine(
      comm: comm, pid: UInt32(pid), tgid: tgid, cpu: UInt32(cpu), timeNs: time, event: event,
      payload: slice(line, payloadStart, line.count))
  }

  /// Whether the `:` at `colon` ends perf's `kvm` subsystem prefix rather than the name.
  private static func isPerfSystem(_ line: UnsafeRawBufferPointer, _ start: Int, _ colon: Int)
    -> Bool
  {
    colon - start == 3 && Bytes.hasPrefix(slice(line, start, colon), "kvm")
  }

  @inline(__always)
  static func slice(_ s: UnsafeRawBufferPointer, _ a: Int, _ b: Int) -> UnsafeRawBufferPointer {
    UnsafeRawBufferPointer(rebasing: s[a..<b])
  }
}

/// The fields of a payload, found by their keys (model rule: match key tokens, not columns).
enum KVMPayload {
  /// The token after `key ` (e.g. `reason` in `reason EPT_MISCONFIG rip ...`), or `nil`.
  static func token(after key: String, in payload: UnsafeRawBufferPointer)
    -> UnsafeRawBufferPointer?
  {
    var from = 0
    while let at = Bytes.find(key + " ", in: payload, from: from) {
      // A key starts the payload or follows a space or comma.
      if at == 0 || payload[at - 1] == 0x20 || payload[at - 1] == UInt8(ascii: ",") {
        var a = at + key.utf8.count + 1
        while a < payload.count, payload[a] == 0x20 { a += 1 }
        var b = a
        while b < payload.count, payload[b] != 0x20, payload[b] != UInt8(ascii: ",") { b += 1 }
        return b > a ? KVMTraceLine.slice(payload, a, b) : nil
      }
      from = at + 1
    }
    return nil
  }

  /// A `0x`-prefixed (or bare) hexadecimal number, or `nil`.
  static func hex(_ s: UnsafeRawBufferPointer) -> UInt64? {
    var digits = s
    if Bytes.hasPrefix(s, "0x") || Bytes.hasPrefix(s, "0X") {
      digits = KVMTraceLine.slice(s, 2, s.count)
    }
    guard !digits.isEmpty, digits.count <= 16 else { return nil }
    var v: UInt64 = 0
    for b in digits {
      let d: UInt8
      switch b {
      case 0x30...0x39: d = b - 0x30
      case 0x61...0x66: d = b - 0x61 + 10
      case 0x41...0x46: d = b - 0x41 + 10
      default: return nil
      }
      v = v << 4 | UInt64(d)
    }
    return v
  }

  /// The vCPU id of `vcpu N` (kvm_exit's newer layouts, kvm_entry), or `nil`.
  static func vcpu(_ payload: UnsafeRawBufferPointer) -> UInt32? {
    guard let t = token(after: "vcpu", in: payload), let v = Bytes.uint(t), v <= UInt32.max
    else { return nil }
    return UInt32(v)
  }
}
