// The Chrome trace event format (the "JSON Object Format" Perfetto and chrome://tracing
// open; docs/TIMELINE.md): metadata events name each process and thread; CPU work is
// complete events ("X") on its context's thread; each request is a nestable async slice
// ("b"/"e", one id per request) with its phases nested in it; exits, notifications and
// interrupts are thread-scoped instants ("i"); counters ("C") carry ring occupancy, busy
// pCPUs and running vCPUs. Times are microseconds, written exactly to the nanosecond.

extension TimelineView {
  /// The timeline as a Chrome trace event JSON object, events in time order.
  public func chromeTrace(trace: TraceIdentity) -> String {
    var text = ""
    writeChromeTrace(trace: trace) { text += $0 }
    return text
  }

  /// Where an event comes from, to be written when its turn comes: the events are sorted
  /// as these small keys, and each line is made only as it is written.
  private struct EventKey {
    enum Kind: UInt8 {
      case slice, instant, requestBegin, phaseBegin, phaseEnd, requestEnd, counter
    }
    var ts: UInt64
    /// The order laid out in, which breaks ties of `ts` (a request's phase ends before the
    /// next begins).
    var sequence: UInt32
    var process: UInt32
    var kind: Kind
    /// The thread, request or counter, and the slice, instant, phase or point in it.
    var a: UInt32
    var b: UInt32
  }

  /// Writes ``chromeTrace(trace:)`` to `sink` a piece at a time (about 1 MB each), so the
  /// whole file is never held as one string: memory holds the laid-out timeline and a
  /// 32-byte key per event.
  public func writeChromeTrace<E: Error>(
    trace: TraceIdentity, to sink: (String) throws(E) -> Void
  ) throws(E) {
    var out = "{\"displayTimeUnit\":\"ns\",\n\"otherData\":"
    out += JSONValue.object(otherData(trace: trace)).serialized(pretty: false)
    out += ",\n\"traceEvents\":[\n"
    var first = true
    func emit(_ line: String) throws(E) {
      if !first { out += ",\n" }
      first = false
      out += line
      if out.utf8.count >= 1 << 20 {
        try sink(out)
        out = ""
      }
    }
    var keys: [EventKey] = []
    func key(_ ts: UInt64, _ p: Int, _ kind: EventKey.Kind, _ a: Int, _ b: Int = 0) {
      keys.append(
        EventKey(
          ts: ts, sequence: UInt32(truncatingIfNeeded: keys.count), process: UInt32(p),
          kind: kind, a: UInt32(a), b: UInt32(b)))
    }
    for (p, process) in processes.enumerated() {
      let pid = Int64(p + 1)
      try emit(
        Self.event([
          ("ph", .string("M")), ("name", .string("process_name")), ("pid", .int(pid)),
          ("tid", .int(0)), ("args", .object([("name", .string(process.name))])),
        ]))
      try emit(
        Self.event([
          ("ph", .string("M")), ("name", .string("process_sort_index")), ("pid", .int(pid)),
          ("tid", .int(0)), ("args", .object([("sort_index", .int(pid))])),
        ]))
      for (t, thread) in process.threads.enumerated() {
        let tid = Int64(t + 1)
        try emit(
          Self.event([
            ("ph", .string("M")), ("name", .string("thread_name")), ("pid", .int(pid)),
            ("tid", .int(tid)), ("args", .object([("name", .string(thread.name))])),
          ]))
        try emit(
          Self.event([
            ("ph", .string("M")), ("name", .string("thread_sort_index")), ("pid", .int(pid)),
            ("tid", .int(tid)), ("args", .object([("sort_index", .int(tid))])),
          ]))
        for (k, slice) in thread.slices.enumerated() { key(slice.startNs, p, .slice, t, k) }
        for (k, instant) in thread.instants.enumerated() { key(instant.timeNs, p, .instant, t, k) }
      }
      for (r, request) in process.requests.enumerated() {
        key(request.startNs, p, .requestBegin, r)
        for (k, phase) in request.phases.enumerated() {
          key(phase.startNs, p, .phaseBegin, r, k)
          key(phase.endNs, p, .phaseEnd, r, k)
        }
        key(request.endNs, p, .requestEnd, r)
      }
      for (c, counter) in process.counters.enumerated() {
        for k in counter.points.indices { key(counter.points[k].timeNs, p, .counter, c, k) }
      }
    }
    keys.sort { ($0.ts, $0.sequence) < ($1.ts, $1.sequence) }
    for k in keys { try emit(line(k)) }
    out += "\n]}\n"
    try sink(out)
  }

  /// The JSON line of the event `key` names.
  private func line(_ key: EventKey) -> String {
    let process = processes[Int(key.process)]
    let pid = JSONValue.int(Int64(key.process) + 1)
    switch key.kind {
    case .slice:
      let slice = process.threads[Int(key.a)].slices[Int(key.b)]
      var args: [(String, JSONValue)] = []
      if slice.channel >= 0 {
        args.append(("channel", .string(Self.name(of: channels[Int(slice.channel)]))))
      }
      args.append(("cpu_ns", .uint(slice.endNs - slice.startNs)))
      return Self.event([
        ("ph", .string("X")), ("cat", .string("cpu")), ("name", .string(slice.name)),
        ("pid", pid), ("tid", .int(Int64(key.a) + 1)), ("ts", Self.us(slice.startNs)),
        ("dur", Self.us(slice.endNs - slice.startNs)), ("args", .object(args)),
      ])
    case .instant:
      let instant = process.threads[Int(key.a)].instants[Int(key.b)]
      return Self.event([
        ("ph", .string("i")), ("s", .string("t")), ("cat", .string("event")),
        ("name", .string(instant.kind.label)), ("pid", pid), ("tid", .int(Int64(key.a) + 1)),
        ("ts", Self.us(instant.timeNs)), ("args", .object([("count", .uint(instant.count))])),
      ])
    case .requestBegin, .phaseBegin, .phaseEnd, .requestEnd:
      let request = process.requests[Int(key.a)]
      let channel = channels[request.channel]
      // Ids are unique across processes, so no viewer pairs one process's slices with
      // another's.
      let id = JSONValue.string(
        "0x\(String(UInt64(key.process + 1) << 32 | UInt64(request.number), radix: 16))")
      // Named by channel and op only (the size is an argument), so that viewers, which
      // group async slices by name, put a channel's requests together.
      let requestName = "\(Self.name(of: channel)) \(request.op)"
      let ph: String
      let name: String
      let ts: UInt64
      var args: [(String, JSONValue)]?
      switch key.kind {
      case .requestBegin:
        (ph, name, ts) = ("b", requestName, request.startNs)
        args = [
          ("vm", .uint(UInt64(channel.vm))), ("channel", .string(channel.name)),
          ("op", .string(request.op.description)), ("bytes", .uint(request.bytes)),
          ("latency_ns", .uint(request.endNs - request.startNs)),
        ]
        if request.unfinished { args?.append(("unfinished", .bool(true))) }
      case .phaseBegin:
        let phase = request.phases[Int(key.b)]
        (ph, name, ts) = ("b", phase.phase.label, phase.startNs)
        args = [("ns", .uint(phase.endNs - phase.startNs))]
      case .phaseEnd:
        let phase = request.phases[Int(key.b)]
        (ph, name, ts) = ("e", phase.phase.label, phase.endNs)
      default:
        (ph, name, ts) = ("e", requestName, request.endNs)
      }
      var fields: [(String, JSONValue)] = [
        ("ph", .string(ph)), ("cat", .string("request")), ("name", .string(name)), ("id", id),
        ("pid", pid), ("tid", .int(Int64(process.channelThread[request.channel] + 1))),
        ("ts", Self.us(ts)),
      ]
      if let args { fields.append(("args", .object(args))) }
      return Self.event(fields)
    case .counter:
      let counter = process.counters[Int(key.a)]
      let point = counter.points[Int(key.b)]
      return Self.event([
        ("ph", .string("C")), ("name", .string(counter.name)), ("pid", pid), ("tid", .int(0)),
        ("ts", Self.us(point.timeNs)), ("args", .object([(counter.unit, .uint(point.value))])),
      ])
    }
  }

  /// The file's metadata: what was recorded and where recording stopped, per backend.
  func otherData(trace: TraceIdentity) -> [(String, JSONValue)] {
    var data: [(String, JSONValue)] = [
      ("tool", .string("hvreplay \(HVReplayVersion.current)")),
      ("trace", .string(trace.path)),
      (
        "window",
        .string(
          (window.startNs.map { "from \($0) ns" } ?? "from the first event")
            + ", \(Self.time(window.lengthNs)) of trace time as replayed")
      ),
      ("record_limit", .string("\(window.recordLimit) records per backend")),
    ]
    for process in processes {
      let end = process.startNs.adding(saturating: process.lengthNs)
      let state =
        process.cut
        ? "cut at \(process.recordedUntilNs) ns (\(Self.time(process.recordedUntilNs - process.startNs)) into the window): the record limit was reached; nothing from then on is shown"
        : process.records == 0
          ? "empty: no request was issued and nothing ran in the window"
          : "complete: \(process.startNs) ns to \(end) ns"
      data.append(
        (
          process.name,
          .string("\(state); \(process.requests.count) requests, \(process.records) records")
        ))
    }
    return data
  }

  /// `ns` as microseconds, exactly: `1234.567`.
  static func us(_ ns: UInt64) -> JSONValue {
    let fraction = ns % 1000
    let digits = String(fraction)
    return .raw(
      "\(ns / 1000).\(String(repeating: "0", count: 3 - digits.count))\(digits)")
  }

  private static func event(_ fields: [(String, JSONValue)]) -> String {
    JSONValue.object(fields).serialized(pretty: false)
  }
}
