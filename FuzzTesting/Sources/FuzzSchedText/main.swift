import FuzzSupport
import HVReplay

/// Reads the input as ftrace / perf script / trace-cmd scheduler text, under each task
/// grouping (--group-by pid, tgid, comm), with --skip-bad where that fails, and checks the trace
/// invariants (`fuzzTrace`) for each.
@_cdecl("LLVMFuzzerTestOneInput")
public func fuzz(_ start: UnsafeRawPointer, _ count: Int) -> CInt {
  for grouping in TaskGrouping.allCases {
    var options = TraceReadOptions()
    options.format = .ftrace
    options.grouping = grouping
    if !fuzzTrace(start, count, options) {
      options.skipBad = 1000
      fuzzTrace(start, count, options)
    }
  }
  return 0
}
