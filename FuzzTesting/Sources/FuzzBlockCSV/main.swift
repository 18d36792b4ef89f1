import FuzzSupport
import HVReplay

/// Reads the input as each of the block-trace CSV dialects (MSR, SYSTOR, Alibaba, Tencent),
/// and with --skip-bad where that fails, and checks the trace invariants (`fuzzTrace`) for each.
@_cdecl("LLVMFuzzerTestOneInput")
public func fuzz(_ start: UnsafeRawPointer, _ count: Int) -> CInt {
  for format in [TraceFormat.msr, .systor, .alibaba, .tencent] {
    fuzzFormat(start, count, format, retryWithSkipBad: true)
  }
  return 0
}
