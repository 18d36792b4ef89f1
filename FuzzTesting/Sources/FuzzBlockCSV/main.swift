import FuzzSupport
import HVReplay

/// Reads the input as each of the block-trace CSV dialects (MSR, SYSTOR, Alibaba, Tencent,
/// libCacheSim), and by two column mappings (named and numbered, `--columns`), with
/// --skip-bad where that fails, and checks the trace invariants (`fuzzTrace`) for each.
@_cdecl("LLVMFuzzerTestOneInput")
public func fuzz(_ start: UnsafeRawPointer, _ count: Int) -> CInt {
  for format in [TraceFormat.msr, .systor, .alibaba, .tencent, .libcachesim] {
    fuzzFormat(start, count, format, retryWithSkipBad: true)
  }
  for spec in [
    "time=ts:us,op=rw,offset=lba:512,bytes=size,service=lat:ms,vm=vol",
    "time=#1:s,op=#2,offset=#3:4096,bytes=#4",
  ] {
    var options = TraceReadOptions()
    options.columns = try? ColumnMapping.parse(spec)
    if !fuzzTrace(start, count, options) {
      options.skipBad = 1000
      fuzzTrace(start, count, options)
    }
  }
  return 0
}
