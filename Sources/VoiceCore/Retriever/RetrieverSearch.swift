extension Retriever {
    /// One result: the chunk's slot and its score (BM25, inner product, or fused).
    public typealias Hit = (slot: Int32, score: Float)

    /// Searches by text (BM25), by vector (dense), or both fused. `.auto` picks hybrid when both
    /// a query text and a vector are given. The metadata filter applies inside each search, so
    /// the k results are the best k among accepted chunks (or documents: `request.groupBy`).
    public func search(text: String, vector: [Float]?, request: SearchRequest) throws(VCError) -> [Hit] {
        var mode = request.mode
        let hasText = !text.isEmpty
        if mode == .auto { mode = vector != nil ? (hasText ? .hybrid : .dense) : .bm25 }
        if (mode == .dense || mode == .hybrid) && vector == nil {
            throw VCError(.invalidArgument, "\(mode.rawValue) search needs a query vector")
        }
        var query: [Float]? = nil
        if let vector {
            if dense.dimension == 0 { throw VCError(.invalidState, "no document has a vector yet") }
            query = try dense.prepared(vector)
        }
        let allowed = request.filter.isEmpty ? nil : allowedSlots(request.filter)
        if request.groupBy == .document {
            return documentSearch(mode: mode, text: text, query: query, request: request, allowed: allowed)
        }
        switch mode {
        case .bm25, .auto:
            return bm25(text, k: request.k, allowed: allowed)
        case .dense:
            return denseSearch(query!, k: request.k, request: request, allowed: allowed)
        case .hybrid:
            let c = max(request.k, request.candidates)
            let lexical = bm25(text, k: c, allowed: allowed)
            let semantic = denseSearch(query!, k: c, request: request, allowed: allowed)
            switch request.fusion {
            case .rrf: return Fusion.reciprocalRank([lexical, semantic], k: request.rrfK, limit: request.k)
            case .weighted: return Fusion.weighted(semantic, lexical, weight: request.alpha, limit: request.k)
            }
        }
    }

    func bm25(_ text: String, k: Int, allowed: SlotSet?) -> [Hit] {
        index.search(ids: queryTermIDs(text), k: k, live: live, allowed: allowed)
    }

    /// The slots of live documents whose metadata passes `filter`.
    func allowedSlots(_ filter: MetadataFilter) -> SlotSet {
        var set = SlotSet(count: chunkDoc.count, filled: false)
        for d in 0..<docIds.count where docAlive[d] && filter.matches(docMetadata[d]) {
            for s in docSlots[d] { set.insert(s) }
        }
        return set
    }

    func denseSearch(_ q: [Float], k: Int, request: SearchRequest, allowed: SlotSet?) -> [Hit] {
        guard let graph = hnsw, !request.exact, graph.count == dense.rowCount, graph.count > 0 else {
            return dense.search(q, k: k, live: live, allowed: allowed)
        }
        // A selective filter leaves few accepted nodes for the graph walk to find: scan instead.
        if let allowed, allowed.count * 20 < dense.rowCount {
            return dense.search(q, k: k, live: live, allowed: allowed)
        }
        let ef = request.ef ?? graph.efSearch
        var scratch = HNSW.Scratch()
        let dim = dense.dimension
        let rowSlot = dense.rowSlot
        let live = self.live
        let needsCheck = allowed != nil || deadSlots > 0
        let found: [(Float, Int32)] = dense.data.withUnsafeBufferPointer { buf in
            q.withUnsafeBufferPointer { qb in
                graph.search(qb.baseAddress!, vectors: buf.baseAddress!, dim: dim, k: k, ef: ef, scratch: &scratch,
                             accept: needsCheck ? { row in
                                 let slot = rowSlot[Int(row)]
                                 return live.contains(slot) && (allowed?.contains(slot) ?? true)
                             } : nil)
            }
        }
        return found.map { (slot: rowSlot[Int($0.1)], score: $0.0) }
    }
}
