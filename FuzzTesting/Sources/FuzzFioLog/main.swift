import FuzzSupport
import HVReplay

/// Reads the input as fio's iolog, version 2 or 3, then with --skip-bad
/// where that fails, and checks the trace invariants
/// (`fuzzTrace`).
@_cdecl("LLVMFuzzerTestOneInput")
public func fuzz(_ start: UnsafeRawPointer, _ count: Int) -> CInt {
  fuzzFormat(start, count, .fio, retryWithSkipBad: true)
  return 0
}
