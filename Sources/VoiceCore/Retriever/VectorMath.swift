import VoiceCoreKernels
#if canImport(Glibc)
import Glibc
#elseif canImport(Musl)
import Musl
#endif

/// The inner-product kernels (C, in VoiceCoreKernels) at the instruction-set level chosen once
/// from cpuid: AVX-512, AVX2+FMA, or portable SSE2. The rest of the library is built for
/// baseline x86-64, so only these kernels use the wider registers, and only where the CPU has
/// them. `VOICECORE_SIMD=portable|avx2|avx512` caps the level (to compare them, or to test the
/// fallback); it never raises it above what the CPU supports.
struct VectorKernels: Sendable {
    let level: Int32

    init() {
        var best = vck_best_level()
        if let cap = getenv("VOICECORE_SIMD") {
            switch String(cString: cap) {
            case "portable": best = min(best, Int32(VCK_PORTABLE))
            case "avx2": best = min(best, Int32(VCK_AVX2_FMA))
            default: break
            }
        }
        level = best
    }

    init(level: Int32) { self.level = min(level, vck_best_level()) }

    var name: String { level >= Int32(VCK_AVX512) ? "avx512" : level == Int32(VCK_AVX2_FMA) ? "avx2" : "portable" }

    @inline(__always)
    func dot(_ a: UnsafePointer<Float>, _ b: UnsafePointer<Float>, _ n: Int) -> Float {
        vck_dot(level, a, b, n)
    }

    /// out[i·count + r] = queries[i] · rows[r].
    @inline(__always)
    func dotBlock(_ queries: UnsafePointer<Float>, _ nq: Int, _ rows: UnsafePointer<Float>, _ count: Int, _ dim: Int,
                  _ out: UnsafeMutablePointer<Float>) {
        vck_dot_block(level, queries, nq, rows, count, dim, out)
    }

    /// out[j] = q · base[ids[j]], prefetching rows ahead.
    @inline(__always)
    func dotGather(_ q: UnsafePointer<Float>, _ base: UnsafePointer<Float>, _ dim: Int, _ ids: UnsafePointer<Int32>, _ n: Int,
                   _ out: UnsafeMutablePointer<Float>) {
        vck_dot_gather(level, q, base, dim, ids, n, out)
    }
}

enum VectorMath {
    static func norm(_ v: [Float]) -> Float {
        var s: Float = 0
        for x in v { s += x * x }
        return s.squareRoot()
    }
}

/// Dense vectors of one dimension in one contiguous row-major array, one row per chunk slot
/// that has a vector. Cosine vectors are normalized on insert, so every search is a dot product.
struct DenseStore: Sendable {
    enum Metric: String, Sendable { case cosine, dot }

    var dimension = 0
    var metric: Metric = .cosine
    /// Row-major vectors, 64-byte aligned (see AlignedFloats).
    var data = AlignedFloats()
    /// Row → chunk slot, and slot → row (−1: no vector).
    var rowSlot: [Int32] = []
    var slotRow: [Int32] = []
    let kernels = VectorKernels()

    var rowCount: Int { rowSlot.count }

    /// Checks and prepares a vector for this store (fixing the dimension on first use).
    func prepared(_ vector: [Float]) throws(VCError) -> [Float] {
        if dimension != 0 && vector.count != dimension {
            throw VCError(.mismatch, "vector has dimension \(vector.count), the index holds dimension \(dimension)")
        }
        if vector.isEmpty { throw VCError(.invalidArgument, "vector is empty") }
        for x in vector where !x.isFinite { throw VCError(.invalidArgument, "vector has a NaN or infinite component") }
        guard metric == .cosine else { return vector }
        let n = VectorMath.norm(vector)
        if n == 0 { throw VCError(.invalidArgument, "a zero vector has no cosine direction") }
        return vector.map { $0 / n }
    }

    mutating func add(slot: Int32, vector: [Float]) {
        if dimension == 0 { dimension = vector.count }
        while slotRow.count <= Int(slot) { slotRow.append(-1) }
        slotRow[Int(slot)] = Int32(rowSlot.count)
        rowSlot.append(slot)
        data.append(contentsOf: vector)
    }

    func row(ofSlot slot: Int32) -> Int32 { Int(slot) < slotRow.count ? slotRow[Int(slot)] : -1 }

    /// Exact top-k by inner product over every accepted row.
    func search(_ query: [Float], k: Int, live: SlotSet, allowed: SlotSet?) -> [(slot: Int32, score: Float)] {
        query.withUnsafeBufferPointer { q in searchMany(q.baseAddress!, count: 1, k: k, live: live, allowed: allowed)[0] }
    }

    /// Exact top-k for `count` queries stored row-major at `queries` (already prepared). Scores
    /// come from the blocked kernel a group of queries at a time, so each row is read from memory
    /// once per group; the same kernel serves one query, so both paths give identical scores.
    func searchMany(_ queries: UnsafePointer<Float>, count: Int, k: Int, live: SlotSet, allowed: SlotSet?) -> [[(slot: Int32, score: Float)]] {
        let rows = rowSlot.count, d = dimension
        var results: [[(slot: Int32, score: Float)]] = []
        results.reserveCapacity(count)
        guard rows > 0, d > 0 else { return Array(repeating: [], count: count) }
        let group = max(1, min(8, (1 << 22) / rows, count))
        let scores = UnsafeMutablePointer<Float>.allocate(capacity: group * rows)
        defer { scores.deallocate() }
        data.withUnsafeBufferPointer { base in
            rowSlot.withUnsafeBufferPointer { rowSlot in
                var first = 0
                while first < count {
                    let n = min(group, count - first)
                    kernels.dotBlock(queries + first * d, n, base.baseAddress!, rows, d, scores)
                    for i in 0..<n {
                        var top = TopK(k)
                        var threshold = -Float.infinity, full = top.isFull
                        let sc = scores + i * rows
                        for r in 0..<rows {
                            let s = sc[r]
                            guard s > threshold || !full else { continue }
                            let slot = rowSlot[r]
                            guard live.contains(slot), allowed?.contains(slot) ?? true else { continue }
                            top.push(s, slot)
                            full = top.isFull
                            threshold = top.threshold
                        }
                        results.append(top.sorted())
                    }
                    first += n
                }
            }
        }
        return results
    }

    /// Drops the rows of dead slots and renumbers slots by `newSlot` (−1 = dropped).
    mutating func compact(newSlot: [Int32]) {
        var newData = AlignedFloats(), newRowSlot: [Int32] = []
        var newSlotRow = [Int32](repeating: -1, count: newSlot.reduce(0) { max($0, Int($1) + 1) })
        let d = dimension
        data.withUnsafeBufferPointer { rows in
            for (r, old) in rowSlot.enumerated() {
                let n = newSlot[Int(old)]
                if n < 0 { continue }
                newSlotRow[Int(n)] = Int32(newRowSlot.count)
                newRowSlot.append(n)
                newData.append(contentsOf: UnsafeBufferPointer(rebasing: rows[(r * d)..<((r + 1) * d)]))
            }
        }
        data = newData; rowSlot = newRowSlot; slotRow = newSlotRow
    }
}
