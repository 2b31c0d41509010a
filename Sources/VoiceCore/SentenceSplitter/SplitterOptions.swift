/// Which language's rules apply. `.auto` decides per segment from the script of the text
/// (Han/Kana/Hangul, Cyrillic, Latin, Devanagari, Arabic).
public enum SplitterLanguage: String, Sendable, Equatable, CaseIterable {
    case auto, en, de, fr, es, it, pt, nl, ru, uk, zh, ja, ko, hi, ar
}

/// Where the first segment of a reply may end. `.comma` lets it end at a comma-class mark once it
/// has `minFirstChars` characters, so the first audio starts sooner; `.sentence` waits for a
/// sentence end like every later segment.
public enum FirstSegmentPolicy: String, Sendable, Equatable, CaseIterable {
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
        guard let members = json.objectValue else { throw VCError(.invalidArgument, "splitter options must be a JSON object") }
        for (key, value) in members {
            let path = "splitter." + key
            switch key {
            case "language": language = try ConfigValue.choice(path, value)
            case "first_segment": firstSegment = try ConfigValue.choice(path, value)
            case "min_first_chars": minFirstChars = try ConfigValue.int(path, value, 0...100_000)
            case "max_segment_chars": maxSegmentChars = try ConfigValue.int(path, value, SplitterOptions.maxSegmentCharsRange)
            case "clean_for_speech": cleanForSpeech = try ConfigValue.bool(path, value)
            case "semicolon_ends": semicolonEnds = try ConfigValue.bool(path, value)
            default:
                throw VCError(.invalidArgument, "unknown splitter option '\(key)' (known: language, first_segment, min_first_chars, max_segment_chars, clean_for_speech, semicolon_ends)")
            }
        }
    }
}
