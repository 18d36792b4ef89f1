import Testing

@testable import HVReplay

/// Passthrough (docs/MODEL.md, "Passthrough"): the guest drives the device; closed forms of
/// rules T1-T3.
@Suite struct PassthroughBackendTests {
  static func events() -> [TraceEvent] {
    (0..<4 as Range<UInt64>).map {
      TraceEvent(
        timeNs: $0 * 1_000_000, vm: 1, op: $0 == 3 ? .rx : .read, offset: $0 == 3 ? 0 : $0 << 20,
        bytes: 4096,
        serviceNs: 25_000)
    }
  }

  @Test("posted interrupts and a static IOMMU mapping: no exit, latency is the service time")
  func posted() throws {
    let r = try replay(Self.events(), backends: [.passthrough, .native])
    let m = r.total("passthrough")
    #expect(m.latencySumNs == 4 * 25_000 && r.maxLatency("passthrough") == 25_000)
    #expect(m.exits == 0 && m.traps + m.hypercalls + m.bytesCopied + m.overheadNs == 0)
    #expect(m.interrupts == 4)
    #expect(m.latencySumNs == r.total("native").latencySumNs)
  }

  // Injected interrupts: each costs the EOI exit on the vCPU before the request completes.
  @Test("without posted interrupts each interrupt's EOI exits and adds irq_inject_ns")
  func injected() throws {
    var model = Model()
    model.passthrough.postedInterrupts = false
    let m = try replay(Self.events(), model: model, backends: [.passthrough]).total("passthrough")
    #expect(m.latencySumNs == 4 * (25_000 + model.costs.irqInjectNs))
    #expect(m.exitsEOI == 4 && m.exits == 4 && m.interrupts == 4)
    #expect(m.overheadNs == 4 * model.costs.irqInjectNs)
  }

  // A vIOMMU's per-request map (before the device) and unmap (in the handler), an exit
  // each, for the three reads; the received packet's buffer is unmapped and a fresh one
  // mapped in the handler; a flush and a zero-byte write map nothing.
  @Test("a per-request IOMMU mapping maps before the device and unmaps in the handler")
  func iommu() throws {
    var model = Model()
    model.passthrough.iommuMapNs = 1_000
    let m = try replay(Self.events(), model: model, backends: [.passthrough]).total("passthrough")
    #expect(m.latencySumNs == 4 * (1_000 + 25_000 + 1_000))
    #expect(m.exitsMMIO == 4 * 2 && m.exitsEOI == 0)
    let none = [
      TraceEvent(timeNs: 0, vm: 1, op: .flush, serviceNs: 5_000),
      TraceEvent(timeNs: 1_000_000, vm: 1, op: .write, offset: 0, bytes: 0, serviceNs: 5_000),
    ]
    let n = try replay(none, model: model, backends: [.passthrough]).total("passthrough")
    #expect(n.exitsMMIO == 0 && n.latencySumNs == 2 * 5_000)
  }

  // Simultaneous completions share one interrupt (and, injected, one EOI exit).
  @Test("completions at one instant share one interrupt")
  func shared() throws {
    let events = (0..<6 as Range<UInt64>).map {
      TraceEvent(timeNs: 0, vm: 1, op: .write, offset: $0 << 20, bytes: 4096, serviceNs: 9_000)
    }
    var model = Model()
    model.passthrough.postedInterrupts = false
    let m = try replay(events, model: model, backends: [.passthrough]).total("passthrough")
    #expect(m.interrupts == 1 && m.exitsEOI == 1)
    #expect(m.latencySumNs == 6 * (9_000 + model.costs.irqInjectNs))
  }
}

extension PassthroughBackendTests {
  // Completions 100 ns apart while the first one's injected interrupt (503 ns of EOI exit)
  // is taken: they are read by the same handler run, with no interrupt of their own, as a
  // pending MSI coalesces with the ones after it.
  @Test("completions while an interrupt is taken join its handler")
  func coalesced() throws {
    let events = (0..<4 as Range<UInt64>).map {
      TraceEvent(
        timeNs: $0 * 100, vm: 1, op: .write, offset: $0 << 20, bytes: 4096, serviceNs: 9_000)
    }
    var model = Model()
    model.passthrough.postedInterrupts = false
    let m = try replay(events, model: model, backends: [.passthrough]).total("passthrough")
    #expect(m.interrupts == 1 && m.exitsEOI == 1 && m.requests == 4)
    // All complete at the end of the one interrupt: 9,000 + 503 after the first.
    let end: UInt64 = 9_000 + model.costs.irqInjectNs
    #expect(m.latencySumNs == (end - 0) + (end - 100) + (end - 200) + (end - 300))
  }
}
