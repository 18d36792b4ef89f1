import Foundation
import HVReplay
import Testing

@Suite("Sample traces in Traces/")
struct SampleTraceTests {
  /// The synth command lines of Traces/regenerate.sh, as argument lists.
  static func commands() throws -> [[String]] {
    let script = try String(
      contentsOf: HVReplay.repositoryRoot.appendingPathComponent("Traces/regenerate.sh"),
      encoding: .utf8)
    return script.split(separator: "\n")
      .filter { $0.hasPrefix("\"$HVREPLAY\" synth ") }
      .map { $0.split(separator: " ").dropFirst().map(String.init) }
  }

  @Test("every sample is under 1 MB and regenerating it gives the same events and metadata")
  func regenerate() throws {
    let commands = try Self.commands()
    #expect(commands.count >= 5)
    let dir = Scratch()
    for var arguments in commands {
      let o = try #require(arguments.firstIndex(of: "-o"))
      let committed = HVReplay.repositoryRoot.appendingPathComponent(arguments[o + 1]).path
      let size = try FileManager.default.attributesOfItem(atPath: committed)[.size] as! Int
      #expect(size < 1_000_000, "\(committed)")
      let fresh = dir.file(URL(fileURLWithPath: committed).lastPathComponent)
      arguments[o + 1] = fresh
      let result = try HVReplay.run(arguments)
      #expect(result.status == 0, "\(result.stderr)")
      var a = try TraceReader(path: committed)
      var b = try TraceReader(path: fresh)
      #expect(a.metadata == b.metadata)
      var count = 0
      while true {
        let x = try a.next()
        let y = try b.next()
        #expect(x == y, "\(committed): event \(count) differs")
        if x == nil || x != y { break }
        count += 1
      }
      #expect(count > 0)
    }
  }
}
