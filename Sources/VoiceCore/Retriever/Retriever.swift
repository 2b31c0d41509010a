/// An embedded hybrid retrieval index: documents are cut into chunks; each chunk is indexed for
/// BM25 and may carry a dense vector (exact search, plus an HNSW graph when enabled). Adds,
/// updates and deletes are incremental; deleted chunks are skipped until `compact()` frees them.
///
/// Chunks live in "slots" numbered in insertion order; compaction renumbers them.
public struct Retriever: Sendable {
    public private(set) var options: RetrieverOptions
    var analyzer: Analyzer
    var chunker: Chunker
    var index: InvertedIndex
    var dense: DenseStore
    var hnsw: HNSW?
    /// The graph's visited marks, kept between inserts: a fresh one per insert would allocate and
    /// zero four bytes per vector every time.
    var graphScratch = HNSW.Scratch()

    // Documents, by ordinal.
    var docIds: [String] = []
    var docOrdinal: [String: Int32] = [:]
    var docMetadata: [Metadata] = []
    var docSlots: [[Int32]] = []
    var docAlive: [Bool] = []

    // Chunks, by slot.
    var chunkDoc: [Int32] = []
    var chunkNumber: [Int32] = []
    var chunkStart: [Int32] = []
    var chunkEnd: [Int32] = []
    var chunkText: [String] = []
    var live = SlotSet()
    var deadSlots = 0
    /// Surface word → its stem's vocabulary id, so each distinct word is stemmed and looked up
    /// once. Cleared by compaction, which renumbers terms.
    var termCache: [String: Int32] = [:]
    /// Per term id: how many live documents hold the term (the idf of document-level BM25).
    var termDocuments: [Int32] = []

    public init(options: RetrieverOptions = RetrieverOptions()) {
        self.options = options
        analyzer = Analyzer(stemming: Analyzer.Stemming(rawValue: options.stemming) ?? .auto, stopWords: options.stopWords,
                            minLength: options.minTokenLength)
        chunker = Chunker(size: options.chunkSize, overlap: options.chunkOverlap)
        index = InvertedIndex(k1: Float(options.k1), b: Float(options.b))
        dense = DenseStore()
        dense.metric = DenseStore.Metric(rawValue: options.metric) ?? .cosine
        if let m = options.hnswM { hnsw = HNSW(m: m, efConstruction: options.efConstruction, efSearch: options.efSearch) }
    }

    public var documentCount: Int { docOrdinal.count }
    public var chunkCount: Int { chunkDoc.count - deadSlots }
    public var slotCount: Int { chunkDoc.count }
    public var dimension: Int { dense.dimension }

    public func contains(_ id: String) -> Bool { docOrdinal[id] != nil }

    /// The chunks `add` would make of `text`.
    public func chunks(of text: String) -> [(start: Int, end: Int, text: String)] {
        chunker.chunks(text).map { ($0.start, $0.end, $0.text) }
    }

    /// Adds a document, replacing any document with the same id. `vectors` is empty, one vector
    /// (shared by every chunk) or one vector per chunk.
    public mutating func add(id: String, text: String, metadata: JSON? = nil, vectors: [[Float]] = []) throws(VCError) {
        if id.isEmpty { throw VCError(.invalidArgument, "document id is empty") }
        let meta = try parseMetadata(metadata)
        let spans = chunker.chunks(text)
        let pieces = spans.isEmpty ? [Chunker.Span(start: 0, end: 0, text: "")] : spans
        if !vectors.isEmpty && vectors.count != 1 && vectors.count != pieces.count {
            throw VCError(.mismatch, "document \"\(id)\" has \(pieces.count) chunks but \(vectors.count) vectors were given (give 0, 1 or one per chunk)")
        }
        var prepared: [[Float]] = []
        for v in vectors { prepared.append(try dense.prepared(v)) }
        if prepared.count > 1, prepared.contains(where: { $0.count != prepared[0].count }) {
            throw VCError(.mismatch, "document \"\(id)\" has vectors of different dimensions")
        }
        if docOrdinal[id] != nil { _ = delete(id: id) }

        let ordinal = Int32(docIds.count)
        docIds.append(id); docOrdinal[id] = ordinal; docMetadata.append(meta); docAlive.append(true)
        var slots: [Int32] = []
        var termIDs: [Int32] = []
        for (n, piece) in pieces.enumerated() {
            let slot = Int32(chunkDoc.count)
            chunkDoc.append(ordinal); chunkNumber.append(Int32(n))
            chunkStart.append(Int32(piece.start)); chunkEnd.append(Int32(piece.end)); chunkText.append(piece.text)
            live.insert(slot)
            let ids = analyze(piece.text)
            index.add(slot: slot, termIDs: ids)
            termIDs.append(contentsOf: ids)
            if !prepared.isEmpty {
                dense.add(slot: slot, vector: prepared.count == 1 ? prepared[0] : prepared[n])
                insertIntoGraph()
            }
            slots.append(slot)
        }
        docSlots.append(slots)
        countTermDocuments(termIDs, 1)
    }

    /// The vocabulary ids of `text`'s index terms, adding new terms to the vocabulary.
    mutating func analyze(_ text: String) -> [Int32] {
        var out: [Int32] = []
        let analyzer = self.analyzer
        analyzer.forEachSurface(text) { word, isGram in
            if isGram { out.append(index.termID(word)); return }
            if let id = termCache[word] { out.append(id); return }
            let id = index.termID(analyzer.stem(word))
            if termCache.count < 1 << 20 { termCache[word] = id }
            out.append(id)
        }
        return out
    }

    /// Query terms as vocabulary ids (−1 for a term no chunk has): cached where known.
    func queryTermIDs(_ text: String) -> [Int32] {
        var out: [Int32] = []
        analyzer.forEachSurface(text) { word, isGram in
            if !isGram, let id = termCache[word] { out.append(id); return }
            out.append(index.vocabulary[isGram ? word : analyzer.stem(word)] ?? -1)
        }
        return out
    }

    private mutating func insertIntoGraph() {
        guard hnsw != nil else { return }
        let dim = dense.dimension
        dense.data.withUnsafeBufferPointer { buf in
            hnsw!.insert(vectors: buf.baseAddress!, dim: dim, scratch: &graphScratch)
        }
    }

    /// Deletes a document; returns false when no such id exists.
    @discardableResult
    public mutating func delete(id: String) -> Bool {
        guard let ordinal = docOrdinal.removeValue(forKey: id) else { return false }
        docAlive[Int(ordinal)] = false
        var termIDs: [Int32] = []
        for slot in docSlots[Int(ordinal)] where live.contains(slot) {
            live.remove(slot)
            deadSlots += 1
            let ids = analyze(chunkText[Int(slot)])
            index.remove(slot: slot, termIDs: ids)
            termIDs.append(contentsOf: ids)
        }
        countTermDocuments(termIDs, -1)
        return true
    }

    /// Frees the space of deleted documents: renumbers slots, drops their postings and vectors,
    /// and rebuilds the HNSW graph when it held deleted rows.
    public mutating func compact() {
        guard deadSlots > 0 || docAlive.contains(false) else { return }
        var newSlot = [Int32](repeating: -1, count: chunkDoc.count)
        var next: Int32 = 0
        for s in 0..<chunkDoc.count where live.contains(Int32(s)) { newSlot[s] = next; next += 1 }
        var newDocOrdinal = [Int32](repeating: -1, count: docIds.count)
        var ids: [String] = [], metas: [Metadata] = [], slotsPerDoc: [[Int32]] = []
        for d in 0..<docIds.count where docAlive[d] {
            newDocOrdinal[d] = Int32(ids.count)
            ids.append(docIds[d]); metas.append(docMetadata[d])
            slotsPerDoc.append(docSlots[d].map { newSlot[Int($0)] })
        }
        var cDoc: [Int32] = [], cNum: [Int32] = [], cStart: [Int32] = [], cEnd: [Int32] = [], cText: [String] = []
        for s in 0..<chunkDoc.count where newSlot[s] >= 0 {
            cDoc.append(newDocOrdinal[Int(chunkDoc[s])]); cNum.append(chunkNumber[s])
            cStart.append(chunkStart[s]); cEnd.append(chunkEnd[s]); cText.append(chunkText[s])
        }
        let rowsBefore = dense.rowCount
        index.compact(newSlot: newSlot)
        termCache = [:]
        dense.compact(newSlot: newSlot)
        docIds = ids; metadataReplace(metas); docSlots = slotsPerDoc; docAlive = Array(repeating: true, count: ids.count)
        docOrdinal = [:]
        for (i, id) in ids.enumerated() { docOrdinal[id] = Int32(i) }
        chunkDoc = cDoc; chunkNumber = cNum; chunkStart = cStart; chunkEnd = cEnd; chunkText = cText
        live = SlotSet(count: cDoc.count, filled: false)
        for s in 0..<cDoc.count { live.insert(Int32(s)) }
        deadSlots = 0
        recountTermDocuments()
        if var graph = hnsw, dense.rowCount != rowsBefore {
            graph = HNSW(m: graph.m, efConstruction: graph.efConstruction, efSearch: graph.efSearch, seed: graph.seed)
            hnsw = graph
            var scratch = HNSW.Scratch()
            let dim = dense.dimension
            dense.data.withUnsafeBufferPointer { buf in
                for _ in 0..<dense.rowCount { hnsw!.insert(vectors: buf.baseAddress!, dim: dim, scratch: &scratch) }
            }
        }
    }

    private mutating func metadataReplace(_ m: [Metadata]) { docMetadata = m }

    /// A chunk's document id, chunk number, offsets, text and metadata.
    public func chunk(slot: Int32) -> (id: String, number: Int, start: Int, end: Int, text: String, metadata: JSON)? {
        guard slot >= 0, Int(slot) < chunkDoc.count else { return nil }
        let d = Int(chunkDoc[Int(slot)])
        return (docIds[d], Int(chunkNumber[Int(slot)]), Int(chunkStart[Int(slot)]), Int(chunkEnd[Int(slot)]),
                chunkText[Int(slot)], metadataJSON(docMetadata[d]))
    }
}
