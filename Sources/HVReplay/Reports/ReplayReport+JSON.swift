extension ReplayReport {
  /// The version of `report.json`'s schema (docs/REPORT-FORMAT.md).
  public static let schemaVersion: UInt64 = 1

  /// `report.json`: the trace's identity, the model, and every figure of `summary.csv`
  /// and `cpu.csv`, by backend and scheduler.
  public var json: JSONValue {
    let trace = result.trace
    let s = trace.statistics
    func figures(_ rows: [Figures.Row]) -> JSONValue {
      .object(
        rows.map { ($0.metric, $0.decimals == 0 ? .uint(UInt64($0.value)) : .double($0.value)) })
    }
    let backendsJSON: [JSONValue] = backends.map { b in
      .object([
        ("name", .string(b.name)),
        ("total", figures(b.total.rows)),
        (
          "devices",
          .array(
            b.devices.map {
              .object([
                ("vm", .uint(UInt64($0.key.vm))), ("device", .string($0.key.name)),
                ("figures", figures($0.figures.rows)),
              ])
            })
        ),
      ])
    }
    let schedulersJSON: [JSONValue] = result.schedulers.map { sched in
      .object([
        ("name", .string(sched.name)),
        ("total", figures(sched.rows(vm: nil))),
        (
          "vms",
          .array(
            sched.vms.indices.map {
              .object([
                ("vm", .uint(UInt64(sched.vms[$0].vm))), ("figures", figures(sched.rows(vm: $0))),
              ])
            })
        ),
      ])
    }
    return .object([
      ("schema", .string("hvreplay-report")),
      ("schema_version", .uint(Self.schemaVersion)),
      ("hvreplay_version", .string(HVReplayVersion.current)),
      (
        "trace",
        .object([
          ("name", .string(trace.name)),
          ("path", .string(trace.path)),
          ("format", .string(trace.format.rawValue)),
          ("compression", .string(trace.compression.rawValue)),
          ("metadata", .object(trace.metadata.entries.map { ($0.key, .string($0.value)) })),
          ("events", .uint(s.events)),
          ("by_kind", .object(EventKind.allCases.map { ($0.description, .uint(s.count($0))) })),
          ("by_op", .object(EventOp.allCases.map { ($0.description, .uint(s.count($0))) })),
          ("payload_bytes", .uint(s.payloadBytes)),
          ("first_ns", .uint(s.firstNs)),
          ("last_ns", .uint(s.lastNs)),
          ("span_ns", .uint(s.spanNs)),
        ])
      ),
      ("model", result.model.json),
      ("backends", .array(backendsJSON)),
      ("schedulers", .array(schedulersJSON)),
    ])
  }
}
