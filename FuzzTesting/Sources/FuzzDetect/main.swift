import FuzzSupport
import HVReplay

/// Reads the input as any trace, its format decided by content as `hvreplay inspect` does and checks the trace invariants (`fuzzTrace`).
@_cdecl("LLVMFuzzerTestOneInput")
public func fuzz(_ start: UnsafeRawPointer, _ count: Int) -> CInt {
  var options = TraceReadOptions()
  fuzzTrace(start, count, options)
  return 0
}
