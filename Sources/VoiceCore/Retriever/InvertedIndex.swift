#if canImport(Glibc)
import Glibc
#elseif canImport(Musl)
import Musl
#endif

/// BM25 over an inverted index of chunk slots, with MaxScore dynamic pruning: query terms are
/// ordered by their score upper bound, and documents that only the low-bound ("non-essential")
/// terms contain are never visited, so top-k stays fast on large collections.
///
/// Scoring is Lucene's BM25: idf = ln(1 + (N − df + 0.5)/(df + 0.5)),
/// tf part = tf / (tf + k1·(1 − b + b·len/avgLen)). N, df and avgLen count live chunks only;
/// deleted chunks stay in the posting lists (skipped) until compaction.
struct InvertedIndex: Sendable {
    var k1: Float = 1.2
    var b: Float = 0.75

    var vocabulary: [String: Int32] = [:]
    var terms: [String] = []
    /// Per term: posting slots, ascending, and their term frequencies.
    var postingSlots: [[Int32]] = []
    var postingFreqs: [[UInt32]] = []
    /// Per term: live document frequency, and bounds used for the score upper bound.
    var documentFrequency: [Int32] = []
    var maxFreq: [UInt32] = []
    var minLength: [UInt32] = []
    /// Per slot: the chunk's length in terms (0 for a slot without text).
    var lengths: [UInt32] = []
    var liveCount = 0
    var liveLength = 0

    init(k1: Float = 1.2, b: Float = 0.75) { self.k1 = k1; self.b = b }

    /// Term frequencies of an analyzed text, in first-occurrence order.
    static func frequencies(_ terms: [String]) -> [(String, UInt32)] {
        var order: [String] = []
        var counts: [String: UInt32] = [:]
        for t in terms {
            if let c = counts[t] { counts[t] = c + 1 } else { counts[t] = 1; order.append(t) }
        }
        return order.map { ($0, counts[$0]!) }
    }

    /// Indexes a chunk; slots must be added in increasing order.
    mutating func add(slot: Int32, terms chunkTerms: [String]) {
        while lengths.count <= Int(slot) { lengths.append(0) }
        let length = UInt32(chunkTerms.count)
        lengths[Int(slot)] = length
        liveCount += 1
        liveLength += chunkTerms.count
        for (term, tf) in Self.frequencies(chunkTerms) {
            let id: Int
            if let existing = vocabulary[term] {
                id = Int(existing)
            } else {
                id = terms.count
                vocabulary[term] = Int32(id)
                terms.append(term)
                postingSlots.append([]); postingFreqs.append([])
                documentFrequency.append(0); maxFreq.append(0); minLength.append(UInt32.max)
            }
            postingSlots[id].append(slot)
            postingFreqs[id].append(tf)
            documentFrequency[id] += 1
            if tf > maxFreq[id] { maxFreq[id] = tf }
            if length < minLength[id] { minLength[id] = length }
        }
    }

    /// Takes a deleted chunk out of the statistics; its postings are skipped until compaction.
    mutating func remove(slot: Int32, terms chunkTerms: [String]) {
        liveCount -= 1
        liveLength -= chunkTerms.count
        for (term, _) in Self.frequencies(chunkTerms) {
            if let id = vocabulary[term] { documentFrequency[Int(id)] -= 1 }
        }
    }

    /// Rebuilds the postings keeping only `live` slots, renumbered by `newSlot` (−1 = dropped).
    mutating func compact(newSlot: [Int32]) {
        var newLengths = [UInt32](repeating: 0, count: newSlot.reduce(0) { max($0, Int($1) + 1) })
        for (old, new) in newSlot.enumerated() where new >= 0 { newLengths[Int(new)] = lengths[old] }
        lengths = newLengths
        var newVocabulary: [String: Int32] = [:]
        var newTerms: [String] = [], newSlots: [[Int32]] = [], newFreqs: [[UInt32]] = []
        var newDF: [Int32] = [], newMax: [UInt32] = [], newMin: [UInt32] = []
        for id in 0..<terms.count {
            var s: [Int32] = [], f: [UInt32] = []
            var mx: UInt32 = 0, mn = UInt32.max
            for (i, old) in postingSlots[id].enumerated() {
                let n = newSlot[Int(old)]
                if n < 0 { continue }
                s.append(n); f.append(postingFreqs[id][i])
                mx = max(mx, postingFreqs[id][i]); mn = min(mn, lengths[Int(n)])
            }
            if s.isEmpty { continue }
            newVocabulary[terms[id]] = Int32(newTerms.count)
            newTerms.append(terms[id]); newSlots.append(s); newFreqs.append(f)
            newDF.append(Int32(s.count)); newMax.append(mx); newMin.append(mn)
        }
        vocabulary = newVocabulary; terms = newTerms; postingSlots = newSlots; postingFreqs = newFreqs
        documentFrequency = newDF; maxFreq = newMax; minLength = newMin
    }

    func idf(_ df: Int32) -> Float {
        let n = Float(liveCount), d = Float(df)
        return logf(1 + (n - d + 0.5) / (d + 0.5))
    }

    /// The best k live slots for `queryTerms` (a term repeated in the query counts once per
    /// occurrence), restricted to `allowed` when given. `live` marks the live slots.
    func search(_ queryTerms: [String], k: Int, live: SlotSet, allowed: SlotSet?) -> [(slot: Int32, score: Float)] {
        guard liveCount > 0, k > 0 else { return [] }
        struct Cursor {
            var slots: UnsafeBufferPointer<Int32>
            var freqs: UnsafeBufferPointer<UInt32>
            var pos: Int
            var weight: Float  // idf × query occurrences
            var bound: Float
        }
        let avg = Float(liveLength) / Float(liveCount)
        let invAvg: Float = avg > 0 ? 1 / avg : 0
        let k1 = self.k1, b = self.b
        let scratch = queryTerms.isEmpty ? [] : Self.frequencies(queryTerms)
        var ids: [(Int, Float)] = []
        for (term, qtf) in scratch {
            guard let id = vocabulary[term], documentFrequency[Int(id)] > 0 else { continue }
            ids.append((Int(id), Float(qtf)))
        }
        if ids.isEmpty { return [] }
        var top = TopK(k)
        // Buffers are stable while we hold `self`; withUnsafeBufferPointer nesting would be
        // unbounded, so borrow them through the arrays' storage for the duration of the search.
        return withExtendedLifetime(self) {
            var cursors: [Cursor] = []
            for (id, qtf) in ids {
                let w = idf(documentFrequency[id]) * qtf
                let mf = Float(maxFreq[id])
                let bound = w * mf / (mf + k1 * (1 - b + b * Float(minLength[id]) * invAvg))
                let slots = postingSlots[id].withUnsafeBufferPointer { $0 }
                let freqs = postingFreqs[id].withUnsafeBufferPointer { $0 }
                cursors.append(Cursor(slots: slots, freqs: freqs, pos: 0, weight: w, bound: bound))
            }
            cursors.sort { $0.bound < $1.bound }
            let n = cursors.count
            var prefix = [Float](repeating: 0, count: n)  // prefix[i] = sum of bounds 0...i
            var acc: Float = 0
            for i in 0..<n { acc += cursors[i].bound; prefix[i] = acc }
            var firstEssential = 0
            let lengths = self.lengths
            while true {
                // The next candidate: the smallest current slot among essential cursors.
                var candidate = Int32.max
                for i in firstEssential..<n {
                    let c = cursors[i]
                    if c.pos < c.slots.count && c.slots[c.pos] < candidate { candidate = c.slots[c.pos] }
                }
                if candidate == Int32.max { break }
                let norm = k1 * (1 - b + b * Float(lengths[Int(candidate)]) * invAvg)
                var score: Float = 0
                for i in firstEssential..<n {
                    let p = cursors[i].pos
                    if p < cursors[i].slots.count && cursors[i].slots[p] == candidate {
                        let tf = Float(cursors[i].freqs[p])
                        score += cursors[i].weight * tf / (tf + norm)
                        cursors[i].pos = p + 1
                    }
                }
                let accepted = live.contains(candidate) && (allowed?.contains(candidate) ?? true)
                if !accepted { continue }
                let threshold = top.threshold
                var i = firstEssential - 1
                while i >= 0 {
                    if score + prefix[i] <= threshold && top.isFull { break }
                    // Gallop to the first posting ≥ candidate.
                    let slots = cursors[i].slots
                    var lo = cursors[i].pos, step = 1
                    while lo + step < slots.count && slots[lo + step] < candidate { lo += step; step <<= 1 }
                    var hi = min(slots.count, lo + step + 1)
                    while lo < hi { let mid = (lo + hi) >> 1; if slots[mid] < candidate { lo = mid + 1 } else { hi = mid } }
                    cursors[i].pos = lo
                    if lo < slots.count && slots[lo] == candidate {
                        let tf = Float(cursors[i].freqs[lo])
                        score += cursors[i].weight * tf / (tf + norm)
                    }
                    i -= 1
                }
                if top.push(score, candidate) && top.isFull {
                    let t = top.threshold
                    while firstEssential < n && prefix[firstEssential] <= t { firstEssential += 1 }
                    if firstEssential >= n { break }
                }
            }
            return top.sorted()
        }
    }
}
