/// Combining ranked lists from BM25 and dense search.
enum Fusion {
    /// Reciprocal Rank Fusion: score = Σ 1/(k + rank), ranks from 1.
    static func reciprocalRank(_ lists: [[(slot: Int32, score: Float)]], k: Double, limit: Int) -> [(slot: Int32, score: Float)] {
        var scores: [Int32: Double] = [:]
        for list in lists {
            for (rank, hit) in list.enumerated() { scores[hit.slot, default: 0] += 1 / (k + Double(rank + 1)) }
        }
        return ranked(scores, limit)
    }

    /// Weighted fusion of min–max normalized scores: weight·a + (1 − weight)·b.
    static func weighted(_ a: [(slot: Int32, score: Float)], _ b: [(slot: Int32, score: Float)], weight: Double, limit: Int) -> [(slot: Int32, score: Float)] {
        var scores: [Int32: Double] = [:]
        for (list, w) in [(a, weight), (b, 1 - weight)] {
            guard let hi = list.map(\.score).max(), let lo = list.map(\.score).min() else { continue }
            let range = Double(hi - lo)
            for hit in list {
                let norm = range > 0 ? Double(hit.score - lo) / range : 1
                scores[hit.slot, default: 0] += w * norm
            }
        }
        return ranked(scores, limit)
    }

    private static func ranked(_ scores: [Int32: Double], _ limit: Int) -> [(slot: Int32, score: Float)] {
        let sorted = scores.sorted { $0.value > $1.value || ($0.value == $1.value && $0.key < $1.key) }
        return sorted.prefix(limit).map { (slot: $0.key, score: Float($0.value)) }
    }
}
