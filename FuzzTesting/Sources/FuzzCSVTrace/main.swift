import FuzzSupport
import HVReplay

/// Reads the input as hvreplay's CSV trace and checks the trace invariants (`fuzzTrace`).
@_cdecl("LLVMFuzzerTestOneInput")
public func fuzz(_ start: UnsafeRawPointer, _ count: Int) -> CInt {
  fuzzFormat(start, count, .csv, retryWithSkipBad: false)
  return 0
}
