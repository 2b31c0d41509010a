/// Which language's rules apply. `.auto` decides per segment from the script of the text
/// (Han/Kana/Hangul, Cyrillic, Latin, Devanagari, Arabic).
public enum SplitterLanguage: String, Sendable, Equatable, CaseIterable {
    case auto, en, de, fr, es, it, pt, nl, ru, uk, zh, ja, ko, hi, ar
}

/// Where the first segment of a reply may end. `.comma` lets it end at a comma-class mark once it
/// has `minFirstChars` characters, so the first audio starts sooner; `.sentence` waits for a
/// sentence end like every later segment.
public enum FirstSegmentPolicy: String, Sendable, Equatable {
    case comma, sentence
}

public struct SplitterOptions: Sendable, Equatable {
    public var language: SplitterLanguage = .auto
    public var firstSegment: FirstSegmentPolicy = .comma
    /// Characters (Unicode scalars, whitespace included) the first segment needs before a comma
    /// may end it.
    public var minFirstChars = 8
    /// No segment is longer than this many Unicode scalars; a longer run is cut at the best break.
    public var maxSegmentChars = 220
    /// Drop `<think>` blocks, markdown syntax and emoji from the text (emoji are still reported).
    public var cleanForSpeech = true
    /// Whether ";" (Latin script) ends a segment: yes for speech (a natural pause), no for batch
    /// sentence splitting. The full-width "；" always ends one.
    public var semicolonEnds = true

    public init() {}

    /// Batch splitting (documents, RAG chunking): every segment ends at a sentence end.
    public static var batch: SplitterOptions {
        var o = SplitterOptions()
        o.firstSegment = .sentence
        o.semicolonEnds = false
        return o
    }

    public static let maxSegmentCharsRange = 16...1_000_000

    /// Reads the JSON object the C ABI and Python pass; unknown keys and wrong types are errors.
    public init(json: JSON) throws(VCError) {
        guard let members = json.objectValue else {
            throw VCError(.invalidArgument, "splitter options must be a JSON object")
        }
        func bad(_ message: String) -> VCError { VCError(.invalidArgument, "option " + message) }
        func int(_ v: JSON, _ key: String, _ r: ClosedRange<Int>) throws(VCError) -> Int {
            guard let n = v.int64Value, n >= r.lowerBound, n <= r.upperBound else {
                throw bad("'\(key)' must be an integer in \(r.lowerBound)...\(r.upperBound)")
            }
            return Int(n)
        }
        func bool(_ v: JSON, _ key: String) throws(VCError) -> Bool {
            guard let b = v.boolValue else { throw bad("'\(key)' must be true or false") }
            return b
        }
        for (key, value) in members {
            switch key {
            case "language":
                guard let s = value.stringValue, let lang = SplitterLanguage(rawValue: s) else {
                    throw bad("'language' must be one of: " + SplitterLanguage.allCases.map(\.rawValue).joined(separator: ", "))
                }
                language = lang
            case "first_segment":
                guard let s = value.stringValue, let policy = FirstSegmentPolicy(rawValue: s) else {
                    throw bad("'first_segment' must be \"comma\" or \"sentence\"")
                }
                firstSegment = policy
            case "min_first_chars": minFirstChars = try int(value, key, 0...100_000)
            case "max_segment_chars": maxSegmentChars = try int(value, key, SplitterOptions.maxSegmentCharsRange)
            case "clean_for_speech": cleanForSpeech = try bool(value, key)
            case "semicolon_ends": semicolonEnds = try bool(value, key)
            default:
                throw VCError(.invalidArgument, "unknown splitter option '\(key)' (known: language, first_segment, min_first_chars, max_segment_chars, clean_for_speech, semicolon_ends)")
            }
        }
    }
}
