/// A trace file format: hvreplay's own two, and the recordings users bring (imported).
public enum TraceFormat: String, Sendable, CaseIterable, CustomStringConvertible {
  /// The native binary format (`docs/TRACE-FORMAT.md`).
  case hvt
  /// The CSV format.
  case csv
  /// blktrace's binary per-CPU files, version 7, either byte order.
  case blktrace
  /// blkparse's default text output.
  case blkparse
  /// fio's I/O log, version 2 or 3.
  case fio
  /// MSR Cambridge block-trace CSV.
  case msr
  /// SYSTOR '17 block-trace CSV.
  case systor
  /// Alibaba 2020 block-trace CSV.
  case alibaba
  /// Tencent CBS block-trace CSV.
  case tencent
  /// VMware vscsi (CloudPhysics) binary, version 1 or 2.
  case vscsi
  /// libCacheSim's CSV of the CloudPhysics block traces: `version,time,op,size,lbn`.
  case libcachesim
  /// Any block-trace CSV with a header, read by a column mapping (`--columns`).
  case columns
  /// Scheduler traces as text from ftrace, `perf script` or `trace-cmd report`.
  case ftrace

  public var description: String { rawValue }

  /// Whether hvreplay writes this format (the others are imported).
  public var isNative: Bool { self == .hvt || self == .csv }

  /// One line on the format, for `hvreplay formats`.
  public var summary: String {
    switch self {
    case .hvt: "hvreplay's native binary trace (docs/TRACE-FORMAT.md)"
    case .csv: "hvreplay's CSV trace: time_ns,vm,vcpu,kind,op,device,offset,bytes,service_ns"
    case .blktrace: "blktrace binary per-CPU files (v7, either byte order): one request from Q to C"
    case .blkparse: "blkparse's default text output of a blktrace recording"
    case .fio: "fio iolog, version 2 (file action offset length, wait) or 3 (with timestamps)"
    case .msr: "MSR Cambridge CSV: Timestamp,Hostname,DiskNumber,Type,Offset,Size,ResponseTime"
    case .systor: "SYSTOR '17 CSV: Timestamp,Response,IOType,LUN,Offset,Size"
    case .alibaba: "Alibaba 2020 CSV: device_id,opcode,offset,length,timestamp_us"
    case .tencent: "Tencent CBS CSV: timestamp_s,offset_sectors,size_sectors,io_type,volume_id"
    case .libcachesim: "libCacheSim's CloudPhysics CSV: version,time(us),op(SCSI hex),size,lbn"
    case .columns: "any block-trace CSV, its columns named by --columns time=COL:unit,op=COL,.."
    case .vscsi: "VMware vscsi (CloudPhysics) binary, version 1 (32-byte) or 2 (40-byte records)"
    case .ftrace:
      "sched_switch / sched_wakeup text from ftrace, perf script or trace-cmd report: cpu bursts"
    }
  }
}

/// A trace format and a compression, as named by a file extension such as `.hvt.zst`.
public struct TraceFileType: Hashable, Sendable, CustomStringConvertible {
  public var format: TraceFormat
  public var compression: Compression

  public init(format: TraceFormat, compression: Compression) {
    self.format = format
    self.compression = compression
  }

  /// The names users give: `hvt`, `hvt.zst`, `csv`, `csv.zst`.
  public static let allNames = ["hvt", "hvt.zst", "csv", "csv.zst"]

  /// Parses `hvt`, `hvt.zst`, `csv` or `csv.zst`.
  public init?(name: String) {
    let parts = name.lowercased().split(separator: ".", omittingEmptySubsequences: false)
    guard let first = parts.first, let format = TraceFormat(rawValue: String(first)),
      format.isNative
    else {
      return nil
    }
    switch parts.count {
    case 1: self.init(format: format, compression: .none)
    case 2 where parts[1] == "zst" || parts[1] == "zstd":
      self.init(format: format, compression: .zstd)
    default: return nil
    }
  }

  /// The type a file name's extension names (`trace.hvt.zst`), or `nil`.
  public init?(path: String) {
    let name = path.lowercased()
    for candidate in Self.allNames.reversed() where name.hasSuffix("." + candidate) {
      self.init(name: candidate)
      return
    }
    return nil
  }

  public var description: String {
    compression == .none ? format.rawValue : "\(format.rawValue).zst"
  }
}
