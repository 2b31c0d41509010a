import Testing
@testable import VoiceCore

#if canImport(Glibc)
import Glibc
#endif

/// A seeded generator so random corpora are reproducible.
struct SplitMix: RandomNumberGenerator {
    var state: UInt64
    mutating func next() -> UInt64 {
        state &+= 0x9E3779B97F4A7C15
        var z = state
        z = (z ^ (z >> 30)) &* 0xBF58476D1CE4E5B9
        z = (z ^ (z >> 27)) &* 0x94D049BB133111EB
        return z ^ (z >> 31)
    }
}

@Suite struct StemmerTests {
    @Test func englishPorter2() {
        let s = EnglishStemmer()
        let cases = [
            ("running", "run"), ("cries", "cri"), ("ties", "tie"), ("generously", "generous"), ("proceeds", "proceed"),
            ("communication", "communic"), ("skies", "sky"), ("dying", "die"), ("caresses", "caress"), ("hopping", "hop"),
            ("hoping", "hope"), ("relational", "relat"), ("conditional", "condit"), ("effective", "effect"),
            ("happily", "happili"), ("knightly", "knight"), ("consolingly", "consol"), ("agreed", "agre"),
            ("cats", "cat"), ("gas", "gas"), ("this", "this"), ("news", "news"), ("controllers", "control"),
        ]
        for (word, stem) in cases { #expect(s.stem(word) == stem, "\(word)") }
    }

    @Test func russianSnowball() {
        let s = RussianStemmer()
        let cases = [
            ("книги", "книг"), ("книгами", "книг"), ("красивая", "красив"), ("красивые", "красив"),
            ("бежать", "бежа"), ("читающий", "чита"), ("делала", "дела"), ("ёлка", "елк"), ("нежнейший", "нежн"),
            ("возможность", "возможн"),
        ]
        for (word, stem) in cases { #expect(s.stem(word) == stem, "\(word)") }
    }
}

@Suite struct TokenizerTests {
    @Test func caseFoldingAndMixedScripts() {
        let a = Analyzer(stemming: .auto)
        #expect(a.terms("Running CATS и Красивые книги") == ["run", "cat", "и", "красив", "книг"])
    }

    @Test func cjkBigrams() {
        let a = Analyzer()
        #expect(a.terms("北京大学") == ["北京", "京大", "大学"])
        #expect(a.terms("東京 is big") == ["東京", "is", "big"])
        #expect(a.terms("中") == ["中"])
        #expect(a.terms("ひらがなテスト") == ["ひら", "らが", "がな", "なテ", "テス", "スト"])
    }

    @Test func stopWordsAndMinimumLength() {
        let a = Analyzer(stemming: .none, stopWords: .function, minLength: 2)
        #expect(a.terms("The cat is on a mat, x") == ["cat", "mat"])
        #expect(a.terms("Which ocean is the largest?") == ["which", "ocean", "largest"])
        let spoken = Analyzer(stemming: .none, stopWords: .spoken)
        #expect(spoken.terms("Which ocean is the largest?") == ["ocean", "largest"])
        #expect(spoken.terms("Um, do you know what's the capital of France, please?") == ["do", "you", "capital", "france"])
        #expect(spoken.terms("Скажи, какая столица Франции?") == ["столица", "франции"])
    }
}

/// BM25 computed the slow way over every live chunk: the reference for the MaxScore index.
func bruteForceBM25(_ docs: [[String]], live: [Bool], query: [String], k1: Float, b: Float) -> [(Int32, Float)] {
    let n = live.filter { $0 }.count
    let avg = Float(zip(docs, live).filter { $0.1 }.reduce(0) { $0 + $1.0.count }) / Float(n)
    var dfs: [String: Int] = [:]
    for (d, alive) in zip(docs, live) where alive { for t in Set(d) { dfs[t, default: 0] += 1 } }
    var scores: [(Int32, Float)] = []
    for (i, d) in docs.enumerated() where live[i] {
        var s: Float = 0
        var matched = false
        for (term, qtf) in InvertedIndex.frequencies(query) {
            let df = dfs[term] ?? 0
            guard df > 0 else { continue }
            let tf = Float(d.filter { $0 == term }.count)
            if tf == 0 { continue }
            matched = true
            let idf = logf(1 + (Float(n) - Float(df) + 0.5) / (Float(df) + 0.5))
            s += Float(qtf) * idf * tf / (tf + k1 * (1 - b + b * Float(d.count) / avg))
        }
        if matched { scores.append((Int32(i), s)) }
    }
    return scores.sorted { $0.1 > $1.1 || ($0.1 == $1.1 && $0.0 < $1.0) }
}

/// `got` is the index's answer for a query, `want` the brute-force ranking cut to the same k: the
/// same scores rank by rank, and the same chunks except where scores tie within rounding at the cut.
func expectSameRanking(_ got: [Retriever.Hit], _ want: [(Int32, Float)]) {
    #expect(got.count == want.count)
    for (g, w) in zip(got, want) {
        #expect(abs(g.score - w.1) < 1e-4 * max(1, w.1), "score at rank: \(g) vs \(w)")
    }
    let cut = want.last?.1 ?? 0
    let certain = Set(want.filter { $0.1 > cut + 1e-4 }.map { $0.0 })
    #expect(certain.isSubset(of: Set(got.map { $0.slot })))
}

@Suite struct RetrieverTests {
    func options(_ json: JSON) -> RetrieverOptions { try! RetrieverOptions(json: json) }

    @Test func spokenStopWordsRankTheTopicNotTheQuestionWord() throws {
        func best(_ stopwords: JSON) throws -> String? {
            var kb = Retriever(options: options(["chunk_size": 0, "stemming": "en", "stopwords": stopwords]))
            try kb.add(id: "canberra", text: "Canberra is the capital of Australia, not Sydney, which is the largest city.")
            try kb.add(id: "pacific", text: "The Pacific is the largest ocean on Earth. It covers about a third of the planet's surface.")
            try kb.add(id: "help", text: "You can ask me questions about capitals, oceans and mountains.")
            var req = SearchRequest(); req.k = 1; req.mode = .bm25
            return try kb.search(text: "which ocean is the largest", vector: nil, request: req).first.map { kb.chunk(slot: $0.slot)!.id }
        }
        #expect(try best(true) == "canberra")  // "which" is rare in the corpus, so it weighs most
        #expect(try best("spoken") == "pacific")
        let spoken = options(["stopwords": "spoken"])
        let reread = try RetrieverOptions(json: spoken.json)
        #expect(spoken.stopWords == .spoken && reread == spoken)
        #expect(options(["stopwords": true]).json.objectValue?.first { $0.0 == "stopwords" }?.1 == .bool(true))
        #expect(throws: VCError.self) { try RetrieverOptions(json: ["stopwords": "all"]) }
    }

    @Test func bm25MatchesBruteForceOnRandomCorpora() throws {
        var rng = SplitMix(state: 42)
        for round in 0..<5 {
            var kb = Retriever(options: options(["chunk_size": 0, "stemming": "none"]))
            let vocabulary = (0..<40).map { "w\($0)" }
            var docs: [[String]] = []
            for i in 0..<300 {
                // Skewed term choice so some terms are frequent and others rare.
                let words = (0..<Int.random(in: 1...30, using: &rng)).map { _ in
                    vocabulary[min(Int.random(in: 0..<40, using: &rng), Int.random(in: 0..<40, using: &rng))]
                }
                docs.append(words)
                try kb.add(id: "d\(i)", text: words.joined(separator: " "))
            }
            var live = [Bool](repeating: true, count: docs.count)
            for i in stride(from: round, to: 300, by: 7) { kb.delete(id: "d\(i)"); live[i] = false }
            for _ in 0..<30 {
                let query = (0..<Int.random(in: 1...5, using: &rng)).map { _ in vocabulary[Int.random(in: 0..<40, using: &rng)] }
                let k = Int.random(in: 1...20, using: &rng)
                var req = SearchRequest(); req.k = k; req.mode = .bm25
                let got = try kb.search(text: query.joined(separator: " "), vector: nil, request: req)
                expectSameRanking(got, Array(bruteForceBM25(docs, live: live, query: query, k1: 1.2, b: 0.75).prefix(k)))
            }
        }
    }

    /// Corpora larger than the scorer's window (`InvertedIndex.window` slots), so candidates are
    /// drawn window by window and the essential set narrows between and inside windows.
    @Test func bm25MatchesBruteForceAcrossScoringWindows() throws {
        var rng = SplitMix(state: 99)
        var kb = Retriever(options: options(["chunk_size": 0, "stemming": "none"]))
        let vocabulary = (0..<60).map { "w\($0)" }
        let count = InvertedIndex.window * 2 + 1500
        var docs: [[String]] = []
        for i in 0..<count {
            let words = (0..<Int.random(in: 1...12, using: &rng)).map { _ in
                vocabulary[min(Int.random(in: 0..<60, using: &rng), Int.random(in: 0..<60, using: &rng))]
            }
            docs.append(words)
            try kb.add(id: "d\(i)", text: words.joined(separator: " "))
        }
        var live = [Bool](repeating: true, count: count)
        for i in stride(from: 3, to: count, by: 11) { kb.delete(id: "d\(i)"); live[i] = false }
        var windowsCrossed = 0
        for _ in 0..<25 {
            let query = (0..<Int.random(in: 1...6, using: &rng)).map { _ in vocabulary[Int.random(in: 0..<60, using: &rng)] }
            let k = Int.random(in: 1...30, using: &rng)
            var req = SearchRequest(); req.k = k; req.mode = .bm25
            let got = try kb.search(text: query.joined(separator: " "), vector: nil, request: req)
            expectSameRanking(got, Array(bruteForceBM25(docs, live: live, query: query, k1: 1.2, b: 0.75).prefix(k)))
            if got.contains(where: { Int($0.slot) >= InvertedIndex.window }) { windowsCrossed += 1 }
        }
        // The check above means something only if results come from beyond the first window.
        #expect(windowsCrossed > 0)
    }

    @Test func denseExactAndHNSWAgree() throws {
        var rng = SplitMix(state: 7)
        var kb = Retriever(options: options(["chunk_size": 0, "hnsw": ["m": 12, "ef_construction": 100]]))
        var vectors: [[Float]] = []
        for i in 0..<600 {
            let v = (0..<16).map { _ in Float.random(in: -1...1, using: &rng) }
            vectors.append(v)
            try kb.add(id: "v\(i)", text: "", vectors: [v])
        }
        let q = (0..<16).map { _ in Float.random(in: -1...1, using: &rng) }
        let norm = { (v: [Float]) in v.map { $0 / VectorMath.norm(v) } }
        let truth = vectors.enumerated().map { (Int32($0.offset), zip(norm($0.element), norm(q)).reduce(Float(0)) { $0 + $1.0 * $1.1 }) }
            .sorted { $0.1 > $1.1 }.prefix(10).map(\.0)
        var req = SearchRequest(); req.k = 10; req.mode = .dense; req.exact = true
        let exact = try kb.search(text: "", vector: q, request: req)
        #expect(exact.map(\.slot) == truth)
        req.exact = false; req.ef = 200
        let approx = try kb.search(text: "", vector: q, request: req)
        #expect(Set(approx.map(\.slot)).intersection(truth).count >= 9)
    }

    @Test func heapOrderAndBestKMatchAFullSort() {
        var rng = SplitMix(state: 11)
        for size in [0, 1, 5, 40, 700] {
            // Scores from a small set, so ties (broken by the lower node) are common.
            let entries = (0..<size).map { (Float(Int.random(in: 0..<9, using: &rng)), Int32($0)) }
            let sorted = entries.sorted { $0.0 > $1.0 || ($0.0 == $1.0 && $0.1 < $1.1) }
            var maxHeap = Heap(max: true), minHeap = Heap(max: false)
            for (s, n) in entries { maxHeap.push(s, n); minHeap.push(s, n) }
            var popped: [Float] = [], poppedMin: [Float] = []
            var copy = maxHeap
            while let (s, _) = copy.pop() { popped.append(s) }
            var copyMin = minHeap
            while let (s, _) = copyMin.pop() { poppedMin.append(s) }
            #expect(popped == sorted.map(\.0))
            #expect(poppedMin == sorted.map(\.0).reversed())
            for k in [1, 3, 10, size] where k <= max(size, 1) {
                var h = minHeap
                let best = h.drainBest(k)
                #expect(best.map(\.0) == sorted.prefix(k).map(\.0))
                #expect(best.map(\.1) == sorted.prefix(k).map(\.1))
                #expect(h.count == 0)
            }
        }
    }

    @Test func vectorStorageIsCacheLineAlignedAndCopiesOnWrite() {
        var a = AlignedFloats()
        for i in 0..<1000 { a.append(contentsOf: [Float(i), -Float(i)]) }
        a.withUnsafeBufferPointer { #expect(UInt(bitPattern: $0.baseAddress) % 64 == 0) }
        var b = a
        b.append(contentsOf: [7])
        #expect(a.count == 2000 && b.count == 2001)
        #expect(a.array == (0..<1000).flatMap { [Float($0), -Float($0)] })
        #expect(Array(b.array.prefix(2000)) == a.array && b.array.last == 7)
        let bytes = a.array.withUnsafeBytes { AlignedFloats(copying: $0, count: 2000) }
        #expect(bytes.array == a.array)
        bytes.withUnsafeBufferPointer { #expect(UInt(bitPattern: $0.baseAddress) % 64 == 0) }
    }

    @Test func filtersApplyInsideTheSearch() throws {
        var kb = Retriever(options: options(["chunk_size": 0]))
        for i in 0..<200 {
            try kb.add(id: "d\(i)", text: "apple banana \(i % 3 == 0 ? "apple apple" : "")",
                       metadata: ["lang": i % 2 == 0 ? "en" : "ru", "year": .number(Double(2000 + i % 30)),
                                  "date": .string(i < 100 ? "2024-01-15" : "2025-06-01")])
        }
        func ids(_ filter: JSON, k: Int = 500) throws -> Set<String> {
            var req = try SearchRequest(json: ["k": .number(Double(k)), "filter": filter])
            req.mode = .bm25
            return Set(try kb.search(text: "apple", vector: nil, request: req).map { kb.chunk(slot: $0.slot)!.id })
        }
        #expect(try ids(["lang": "ru"]).count == 100)
        #expect(try ids(["lang": "ru"]).allSatisfy { Int($0.dropFirst())! % 2 == 1 })
        let years = Set((0..<200).filter { [25, 26].contains($0 % 30) }.map { "d\($0)" })
        #expect(try ids(["year": ["gte": 2025, "lt": 2027]]) == years)
        #expect(try ids(["date": ["gte": "2025-01-01"]]).count == 100)
        #expect(try ids(["lang": ["in": ["en", "fr"]], "date": ["lt": "2025-01-01"]]).count == 50)
        // Top-k stays correct: the 5 best Russian documents, not the Russian ones among the 5 best overall.
        #expect(try ids(["lang": "ru"], k: 5).count == 5)
        #expect(throws: VCError.self) { try SearchRequest(json: ["filter": ["x": ["approx": 1]]]) }
    }

    @Test func addUpdateDeleteCompact() throws {
        var kb = Retriever(options: options(["chunk_size": 0]))
        try kb.add(id: "a", text: "the quick brown fox")
        try kb.add(id: "b", text: "lazy dogs sleep")
        var req = SearchRequest(); req.mode = .bm25
        #expect(try kb.search(text: "fox", vector: nil, request: req).map { kb.chunk(slot: $0.slot)!.id } == ["a"])
        try kb.add(id: "a", text: "a slow green turtle")
        #expect(try kb.search(text: "fox", vector: nil, request: req).isEmpty)
        #expect(try kb.search(text: "turtle", vector: nil, request: req).map { kb.chunk(slot: $0.slot)!.id } == ["a"])
        let deleted = kb.delete(id: "b"), again = kb.delete(id: "b")
        #expect(deleted && !again)
        #expect(try kb.search(text: "dogs", vector: nil, request: req).isEmpty)
        #expect(kb.slotCount == 3 && kb.chunkCount == 1)
        kb.compact()
        #expect(kb.slotCount == 1 && kb.documentCount == 1)
        #expect(try kb.search(text: "turtle", vector: nil, request: req).map { kb.chunk(slot: $0.slot)!.id } == ["a"])
    }

    /// How many live documents hold each term, counted the slow way from the chunk texts.
    func termDocumentsByHand(_ kb: Retriever) -> [Int32] {
        var counts = [Int32](repeating: 0, count: kb.index.terms.count)
        for d in 0..<kb.docIds.count where kb.docAlive[d] {
            var terms = Set<Int32>()
            for s in kb.docSlots[d] { terms.formUnion(kb.queryTermIDs(kb.chunkText[Int(s)]).filter { $0 >= 0 }) }
            for t in terms { counts[Int(t)] += 1 }
        }
        return counts
    }

    @Test func documentFrequenciesFollowAddsDeletesCompactionAndFiles() throws {
        var rng = SplitMix(state: 9)
        let words = ["alpha", "beta", "gamma", "delta", "epsilon", "zeta", "eta", "theta"]
        var kb = Retriever(options: options(["chunk_size": 30, "chunk_overlap": 0.2]))
        for i in 0..<60 {
            let text = (0..<Int.random(in: 2...30, using: &rng)).map { _ in words.randomElement(using: &rng)! }.joined(separator: " ")
            try kb.add(id: "d\(i % 45)", text: text)  // ids 0..<15 are replaced once
        }
        for i in stride(from: 0, to: 45, by: 7) { kb.delete(id: "d\(i)") }
        #expect(kb.termDocuments == termDocumentsByHand(kb))
        let path = "/tmp/vc-retriever-test-\(getpid())-df.vcidx"
        defer { unlink(path) }
        try kb.save(path: path)
        var loaded = try Retriever.load(path: path, runtime: nil)
        #expect(loaded.termDocuments == kb.termDocuments)
        loaded.compact()
        #expect(loaded.termDocuments == termDocumentsByHand(loaded))
        var req = SearchRequest(); req.mode = .bm25; req.groupBy = .document; req.k = 50
        let hits = try loaded.search(text: "alpha zeta", vector: nil, request: req)
        #expect(Set(hits.map { loaded.chunkDoc[Int($0.slot)] }).count == hits.count)
        #expect(hits.count > 10 && hits.count <= loaded.documentCount)
    }

    @Test func dimensionMismatchIsAnError() throws {
        var kb = Retriever()
        try kb.add(id: "a", text: "x", vectors: [[1, 0, 0]])
        #expect(throws: VCError(.mismatch, "vector has dimension 2, the index holds dimension 3")) {
            try kb.add(id: "b", text: "y", vectors: [[1, 0]])
        }
        var req = SearchRequest(); req.mode = .dense
        #expect(throws: VCError.self) { try kb.search(text: "", vector: [1, 0], request: req) }
        #expect(!kb.contains("b"))
    }

    @Test func chunksOverlapAndKeepPositions() {
        let chunker = Chunker(size: 100, overlap: 0.2)
        let paragraph = (0..<60).map { "word\($0)" }.joined(separator: " ")
        let text = paragraph + "\n\n" + paragraph
        let chunks = chunker.chunks(text)
        #expect(chunks.count > 4)
        let scalars = Array(text.unicodeScalars)
        for c in chunks {
            #expect(c.end - c.start <= 100)
            #expect(String(String.UnicodeScalarView(scalars[c.start..<c.end])) == c.text)
        }
        for (a, b) in zip(chunks, chunks.dropFirst()) { #expect(b.start < a.end || b.start - a.end <= 2) }
        #expect(chunks.contains { $0.end == paragraph.unicodeScalars.count })  // a paragraph end is preferred
    }
}

@Suite struct RetrieverFileTests {
    func tempPath(_ name: String) -> String { "/tmp/vc-retriever-test-\(getpid())-\(name).vcidx" }

    func sample() throws -> Retriever {
        var kb = Retriever(options: try RetrieverOptions(json: ["chunk_size": 40, "hnsw": ["m": 8]]))
        try kb.add(id: "ru", text: "Красивые книги лежат на столе. Их читают дети.", metadata: ["lang": "ru"], vectors: [[1, 0, 0]])
        try kb.add(id: "zh", text: "北京大学是一所大学", metadata: ["lang": "zh"], vectors: [[0, 1, 0]])
        try kb.add(id: "en", text: "Running cats chase quick mice across the garden every morning.", metadata: ["date": "2025-06-01"], vectors: [[0, 0, 1]])
        try kb.add(id: "gone", text: "deleted text", vectors: [[1, 1, 1]])
        kb.delete(id: "gone")
        return kb
    }

    @Test func roundTrip() throws {
        let kb = try sample()
        let path = tempPath("roundtrip")
        defer { unlink(path) }
        try kb.save(path: path)
        let back = try Retriever.load(path: path)
        var req = SearchRequest(); req.k = 5
        for q in ["книга", "大学", "cat running", "garden"] {
            let a = try kb.search(text: q, vector: nil, request: req), b = try back.search(text: q, vector: nil, request: req)
            #expect(a.map(\.slot) == b.map(\.slot) && a.map(\.score) == b.map(\.score))
            #expect(!a.isEmpty, "\(q)")
        }
        req.mode = .dense
        #expect(try back.search(text: "", vector: [0, 0.9, 0.1], request: req).first.map { back.chunk(slot: $0.slot)!.id } == "zh")
        #expect(back.documentCount == 3 && back.chunkCount == kb.chunkCount && back.options == kb.options)
        #expect(back.chunk(slot: 0)!.metadata == ["lang": "ru"])
    }

    @Test func corruptionAndTruncationAreErrors() throws {
        let bytes = IndexFile.encode(try sample())
        let path = tempPath("corrupt")
        defer { unlink(path) }
        func write(_ b: [UInt8]) throws { try IndexStorage.writeAtomically(b, to: path) }
        // Every truncation point is an error, never a crash.
        for cut in stride(from: 0, to: bytes.count, by: max(1, bytes.count / 97)) {
            try write(Array(bytes[0..<cut]))
            #expect(throws: VCError.self) { try Retriever.load(path: path) }
        }
        // Every flipped byte is detected by a checksum or a structure check.
        for at in stride(from: 0, to: bytes.count, by: max(1, bytes.count / 61)) {
            var b = bytes
            b[at] ^= 0x5A
            try write(b)
            do {
                _ = try Retriever.load(path: path)
                Issue.record("flipped byte \(at) not detected")
            } catch {
                #expect(error.status == .corrupt || error.status == .unsupported)
            }
        }
        try write(bytes + [0])
        #expect(throws: VCError.self) { try Retriever.load(path: path) }
        try write(Array("not an index at all".utf8))
        #expect(throws: VCError.self) { try Retriever.load(path: path) }
        #expect(throws: VCError.self) { try Retriever.load(path: "/nonexistent/dir/kb.vcidx") }
    }
}

@Suite struct ChunkerSentenceTests {
    @Test func chunksEndAtSentenceEnds() {
        let text = (0..<12).map { "Sentence number \($0) talks about topic \($0 * 7)." }.joined(separator: " ")
        let chunks = Chunker(size: 120, overlap: 0.15).chunks(text)
        #expect(chunks.count >= 4)
        for c in chunks.dropLast() { #expect(c.text.hasSuffix("."), "\(c.text)") }
        for (a, b) in zip(chunks, chunks.dropFirst()) { #expect(b.start < a.end) }  // overlap
    }
}
