import SystemPackage

#if canImport(Glibc)
  import Glibc
#elseif canImport(Musl)
  import Musl
#elseif canImport(Darwin)
  import Darwin
#endif

/// Decompresses a zstd or gzip stream on a background thread, a few fixed chunks ahead
/// of the reader, so decompression and decoding use two cores.
///
/// Memory is fixed: ``slotCount`` chunks of ``slotSize`` bytes.
final class DecompressionPipeline: @unchecked Sendable {
  static let slotCount = 4
  static let slotSize = 1 << 20

  private let decoder: any StreamDecompressor
  private let descriptor: Int32
  private let fileName: String
  private var prefix: [UInt8]
  private let slots: UnsafeMutableRawPointer
  private var lengths = [Int](repeating: 0, count: slotCount)
  private let mutex: UnsafeMutablePointer<pthread_mutex_t>
  private let changed: UnsafeMutablePointer<pthread_cond_t>
  // Guarded by `mutex`:
  private var produced = 0
  private var consumed = 0
  private var finished = false
  private var failure: HVReplayError?
  private var stopping = false
  private var compressedRead: UInt64 = 0
  // Reader side only:
  private var readPosition = 0
  private var thread: pthread_t?

  /// - Parameters:
  ///   - descriptor: the open file; read from the background thread only.
  ///   - prefix: bytes already read from the file, handed out first.
  init(
    descriptor: Int32, prefix: [UInt8], fileName: String, decoder: any StreamDecompressor
  ) {
    self.decoder = decoder
    self.descriptor = descriptor
    self.prefix = prefix
    self.fileName = fileName
    compressedRead = UInt64(prefix.count)
    slots = .allocate(byteCount: Self.slotCount * Self.slotSize, alignment: 64)
    mutex = .allocate(capacity: 1)
    changed = .allocate(capacity: 1)
    pthread_mutex_init(mutex, nil)
    pthread_cond_init(changed, nil)
    let context = Unmanaged.passRetained(self).toOpaque()
    #if canImport(Darwin)
      var handle: pthread_t?
    #else
      var handle = pthread_t()
    #endif
    let status = pthread_create(
      &handle, nil,
      { context in
        let pipeline = Unmanaged<DecompressionPipeline>.fromOpaque(context!).takeRetainedValue()
        pipeline.produce()
        return nil
      }, context)
    if status == 0 {
      thread = handle
    } else {
      Unmanaged<DecompressionPipeline>.fromOpaque(context).release()
      failure = HVReplayError(.ioError, file: fileName, "cannot start the decompression thread")
      finished = true
    }
  }

  deinit {
    slots.deallocate()
    pthread_cond_destroy(changed)
    pthread_mutex_destroy(mutex)
    mutex.deallocate()
    changed.deallocate()
  }

  /// Stops the background thread and waits for it; call once, when done reading.
  func stop() {
    pthread_mutex_lock(mutex)
    stopping = true
    pthread_cond_broadcast(changed)
    pthread_mutex_unlock(mutex)
    if let thread {
      pthread_join(thread, nil)
      self.thread = nil
    }
  }

  /// Compressed bytes read from the file so far.
  var fileBytesRead: UInt64 {
    pthread_mutex_lock(mutex)
    defer { pthread_mutex_unlock(mutex) }
    return compressedRead
  }

  /// Copies up to `count` decompressed bytes to `destination`; 0 at the end.
  func read(into destination: UnsafeMutableRawPointer, count: Int) throws(HVReplayError) -> Int {
    pthread_mutex_lock(mutex)
    while produced == consumed && !finished { pthread_cond_wait(changed, mutex) }
    if produced == consumed {
      let failure = self.failure
      pthread_mutex_unlock(mutex)
      if let failure { throw failure }
      return 0
    }
    let slot = consumed % Self.slotCount
    let length = lengths[slot]
    pthread_mutex_unlock(mutex)

    let n = min(count, length - readPosition)
    destination.copyMemory(from: slots + slot * Self.slotSize + readPosition, byteCount: n)
    readPosition += n
    if readPosition == length {
      readPosition = 0
      pthread_mutex_lock(mutex)
      consumed += 1
      pthread_cond_broadcast(changed)
      pthread_mutex_unlock(mutex)
    }
    return n
  }

  /// The background thread: fills free slots until the stream ends or fails.
  private func produce() {
    while true {
      pthread_mutex_lock(mutex)
      while produced - consumed == Self.slotCount && !stopping {
        pthread_cond_wait(changed, mutex)
      }
      let stop = stopping
      pthread_mutex_unlock(mutex)
      if stop { return }

      let slot = produced % Self.slotCount
      let buffer = UnsafeMutableRawBufferPointer(
        start: slots + slot * Self.slotSize, count: Self.slotSize)
      var outcome: HVReplayError?
      var length = 0
      do {
        length = try decoder.decompress(
          into: buffer, reading: readFile, fileName: fileName,
          compressedOffset: { self.compressedRead })
      } catch {
        outcome = error
      }
      pthread_mutex_lock(mutex)
      if let outcome {
        failure = outcome
        finished = true
      } else if length == 0 {
        finished = true
      } else {
        lengths[slot] = length
        produced += 1
      }
      pthread_cond_broadcast(changed)
      pthread_mutex_unlock(mutex)
      if outcome != nil || length == 0 { return }
    }
  }

  private func readFile(into buffer: UnsafeMutableRawBufferPointer) throws(HVReplayError) -> Int {
    if !prefix.isEmpty {
      let n = min(prefix.count, buffer.count)
      prefix.withUnsafeBytes { buffer.baseAddress!.copyMemory(from: $0.baseAddress!, byteCount: n) }
      prefix.removeFirst(n)
      return n
    }
    let n: Int
    do {
      n = try FileDescriptor(rawValue: descriptor).read(into: buffer)
    } catch {
      throw HVReplayError(.ioError, file: fileName, "cannot read: \(error)")
    }
    pthread_mutex_lock(mutex)
    compressedRead += UInt64(n)
    pthread_mutex_unlock(mutex)
    return n
  }
}
