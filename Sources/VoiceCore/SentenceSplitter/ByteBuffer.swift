/// A growable byte buffer for the splitter's hot path: clearing is O(1) (only the count, which
/// lives in the struct, changes) and appends skip the generic `Array` machinery. Copy-on-write
/// keeps value semantics: a buffer shared by two copies of a splitter is copied before either
/// writes to it.
struct ByteBuffer: @unchecked Sendable {
    private final class Storage {
        var base: UnsafeMutablePointer<UInt8>
        var capacity: Int

        init(capacity: Int) {
            self.capacity = max(capacity, 16)
            base = .allocate(capacity: self.capacity)
        }

        deinit { base.deallocate() }
    }

    private var storage: Storage
    private(set) var count = 0

    init(capacity: Int = 64) {
        storage = Storage(capacity: capacity)
    }

    @inline(__always) var isEmpty: Bool { count == 0 }

    /// Valid until the next mutation of this buffer.
    @inline(__always) var baseAddress: UnsafePointer<UInt8> { UnsafePointer(storage.base) }

    @inline(__always) subscript(i: Int) -> UInt8 {
        precondition(i >= 0 && i < count, "ByteBuffer index out of range")
        return storage.base[i]
    }

    @inline(__always) mutating func removeAll() { count = 0 }

    @inline(__always) mutating func append(_ b: UInt8) {
        if count == storage.capacity || !isKnownUniquelyReferenced(&storage) { reserve(count + 1) }
        storage.base[count] = b
        count += 1
    }

    @inline(__always) mutating func append(_ bytes: UnsafeBufferPointer<UInt8>) {
        guard let src = bytes.baseAddress, bytes.count > 0 else { return }
        if count + bytes.count > storage.capacity || !isKnownUniquelyReferenced(&storage) {
            reserve(count + bytes.count)
        }
        (storage.base + count).update(from: src, count: bytes.count)
        count += bytes.count
    }

    /// Bytes the storage holds before it must grow.
    @inline(__always) var capacity: Int { storage.capacity }

    /// No other copy shares the storage (for assertions).
    var isUnique: Bool {
        mutating get { isKnownUniquelyReferenced(&storage) }
    }

    /// Makes the storage unique (copying it when another copy shares it), so the `…ToUnique`
    /// appends may skip that test until the buffer is next copied.
    @inline(__always) mutating func makeUnique() {
        if !isKnownUniquelyReferenced(&storage) { reserve(count) }
    }

    /// `append(_:)` for a buffer made unique by `makeUnique()` and not copied since.
    @inline(__always) mutating func appendToUnique(_ b: UInt8) {
        assert(isKnownUniquelyReferenced(&storage), "ByteBuffer shared since makeUnique()")
        if count == storage.capacity { reserve(count + 1) }
        storage.base[count] = b
        count += 1
    }

    /// `append(_:)` for a buffer made unique by `makeUnique()` and not copied since.
    @inline(__always) mutating func appendToUnique(_ bytes: UnsafeBufferPointer<UInt8>) {
        assert(isKnownUniquelyReferenced(&storage), "ByteBuffer shared since makeUnique()")
        guard let src = bytes.baseAddress, bytes.count > 0 else { return }
        if count + bytes.count > storage.capacity { reserve(count + bytes.count) }
        (storage.base + count).update(from: src, count: bytes.count)
        count += bytes.count
    }

    /// Appends the UTF-8 encoding of the scalar `c`, encoded in place.
    @inline(__always) mutating func append(scalar c: UInt32) {
        if count + 4 > storage.capacity || !isKnownUniquelyReferenced(&storage) { reserve(count + 4) }
        count += UTF8Stream.encode(c, into: storage.base + count)
    }

    /// `append(scalar:)` for a buffer made unique by `makeUnique()` and not copied since.
    @inline(__always) mutating func appendToUnique(scalar c: UInt32) {
        assert(isKnownUniquelyReferenced(&storage), "ByteBuffer shared since makeUnique()")
        if count + 4 > storage.capacity { reserve(count + 4) }
        count += UTF8Stream.encode(c, into: storage.base + count)
    }

    /// Room for `room` more bytes in a buffer made unique by `makeUnique()` and not copied since:
    /// where to write them. `uniqueTailWritten(upTo:)` then takes what was written.
    @inline(__always) mutating func uniqueTail(room: Int) -> UnsafeMutablePointer<UInt8> {
        assert(isKnownUniquelyReferenced(&storage), "ByteBuffer shared since makeUnique()")
        if count + room > storage.capacity { reserve(count + room) }
        return storage.base + count
    }

    /// Makes the first `newCount` bytes (the old contents and bytes written at `uniqueTail`) the contents.
    @inline(__always) mutating func uniqueTailWritten(upTo newCount: Int) {
        precondition(newCount >= count && newCount <= storage.capacity, "ByteBuffer tail out of bounds")
        count = newCount
    }

    /// The start of a buffer made unique by `makeUnique()` and not copied since, with room for
    /// `room` bytes after its contents (for C code that writes there; `setCountUnique` takes the result).
    @inline(__always) mutating func uniqueBase(room: Int) -> UnsafeMutablePointer<UInt8> {
        assert(isKnownUniquelyReferenced(&storage), "ByteBuffer shared since makeUnique()")
        if count + room > storage.capacity { reserve(count + room) }
        return storage.base
    }

    /// Makes the first `newCount` bytes the contents (written through `uniqueBase`; may shrink).
    @inline(__always) mutating func setCountUnique(_ newCount: Int) {
        precondition(newCount >= 0 && newCount <= storage.capacity, "ByteBuffer count out of bounds")
        count = newCount
    }

    /// Replaces the contents with `bytes` followed by a NUL byte (C strings), in one step.
    @inline(__always) mutating func setNulTerminated(_ bytes: UnsafeBufferPointer<UInt8>) {
        let needed = bytes.count + 1
        if needed > storage.capacity || !isKnownUniquelyReferenced(&storage) {
            count = 0
            reserve(needed)
        }
        if let src = bytes.baseAddress, bytes.count > 0 { storage.base.update(from: src, count: bytes.count) }
        storage.base[bytes.count] = 0
        count = needed
    }

    /// Appends `other[range]` and a NUL byte after it (ready segments: the C ABI hands out their
    /// text where it lies).
    @inline(__always) mutating func appendNulTerminated(_ other: ByteBuffer, _ range: Range<Int>) {
        precondition(range.lowerBound >= 0 && range.upperBound <= other.count, "ByteBuffer range out of bounds")
        let needed = count + range.count + 1
        if needed > storage.capacity || !isKnownUniquelyReferenced(&storage) { reserve(needed) }
        (storage.base + count).update(from: other.storage.base + range.lowerBound, count: range.count)
        storage.base[count + range.count] = 0
        count = needed
    }

    /// Appends `self[range]` of another buffer.
    @inline(__always) mutating func append(_ other: ByteBuffer, _ range: Range<Int>) {
        precondition(range.lowerBound >= 0 && range.upperBound <= other.count, "ByteBuffer range out of bounds")
        append(UnsafeBufferPointer(start: other.storage.base + range.lowerBound, count: range.count))
    }

    /// Lends `self[range]` to `body`.
    @inline(__always) func withBytes<R>(_ range: Range<Int>, _ body: (UnsafeBufferPointer<UInt8>) -> R) -> R {
        precondition(range.lowerBound >= 0 && range.upperBound <= count, "ByteBuffer range out of bounds")
        return body(UnsafeBufferPointer(start: storage.base + range.lowerBound, count: range.count))
    }

    /// Makes the storage unique and able to hold `capacity` bytes (growing geometrically).
    private mutating func reserve(_ capacity: Int) {
        let unique = isKnownUniquelyReferenced(&storage)
        if unique && capacity <= storage.capacity { return }
        let fresh = Storage(capacity: max(capacity, unique ? storage.capacity * 2 : storage.capacity))
        fresh.base.update(from: storage.base, count: count)
        storage = fresh
    }
}
