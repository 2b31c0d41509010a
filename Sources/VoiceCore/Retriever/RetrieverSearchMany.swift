extension Retriever {
    /// Searches a batch of queries with one request (k, mode, filter, …): `texts[i]` and, when
    /// given, `vectors[i]` form query i (`texts` may be empty for vector-only queries). Results
    /// equal `search` called once per query; the batch parses options and evaluates the filter
    /// once, and exact dense scores come from the blocked kernel a group of queries at a time.
    public func searchMany(texts: [String], vectors: [[Float]]?, request: SearchRequest) throws(VCError) -> [[Hit]] {
        let count = max(texts.count, vectors?.count ?? 0)
        if !texts.isEmpty && texts.count != count || (vectors.map { $0.count != count } ?? false) {
            throw VCError(.mismatch, "\(texts.count) query texts but \(vectors?.count ?? 0) query vectors")
        }
        if request.groupBy == .document {
            // Grouped searches run one by one (each fetches as many chunks as it needs).
            var out: [[Hit]] = []
            out.reserveCapacity(count)
            for i in 0..<count { out.append(try search(text: texts.isEmpty ? "" : texts[i], vector: vectors?[i], request: request)) }
            return out
        }
        var modes: [SearchRequest.Mode] = []
        modes.reserveCapacity(count)
        for i in 0..<count {
            let hasText = !texts.isEmpty && !texts[i].isEmpty
            var mode = request.mode
            if mode == .auto { mode = vectors != nil ? (hasText ? .hybrid : .dense) : .bm25 }
            if (mode == .dense || mode == .hybrid) && vectors == nil {
                throw VCError(.invalidArgument, "\(mode.rawValue) search needs a query vector")
            }
            modes.append(mode)
        }
        var flat: [Float] = []
        if let vectors, count > 0 {
            if dense.dimension == 0 { throw VCError(.invalidState, "no document has a vector yet") }
            flat.reserveCapacity(count * dense.dimension)
            for v in vectors { flat.append(contentsOf: try dense.prepared(v)) }
        }
        let allowed = request.filter.isEmpty ? nil : allowedSlots(request.filter)
        let fused = max(request.k, request.candidates)
        var semantic: [[Hit]] = []
        if vectors != nil {
            let k = modes.contains(.hybrid) ? fused : request.k
            semantic = flat.withUnsafeBufferPointer { denseSearchMany($0.baseAddress!, count: count, k: k, request: request, allowed: allowed) }
        }
        var out: [[Hit]] = []
        out.reserveCapacity(count)
        for i in 0..<count {
            let text = texts.isEmpty ? "" : texts[i]
            switch modes[i] {
            case .bm25, .auto:
                out.append(bm25(text, k: request.k, allowed: allowed))
            case .dense:
                out.append(Array(semantic[i].prefix(request.k)))
            case .hybrid:
                let lexical = bm25(text, k: fused, allowed: allowed)
                switch request.fusion {
                case .rrf: out.append(Fusion.reciprocalRank([lexical, semantic[i]], k: request.rrfK, limit: request.k))
                case .weighted: out.append(Fusion.weighted(semantic[i], lexical, weight: request.alpha, limit: request.k))
                }
            }
        }
        return out
    }

    /// Dense top-k for prepared queries: the batched exact scan where `denseSearch` would scan,
    /// otherwise the graph per query.
    func denseSearchMany(_ queries: UnsafePointer<Float>, count: Int, k: Int, request: SearchRequest, allowed: SlotSet?) -> [[Hit]] {
        let d = dense.dimension
        if let graph = hnsw, !request.exact, graph.count == dense.rowCount, graph.count > 0,
           !(allowed.map { $0.count * 20 < dense.rowCount } ?? false) {
            return (0..<count).map { i in denseSearch(Array(UnsafeBufferPointer(start: queries + i * d, count: d)), k: k, request: request, allowed: allowed) }
        }
        return dense.searchMany(queries, count: count, k: k, live: live, allowed: allowed)
    }
}
