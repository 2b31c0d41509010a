#if canImport(Glibc)
import Glibc
#elseif canImport(Musl)
import Musl
#endif

// C exports of the Retriever: thin wrappers that check arguments and call Retriever.

final class RetrieverHandle: Handle {
    var retriever: Retriever?
    var path: String?
    init(path: String?) { self.path = path }

    func withRetriever(_ body: (inout Retriever) throws(VCError) -> Int32) -> Int32 {
        run { () throws(VCError) -> Int32 in
            guard retriever != nil else { throw VCError(.invalidState, "the index failed to open: \(String(decoding: lastErrorCopy.prefix { $0 != 0 }.map { UInt8(bitPattern: $0) }, as: UTF8.self))") }
            return try body(&retriever!)
        }
    }
    var openError: [CChar] = [0]
    var lastErrorCopy: [CChar] { openError }
    /// The strings `vc_retriever_chunks` points at, NUL-terminated, back to back; reused by the
    /// next call on the handle.
    var arena = UnsafeMutableRawPointer.allocate(byteCount: 4096, alignment: 16)
    var arenaSize = 4096

    deinit { arena.deallocate() }

    /// Makes the arena hold at least `bytes` (its old contents are dropped).
    func reserveArena(_ bytes: Int) {
        guard bytes > arenaSize else { return }
        arena.deallocate()
        arenaSize = max(bytes, arenaSize * 2)
        arena = UnsafeMutableRawPointer.allocate(byteCount: arenaSize, alignment: 16)
    }
}

/// Byte offsets of the fields of `vc_retriever_chunk_info` (include/voicecore.h); they are ABI.
private enum ChunkInfoLayout {
    static let id = 0, idLen = 8, text = 16, textLen = 24, metadata = 32, metadataLen = 40
    static let chunk = 48, start = 52, end = 56, size = 64
}

private func handle(_ p: OpaquePointer?) -> RetrieverHandle? { HandleTable.get(p, as: RetrieverHandle.self) }

private func text(_ ptr: UnsafePointer<CChar>?, _ len: Int, _ what: String) throws(VCError) -> String {
    guard let bytes = borrowBytes(ptr, len) else { throw VCError(.invalidArgument, "\(what) is NULL") }
    guard let s = String(validating: bytes, as: UTF8.self) else { throw VCError(.invalidUTF8, "\(what) is not valid UTF-8") }
    return s
}

private func cString(_ ptr: UnsafePointer<CChar>?, _ what: String) throws(VCError) -> String {
    guard let ptr else { throw VCError(.invalidArgument, "\(what) is NULL") }
    guard let s = String(validatingCString: ptr) else { throw VCError(.invalidUTF8, "\(what) is not valid UTF-8") }
    return s
}

private func optionalJSON(_ ptr: UnsafePointer<CChar>?, _ what: String) throws(VCError) -> JSON? {
    guard let ptr, ptr.pointee != 0 else { return nil }
    return try JSONParser.parse(try cString(ptr, what))
}

private func vectors(_ data: UnsafePointer<Float>?, _ count: Int, _ dim: Int) throws(VCError) -> [[Float]] {
    if count == 0 { return [] }
    guard let data else { throw VCError(.invalidArgument, "vectors is NULL") }
    guard dim > 0 else { throw VCError(.invalidArgument, "vector dimension is 0") }
    return (0..<count).map { Array(UnsafeBufferPointer(start: data + $0 * dim, count: dim)) }
}

private func emit(_ json: JSON, _ out: UnsafeMutablePointer<UnsafeMutablePointer<CChar>?>?) throws(VCError) -> Int32 {
    guard let out else { throw VCError(.invalidArgument, "out is NULL") }
    guard let s = mallocString(json.serialized) else { throw VCError(.outOfMemory, "out of memory") }
    out.pointee = s
    return Status.ok.rawValue
}

@_cdecl("vc_retriever_open")
public func vc_retriever_open(_ path: UnsafePointer<CChar>?, _ options: UnsafePointer<CChar>?,
                              _ out: UnsafeMutablePointer<OpaquePointer?>?) -> Int32 {
    guard let out else { return Status.invalidArgument.rawValue }
    out.pointee = nil
    let h = RetrieverHandle(path: nil)
    out.pointee = HandleTable.retain(h)
    return h.run { () throws(VCError) -> Int32 in
        do throws(VCError) {
            let p: String? = path == nil ? nil : try cString(path, "path")
            h.path = p
            let json = try parseOptions(options)
            if let p, IndexStorage.exists(p) {
                var runtime: [(String, JSON)] = []
                for (k, v) in json.objectValue ?? [] {
                    guard RetrieverOptions.keys.contains(k) else { throw VCError(.invalidArgument, "unknown option \"\(k)\"") }
                    if k == "hnsw", let ef = v["ef_search"] { runtime.append(("ef_search", ef)) }
                }
                h.retriever = try Retriever.load(path: p, runtime: .object(runtime))
            } else {
                h.retriever = Retriever(options: try RetrieverOptions(json: json))
            }
            return Status.ok.rawValue
        } catch {
            h.openError = Array(error.message.utf8CString)
            throw error
        }
    }
}

@_cdecl("vc_retriever_free")
public func vc_retriever_free(_ h: OpaquePointer?) { HandleTable.release(h, as: RetrieverHandle.self) }

@_cdecl("vc_retriever_errmsg")
public func vc_retriever_errmsg(_ h: OpaquePointer?) -> UnsafePointer<CChar>? {
    guard let r = handle(h) else { return nil }
    return r.lastError.withUnsafeBufferPointer { $0.baseAddress }
}

@_cdecl("vc_retriever_add")
public func vc_retriever_add(_ h: OpaquePointer?, _ id: UnsafePointer<CChar>?, _ textPtr: UnsafePointer<CChar>?, _ textLen: Int,
                             _ metadata: UnsafePointer<CChar>?, _ vectorData: UnsafePointer<Float>?, _ vectorCount: Int,
                             _ dim: Int) -> Int32 {
    guard let r = handle(h) else { return Status.invalidArgument.rawValue }
    return r.withRetriever { (kb) throws(VCError) -> Int32 in
        let docId = try cString(id, "id")
        let body = try text(textPtr, textLen, "text")
        let meta = try optionalJSON(metadata, "metadata")
        try kb.add(id: docId, text: body, metadata: meta, vectors: try vectors(vectorData, vectorCount, dim))
        return Status.ok.rawValue
    }
}

@_cdecl("vc_retriever_delete")
public func vc_retriever_delete(_ h: OpaquePointer?, _ id: UnsafePointer<CChar>?) -> Int32 {
    guard let r = handle(h) else { return Status.invalidArgument.rawValue }
    return r.withRetriever { (kb) throws(VCError) -> Int32 in
        let docId = try cString(id, "id")
        guard kb.delete(id: docId) else { throw VCError(.notFound, "no document with id \"\(docId)\"") }
        return Status.ok.rawValue
    }
}

@_cdecl("vc_retriever_compact")
public func vc_retriever_compact(_ h: OpaquePointer?) -> Int32 {
    guard let r = handle(h) else { return Status.invalidArgument.rawValue }
    return r.withRetriever { (kb) throws(VCError) -> Int32 in kb.compact(); return Status.ok.rawValue }
}

@_cdecl("vc_retriever_save")
public func vc_retriever_save(_ h: OpaquePointer?, _ path: UnsafePointer<CChar>?) -> Int32 {
    guard let r = handle(h) else { return Status.invalidArgument.rawValue }
    return r.withRetriever { (kb) throws(VCError) -> Int32 in
        let target: String
        if path != nil { target = try cString(path, "path") } else {
            guard let p = r.path else { throw VCError(.invalidState, "an in-memory index needs a path to save to") }
            target = p
        }
        try kb.save(path: target)
        if r.path == nil { r.path = target }
        return Status.ok.rawValue
    }
}

@_cdecl("vc_retriever_stats")
public func vc_retriever_stats(_ h: OpaquePointer?, _ out: UnsafeMutablePointer<UnsafeMutablePointer<CChar>?>?) -> Int32 {
    guard let r = handle(h) else { return Status.invalidArgument.rawValue }
    return r.withRetriever { (kb) throws(VCError) -> Int32 in
        try emit(.object([
            ("documents", .number(Double(kb.documentCount))), ("chunks", .number(Double(kb.chunkCount))),
            ("deleted_chunks", .number(Double(kb.slotCount - kb.chunkCount))), ("dimension", .number(Double(kb.dimension))),
            ("terms", .number(Double(kb.index.terms.count))), ("vectors", .number(Double(kb.dense.rowCount))),
            ("hnsw", .bool(kb.hnsw != nil)), ("options", kb.options.json),
        ]), out)
    }
}

@_cdecl("vc_retriever_search")
public func vc_retriever_search(_ h: OpaquePointer?, _ queryPtr: UnsafePointer<CChar>?, _ queryLen: Int,
                                _ vectorPtr: UnsafePointer<Float>?, _ dim: Int, _ options: UnsafePointer<CChar>?,
                                _ outSlots: UnsafeMutablePointer<Int32>?, _ outScores: UnsafeMutablePointer<Float>?,
                                _ capacity: Int) -> Int32 {
    guard let r = handle(h) else { return Status.invalidArgument.rawValue }
    return r.withRetriever { (kb) throws(VCError) -> Int32 in
        let query = queryPtr == nil && queryLen == 0 ? "" : try text(queryPtr, queryLen, "query")
        var vector: [Float]? = nil
        if vectorPtr != nil || dim != 0 {
            guard let vectorPtr, dim > 0 else { throw VCError(.invalidArgument, "query vector is NULL or has dimension 0") }
            vector = Array(UnsafeBufferPointer(start: vectorPtr, count: dim))
        }
        let request = try SearchRequest(json: try parseOptions(options))
        guard request.k <= capacity else { throw VCError(.invalidArgument, "k = \(request.k) exceeds the output capacity \(capacity)") }
        guard request.k == 0 || (outSlots != nil && outScores != nil) else { throw VCError(.invalidArgument, "output arrays are NULL") }
        let hits = try kb.search(text: query, vector: vector, request: request)
        for (i, hit) in hits.enumerated() { outSlots![i] = hit.slot; outScores![i] = hit.score }
        return Int32(hits.count)
    }
}

@_cdecl("vc_retriever_search_many")
public func vc_retriever_search_many(_ h: OpaquePointer?, _ queriesPtr: UnsafePointer<CChar>?, _ queryLens: UnsafePointer<Int>?,
                                     _ count: Int, _ vectorPtr: UnsafePointer<Float>?, _ dim: Int,
                                     _ options: UnsafePointer<CChar>?, _ outSlots: UnsafeMutablePointer<Int32>?,
                                     _ outScores: UnsafeMutablePointer<Float>?, _ outCounts: UnsafeMutablePointer<Int32>?,
                                     _ capacity: Int) -> Int32 {
    guard let r = handle(h) else { return Status.invalidArgument.rawValue }
    return r.withRetriever { (kb) throws(VCError) -> Int32 in
        guard count >= 0, count <= Int(Int32.max) else { throw VCError(.invalidArgument, "query count out of range") }
        var texts: [String] = []
        if let queryLens {
            var at = 0
            texts.reserveCapacity(count)
            for i in 0..<count {
                let len = queryLens[i]
                texts.append(len == 0 ? "" : try text(queriesPtr.map { $0 + at }, len, "query \(i)"))
                at += len
            }
        } else if queriesPtr != nil {
            throw VCError(.invalidArgument, "queries given without query_lens")
        }
        var vectors: [[Float]]? = nil
        if vectorPtr != nil || dim != 0 {
            guard let vectorPtr, dim > 0 else { throw VCError(.invalidArgument, "query vectors are NULL or have dimension 0") }
            vectors = (0..<count).map { Array(UnsafeBufferPointer(start: vectorPtr + $0 * dim, count: dim)) }
        }
        let request = try SearchRequest(json: try parseOptions(options))
        guard request.k <= capacity else { throw VCError(.invalidArgument, "k = \(request.k) exceeds the output capacity \(capacity) per query") }
        guard count == 0 || outCounts != nil, request.k == 0 || count == 0 || (outSlots != nil && outScores != nil) else {
            throw VCError(.invalidArgument, "output arrays are NULL")
        }
        let results = try kb.searchMany(texts: texts, vectors: vectors, request: request)
        for (i, hits) in results.enumerated() {
            for (j, hit) in hits.enumerated() { outSlots![i * capacity + j] = hit.slot; outScores![i * capacity + j] = hit.score }
            outCounts![i] = Int32(hits.count)
        }
        return Int32(results.count)
    }
}

@_cdecl("vc_retriever_chunk")
public func vc_retriever_chunk(_ h: OpaquePointer?, _ slot: Int32, _ out: UnsafeMutablePointer<UnsafeMutablePointer<CChar>?>?) -> Int32 {
    guard let r = handle(h) else { return Status.invalidArgument.rawValue }
    return r.withRetriever { (kb) throws(VCError) -> Int32 in
        guard let c = kb.chunk(slot: slot) else { throw VCError(.notFound, "no chunk \(slot)") }
        return try emit(.object([
            ("id", .string(c.id)), ("chunk", .number(Double(c.number))), ("start", .number(Double(c.start))),
            ("end", .number(Double(c.end))), ("text", .string(c.text)), ("metadata", c.metadata),
        ]), out)
    }
}

@_cdecl("vc_retriever_chunks")
public func vc_retriever_chunks(_ h: OpaquePointer?, _ slots: UnsafePointer<Int32>?, _ count: Int,
                                _ out: UnsafeMutableRawPointer?) -> Int32 {
    guard let r = handle(h) else { return Status.invalidArgument.rawValue }
    return r.withRetriever { (kb) throws(VCError) -> Int32 in
        guard count >= 0 else { throw VCError(.invalidArgument, "count is negative") }
        if count == 0 { return Status.ok.rawValue }
        guard let slots, let out else { throw VCError(.invalidArgument, "slots or out is NULL") }
        // Sizes first, so the arena is allocated once and the pointers handed out stay put.
        var metadata: [String?] = []
        metadata.reserveCapacity(count)
        var bytes = 0
        for i in 0..<count {
            let slot = slots[i]
            guard slot >= 0, Int(slot) < kb.slotCount else { throw VCError(.notFound, "no chunk \(slot)") }
            let d = Int(kb.chunkDoc[Int(slot)])
            let meta = kb.docMetadata[d].isEmpty ? nil : metadataJSON(kb.docMetadata[d]).serialized
            metadata.append(meta)
            bytes += kb.docIds[d].utf8.count + kb.chunkText[Int(slot)].utf8.count + (meta?.utf8.count ?? 2) + 3
        }
        r.reserveArena(bytes)
        var at = r.arena
        func put(_ s: String, _ field: Int, _ lengthField: Int, _ record: UnsafeMutableRawPointer) {
            var s = s
            let n = s.withUTF8 { u in
                if u.count > 0 { at.copyMemory(from: u.baseAddress!, byteCount: u.count) }
                return u.count
            }
            at.storeBytes(of: 0, toByteOffset: n, as: UInt8.self)
            record.storeBytes(of: UnsafeRawPointer(at), toByteOffset: field, as: UnsafeRawPointer.self)
            record.storeBytes(of: n, toByteOffset: lengthField, as: Int.self)
            at += n + 1
        }
        for i in 0..<count {
            let slot = Int(slots[i]), d = Int(kb.chunkDoc[slot])
            let record = out + i * ChunkInfoLayout.size
            put(kb.docIds[d], ChunkInfoLayout.id, ChunkInfoLayout.idLen, record)
            put(kb.chunkText[slot], ChunkInfoLayout.text, ChunkInfoLayout.textLen, record)
            put(metadata[i] ?? "{}", ChunkInfoLayout.metadata, ChunkInfoLayout.metadataLen, record)
            record.storeBytes(of: kb.chunkNumber[slot], toByteOffset: ChunkInfoLayout.chunk, as: Int32.self)
            record.storeBytes(of: kb.chunkStart[slot], toByteOffset: ChunkInfoLayout.start, as: Int32.self)
            record.storeBytes(of: kb.chunkEnd[slot], toByteOffset: ChunkInfoLayout.end, as: Int32.self)
            record.storeBytes(of: 0, toByteOffset: ChunkInfoLayout.end + 4, as: Int32.self)
        }
        return Status.ok.rawValue
    }
}

@_cdecl("vc_retriever_chunk_text")
public func vc_retriever_chunk_text(_ h: OpaquePointer?, _ textPtr: UnsafePointer<CChar>?, _ textLen: Int,
                                    _ out: UnsafeMutablePointer<UnsafeMutablePointer<CChar>?>?) -> Int32 {
    guard let r = handle(h) else { return Status.invalidArgument.rawValue }
    return r.withRetriever { (kb) throws(VCError) -> Int32 in
        let body = try text(textPtr, textLen, "text")
        return try emit(.array(kb.chunks(of: body).map {
            .object([("start", .number(Double($0.start))), ("end", .number(Double($0.end))), ("text", .string($0.text))])
        }), out)
    }
}
