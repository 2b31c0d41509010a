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
        for (key, value) in members {
            switch key {
            case "language":
                guard let s = value.stringValue, let lang = SplitterLanguage(rawValue: s) else {
                    let names = SplitterLanguage.allCases.map(\.rawValue).joined(separator: ", ")
                    throw VCError(.invalidArgument, "option 'language' must be one of: \(names)")
                }
                language = lang
            case "first_segment":
                guard let s = value.stringValue, let policy = FirstSegmentPolicy(rawValue: s) else {
                    throw VCError(.invalidArgument, "option 'first_segment' must be \"comma\" or \"sentence\"")
                }
                firstSegment = policy
            case "min_first_chars":
                guard let n = value.int64Value, n >= 0, n <= 100_000 else {
                    throw VCError(.invalidArgument, "option 'min_first_chars' must be an integer in 0...100000")
                }
                minFirstChars = Int(n)
            case "max_segment_chars":
                let r = SplitterOptions.maxSegmentCharsRange
                guard let n = value.int64Value, n >= r.lowerBound, n <= r.upperBound else {
                    throw VCError(.invalidArgument, "option 'max_segment_chars' must be an integer in \(r.lowerBound)...\(r.upperBound)")
                }
                maxSegmentChars = Int(n)
            case "clean_for_speech":
                guard let b = value.boolValue else {
                    throw VCError(.invalidArgument, "option 'clean_for_speech' must be true or false")
                }
                cleanForSpeech = b
            case "semicolon_ends":
                guard let b = value.boolValue else {
                    throw VCError(.invalidArgument, "option 'semicolon_ends' must be true or false")
                }
                semicolonEnds = b
            default:
                throw VCError(.invalidArgument, "unknown splitter option '\(key)' (known: language, first_segment, min_first_chars, max_segment_chars, clean_for_speech, semicolon_ends)")
            }
        }
    }
}
