#if canImport(Glibc)
  import Glibc
#elseif canImport(Musl)
  import Musl
#elseif canImport(Darwin)
  import Darwin
#endif

/// Reads a text file line by line through a ``ByteInput`` window, in fixed memory.
///
/// Lines end in `\n` or `\r\n`; the last may lack its ending. A line longer than the
/// window is an error.
struct LineScanner {
  let input: ByteInput
  private var position = 0
  private var end: Int
  /// The 1-based number of the line last returned.
  private(set) var line = 0
  /// Whether the file's last line had no line end (the file may have been cut).
  private(set) var lastLineUnterminated = false

  init(input: ByteInput) {
    self.input = input
    end = input.end
  }

  /// The next line, without its ending, or `nil` at the end of the file. The bytes stay
  /// valid until the next call.
  mutating func next() throws(HVReplayError) -> UnsafeRawBufferPointer? {
    let base = input.base
    while true {
      let remaining = end - position
      if remaining > 0, let newline = memchr(base + position, 0x0A, remaining) {
        let stop = base.distance(to: UnsafeMutableRawPointer(newline))
        let start = position
        position = stop + 1
        line += 1
        var count = stop - start
        if count > 0 && base.load(fromByteOffset: stop - 1, as: UInt8.self) == 0x0D { count -= 1 }
        return UnsafeRawBufferPointer(start: base + start, count: count)
      }
      if input.atEnd {
        if remaining == 0 { return nil }
        let start = position
        position = end
        line += 1
        lastLineUnterminated = true
        var count = end - start
        if base.load(fromByteOffset: end - 1, as: UInt8.self) == 0x0D { count -= 1 }
        return UnsafeRawBufferPointer(start: base + start, count: count)
      }
      if position == 0 && end == input.capacity {
        throw HVReplayError(
          .badData, file: input.name, location: .line(line + 1),
          "the line is longer than \(input.capacity) bytes")
      }
      try input.refill(from: position)
      position = 0
      end = input.end
    }
  }
}
