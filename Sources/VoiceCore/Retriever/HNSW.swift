import VoiceCoreKernels
#if canImport(Glibc)
import Glibc
#elseif canImport(Musl)
import Musl
#endif

/// A Hierarchical Navigable Small World graph (Malkov & Yashunin) over the rows of a
/// `DenseStore`: node i is row i. Similarity is the inner product; neighbours are chosen with the
/// paper's diversity heuristic. Level draws use a seeded generator, so builds are reproducible.
struct HNSW: Sendable {
    var m = 16
    var efConstruction = 200
    var efSearch = 64
    var seed: UInt64 = 0x5EED

    /// Level 0 links: node i owns `linkCapacity0 + 1` entries starting at i·(cap+1); the
    /// first is the count.
    var links0: [Int32] = []
    /// Upper levels: per node, levels 1...level each with `m + 1` entries (count first).
    var upper: [[Int32]] = []
    var levels: [Int32] = []
    var entry: Int32 = -1
    var maxLevel: Int32 = -1
    var rngState: UInt64 = 0x5EED
    let kernels = VectorKernels()

    var count: Int { levels.count }
    var capacity0: Int { 2 * m }

    init(m: Int = 16, efConstruction: Int = 200, efSearch: Int = 64, seed: UInt64 = 0x5EED) {
        self.m = max(2, m); self.efConstruction = max(1, efConstruction); self.efSearch = max(1, efSearch)
        self.seed = seed; self.rngState = seed
    }

    private mutating func randomLevel() -> Int32 {
        rngState &+= 0x9E3779B97F4A7C15
        var z = rngState
        z = (z ^ (z >> 30)) &* 0xBF58476D1CE4E5B9
        z = (z ^ (z >> 27)) &* 0x94D049BB133111EB
        z ^= z >> 31
        let u = (Double(z >> 11) + 0.5) / Double(1 << 53)
        return Int32(-log(u) / log(Double(m)))
    }

    // MARK: search primitives

    /// Working memory for one search: the visited nodes as a bit set. One bit per node keeps the
    /// set small enough to stay in the L1/L2 cache while a wide search streams hundreds of MB of
    /// vectors past it (200,000 nodes: 25 KB; two-byte generation marks were 400 KB, and their
    /// misses were a fifth of the graph walk's time); clearing it is a memset of that size.
    struct Scratch {
        var visited: [UInt64] = []
        mutating func reset(_ n: Int) {
            let words = (n + 63) >> 6
            if visited.count < words {
                visited = [UInt64](repeating: 0, count: max(words + 16, visited.count * 2))
            } else {
                visited.withUnsafeMutableBufferPointer { $0.update(repeating: 0) }
            }
        }
    }

    /// Greedy best-first search on one level from `entries`; returns up to `ef` (similarity, node)
    /// pairs, best first. Only nodes for which `accept` holds enter the results; others are
    /// still traversed, so filters do not cut the graph apart.
    func searchLevel(_ q: UnsafePointer<Float>, _ vectors: UnsafePointer<Float>, dim: Int, entries: [Int32], ef: Int,
                     level: Int32, scratch: inout Scratch, accept: ((Int32) -> Bool)?, keep: Int? = nil) -> [(Float, Int32)] {
        scratch.reset(count)
        // Candidates: max-heap on similarity; results: min-heap on similarity (worst at root).
        var candidates = Heap(max: true)
        var results = Heap(max: false)
        for e in entries {
            scratch.visited[Int(e) >> 6] |= 1 << UInt64(e & 63)
            let s = kernels.dot(q, vectors + Int(e) * dim, dim)
            candidates.push(s, e)
            if accept?(e) ?? true { results.push(s, e) }
        }
        let cap = capacity0 + 1
        // Unvisited neighbours are gathered first and scored in one kernel call, which prefetches
        // each next row while the current one is multiplied.
        let width = max(capacity0, m)
        let ids = UnsafeMutablePointer<Int32>.allocate(capacity: width)
        let sims = UnsafeMutablePointer<Float>.allocate(capacity: width)
        defer { ids.deallocate(); sims.deallocate() }
        return links0.withUnsafeBufferPointer { l0 in
            scratch.visited.withUnsafeMutableBufferPointer { visited in
                while let (s, node) = candidates.pop() {
                    if results.count >= ef, let worst = results.top, s < worst.0 { break }
                    // The link list of the likely next candidate is a cache (and TLB) miss;
                    // fetched now, it arrives while this node's neighbours are scored.
                    if level == 0, let next = candidates.top {
                        vck_prefetch(l0.baseAddress! + Int(next.1) * cap, cap * MemoryLayout<Int32>.stride)
                    }
                    var n = 0
                    if level == 0 {
                        let base = Int(node) * cap
                        for j in 0..<Int(l0[base]) {
                            let nb = l0[base + 1 + j]
                            let w = Int(nb) >> 6, bit: UInt64 = 1 << UInt64(nb & 63)
                            if visited[w] & bit == 0 { visited[w] |= bit; ids[n] = nb; n += 1 }
                        }
                    } else {
                        let u = upper[Int(node)]
                        let base = (Int(level) - 1) * (m + 1)
                        for j in 0..<Int(u[base]) {
                            let nb = u[base + 1 + j]
                            let w = Int(nb) >> 6, bit: UInt64 = 1 << UInt64(nb & 63)
                            if visited[w] & bit == 0 { visited[w] |= bit; ids[n] = nb; n += 1 }
                        }
                    }
                    kernels.dotGather(q, vectors, dim, ids, n, sims)
                    for j in 0..<n {
                        let sn = sims[j], nb = ids[j]
                        if results.count < ef || sn > results.top!.0 {
                            candidates.push(sn, nb)
                            if accept?(nb) ?? true {
                                results.push(sn, nb)
                                if results.count > ef { _ = results.pop() }
                            }
                        }
                    }
                }
                return keep.map { results.drainBest($0) } ?? results.drainSortedDescending()
            }
        }
    }

    /// Keeps at most `limit` of `candidates` (best first), preferring neighbours that are closer
    /// to the base than to any already kept one.
    func selectNeighbours(_ candidates: [(Float, Int32)], limit: Int, vectors: UnsafePointer<Float>, dim: Int) -> [Int32] {
        if candidates.count <= limit { return candidates.map(\.1) }
        var kept: [Int32] = []
        for (s, c) in candidates {
            if kept.count >= limit { break }
            var good = true
            for k in kept where kernels.dot(vectors + Int(c) * dim, vectors + Int(k) * dim, dim) > s { good = false; break }
            if good { kept.append(c) }
        }
        return kept
    }

    private func neighbourList(_ node: Int32, _ level: Int32) -> [Int32] {
        if level == 0 {
            let base = Int(node) * (capacity0 + 1)
            return Array(links0[(base + 1)..<(base + 1 + Int(links0[base]))])
        }
        let base = (Int(level) - 1) * (m + 1)
        let u = upper[Int(node)]
        return Array(u[(base + 1)..<(base + 1 + Int(u[base]))])
    }

    private mutating func setNeighbours(_ node: Int32, _ level: Int32, _ list: [Int32]) {
        if level == 0 {
            let base = Int(node) * (capacity0 + 1)
            links0[base] = Int32(list.count)
            for (i, n) in list.enumerated() { links0[base + 1 + i] = n }
        } else {
            let base = (Int(level) - 1) * (m + 1)
            upper[Int(node)][base] = Int32(list.count)
            for (i, n) in list.enumerated() { upper[Int(node)][base + 1 + i] = n }
        }
    }

    /// Inserts the next row (its index must equal `count`).
    mutating func insert(vectors: UnsafePointer<Float>, dim: Int, scratch: inout Scratch) {
        let node = Int32(count)
        let level = randomLevel()
        levels.append(level)
        links0.append(contentsOf: repeatElement(0, count: capacity0 + 1))
        upper.append(level > 0 ? [Int32](repeating: 0, count: Int(level) * (m + 1)) : [])
        let q = vectors + Int(node) * dim
        if entry < 0 { entry = node; maxLevel = level; return }
        var current = entry
        var currentSim = kernels.dot(q, vectors + Int(current) * dim, dim)
        var l = maxLevel
        while l > level {
            var changed = true
            while changed {
                changed = false
                for nb in neighbourList(current, l) {
                    let s = kernels.dot(q, vectors + Int(nb) * dim, dim)
                    if s > currentSim { currentSim = s; current = nb; changed = true }
                }
            }
            l -= 1
        }
        var entries = [current]
        l = min(level, maxLevel)
        while l >= 0 {
            let found = searchLevel(q, vectors, dim: dim, entries: entries, ef: efConstruction, level: l, scratch: &scratch, accept: nil)
            let chosen = selectNeighbours(found, limit: m, vectors: vectors, dim: dim)
            setNeighbours(node, l, chosen)
            let limit = l == 0 ? capacity0 : m
            for nb in chosen {
                var list = neighbourList(nb, l)
                if list.count < limit {
                    list.append(node)
                } else {
                    let base = vectors + Int(nb) * dim
                    var scored = list.map { (kernels.dot(base, vectors + Int($0) * dim, dim), $0) }
                    scored.append((kernels.dot(base, q, dim), node))
                    scored.sort { $0.0 > $1.0 }
                    list = selectNeighbours(scored, limit: limit, vectors: vectors, dim: dim)
                }
                setNeighbours(nb, l, list)
            }
            entries = found.map(\.1)
            l -= 1
        }
        if level > maxLevel { maxLevel = level; entry = node }
    }

    /// The best `k` rows for `q` with beam width max(ef, k); `accept` filters rows.
    func search(_ q: UnsafePointer<Float>, vectors: UnsafePointer<Float>, dim: Int, k: Int, ef: Int,
                scratch: inout Scratch, accept: ((Int32) -> Bool)?) -> [(Float, Int32)] {
        guard entry >= 0 else { return [] }
        var current = entry
        var currentSim = kernels.dot(q, vectors + Int(current) * dim, dim)
        var l = maxLevel
        while l > 0 {
            var changed = true
            while changed {
                changed = false
                let u = upper[Int(current)]
                let base = (Int(l) - 1) * (m + 1)
                for i in 0..<Int(u[base]) {
                    let nb = u[base + 1 + i]
                    let s = kernels.dot(q, vectors + Int(nb) * dim, dim)
                    if s > currentSim { currentSim = s; current = nb; changed = true }
                }
            }
            l -= 1
        }
        let found = searchLevel(q, vectors, dim: dim, entries: [current], ef: max(ef, k), level: 0, scratch: &scratch, accept: accept, keep: k)
        return Array(found.prefix(k))
    }
}

/// A binary heap of (similarity, node): a max-heap or a min-heap. Entries are kept as pairs in
/// one array and sifted through a hole (one move per level instead of a swap of two arrays): at
/// a wide beam the result heap holds thousands of entries and its sifts are a hot loop.
struct Heap {
    struct Entry { var score: Float; var node: Int32 }
    let isMax: Bool
    private var items: [Entry] = []
    init(max: Bool) { isMax = max }

    var count: Int { items.count }
    var top: (Float, Int32)? { items.isEmpty ? nil : (items[0].score, items[0].node) }

    mutating func push(_ s: Float, _ n: Int32) {
        items.append(Entry(score: s, node: n))
        let isMax = self.isMax
        items.withUnsafeMutableBufferPointer { h in
            let e = h[h.count - 1]
            var i = h.count - 1
            while i > 0 {
                let p = (i - 1) >> 1
                let ps = h[p].score
                if isMax ? e.score > ps : e.score < ps { h[i] = h[p]; i = p } else { break }
            }
            h[i] = e
        }
    }

    mutating func pop() -> (Float, Int32)? {
        guard let last = items.popLast() else { return nil }
        if items.isEmpty { return (last.score, last.node) }
        let isMax = self.isMax
        return items.withUnsafeMutableBufferPointer { h in
            let out = h[0]
            let n = h.count
            var i = 0
            while true {
                let l = 2 * i + 1
                if l >= n { break }
                var c = l
                if l + 1 < n, isMax ? h[l + 1].score > h[l].score : h[l + 1].score < h[l].score { c = l + 1 }
                if isMax ? h[c].score > last.score : h[c].score < last.score { h[i] = h[c]; i = c } else { break }
            }
            h[i] = last
            return (out.score, out.node)
        }
    }

    /// Empties the heap, returning its best `k` entries in the order `drainSortedDescending` gives
    /// them: one pass keeping a sorted list of k, instead of sorting a wide beam (ef in the
    /// thousands) to read ten of it.
    mutating func drainBest(_ k: Int) -> [(Float, Int32)] {
        if k >= items.count { return drainSortedDescending() }
        var best: [(Float, Int32)] = []
        best.reserveCapacity(k + 1)
        @inline(__always) func ahead(_ a: (Float, Int32), _ b: (Float, Int32)) -> Bool { a.0 > b.0 || (a.0 == b.0 && a.1 < b.1) }
        for e in items {
            let x = (e.score, e.node)
            if best.count == k && !ahead(x, best[k - 1]) { continue }
            best.append(x)
            var i = best.count - 1
            while i > 0 && ahead(best[i], best[i - 1]) { best.swapAt(i, i - 1); i -= 1 }
            if best.count > k { best.removeLast() }
        }
        items.removeAll()
        return best
    }

    /// Empties the heap, returning its entries by descending similarity.
    mutating func drainSortedDescending() -> [(Float, Int32)] {
        let out = items.map { ($0.score, $0.node) }.sorted { $0.0 > $1.0 || ($0.0 == $1.0 && $0.1 < $1.1) }
        items.removeAll()
        return out
    }
}
