#if canImport(Glibc)
import Glibc
#elseif canImport(Musl)
import Musl
#endif

/// Shared plumbing for the C ABI: every opaque handle is a retained Swift object derived from
/// `Handle`, which keeps the handle's last error message as a NUL-terminated buffer that stays
/// valid until the next call on the same handle (the sqlite3_errmsg contract).
class Handle {
    private(set) var lastError: [CChar] = [0] {
        didSet { noErrorRecorded = lastError.count == 1 }
    }

    /// `lastError` is the empty C string: kept by its writes (rare), so the test that every call
    /// makes (`hasNoError`, `clearError`) is one load rather than the array's count.
    private final var noErrorRecorded = true

    /// Records `error` as the last error and returns its status code.
    final func fail(_ error: VCError) -> Int32 {
        setError(error.message)
        return error.status.rawValue
    }

    final func fail(_ status: Status, _ message: String) -> Int32 {
        fail(VCError(status, message))
    }

    final func setError(_ message: String) {
        lastError = Array(message.utf8CString)
    }

    /// No error is recorded (`clearError()` would change nothing).
    @inline(__always) final var hasNoError: Bool { noErrorRecorded }

    @inline(__always) final func clearError() {
        if !noErrorRecorded { lastError = [0] }
    }

    /// Runs `body`, turning a thrown `VCError` into its status code.
    final func run(_ body: () throws(VCError) -> Int32) -> Int32 {
        do {
            clearError()
            return try body()
        } catch {
            return fail(error)
        }
    }
}

enum HandleTable {
    static func retain<T: Handle>(_ object: T) -> OpaquePointer {
        OpaquePointer(Unmanaged.passRetained(object).toOpaque())
    }

    static func get<T: Handle>(_ pointer: OpaquePointer?, as type: T.Type) -> T? {
        guard let pointer else { return nil }
        return Unmanaged<T>.fromOpaque(UnsafeRawPointer(pointer)).takeUnretainedValue()
    }

    /// Lends the handle's object to `body` without retaining it (the caller's handle keeps it
    /// alive for the call): for calls made per delta, where a retain/release pair is a measurable
    /// share of the work. nil when the pointer is NULL.
    @inline(__always)
    static func with<T: Handle, R>(_ pointer: OpaquePointer?, as type: T.Type, _ body: (T) -> R) -> R? {
        guard let pointer else { return nil }
        return Unmanaged<T>.fromOpaque(UnsafeRawPointer(pointer))._withUnsafeGuaranteedRef(body)
    }

    /// `vc_X_new`: `*out` gets the handle of what `make` built, and VC_OK; when `make` throws,
    /// a handle from `failed` that only carries the error message, and the error's status.
    static func create<T: Handle>(_ out: UnsafeMutablePointer<OpaquePointer?>?, _ make: () throws(VCError) -> T,
                                  failed: (VCError) -> T) -> Int32 {
        guard let out else { return Status.invalidArgument.rawValue }
        do {
            out.pointee = retain(try make())
            return Status.ok.rawValue
        } catch {
            let handle = failed(error)
            let code = handle.fail(error)
            out.pointee = retain(handle)
            return code
        }
    }

    /// `vc_X_errmsg`: the handle's last error message, `invalid` for NULL.
    static func errmsg<T: Handle>(_ pointer: OpaquePointer?, as type: T.Type, invalid: UnsafePointer<CChar>) -> UnsafePointer<CChar> {
        guard let h = get(pointer, as: type) else { return invalid }
        return h.lastError.withUnsafeBufferPointer { UnsafePointer($0.baseAddress!) }
    }

    static func release<T: Handle>(_ pointer: OpaquePointer?, as type: T.Type) {
        guard let pointer else { return }
        Unmanaged<T>.fromOpaque(UnsafeRawPointer(pointer)).release()
    }
}

/// Reads caller-owned bytes `(ptr, len)` as a buffer; NULL with length 0 is the empty buffer.
func borrowBytes(_ ptr: UnsafePointer<CChar>?, _ len: Int) -> UnsafeBufferPointer<UInt8>? {
    if len == 0 { return UnsafeBufferPointer(start: nil, count: 0) }
    guard let ptr, len > 0 else { return nil }
    return UnsafeBufferPointer(start: UnsafeRawPointer(ptr).assumingMemoryBound(to: UInt8.self), count: len)
}

/// Reads an optional NUL-terminated UTF-8 string argument.
func borrowCString(_ ptr: UnsafePointer<CChar>?) -> String?? {
    guard let ptr else { return .some(nil) }
    guard let s = String(validatingCString: ptr) else { return nil }
    return .some(s)
}

/// Parses an optional JSON options argument: NULL or "" means defaults (an empty object).
func parseOptions(_ ptr: UnsafePointer<CChar>?) throws(VCError) -> JSON {
    guard let ptr, ptr.pointee != 0 else { return .object([]) }
    guard let text = String(validatingCString: ptr) else { throw VCError(.invalidUTF8, "options are not valid UTF-8") }
    let value = try JSONParser.parse(text)
    guard case .object = value else { throw VCError(.invalidArgument, "options must be a JSON object") }
    return value
}

/// Copies `bytes` into a new malloc'ed NUL-terminated buffer that the caller releases with
/// `vc_free`.
func mallocString(_ text: String) -> UnsafeMutablePointer<CChar>? {
    let utf8 = text.utf8
    guard let raw = malloc(utf8.count + 1) else { return nil }
    let out = raw.assumingMemoryBound(to: CChar.self)
    var i = 0
    for b in utf8 { out[i] = CChar(bitPattern: b); i += 1 }
    out[i] = 0
    return out
}
