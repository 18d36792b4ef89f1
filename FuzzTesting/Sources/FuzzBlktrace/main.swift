import FuzzSupport
import HVReplay

/// Reads the input as one blktrace binary per-CPU file and checks the trace invariants (`fuzzTrace`).
/// blktrace has no --skip-bad path: a bad record always stops the import.
@_cdecl("LLVMFuzzerTestOneInput")
public func fuzz(_ start: UnsafeRawPointer, _ count: Int) -> CInt {
  fuzzFormat(start, count, .blktrace, retryWithSkipBad: false)
  return 0
}
