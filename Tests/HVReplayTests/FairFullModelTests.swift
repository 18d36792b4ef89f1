import Testing

@testable import HVReplay

/// The fixes that make full virtualization a fair comparison (docs/MODEL.md, "full
/// virtualization" and "One host"), each against a hand-worked closed form, uncoupled.
@Suite struct FairFullModelTests {
  static let service = 55_900 as UInt64
  /// F1: 8 traps; F4: the interrupt with its EOI and one status read.
  static let submit = 8 * 4_700 as UInt64
  static let completion = 503 + 4_700 as UInt64

  static func read(at t: UInt64, offset: UInt64) -> TraceEvent {
    TraceEvent(timeNs: t, vm: 1, op: .read, offset: offset, bytes: 4096, serviceNs: service)
  }

  // The EOI is counted once (in irq_inject_ns): 9 traps per read, not 10; the emulated
  // disk's DMA maps guest memory: no bytes copied.
  @Test("a full-virtualization disk read traps 9 times, copies nothing, and costs 42,803 ns")
  func eoiOnceNoDiskCopy() throws {
    let result = try replay([Self.read(at: 0, offset: 0)], backends: [.full])
    let m = result.total("full")
    #expect(m.traps == 9)
    #expect(m.bytesCopied == 0)
    #expect(m.latencySumNs == Self.submit + Self.service + Self.completion)
    #expect(m.overheadNs == 42_803)
  }

  // IDE holds one command: the second of two simultaneous reads is programmed only after
  // the first's interrupt; with an NCQ-deep controller its traps follow the first's at once
  // (the channel lock) and the device serves both side by side.
  @Test("the emulated controller's queue depth serializes commands as IDE does")
  func emulatedQueueDepth() throws {
    let events = [Self.read(at: 0, offset: 0), Self.read(at: 0, offset: 1 << 20)]
    let path = Self.submit + Self.service + Self.completion
    let ide = try replay(events, backends: [.full]).total("full")
    #expect(ide.latencySumNs == path + 2 * path)
    #expect(ide.ringFullStalls == 1)
    #expect(ide.ringFullNs == path)
    var model = Model()
    model.full.disk.emulatedQueueDepth = 32
    let ahci = try replay(events, model: model, backends: [.full]).total("full")
    #expect(ahci.latencySumNs == path + (2 * Self.submit + Self.service + Self.completion))
    #expect(ahci.ringFullStalls == 0)
  }

  // e1000 interrupt throttling: with every CPU cost 0, packets sent at 0, 10, 20, 30 and
  // 100 us each take 1,200 ns on the wire; interrupts come at least 50 us apart: the first
  // at 1.2 us, the next (for three packets) at 51.2 us, the last at 101.2 us.
  @Test("interrupt throttling makes completions between two interrupts share the next")
  func interruptThrottling() throws {
    let events = [0, 10_000, 20_000, 30_000, 100_000].map {
      TraceEvent(timeNs: $0, vm: 1, op: .tx, bytes: 1500)
    }
    var model = zeroCostModel()
    #expect(model.full.net.irqIntervalNs == 50_000)
    let throttled = try replay(events, model: model, backends: [.full]).total("full")
    #expect(throttled.interrupts == 3)
    #expect(throttled.latencySumNs == 1_200 + 41_200 + 31_200 + 21_200 + 1_200)
    model.full.net.irqIntervalNs = 0
    let each = try replay(events, model: model, backends: [.full]).total("full")
    #expect(each.interrupts == 5)
    #expect(each.latencySumNs == 5 * 1_200)
  }

  // netback's received packet: woken (1,233), grant copy at the measured rate (980), the
  // response slot (2); the guest's interrupt (503) and the handler's read of it (2).
  @Test("para rx costs netback's wake-up and one grant copy, not a memcpy of the bytes")
  func grantCopyRx() throws {
    let events = [TraceEvent(timeNs: 0, vm: 1, op: .rx, bytes: 1500)]
    let m = try replay(events, backends: [.para]).total("para")
    #expect(m.latencySumNs == 1_200 + 1_233 + 980 + 2 + 503 + 2)
    #expect(m.backendWakeups == 1)
  }
}
