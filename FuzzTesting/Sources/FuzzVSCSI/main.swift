import FuzzSupport
import HVReplay

/// Reads the input as VMware vscsi binary, version 1 or 2, then with --skip-bad
/// where that fails, and checks the trace invariants
/// (`fuzzTrace`).
@_cdecl("LLVMFuzzerTestOneInput")
public func fuzz(_ start: UnsafeRawPointer, _ count: Int) -> CInt {
  fuzzFormat(start, count, .vscsi, retryWithSkipBad: true)
  return 0
}
