/// Inner products over contiguous Float rows, written so the compiler emits SIMD on the baseline
/// x86-64 target (SSE, 4 lanes): four independent 4-lane accumulators hide the add latency;
/// loads are unaligned. (8-lane vectors measured slower there: they are split into pairs.)
enum VectorMath {
    @inline(__always)
    static func dot(_ a: UnsafePointer<Float>, _ b: UnsafePointer<Float>, _ n: Int) -> Float {
        var s0 = SIMD4<Float>(), s1 = SIMD4<Float>(), s2 = SIMD4<Float>(), s3 = SIMD4<Float>()
        let ra = UnsafeRawPointer(a), rb = UnsafeRawPointer(b)
        var i = 0
        while i + 16 <= n {
            let o = i &* 4
            s0 = s0 + ra.loadUnaligned(fromByteOffset: o, as: SIMD4<Float>.self) * rb.loadUnaligned(fromByteOffset: o, as: SIMD4<Float>.self)
            s1 = s1 + ra.loadUnaligned(fromByteOffset: o + 16, as: SIMD4<Float>.self) * rb.loadUnaligned(fromByteOffset: o + 16, as: SIMD4<Float>.self)
            s2 = s2 + ra.loadUnaligned(fromByteOffset: o + 32, as: SIMD4<Float>.self) * rb.loadUnaligned(fromByteOffset: o + 32, as: SIMD4<Float>.self)
            s3 = s3 + ra.loadUnaligned(fromByteOffset: o + 48, as: SIMD4<Float>.self) * rb.loadUnaligned(fromByteOffset: o + 48, as: SIMD4<Float>.self)
            i += 16
        }
        var sum = ((s0 + s1) + (s2 + s3)).sum()
        while i < n { sum += a[i] * b[i]; i += 1 }
        return sum
    }

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
    var data: [Float] = []
    /// Row → chunk slot, and slot → row (−1: no vector).
    var rowSlot: [Int32] = []
    var slotRow: [Int32] = []

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
        var top = TopK(k)
        let d = dimension
        data.withUnsafeBufferPointer { base in
            query.withUnsafeBufferPointer { q in
                guard let qp = q.baseAddress, let bp = base.baseAddress else { return }
                for r in 0..<rowSlot.count {
                    let slot = rowSlot[r]
                    guard live.contains(slot), allowed?.contains(slot) ?? true else { continue }
                    let s = VectorMath.dot(qp, bp + r * d, d)
                    if s > top.threshold || !top.isFull { top.push(s, slot) }
                }
            }
        }
        return top.sorted()
    }

    /// Drops the rows of dead slots and renumbers slots by `newSlot` (−1 = dropped).
    mutating func compact(newSlot: [Int32]) {
        var newData: [Float] = [], newRowSlot: [Int32] = []
        var newSlotRow = [Int32](repeating: -1, count: newSlot.reduce(0) { max($0, Int($1) + 1) })
        for (r, old) in rowSlot.enumerated() {
            let n = newSlot[Int(old)]
            if n < 0 { continue }
            newSlotRow[Int(n)] = Int32(newRowSlot.count)
            newRowSlot.append(n)
            newData.append(contentsOf: data[(r * dimension)..<((r + 1) * dimension)])
        }
        data = newData; rowSlot = newRowSlot; slotRow = newSlotRow
    }
}
