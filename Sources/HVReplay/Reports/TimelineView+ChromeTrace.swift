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

  /// Writes ``chromeTrace(trace:)`` to `sink` a piece at a time (about 1 MB each), so the
  /// whole file is never held as one string.
  public func writeChromeTrace<E: Error>(
    trace: TraceIdentity, to sink: (String) throws(E) -> Void
  ) throws(E) {
    var metadata: [String] = []
    var events: [(ts: UInt64, line: String)] = []
    for (p, process) in processes.enumerated() {
      let pid = p + 1
      metadata.append(
        Self.event([
          ("ph", .string("M")), ("name", .string("process_name")), ("pid", .int(Int64(pid))),
          ("tid", .int(0)), ("args", .object([("name", .string(process.name))])),
        ]))
      metadata.append(
        Self.event([
          ("ph", .string("M")), ("name", .string("process_sort_index")),
          ("pid", .int(Int64(pid))), ("tid", .int(0)),
          ("args", .object([("sort_index", .int(Int64(pid)))])),
        ]))
      for (t, thread) in process.threads.enumerated() {
        let tid = Int64(t + 1)
        metadata.append(
          Self.event([
            ("ph", .string("M")), ("name", .string("thread_name")), ("pid", .int(Int64(pid))),
            ("tid", .int(tid)), ("args", .object([("name", .string(thread.name))])),
          ]))
        metadata.append(
          Self.event([
            ("ph", .string("M")), ("name", .string("thread_sort_index")),
            ("pid", .int(Int64(pid))), ("tid", .int(tid)),
            ("args", .object([("sort_index", .int(tid))])),
          ]))
        for slice in thread.slices {
          var args: [(String, JSONValue)] = []
          if slice.channel >= 0 {
            args.append(("channel", .string(Self.name(of: channels[Int(slice.channel)]))))
          }
          args.append(("cpu_ns", .uint(slice.endNs - slice.startNs)))
          events.append(
            (
              slice.startNs,
              Self.event([
                ("ph", .string("X")), ("cat", .string("cpu")), ("name", .string(slice.name)),
                ("pid", .int(Int64(pid))), ("tid", .int(tid)), ("ts", Self.us(slice.startNs)),
                ("dur", Self.us(slice.endNs - slice.startNs)), ("args", .object(args)),
              ])
            ))
        }
        for instant in thread.instants {
          events.append(
            (
              instant.timeNs,
              Self.event([
                ("ph", .string("i")), ("s", .string("t")), ("cat", .string("event")),
                ("name", .string(instant.kind.label)), ("pid", .int(Int64(pid))),
                ("tid", .int(tid)), ("ts", Self.us(instant.timeNs)),
                ("args", .object([("count", .uint(instant.count))])),
              ])
            ))
        }
      }
      for request in process.requests {
        let channel = channels[request.channel]
        let tid = Int64(process.channelThread[request.channel] + 1)
        // Ids are unique across processes, so no viewer pairs one process's slices with
        // another's.
        let id = JSONValue.string(
          "0x\(String(UInt64(pid) << 32 | UInt64(request.number), radix: 16))")
        // Named by channel and op only (the size is an argument), so that viewers, which
        // group async slices by name, put a channel's requests together.
        let name = "\(Self.name(of: channel)) \(request.op)"
        func async(_ ph: String, _ name: String, _ ts: UInt64, _ args: [(String, JSONValue)]?) {
          var fields: [(String, JSONValue)] = [
            ("ph", .string(ph)), ("cat", .string("request")), ("name", .string(name)),
            ("id", id), ("pid", .int(Int64(pid))), ("tid", .int(tid)), ("ts", Self.us(ts)),
          ]
          if let args { fields.append(("args", .object(args))) }
          events.append((ts, Self.event(fields)))
        }
        var args: [(String, JSONValue)] = [
          ("vm", .uint(UInt64(channel.vm))), ("channel", .string(channel.name)),
          ("op", .string(request.op.description)), ("bytes", .uint(request.bytes)),
          ("latency_ns", .uint(request.endNs - request.startNs)),
        ]
        if request.unfinished { args.append(("unfinished", .bool(true))) }
        async("b", name, request.startNs, args)
        for phase in request.phases {
          async(
            "b", phase.phase.label, phase.startNs,
            [("ns", .uint(phase.endNs - phase.startNs))])
          async("e", phase.phase.label, phase.endNs, nil)
        }
        async("e", name, request.endNs, nil)
      }
      for counter in process.counters {
        for point in counter.points {
          events.append(
            (
              point.timeNs,
              Self.event([
                ("ph", .string("C")), ("name", .string(counter.name)), ("pid", .int(Int64(pid))),
                ("tid", .int(0)), ("ts", Self.us(point.timeNs)),
                ("args", .object([(counter.unit, .uint(point.value))])),
              ])
            ))
        }
      }
    }
    // Stable: events of one instant keep the order they were laid out in (a request's
    // phase ends before the next begins).
    let ordered = events.enumerated().sorted {
      ($0.element.ts, $0.offset) < ($1.element.ts, $1.offset)
    }
    var out = "{\"displayTimeUnit\":\"ns\",\n\"otherData\":"
    out += JSONValue.object(otherData(trace: trace)).serialized(pretty: false)
    out += ",\n\"traceEvents\":[\n"
    var first = true
    for line in metadata + ordered.map(\.element.line) {
      if !first { out += ",\n" }
      first = false
      out += line
      if out.utf8.count >= 1 << 20 {
        try sink(out)
        out = ""
      }
    }
    out += "\n]}\n"
    try sink(out)
  }

  /// The file's metadata: what was recorded and where recording stopped, per backend.
  func otherData(trace: TraceIdentity) -> [(String, JSONValue)] {
    var data: [(String, JSONValue)] = [
      ("tool", .string("hvreplay \(HVReplayVersion.current)")),
      ("trace", .string(trace.path)),
      (
        "window",
        .string(
          (window.startNs.map { "from \($0) ns" } ?? "from the first request")
            + ", \(Duration.format(nanoseconds: window.lengthNs)) of trace time")
      ),
      ("record_limit", .string("\(window.recordLimit) records per backend")),
    ]
    for process in processes {
      let end = process.startNs.adding(saturating: process.lengthNs)
      let state =
        process.records == 0
        ? "empty: no request was issued and nothing ran in the window"
        : process.cut
          ? "cut at \(process.recordedUntilNs) ns (\(Duration.format(nanoseconds: process.recordedUntilNs - process.startNs)) into the window): the record limit was reached; requests issued after it are not shown"
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
