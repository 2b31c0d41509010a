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

    /// The id of `term`, added to the vocabulary when new.
    mutating func termID(_ term: String) -> Int32 {
        if let existing = vocabulary[term] { return existing }
        let id = Int32(terms.count)
        vocabulary[term] = id
        terms.append(term)
        postingSlots.append([]); postingFreqs.append([])
        documentFrequency.append(0); maxFreq.append(0); minLength.append(UInt32.max)
        return id
    }

    /// (term id, frequency) of a chunk's term ids, by ascending id.
    static func counted(_ ids: [Int32]) -> [(Int, UInt32)] {
        var out: [(Int, UInt32)] = []
        for id in ids.sorted() {
            if let last = out.last, last.0 == Int(id) { out[out.count - 1].1 += 1 } else { out.append((Int(id), 1)) }
        }
        return out
    }

    /// Indexes a chunk given as term ids (from `termID`); slots must be added in increasing order.
    mutating func add(slot: Int32, termIDs: [Int32]) {
        while lengths.count <= Int(slot) { lengths.append(0) }
        let length = UInt32(termIDs.count)
        lengths[Int(slot)] = length
        liveCount += 1
        liveLength += termIDs.count
        for (id, tf) in Self.counted(termIDs) {
            postingSlots[id].append(slot)
            postingFreqs[id].append(tf)
            documentFrequency[id] += 1
            if tf > maxFreq[id] { maxFreq[id] = tf }
            if length < minLength[id] { minLength[id] = length }
        }
    }

    /// Takes a deleted chunk out of the statistics; its postings are skipped until compaction.
    mutating func remove(slot: Int32, termIDs: [Int32]) {
        liveCount -= 1
        liveLength -= termIDs.count
        for (id, _) in Self.counted(termIDs) { documentFrequency[id] -= 1 }
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
        search(ids: queryTerms.map { vocabulary[$0] ?? -1 }, k: k, live: live, allowed: allowed)
    }

    /// As `search`, with the query's terms as vocabulary ids (−1: a term the index lacks).
    ///
    /// MaxScore in windows of `window` slots (Lucene's MaxScoreBulkScorer): the essential lists
    /// are scored term by term into a small accumulator covering the window, so a scored posting
    /// costs a load, the BM25 arithmetic and an add instead of a pass over every essential cursor
    /// per candidate. The window's candidates are then taken in ascending slot order, pruned
    /// with the bounds of the non-essential lists and completed by probing those lists. The
    /// essential set chosen at a window's start holds for the whole window; a higher threshold
    /// found inside it narrows the next one.
    func search(ids queryIDs: [Int32], k: Int, live: SlotSet, allowed: SlotSet?) -> [(slot: Int32, score: Float)] {
        guard liveCount > 0, k > 0 else { return [] }
        let avg = Float(liveLength) / Float(liveCount)
        let invAvg: Float = avg > 0 ? 1 / avg : 0
        let k1 = self.k1, b = self.b
        var terms: [(id: Int, weight: Float, bound: Float)] = []
        // Query term frequencies in first-occurrence order (queries are short).
        var unique: [(Int32, UInt32)] = []
        for id in queryIDs where id >= 0 {
            if let i = unique.firstIndex(where: { $0.0 == id }) { unique[i].1 += 1 } else { unique.append((id, 1)) }
        }
        for (id, qtf) in unique {
            guard documentFrequency[Int(id)] > 0 else { continue }
            let w = idf(documentFrequency[Int(id)]) * Float(qtf)
            let mf = Float(maxFreq[Int(id)])
            let bound = w * mf / (mf + k1 * (1 - b + b * Float(minLength[Int(id)]) * invAvg))
            terms.append((Int(id), w, bound))
        }
        if terms.isEmpty { return [] }
        terms.sort { $0.bound < $1.bound }
        let n = terms.count
        let window = Self.window
        // The cursors as flat arrays: position and end in each list, the lists themselves.
        let pos = UnsafeMutablePointer<Int>.allocate(capacity: n)
        let end = UnsafeMutablePointer<Int>.allocate(capacity: n)
        let weight = UnsafeMutablePointer<Float>.allocate(capacity: n)
        let prefix = UnsafeMutablePointer<Float>.allocate(capacity: n)  // prefix[i] = sum of bounds 0...i
        let slotLists = UnsafeMutablePointer<UnsafePointer<Int32>>.allocate(capacity: n)
        let freqLists = UnsafeMutablePointer<UnsafePointer<UInt32>>.allocate(capacity: n)
        // The window's partial scores and which of its slots have one; both are cleared as the
        // candidates are read out, so they are zero again at the start of every window.
        let acc = UnsafeMutablePointer<Float>.allocate(capacity: window)
        acc.initialize(repeating: 0, count: window)
        let hit = UnsafeMutablePointer<UInt64>.allocate(capacity: window / 64)
        hit.initialize(repeating: 0, count: window / 64)
        defer {
            pos.deallocate(); end.deallocate(); weight.deallocate(); prefix.deallocate()
            slotLists.deallocate(); freqLists.deallocate(); acc.deallocate(); hit.deallocate()
        }
        var top = TopK(k)
        // The posting arrays are not mutated while `self` is borrowed here, so their storage
        // stays put for the whole search.
        return withExtendedLifetime(self) {
            var sum: Float = 0
            for (i, t) in terms.enumerated() {
                let slots = postingSlots[t.id].withUnsafeBufferPointer { $0 }
                slotLists[i] = slots.baseAddress!
                freqLists[i] = postingFreqs[t.id].withUnsafeBufferPointer { $0.baseAddress! }
                end[i] = slots.count
                pos[i] = 0
                weight[i] = t.weight
                sum += t.bound
                prefix[i] = sum
            }
            return lengths.withUnsafeBufferPointer { lengthBuffer in
                let lengths = lengthBuffer.baseAddress!
                var firstEssential = 0
                var threshold = -Float.infinity, full = false
                scan: while true {
                    // The window starts at the smallest slot left in an essential list.
                    var start = Int32.max
                    for i in firstEssential..<n where pos[i] < end[i] && slotLists[i][pos[i]] < start {
                        start = slotLists[i][pos[i]]
                    }
                    if start == Int32.max { break }
                    let base = Int(start), limit = Int32(clamping: base + window)
                    let windowFirst = firstEssential
                    // Essential lists, term by term in ascending bound order: each slot's partial
                    // score is summed in the same order a cursor-by-cursor pass would use.
                    for i in windowFirst..<n {
                        let slots = slotLists[i], freqs = freqLists[i], count = end[i], w = weight[i]
                        var p = pos[i]
                        while p < count {
                            let slot = slots[p]
                            if slot >= limit { break }
                            let norm = k1 * (1 - b + b * Float(lengths[Int(slot)]) * invAvg)
                            let tf = Float(freqs[p])
                            let offset = Int(slot) - base
                            acc[offset] += w * tf / (tf + norm)
                            hit[offset >> 6] |= 1 << UInt64(offset & 63)
                            p += 1
                        }
                        pos[i] = p
                    }
                    let rest: Float = windowFirst > 0 ? prefix[windowFirst - 1] : 0
                    for word in 0..<(window / 64) {
                        var bits = hit[word]
                        if bits == 0 { continue }
                        hit[word] = 0
                        while bits != 0 {
                            let offset = word << 6 | bits.trailingZeroBitCount
                            bits &= bits &- 1
                            var score = acc[offset]
                            acc[offset] = 0
                            let candidate = Int32(base + offset)
                            // Candidates come in ascending slot order, so one that only ties the
                            // k-th score loses to it: `<=` rejects exactly what TopK.push would.
                            if full && score + rest <= threshold { continue }
                            if !live.contains(candidate) || !(allowed?.contains(candidate) ?? true) { continue }
                            let norm = k1 * (1 - b + b * Float(lengths[Int(candidate)]) * invAvg)
                            var i = windowFirst - 1
                            while i >= 0 {
                                if full && score + prefix[i] <= threshold { break }
                                let slots = slotLists[i], count = end[i]
                                let lo = Self.gallop(slots, count: count, from: pos[i], to: candidate)
                                pos[i] = lo
                                if lo < count && slots[lo] == candidate {
                                    let tf = Float(freqLists[i][lo])
                                    score += weight[i] * tf / (tf + norm)
                                }
                                i -= 1
                            }
                            if full && score <= threshold { continue }
                            if top.push(score, candidate) && top.isFull {
                                full = true
                                threshold = top.threshold
                                while firstEssential < n && prefix[firstEssential] <= threshold { firstEssential += 1 }
                                // No document can reach the threshold any more.
                                if firstEssential >= n { break scan }
                            }
                        }
                    }
                }
                return top.sorted()
            }
        }
    }

    /// The first position at or after `from` in the ascending `slots[0..<count]` whose slot is
    /// ≥ `target` (`count` when none): galloping steps from `from`, then a binary search.
    @inline(__always)
    static func gallop(_ slots: UnsafePointer<Int32>, count: Int, from: Int, to target: Int32) -> Int {
        var lo = from, step = 1
        while lo + step < count && slots[lo + step] < target { lo += step; step <<= 1 }
        var hi = min(count, lo + step + 1)
        while lo < hi { let mid = (lo + hi) >> 1; if slots[mid] < target { lo = mid + 1 } else { hi = mid } }
        return lo
    }

    /// Slots per scoring window: 16 KiB of partial scores, which stay in the L1 cache.
    static let window = 4096
}
