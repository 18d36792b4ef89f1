import Foundation

@testable import HVReplay

/// A fresh temporary directory, removed when the value is released.
final class TemporaryDirectory {
  let path: String

  init() {
    path = NSTemporaryDirectory() + "hvreplay-tests-" + UUID().uuidString
    try! FileManager.default.createDirectory(atPath: path, withIntermediateDirectories: true)
  }

  deinit { try? FileManager.default.removeItem(atPath: path) }

  func file(_ name: String) -> String { path + "/" + name }

  @discardableResult
  func write(_ name: String, _ text: String) -> String {
    let p = file(name)
    try! text.write(toFile: p, atomically: false, encoding: .utf8)
    return p
  }

  @discardableResult
  func write(_ name: String, bytes: [UInt8]) -> String {
    let p = file(name)
    try! Data(bytes).write(to: URL(fileURLWithPath: p))
    return p
  }

  func bytes(_ name: String) -> [UInt8] {
    [UInt8](try! Data(contentsOf: URL(fileURLWithPath: file(name))))
  }
}

/// Reads every event of a trace.
func readAll(_ path: String, reorderWindow: Int = TraceReader.defaultReorderWindow)
  throws(HVReplayError) -> [TraceEvent]
{
  var reader = try TraceReader(path: path, reorderWindow: reorderWindow)
  var events: [TraceEvent] = []
  while let e = try reader.next() { events.append(e) }
  return events
}

/// The error reading the whole trace at `path` throws, or `nil`.
func readError(_ path: String, reorderWindow: Int = TraceReader.defaultReorderWindow)
  -> HVReplayError?
{
  do {
    _ = try readAll(path, reorderWindow: reorderWindow)
    return nil
  } catch {
    return error
  }
}

/// Writes `events` to `path` in `type`.
func writeTrace(
  _ events: [TraceEvent], to path: String, type: TraceFileType,
  metadata: TraceMetadata = TraceMetadata()
) throws(HVReplayError) {
  var writer = try TraceWriter(path: path, type: type, metadata: metadata)
  for e in events { try writer.write(e) }
  try writer.finish()
}

extension TraceFileType {
  static let hvt = TraceFileType(format: .hvt, compression: .none)
  static let hvtZstd = TraceFileType(format: .hvt, compression: .zstd)
  static let csv = TraceFileType(format: .csv, compression: .none)
  static let csvZstd = TraceFileType(format: .csv, compression: .zstd)
}

let csvHeader = "time_ns,vm,vcpu,kind,op,device,offset,bytes,service_ns\n"

/// Events covering every op and the extremes of every field.
func edgeCaseEvents() -> [TraceEvent] {
  [
    TraceEvent(timeNs: 0, vm: 0, vcpu: 0, op: .read, device: 0, offset: 0, bytes: 4096),
    TraceEvent(
      timeNs: 5, vm: UInt16.max, vcpu: UInt16.max, op: .write, device: UInt16.max,
      offset: UInt64.max, bytes: UInt32.max, serviceNs: UInt64.max),
    TraceEvent(timeNs: 5, vm: 3, op: .flush),
    TraceEvent(timeNs: 6, vm: 3, op: .barrier, serviceNs: 17),
    TraceEvent(timeNs: 7, vm: 3, op: .discard, offset: 1 << 40, bytes: 1 << 20),
    TraceEvent(timeNs: 8, vm: 4, vcpu: 1, op: .tx, device: 1, bytes: 1500, serviceNs: 900),
    TraceEvent(timeNs: 9, vm: 4, vcpu: 1, op: .rx, device: 1, bytes: 64),
    TraceEvent(timeNs: UInt64.max, vm: 5, vcpu: 7, op: .burst, serviceNs: 10_000_000),
  ]
}
