import Foundation
import Testing

@Suite("Reports of the sample traces in Reports/")
struct SampleReportTests {
  @Test("replaying every sample in Traces/ gives exactly the committed report files")
  func reportsMatchSamples() throws {
    let root = HVReplay.repositoryRoot.path
    let samples = try FileManager.default.contentsOfDirectory(atPath: root + "/Traces")
      .filter { $0.hasSuffix(".hvt.zst") || $0.hasSuffix(".csv") }.sorted()
    #expect(samples.count >= 5)
    let dir = Scratch()
    for sample in samples {
      let name = sample.replacingOccurrences(of: ".hvt.zst", with: "")
        .replacingOccurrences(of: ".csv", with: "")
      let out = dir.file(name)
      let result = try HVReplay.run(
        ["replay", "Traces/" + sample, "--out", out, "--quiet"], in: root)
      #expect(result.status == 0, "\(sample): \(result.stderr)")
      let committed = root + "/Reports/" + name
      let files = try FileManager.default.contentsOfDirectory(atPath: out).sorted()
      #expect(try FileManager.default.contentsOfDirectory(atPath: committed).sorted() == files)
      for file in files {
        let fresh = FileManager.default.contents(atPath: out + "/" + file)
        let old = FileManager.default.contents(atPath: committed + "/" + file)
        #expect(
          fresh == old, "Reports/\(name)/\(file) is out of date: run sh Reports/regenerate.sh")
      }
    }
  }
}
