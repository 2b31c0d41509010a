/// The one-file format of a Retriever index.
///
///     magic "VCRETRV\0" · u32 format version · u32 section count
///     section table: per section u32 tag · u64 length · u32 CRC-32 of its bytes
///     u32 CRC-32 of everything above
///     the sections' bytes, in table order
///
/// All numbers are little-endian. Every length is checked against the file, every section
/// against its CRC, and every index inside a section against the sizes it refers to, so a
/// corrupt or truncated file is reported, never trusted.
enum IndexFile {
    static let magic: [UInt8] = Array("VCRETRV".utf8) + [0]
    static let version: UInt32 = 1

    enum Tag: UInt32 { case options = 1, documents, chunks, terms, vectors, graph }

    static func encode(_ r: Retriever) -> [UInt8] {
        var sections: [(Tag, [UInt8])] = []
        var w = ByteWriter()
        w.string(r.options.json.serialized)
        sections.append((.options, w.bytes))

        w = ByteWriter()
        w.u64(UInt64(r.docIds.count))
        for d in 0..<r.docIds.count {
            w.string(r.docIds[d]); w.u32(r.docAlive[d] ? 1 : 0)
            w.string(metadataJSON(r.docMetadata[d]).serialized)
            w.array(r.docSlots[d])
        }
        sections.append((.documents, w.bytes))

        w = ByteWriter()
        w.array(r.chunkDoc); w.array(r.chunkNumber); w.array(r.chunkStart); w.array(r.chunkEnd)
        for t in r.chunkText { w.string(t) }
        w.array(r.live.words); w.u64(UInt64(r.deadSlots))
        sections.append((.chunks, w.bytes))

        w = ByteWriter()
        let ix = r.index
        w.u64(UInt64(ix.liveCount)); w.u64(UInt64(ix.liveLength)); w.array(ix.lengths)
        w.u64(UInt64(ix.terms.count))
        for t in ix.terms { w.string(t) }
        w.array(ix.documentFrequency); w.array(ix.maxFreq); w.array(ix.minLength)
        var offsets: [UInt64] = [0]
        for p in ix.postingSlots { offsets.append(offsets.last! + UInt64(p.count)) }
        w.array(offsets)
        w.array(ix.postingSlots.flatMap { $0 }); w.array(ix.postingFreqs.flatMap { $0 })
        sections.append((.terms, w.bytes))

        w = ByteWriter()
        w.u64(UInt64(r.dense.dimension)); w.array(r.dense.rowSlot); w.array(r.dense.slotRow); w.floats(r.dense.data)
        sections.append((.vectors, w.bytes))

        if let g = r.hnsw {
            w = ByteWriter()
            w.u64(g.seed); w.u64(g.rngState); w.i32(g.entry); w.i32(g.maxLevel)
            w.array(g.levels); w.array(g.links0)
            var uo: [UInt64] = [0]
            for u in g.upper { uo.append(uo.last! + UInt64(u.count)) }
            w.array(uo); w.array(g.upper.flatMap { $0 })
            sections.append((.graph, w.bytes))
        }

        var header = ByteWriter()
        header.bytes = magic
        header.u32(version); header.u32(UInt32(sections.count))
        for (tag, bytes) in sections {
            header.u32(tag.rawValue); header.u64(UInt64(bytes.count)); header.u32(CRC32.checksum(bytes))
        }
        header.u32(CRC32.checksum(header.bytes))
        var out = header.bytes
        out.reserveCapacity(out.count + sections.reduce(0) { $0 + $1.1.count })
        for (_, bytes) in sections { out.append(contentsOf: bytes) }
        return out
    }

    static func decode(_ file: UnsafeRawBufferPointer, runtime: JSON?) throws(VCError) -> Retriever {
        var h = ByteReader(file, what: "index file header")
        guard file.count >= 16 else { throw VCError(.corrupt, "not a Retriever index: file is \(file.count) bytes, too short for a header") }
        guard file.prefix(8).elementsEqual(magic) else { throw VCError(.corrupt, "not a Retriever index (bad magic bytes)") }
        h.offset = 8
        let v = try h.u32()
        guard v == version else { throw VCError(.unsupported, "index file format version \(v); this library reads version \(version)") }
        let count = Int(try h.u32())
        guard count <= 64 else { throw VCError(.corrupt, "index file header: \(count) sections") }
        var table: [(UInt32, Int, UInt32)] = []
        for _ in 0..<count {
            let tag = try h.u32(), len = try h.u64(), crc = try h.u32()
            guard len <= UInt64(file.count) else { throw VCError(.corrupt, "index file is truncated: a section of \(len) bytes in a \(file.count)-byte file") }
            table.append((tag, Int(len), crc))
        }
        let headerEnd = h.offset
        let headerCRC = try h.u32()
        guard CRC32.checksum(UnsafeRawBufferPointer(rebasing: file[0..<headerEnd])) == headerCRC else {
            throw VCError(.corrupt, "index file header checksum mismatch")
        }
        let expected = h.offset + table.reduce(0) { $0 + $1.1 }
        if file.count < expected { throw VCError(.corrupt, "index file is truncated: \(file.count) of \(expected) bytes") }
        if file.count > expected { throw VCError(.corrupt, "index file has \(file.count - expected) unexpected trailing bytes") }
        var sections: [Tag: UnsafeRawBufferPointer] = [:]
        var at = h.offset
        for (tag, len, crc) in table {
            let bytes = UnsafeRawBufferPointer(rebasing: file[at..<(at + len)])
            guard let t = Tag(rawValue: tag) else { throw VCError(.unsupported, "index file has an unknown section \(tag)") }
            guard CRC32.checksum(bytes) == crc else { throw VCError(.corrupt, "index file section \(t) checksum mismatch") }
            sections[t] = bytes
            at += len
        }
        func section(_ t: Tag) throws(VCError) -> ByteReader {
            guard let s = sections[t] else { throw VCError(.corrupt, "index file has no \(t) section") }
            return ByteReader(s, what: "index file section \(t)")
        }

        var r = try section(.options)
        var options = try RetrieverOptions(json: try JSONParser.parse(try r.string()))
        if let runtime, case .object(let members) = runtime {
            for (k, value) in members {
                guard k == "ef_search" else { continue }
                options.efSearch = Int(try RetrieverOptions.number(value, k, 1...100_000))
            }
        }
        var out = Retriever(options: options)

        r = try section(.chunks)
        out.chunkDoc = try r.array(Int32.self); out.chunkNumber = try r.array(Int32.self)
        out.chunkStart = try r.array(Int32.self); out.chunkEnd = try r.array(Int32.self)
        let slots = out.chunkDoc.count
        guard out.chunkNumber.count == slots, out.chunkStart.count == slots, out.chunkEnd.count == slots else {
            throw r.corrupt("chunk arrays of different lengths")
        }
        out.chunkText.reserveCapacity(slots)
        for _ in 0..<slots { out.chunkText.append(try r.string()) }
        var liveSet = SlotSet(count: 0, filled: false)
        let words = try r.array(UInt64.self)
        guard words.count == (slots + 63) / 64 else { throw r.corrupt("live set of the wrong size") }
        for s in 0..<slots where (words[s >> 6] >> UInt64(s & 63)) & 1 == 1 { liveSet.insert(Int32(s)) }
        out.live = liveSet
        out.deadSlots = Int(try r.u64())
        guard out.deadSlots == slots - liveSet.count else { throw r.corrupt("deleted-chunk count disagrees with the live set") }

        r = try section(.documents)
        let docs = try r.count(elementSize: 16)
        for d in 0..<docs {
            let id = try r.string()
            let alive = try r.u32() == 1
            let meta = try parseMetadata(try JSONParser.parse(try r.string()))
            let ds = try r.array(Int32.self)
            for s in ds where s < 0 || Int(s) >= slots || out.chunkDoc[Int(s)] != Int32(d) { throw r.corrupt("document \"\(id)\" names a bad chunk") }
            out.docIds.append(id); out.docAlive.append(alive); out.docMetadata.append(meta); out.docSlots.append(ds)
            if alive {
                if out.docOrdinal[id] != nil { throw r.corrupt("document id \"\(id)\" appears twice") }
                out.docOrdinal[id] = Int32(d)
            }
        }
        for d in out.chunkDoc where d < 0 || Int(d) >= docs { throw VCError(.corrupt, "index file: a chunk names a missing document") }

        r = try section(.terms)
        var ix = InvertedIndex(k1: Float(options.k1), b: Float(options.b))
        ix.liveCount = Int(try r.u64()); ix.liveLength = Int(try r.u64())
        ix.lengths = try r.array(UInt32.self)
        guard ix.lengths.count <= slots else { throw r.corrupt("more lengths than chunks") }
        let termCount = try r.count(elementSize: 4)
        ix.terms.reserveCapacity(termCount)
        for t in 0..<termCount {
            let term = try r.string()
            ix.terms.append(term)
            ix.vocabulary[term] = Int32(t)
        }
        ix.documentFrequency = try r.array(Int32.self); ix.maxFreq = try r.array(UInt32.self); ix.minLength = try r.array(UInt32.self)
        let offsets = try r.array(UInt64.self)
        let flatSlots = try r.array(Int32.self), flatFreqs = try r.array(UInt32.self)
        guard ix.documentFrequency.count == termCount, ix.maxFreq.count == termCount, ix.minLength.count == termCount,
              offsets.count == termCount + 1, offsets.first == 0, offsets.last == UInt64(flatSlots.count), flatFreqs.count == flatSlots.count,
              ix.vocabulary.count == termCount else { throw r.corrupt("posting tables of inconsistent sizes") }
        ix.postingSlots.reserveCapacity(termCount); ix.postingFreqs.reserveCapacity(termCount)
        for t in 0..<termCount {
            let a = Int(offsets[t]), b = Int(offsets[t + 1])
            guard a <= b, b <= flatSlots.count else { throw r.corrupt("posting offsets out of order") }
            var previous: Int32 = -1
            for k in a..<b {
                let s = flatSlots[k]
                guard s > previous, Int(s) < ix.lengths.count else { throw r.corrupt("posting list out of order or out of range") }
                previous = s
            }
            ix.postingSlots.append(Array(flatSlots[a..<b])); ix.postingFreqs.append(Array(flatFreqs[a..<b]))
        }
        out.index = ix
        out.recountTermDocuments()

        r = try section(.vectors)
        let dim = Int(try r.u64())
        out.dense.dimension = dim
        out.dense.rowSlot = try r.array(Int32.self); out.dense.slotRow = try r.array(Int32.self); out.dense.data = try r.alignedFloats()
        let rows = out.dense.rowSlot.count
        guard dim < 1 << 20, out.dense.data.count == rows * dim, out.dense.slotRow.count <= slots else { throw r.corrupt("vector table of inconsistent size") }
        for (row, s) in out.dense.rowSlot.enumerated() where s < 0 || Int(s) >= out.dense.slotRow.count || out.dense.slotRow[Int(s)] != Int32(row) {
            throw r.corrupt("vector row names a bad chunk")
        }

        if var g = out.hnsw {
            r = try section(.graph)
            g.seed = try r.u64(); g.rngState = try r.u64(); g.entry = try r.i32(); g.maxLevel = try r.i32()
            g.levels = try r.array(Int32.self); g.links0 = try r.array(Int32.self)
            let uo = try r.array(UInt64.self), flat = try r.array(Int32.self)
            let nodes = g.levels.count
            guard nodes <= rows, g.links0.count == nodes * (g.capacity0 + 1), uo.count == nodes + 1, uo.last == UInt64(flat.count),
                  g.entry < Int32(max(nodes, 0)), (nodes == 0) == (g.entry < 0) else { throw r.corrupt("graph tables of inconsistent sizes") }
            for i in 0..<nodes {
                let a = Int(uo[i]), b = Int(uo[i + 1])
                guard a <= b, b <= flat.count, g.levels[i] >= 0, g.levels[i] <= g.maxLevel, b - a == Int(g.levels[i]) * (g.m + 1) else {
                    throw r.corrupt("graph node \(i) has a bad level table")
                }
                g.upper.append(Array(flat[a..<b]))
            }
            func validList(_ list: ArraySlice<Int32>, _ cap: Int) -> Bool {
                guard let c = list.first, c >= 0, Int(c) <= cap else { return false }
                return list.dropFirst().prefix(Int(c)).allSatisfy { $0 >= 0 && Int($0) < nodes }
            }
            for i in 0..<nodes {
                let base = i * (g.capacity0 + 1)
                guard validList(g.links0[base..<(base + g.capacity0 + 1)], g.capacity0) else { throw r.corrupt("graph node \(i) links out of range") }
                for l in 0..<Int(g.levels[i]) {
                    let b = l * (g.m + 1)
                    guard validList(g.upper[i][b..<(b + g.m + 1)], g.m) else { throw r.corrupt("graph node \(i) links out of range") }
                }
            }
            out.hnsw = g
        }
        return out
    }
}
