/// A backend's requests in flight, by a small id that a freed request's successor reuses:
/// memory follows the requests outstanding at once, not the trace's length.
public struct RequestPool<Request> {
  private var slots: [Request] = []
  private var free: [Int32] = []

  public init() {}

  /// Stores `request`; its id until ``release(_:)``.
  @inline(__always)
  public mutating func allocate(_ request: Request) -> Int32 {
    if let id = free.popLast() {
      slots[Int(id)] = request
      return id
    }
    slots.append(request)
    return Int32(slots.count - 1)
  }

  /// The request's id may be reused.
  @inline(__always)
  public mutating func release(_ id: Int32) { free.append(id) }

  public subscript(id: Int32) -> Request {
    @inline(__always) get { slots[Int(id)] }
    @inline(__always) _modify { yield &slots[Int(id)] }
  }
}
