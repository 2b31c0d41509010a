/// Keeps the k best (score, slot) pairs seen so far: a min-heap whose root is the worst kept
/// entry. Ties on score go to the lower slot, so results are deterministic.
struct TopK {
    let k: Int
    private(set) var scores: [Float] = []
    private(set) var slots: [Int32] = []

    init(_ k: Int) {
        self.k = max(0, k)
        scores.reserveCapacity(self.k)
        slots.reserveCapacity(self.k)
    }

    var isFull: Bool { scores.count >= k }
    /// The score a candidate must beat to enter, or -infinity while not full.
    var threshold: Float { isFull && k > 0 ? scores[0] : -Float.infinity }

    @inline(__always)
    private func worse(_ i: Int, _ j: Int) -> Bool {
        scores[i] < scores[j] || (scores[i] == scores[j] && slots[i] > slots[j])
    }

    /// Offers a candidate; returns whether it was kept.
    @discardableResult
    mutating func push(_ score: Float, _ slot: Int32) -> Bool {
        if k == 0 { return false }
        if scores.count < k {
            scores.append(score); slots.append(slot)
            var i = scores.count - 1
            while i > 0 {
                let parent = (i - 1) / 2
                if worse(i, parent) { scores.swapAt(i, parent); slots.swapAt(i, parent); i = parent } else { break }
            }
            return true
        }
        if score < scores[0] || (score == scores[0] && slot > slots[0]) { return false }
        scores[0] = score; slots[0] = slot
        var i = 0
        let n = scores.count
        while true {
            let l = 2 * i + 1, r = l + 1
            var m = i
            if l < n && worse(l, m) { m = l }
            if r < n && worse(r, m) { m = r }
            if m == i { break }
            scores.swapAt(i, m); slots.swapAt(i, m); i = m
        }
        return true
    }

    /// The kept entries, best first.
    func sorted() -> [(slot: Int32, score: Float)] {
        zip(slots, scores).map { (slot: $0.0, score: $0.1) }.sorted { a, b in
            a.score > b.score || (a.score == b.score && a.slot < b.slot)
        }
    }
}

/// A set of chunk slots as a bit array: the live chunks, or those a filter accepts.
struct SlotSet: Sendable {
    private(set) var words: [UInt64] = []

    init() {}
    init(count: Int, filled: Bool) {
        words = Array(repeating: filled ? ~0 : 0, count: (count + 63) / 64)
    }

    @inline(__always)
    func contains(_ slot: Int32) -> Bool {
        let w = Int(slot) >> 6
        return w < words.count && (words[w] >> UInt64(Int(slot) & 63)) & 1 == 1
    }

    mutating func insert(_ slot: Int32) {
        let w = Int(slot) >> 6
        while words.count <= w { words.append(0) }
        words[w] |= 1 << UInt64(Int(slot) & 63)
    }

    mutating func remove(_ slot: Int32) {
        let w = Int(slot) >> 6
        if w < words.count { words[w] &= ~(1 << UInt64(Int(slot) & 63)) }
    }

    /// self ∩ other.
    func intersection(_ other: SlotSet) -> SlotSet {
        var out = SlotSet()
        out.words = zip(words, other.words).map { $0 & $1 }
        return out
    }

    var count: Int { words.reduce(0) { $0 + $1.nonzeroBitCount } }
}
