import FuzzSupport
import HVReplay

/// Reads the input as a report.json (as `compare` and `merge` do) and checks:
///
/// - a failure is one `HVReplayError` with exit code 65 naming the file;
/// - a report read and written again is stable: read -> write gives text T1, reading T1 must
///   succeed, and writing what it gives must be T1 byte for byte;
/// - the report it gives renders (Markdown, CSV files), compares with itself without a
///   regression, and merges with itself or fails with a data error, without trapping.
@_cdecl("LLVMFuzzerTestOneInput")
public func fuzz(_ start: UnsafeRawPointer, _ count: Int) -> CInt {
  FuzzFile.store(start, count)
  let first: ReplayResult
  do {
    first = try readReport(FuzzFile.path)
  } catch {
    checkDataError(error, file: FuzzFile.path)
    return 0
  }
  let report = ReplayReport(first)
  let text = report.json.serialized()
  FuzzFile.store(Array(text.utf8))
  let second: ReplayResult
  do {
    second = try readReport(FuzzFile.path)
  } catch {
    fatalError("report.json written from a report that was read does not read back: \(error)")
  }
  let again = ReplayReport(second).json.serialized()
  if again != text {
    let a = Array(text.utf8)
    let b = Array(again.utf8)
    let at =
      zip(a, b).enumerated().first { $0.element.0 != $0.element.1 }?.offset ?? min(a.count, b.count)
    fatalError(
      "report.json is not stable: read -> write -> read -> write differs at byte \(at): \"\(String(decoding: a[max(0, at - 60)..<min(a.count, at + 60)], as: UTF8.self))\" vs \"\(String(decoding: b[max(0, at - 60)..<min(b.count, at + 60)], as: UTF8.self))\""
    )
  }
  _ = report.markdown
  _ = report.files
  let comparison = ReportComparison(base: first, new: second, baseName: "a", newName: "b")
  if comparison.hasRegression { fatalError("a report compared with itself shows a regression") }
  _ = comparison.markdown
  do {
    let merged = try ReplayResult.merge([first, second], names: ["a", "b"])
    _ = ReplayReport(merged).json.serialized()
  } catch {
    guard error.category == .badData, error.file != nil else {
      fatalError("merging a report with itself gave an unclear error: \(error)")
    }
  }
  return 0
}
