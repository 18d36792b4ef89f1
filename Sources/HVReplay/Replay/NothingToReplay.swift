// Rule "nothing to replay" (docs/MODEL.md): a trace that gives no disk, net or cpu event
// after import is an error (exit 65), never an all-zero report a CI gate would pass. A trace
// with cpu events only still replays its schedulers; one with disk or net events only, its
// backends.

extension TraceFormat {
  /// Why a trace of this format can give no event, and what to record instead.
  var nothingToReplayAdvice: String {
    switch self {
    case .hvt, .csv:
      "the trace holds no event; a trace needs disk, net or cpu events (docs/TRACE-FORMAT.md)"
    case .blktrace, .blkparse:
      "no request was both queued and completed: record with blktrace's default mask, which "
        + "includes Q and C (a mask such as `-a complete` alone records no Q)"
    case .fio:
      "the iolog has no read, write, trim, sync or datasync line: record a job that does I/O "
        + "with fio's --write_iolog"
    case .msr, .systor, .alibaba, .tencent, .libcachesim, .columns:
      "the file has no request record: export the trace's request lines, not only its header"
    case .vscsi:
      "the file has no READ, WRITE, SYNCHRONIZE CACHE or UNMAP command (other SCSI commands are "
        + "not replayed)"
    case .ftrace:
      "no complete cpu burst: record sched_switch and sched_wakeup, e.g. "
        + "`trace-cmd record -e sched:sched_switch -e sched:sched_wakeup`"
    }
  }
}

extension HVReplayError {
  /// The error for a trace of `format` at `file` that gave no event to replay, with the
  /// import notes that say what was left out.
  static func nothingToReplay(
    file: String, format: TraceFormat, notes: [String], skipped: UInt64
  ) -> HVReplayError {
    var message = "nothing to replay: \(format.nothingToReplayAdvice)"
    var dropped = notes.filter { $0.contains("not replayed") || $0.contains("left out") }
    if skipped > 0 { dropped.append("\(skipped) unreadable records skipped (--skip-bad)") }
    if !dropped.isEmpty { message += " (the import: \(dropped.joined(separator: "; ")))" }
    return HVReplayError(.badData, file: file, message)
  }
}
