/// How a new index analyzes, chunks and stores. Fixed when the index is created and saved with
/// it; `efSearch` may be changed on open.
public struct RetrieverOptions: Sendable, Equatable {
    public var k1 = 1.2
    public var b = 0.75
    public var stemming = "auto"
    public var stopWords = StopWords.none
    public var minTokenLength = 1
    public var chunkSize = 1000
    public var chunkOverlap = 0.15
    public var metric = "cosine"
    /// HNSW graph for dense search (nil: exact search only).
    public var hnswM: Int? = nil
    public var efConstruction = 200
    public var efSearch = 64

    public init() {}

    static let keys = ["k1", "b", "stemming", "stopwords", "min_token_length", "chunk_size", "chunk_overlap", "metric", "hnsw"]

    public init(json: JSON) throws(VCError) {
        guard case .object(let members) = json else { throw VCError(.invalidArgument, "options must be a JSON object") }
        for (key, value) in members {
            switch key {
            case "k1": k1 = try Self.number(value, key, 0...100)
            case "b": b = try Self.number(value, key, 0...1)
            case "stemming":
                guard let s = value.stringValue, Analyzer.Stemming(rawValue: s) != nil else {
                    throw VCError(.invalidArgument, "option \"stemming\" must be \"auto\", \"en\", \"ru\" or \"none\"")
                }
                stemming = s
            case "stopwords":
                switch value {
                case .bool(let v): stopWords = v ? .function : .none
                case .string("spoken"): stopWords = .spoken
                default: throw VCError(.invalidArgument, "option \"stopwords\" must be true, false or \"spoken\"")
                }
            case "min_token_length": minTokenLength = Int(try Self.number(value, key, 1...100))
            case "chunk_size": chunkSize = Int(try Self.number(value, key, 0...10_000_000))
            case "chunk_overlap": chunkOverlap = try Self.number(value, key, 0...0.5)
            case "metric":
                guard let s = value.stringValue, DenseStore.Metric(rawValue: s) != nil else {
                    throw VCError(.invalidArgument, "option \"metric\" must be \"cosine\" or \"dot\"")
                }
                metric = s
            case "hnsw":
                if value == .null || value == .bool(false) { hnswM = nil; continue }
                if value == .bool(true) { hnswM = 16; continue }
                guard case .object(let h) = value else { throw VCError(.invalidArgument, "option \"hnsw\" must be an object, true or false") }
                hnswM = 16
                for (hk, hv) in h {
                    switch hk {
                    case "m": hnswM = Int(try Self.number(hv, "hnsw.m", 2...256))
                    case "ef_construction": efConstruction = Int(try Self.number(hv, "hnsw.ef_construction", 1...100_000))
                    case "ef_search": efSearch = Int(try Self.number(hv, "hnsw.ef_search", 1...100_000))
                    default: throw VCError(.invalidArgument, "unknown option \"hnsw.\(hk)\" (m, ef_construction, ef_search)")
                    }
                }
            default:
                throw VCError(.invalidArgument, "unknown option \"\(key)\" (known: \(Self.keys.joined(separator: ", ")))")
            }
        }
    }

    static func number(_ v: JSON, _ key: String, _ range: ClosedRange<Double>) throws(VCError) -> Double {
        guard let n = v.doubleValue, range.contains(n) else {
            throw VCError(.invalidArgument, "option \"\(key)\" must be a number in \(range.lowerBound)...\(range.upperBound)")
        }
        return n
    }

    public var json: JSON {
        var hnsw: JSON = .null
        if let m = hnswM { hnsw = .object([("m", .number(Double(m))), ("ef_construction", .number(Double(efConstruction))), ("ef_search", .number(Double(efSearch)))]) }
        return .object([
            ("k1", .number(k1)), ("b", .number(b)), ("stemming", .string(stemming)), ("stopwords", stopWords == .spoken ? .string("spoken") : .bool(stopWords == .function)),
            ("min_token_length", .number(Double(minTokenLength))), ("chunk_size", .number(Double(chunkSize))),
            ("chunk_overlap", .number(chunkOverlap)), ("metric", .string(metric)), ("hnsw", hnsw),
        ])
    }
}

/// One search request.
public struct SearchRequest: Sendable {
    public enum Mode: String, Sendable { case auto, bm25, dense, hybrid }
    public enum FusionKind: String, Sendable { case rrf, weighted }
    /// What a hit is: a chunk, or a document (one hit per document, see `documentSearch`).
    public enum Grouping: String, Sendable { case chunk, document }
    public var k = 10
    public var mode = Mode.auto
    public var fusion = FusionKind.rrf
    public var rrfK = 60.0
    /// Weight of the dense list in weighted fusion.
    public var alpha = 0.5
    /// How many hits each list contributes to fusion.
    public var candidates = 100
    /// Dense search by scanning every vector even when an HNSW graph exists.
    public var exact = false
    public var ef: Int? = nil
    public var groupBy = Grouping.chunk
    var filter = try! MetadataFilter(json: nil)

    public init() {}

    public init(json: JSON) throws(VCError) {
        guard case .object(let members) = json else { throw VCError(.invalidArgument, "search options must be a JSON object") }
        for (key, value) in members {
            switch key {
            case "k": k = Int(try RetrieverOptions.number(value, key, 0...1_000_000))
            case "mode":
                guard let s = value.stringValue, let m = Mode(rawValue: s) else {
                    throw VCError(.invalidArgument, "\"mode\" must be \"auto\", \"bm25\", \"dense\" or \"hybrid\"")
                }
                mode = m
            case "fusion":
                guard let s = value.stringValue, let f = FusionKind(rawValue: s) else { throw VCError(.invalidArgument, "\"fusion\" must be \"rrf\" or \"weighted\"") }
                fusion = f
            case "rrf_k": rrfK = try RetrieverOptions.number(value, key, 0...1_000_000)
            case "alpha": alpha = try RetrieverOptions.number(value, key, 0...1)
            case "candidates": candidates = Int(try RetrieverOptions.number(value, key, 1...1_000_000))
            case "exact":
                guard let v = value.boolValue else { throw VCError(.invalidArgument, "\"exact\" must be true or false") }
                exact = v
            case "ef": ef = Int(try RetrieverOptions.number(value, key, 1...1_000_000))
            case "filter": filter = try MetadataFilter(json: value)
            case "group_by":
                guard let s = value.stringValue, let g = Grouping(rawValue: s) else {
                    throw VCError(.invalidArgument, "\"group_by\" must be \"chunk\" or \"document\"")
                }
                groupBy = g
            default:
                throw VCError(.invalidArgument, "unknown search option \"\(key)\" (k, mode, fusion, rrf_k, alpha, candidates, exact, ef, group_by, filter)")
            }
        }
    }
}
