/// A fixed open-addressing table from a word's 64-bit FNV hash (`Abbreviations.hash`) to a small
/// value, for the look-ups at every period: the hash is already computed while the word is read,
/// so a probe is a mask and a compare (a `Dictionary` would hash the hash again with SipHash).
/// Built once from the word lists and never written afterwards.
struct HashedWordTable: Sendable {
    private var keys: [UInt64]
    /// 0 marks an empty slot; stored values are `value + 1`.
    private var values: [UInt8]
    private let mask: Int

    /// `entries` must have distinct hashes.
    init(_ entries: [(hash: UInt64, value: UInt8)]) {
        var size = 16
        while size < entries.count * 4 { size *= 2 }
        keys = Array(repeating: 0, count: size)
        values = Array(repeating: 0, count: size)
        mask = size - 1
        for e in entries {
            var i = HashedWordTable.slot(e.hash, mask)
            while values[i] != 0 { i = (i + 1) & mask }
            keys[i] = e.hash
            values[i] = e.value &+ 1
        }
    }

    @inline(__always) private static func slot(_ h: UInt64, _ mask: Int) -> Int {
        Int(truncatingIfNeeded: (h ^ (h >> 29)) & UInt64(mask))
    }

    /// The value stored for `hash`, or nil.
    @inline(__always) func value(forHash h: UInt64) -> UInt8? {
        var i = HashedWordTable.slot(h, mask)
        while true {
            let v = values[i]
            if v == 0 { return nil }
            if keys[i] == h { return v &- 1 }
            i = (i + 1) & mask
        }
    }

    /// A copy of the table in plain memory for C (`vck_plain_state.abbrev_*`): made once per table
    /// (a static), never freed or written afterwards.
    func cCopy() -> CView {
        let k = UnsafeMutablePointer<UInt64>.allocate(capacity: keys.count)
        let v = UnsafeMutablePointer<UInt8>.allocate(capacity: values.count)
        k.initialize(from: keys, count: keys.count)
        v.initialize(from: values, count: values.count)
        return CView(keys: UnsafePointer(k), values: UnsafePointer(v), mask: UInt64(mask))
    }

    /// The table for C; immutable, so sharing it between threads is safe.
    struct CView: @unchecked Sendable {
        let keys: UnsafePointer<UInt64>
        let values: UnsafePointer<UInt8>
        let mask: UInt64
    }
}
