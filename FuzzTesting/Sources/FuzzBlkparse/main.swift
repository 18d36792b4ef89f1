import FuzzSupport
import HVReplay

/// Reads the input as blkparse's text output, then with --skip-bad
/// where that fails, and checks the trace invariants
/// (`fuzzTrace`).
@_cdecl("LLVMFuzzerTestOneInput")
public func fuzz(_ start: UnsafeRawPointer, _ count: Int) -> CInt {
  fuzzFormat(start, count, .blkparse, retryWithSkipBad: true)
  return 0
}
