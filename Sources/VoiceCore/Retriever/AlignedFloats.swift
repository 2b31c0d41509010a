#if canImport(Glibc)
import Glibc
#elseif canImport(Musl)
import Musl
#endif

/// A growable array of floats whose first element sits on a 64-byte boundary, with value
/// semantics (copy on write). The vector store keeps its rows here because a 384-float row is a
/// whole number of cache lines: aligned, every 64-byte AVX-512 load touches one line instead of
/// two, which made a one-query scan of SciFact's 8 MB about 20 % faster than a Swift array
/// (whose elements start 32 bytes into a 16-byte-aligned allocation).
struct AlignedFloats: @unchecked Sendable {
    // @unchecked: the storage is mutated only through `uniqueStorage()`, so a shared buffer is
    // never written; this is an ordinary copy-on-write value.
    private final class Storage {
        let pointer: UnsafeMutablePointer<Float>
        let capacity: Int
        var count = 0

        init(capacity: Int) {
            var bytes = max(16, capacity) * MemoryLayout<Float>.stride
            let huge = bytes >= Storage.hugeFrom
            if huge { bytes = (bytes + Storage.hugePage - 1) / Storage.hugePage * Storage.hugePage }
            self.capacity = bytes / MemoryLayout<Float>.stride
            var raw: UnsafeMutableRawPointer? = nil
            guard posix_memalign(&raw, huge ? Storage.hugePage : 64, bytes) == 0, let raw else {
                fatalError("AlignedFloats: out of memory for \(capacity) floats")
            }
            // HNSW reads rows in random order: over a table of hundreds of MB almost every row
            // read missed the TLB and walked the page tables. With 2 MB pages the whole table fits
            // in the TLB's reach. Advice only: where the kernel declines, nothing else changes.
            if huge { _ = madvise(raw, bytes, MADV_HUGEPAGE) }
            pointer = raw.bindMemory(to: Float.self, capacity: self.capacity)
        }

        deinit { free(pointer) }

        /// Tables from this size on are placed on 2 MB boundaries and advised to the kernel as
        /// huge-page memory (transparent huge pages in `madvise` mode, Debian's default).
        static let hugeFrom = 4 << 20
        static let hugePage = 2 << 20

        func copy(capacity: Int) -> Storage {
            let s = Storage(capacity: capacity)
            s.pointer.update(from: pointer, count: count)
            s.count = count
            return s
        }
    }

    private var storage: Storage

    init() { storage = Storage(capacity: 0) }

    init(_ values: [Float]) {
        storage = Storage(capacity: values.count)
        values.withUnsafeBufferPointer { append(contentsOf: $0) }
    }

    /// `count` floats copied from raw bytes (a memory-mapped file section).
    init(copying bytes: UnsafeRawBufferPointer, count: Int) {
        storage = Storage(capacity: count)
        guard count > 0, let src = bytes.baseAddress else { return }
        UnsafeMutableRawPointer(storage.pointer).copyMemory(from: src, byteCount: count * 4)
        storage.count = count
    }

    var count: Int { storage.count }
    var isEmpty: Bool { storage.count == 0 }

    private mutating func uniqueStorage(minimumCapacity: Int) -> Storage {
        if !isKnownUniquelyReferenced(&storage) || storage.capacity < minimumCapacity {
            let grown = storage.capacity < minimumCapacity ? max(minimumCapacity, storage.capacity * 2) : storage.capacity
            storage = storage.copy(capacity: grown)
        }
        return storage
    }

    mutating func reserveCapacity(_ n: Int) { _ = uniqueStorage(minimumCapacity: n) }

    mutating func append(contentsOf values: UnsafeBufferPointer<Float>) {
        guard let src = values.baseAddress, !values.isEmpty else { return }
        let s = uniqueStorage(minimumCapacity: storage.count + values.count)
        (s.pointer + s.count).initialize(from: src, count: values.count)
        s.count += values.count
    }

    mutating func append(contentsOf values: [Float]) {
        values.withUnsafeBufferPointer { append(contentsOf: $0) }
    }

    func withUnsafeBufferPointer<R, E: Error>(_ body: (UnsafeBufferPointer<Float>) throws(E) -> R) throws(E) -> R {
        try body(UnsafeBufferPointer(start: storage.pointer, count: storage.count))
    }

    var array: [Float] { withUnsafeBufferPointer { Array($0) } }
}
