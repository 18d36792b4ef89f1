import Testing

@testable import HVReplay

/// Exits by reason (docs/MODEL.md, "Exits by reason"): which VM exits each design's I/O path
/// takes, in perf kvm stat's vocabulary.
@Suite struct ExitsByReasonTests {
  // BackendModelTests' isolated requests: 4 disk requests (read, write, flush, barrier), a
  // transmitted and a received packet, each finding everything idle.
  @Test("isolated requests: each design's exits by reason follow from its rules")
  func isolated() throws {
    let events = BackendModelTests.isolated()
    let r = try replay(events, backends: [.native, .full, .para, .virtio])
    let disk = Model().full.disk
    let full = r.total("full")
    // IDE's registers are I/O ports: every disk trap; e1000's are MMIO: the tx tail write
    // and the two interrupt-cause reads. Each of the 6 interrupts has its EOI exit.
    #expect(full.exitsPIO == 4 * (disk.submitTraps + disk.completionTraps))
    #expect(full.exitsMMIO == 1 + 2)
    #expect(full.exitsEOI == 6 && full.exitsVMCALL == 0)
    let para = r.total("para")
    #expect(para.exitsVMCALL == 5 && para.exitsEOI == 6 && para.exitsMMIO + para.exitsPIO == 0)
    let virtio = r.total("virtio")
    #expect(virtio.exitsMMIO == 5 && virtio.exitsEOI == 6 && virtio.exitsVMCALL == 0)
    #expect(r.total("native").exits == 0)
    // Every trap and hypercall is an exit, and every interrupt one more (its EOI).
    for m in [full, para, virtio] {
      #expect(m.exits == m.traps + m.hypercalls + m.interrupts)
    }
    let md = ReplayReport(r).markdown
    #expect(md.contains("## Exits by reason"))
    #expect(md.contains("| full | 3 | 36 | 6 | 0 | 45 | 7.50 |"))
    #expect(md.contains("| virtio | 5 | 0 | 6 | 0 | 11 | 1.83 |"))
  }
}
