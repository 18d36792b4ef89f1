import Testing

@testable import HVReplay

/// Xen's blkif extensions as settings of para (docs/MODEL.md, "Xen's blkif extensions"):
/// multi-page rings, indirect descriptors, persistent grants and the unmap's TLB shootdown.
@Suite struct XenExtensionTests {
  static func read(_ k: UInt64, bytes: UInt32, at t: UInt64 = 0) -> TraceEvent {
    TraceEvent(timeNs: t, vm: 1, op: .read, offset: k << 24, bytes: bytes, serviceNs: 20_000)
  }

  // 200 requests at once: a one-page ring (32 slots) stalls 168 of them, a four-page ring
  // (128 slots) 72.
  @Test("para.ring_pages multiplies a disk ring's slots")
  func multiPageRing() throws {
    let events = (0..<200 as Range<UInt64>).map { Self.read($0, bytes: 4096) }
    #expect(try replay(events, backends: [.para]).total("para").ringFullStalls == 168)
    var model = Model()
    model.para.ringPages = 4
    let m = try replay(events, model: model, backends: [.para]).total("para")
    #expect(m.ringFullStalls == 200 - 128)
    #expect(m.occupancy?.entries == 128)
  }

  // 11 segments fit in the slot; 16 need one indirect page, mapped as a grant too; 1 MiB
  // (256 segments) one page of 512 descriptors.
  @Test("beyond 11 segments the backend maps the indirect page too")
  func indirect() throws {
    for (bytes, grants) in [(11 * 4096, 11), (16 * 4096, 17), (1 << 20, 257)] as [(UInt32, UInt64)]
    {
      let m = try replay([Self.read(0, bytes: bytes)], backends: [.para]).total("para")
      #expect(m.grantsMapped == grants, "\(bytes) bytes")
    }
  }

  // Persistent grants: the backend maps nothing; blkfront copies a write's payload before
  // the push and a read's after the response, on the guest's vCPU.
  @Test("persistent grants trade grant maps for the frontend's copies")
  func persistentGrants() throws {
    let bytes: UInt32 = 16_384
    let events = [
      Self.read(0, bytes: bytes),
      TraceEvent(
        timeNs: 10_000_000, vm: 1, op: .write, offset: 1 << 30, bytes: bytes, serviceNs: 20_000),
    ]
    let plain = try replay(events, backends: [.para]).total("para")
    var model = Model()
    model.para.persistentGrants = true
    let kept = try replay(events, model: model, backends: [.para]).total("para")
    #expect(kept.grantsMapped == 0 && kept.copiesAvoided == 0)
    #expect(kept.bytesCopied == 2 * UInt64(bytes))
    // Each request: 4 grant maps fewer, one copy of 16 KiB more.
    let delta = Int64(model.copyNs(UInt64(bytes))) - 4 * Int64(model.costs.grantMapNs)
    #expect(Int64(kept.latencySumNs) - Int64(plain.latencySumNs) == 2 * delta)
    #expect(plain.grantsMapped == 8 && plain.copiesAvoided == 2)
  }

  // With n driver-domain vCPUs, unmapping a request's grants flushes the n - 1 others'
  // TLBs, an IPI each: latency grows by (n - 1) x backend_wakeup_ns; persistent grants
  // unmap nothing.
  @Test("the grant unmap's TLB shootdown costs an IPI per other dom0 vCPU")
  func shootdown() throws {
    let events = [Self.read(0, bytes: 4096)]
    let one = try replay(events, backends: [.para]).total("para").latencySumNs
    var model = Model()
    model.backend.vcpus = 4
    let four = try replay(events, model: model, backends: [.para]).total("para").latencySumNs
    #expect(four - one == 3 * model.costs.backendWakeupNs)
    model.para.persistentGrants = true
    let kept = try replay(events, model: model, backends: [.para]).total("para").latencySumNs
    #expect(kept == one - model.costs.grantMapNs + model.copyNs(4096))
  }
}
