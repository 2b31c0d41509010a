#if canImport(Glibc)
import Glibc
#elseif canImport(Musl)
import Musl
#endif

/// Search by document (`group_by: "document"`): one hit per document, carried by the document's
/// best chunk (its slot) with the document's score.
extension Retriever {
    /// A document found by a chunk search: its ordinal, its best chunk and that chunk's score.
    typealias DocumentHit = (doc: Int32, slot: Int32, score: Float)

    /// The best `request.k` documents:
    /// - bm25: each document of the top chunks is scored by BM25 over the whole document (term
    ///   frequencies and length summed over its chunks, idf from how many documents hold the
    ///   term), so a query whose words fall in different chunks scores as it would unchunked;
    /// - dense: a document scores its best chunk's similarity;
    /// - hybrid: the two document lists, `max(k, candidates)` long each, fused (RRF or weighted).
    /// Chunks are fetched best first, at least twice as many as the documents needed, doubling
    /// until that many distinct documents are among them (or the chunks run out).
    func documentSearch(mode: SearchRequest.Mode, text: String, query: [Float]?, request: SearchRequest,
                        allowed: SlotSet?) -> [Hit] {
        let k = request.k
        guard k > 0 else { return [] }
        switch mode {
        case .bm25, .auto:
            return Array(lexicalDocuments(text, need: k, allowed: allowed).prefix(k).map { (slot: $0.slot, score: $0.score) })
        case .dense:
            return Array(documents(need: k) { denseSearch(query!, k: $0, request: request, allowed: allowed) }
                .prefix(k).map { (slot: $0.slot, score: $0.score) })
        case .hybrid:
            let need = max(k, request.candidates)
            let lexical = Array(lexicalDocuments(text, need: need, allowed: allowed).prefix(need))
            let semantic = Array(documents(need: need) { denseSearch(query!, k: $0, request: request, allowed: allowed) }.prefix(need))
            // A fused document is shown by its chunk from the list that ranks it higher.
            var shown: [Int32: (rank: Int, slot: Int32)] = [:]
            for list in [lexical, semantic] {
                for (rank, d) in list.enumerated() where rank < (shown[d.doc]?.rank ?? Int.max) { shown[d.doc] = (rank, d.slot) }
            }
            let byDoc = { (list: [DocumentHit]) in list.map { (slot: $0.doc, score: $0.score) } }
            let fused: [Hit]
            switch request.fusion {
            case .rrf: fused = Fusion.reciprocalRank([byDoc(lexical), byDoc(semantic)], k: request.rrfK, limit: k)
            case .weighted: fused = Fusion.weighted(byDoc(semantic), byDoc(lexical), weight: request.alpha, limit: k)
            }
            return fused.map { (slot: shown[$0.slot]!.slot, score: $0.score) }
        }
    }

    /// Distinct documents of the best chunks from `fetch(c)` (the best `c` chunks), best first:
    /// at least `need` of them unless the chunks run out. A document not among them scores at
    /// most the last fetched chunk, so their order by best chunk is exact.
    func documents(need: Int, _ fetch: (Int) -> [Hit]) -> [DocumentHit] {
        var c = max(2 * need, 10)
        while true {
            let hits = fetch(c)
            var seen = Set<Int32>(minimumCapacity: hits.count)
            var out: [DocumentHit] = []
            for h in hits {
                let d = chunkDoc[Int(h.slot)]
                if seen.insert(d).inserted { out.append((d, h.slot, h.score)) }
            }
            if out.count >= need || hits.count < c || c >= slotCount { return out }
            c *= 2
        }
    }

    /// Documents of the best BM25 chunks, rescored by document-level BM25, best first.
    func lexicalDocuments(_ text: String, need: Int, allowed: SlotSet?) -> [DocumentHit] {
        let ids = queryTermIDs(text)
        let found = documents(need: need) { index.search(ids: ids, k: $0, live: live, allowed: allowed) }
        return documentBM25(ids, found)
    }

    /// `docs` rescored by BM25 over whole documents: for each query term, its frequency and the
    /// document's length summed over the document's chunks (overlapping chunks count their shared
    /// text twice, in the average length too), idf from the live documents holding the term.
    func documentBM25(_ queryIDs: [Int32], _ docs: [DocumentHit]) -> [DocumentHit] {
        let documentCount = docOrdinal.count
        guard !docs.isEmpty, documentCount > 0 else { return docs }
        let k1 = index.k1, b = index.b
        let avg = Float(index.liveLength) / Float(documentCount)
        let invAvg: Float = avg > 0 ? 1 / avg : 0
        var unique: [(id: Int, qtf: Float)] = []
        for id in queryIDs where id >= 0 && Int(id) < termDocuments.count && termDocuments[Int(id)] > 0 {
            if let i = unique.firstIndex(where: { $0.id == Int(id) }) { unique[i].qtf += 1 } else { unique.append((Int(id), 1)) }
        }
        // The candidates' chunks in ascending slot order, each with its document's position in `docs`.
        var chunks: [(slot: Int32, doc: Int32)] = []
        var norm = [Float](repeating: 0, count: docs.count)
        for (i, d) in docs.enumerated() {
            var length: UInt32 = 0
            for s in docSlots[Int(d.doc)] {
                chunks.append((s, Int32(i)))
                length += index.lengths[Int(s)]
            }
            norm[i] = k1 * (1 - b + b * Float(length) * invAvg)
        }
        chunks.sort { $0.slot < $1.slot }
        var scores = [Float](repeating: 0, count: docs.count)
        var tf = [Float](repeating: 0, count: docs.count)
        let n = Float(documentCount)
        for t in unique {
            let df = Float(termDocuments[t.id])
            let weight = logf(1 + (n - df + 0.5) / (df + 0.5)) * t.qtf
            index.postingSlots[t.id].withUnsafeBufferPointer { slots in
                index.postingFreqs[t.id].withUnsafeBufferPointer { freqs in
                    guard let first = slots.baseAddress else { return }
                    var p = 0
                    for c in chunks {
                        p = InvertedIndex.gallop(first, count: slots.count, from: p, to: c.slot)
                        if p == slots.count { break }
                        if slots[p] == c.slot { tf[Int(c.doc)] += Float(freqs[p]) }
                    }
                }
            }
            for i in 0..<docs.count where tf[i] > 0 {
                scores[i] += weight * tf[i] / (tf[i] + norm[i])
                tf[i] = 0
            }
        }
        let order = docs.indices.sorted { a, b in
            scores[a] > scores[b] || (scores[a] == scores[b] && docs[a].slot < docs[b].slot)
        }
        return order.map { (docs[$0].doc, docs[$0].slot, scores[$0]) }
    }

    /// Recounts `termDocuments` (live documents per term) from the postings: a document's chunks
    /// have consecutive slots, so its postings in a list are adjacent.
    mutating func recountTermDocuments() {
        var counts = [Int32](repeating: 0, count: index.terms.count)
        for t in 0..<index.terms.count {
            var previous: Int32 = -1, n: Int32 = 0
            for s in index.postingSlots[t] where live.contains(s) {
                let d = chunkDoc[Int(s)]
                if d != previous { n += 1; previous = d }
            }
            counts[t] = n
        }
        termDocuments = counts
    }

    /// Adds `delta` to `termDocuments` of each distinct term among `ids`.
    mutating func countTermDocuments(_ ids: [Int32], _ delta: Int32) {
        if termDocuments.count < index.terms.count {
            termDocuments.append(contentsOf: repeatElement(0, count: index.terms.count - termDocuments.count))
        }
        var previous: Int32 = -1
        for id in ids.sorted() where id != previous {
            termDocuments[Int(id)] += delta
            previous = id
        }
    }
}
