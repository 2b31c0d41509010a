/// Splits text into lower-cased surface words: Unicode letters, digits and marks form words in
/// space-delimited scripts; runs of Chinese/Japanese characters become overlapping character
/// bigrams (a single character stays a unigram), since those scripts put no spaces between words.
struct Tokenizer: Sendable {
    /// Words shorter than this (in Unicode scalars) are dropped; CJK grams are always kept.
    var minLength: Int = 1

    enum Kind { case word, cjk, other }

    @inline(__always)
    static func kind(_ s: Unicode.Scalar) -> Kind {
        let v = s.value
        if v < 0x80 {
            if (v >= 0x61 && v <= 0x7A) || (v >= 0x41 && v <= 0x5A) || (v >= 0x30 && v <= 0x39) || v == 0x5F { return .word }
            return .other
        }
        if isCJK(v) { return .cjk }
        let p = s.properties
        if p.isAlphabetic { return .word }
        switch p.generalCategory {
        case .decimalNumber, .letterNumber, .otherNumber, .nonspacingMark, .spacingMark, .enclosingMark, .connectorPunctuation:
            return .word
        default: return .other
        }
    }

    /// Han ideographs, Hiragana, Katakana and their extensions.
    @inline(__always)
    static func isCJK(_ v: UInt32) -> Bool {
        (v >= 0x3040 && v <= 0x30FF) || (v >= 0x3400 && v <= 0x4DBF) || (v >= 0x4E00 && v <= 0x9FFF)
            || (v >= 0xF900 && v <= 0xFAFF) || (v >= 0x31F0 && v <= 0x31FF) || (v >= 0x20000 && v <= 0x3134F)
            || (v >= 0xFF66 && v <= 0xFF9F)
    }

    /// Calls `body` with each token in order; `isGram` marks CJK grams (never stemmed).
    func forEachToken(_ text: String, _ body: (String, _ isGram: Bool) -> Void) {
        var word: [UInt8] = []
        word.reserveCapacity(64)
        var wordLength = 0
        var previousCJK: Unicode.Scalar? = nil
        var cjkRun = 0
        func flushWord() {
            if wordLength >= minLength && wordLength > 0 { body(String(decoding: word, as: UTF8.self), false) }
            word.removeAll(keepingCapacity: true)
            wordLength = 0
        }
        func endCJKRun() {
            if cjkRun == 1, let p = previousCJK { body(String(Character(p)), true) }
            previousCJK = nil
            cjkRun = 0
        }
        for s in text.unicodeScalars {
            switch Self.kind(s) {
            case .word:
                if cjkRun > 0 { endCJKRun() }
                let v = s.value
                if v < 0x80 {
                    word.append(UInt8(v >= 0x41 && v <= 0x5A ? v + 32 : v))
                } else {
                    for ls in s.properties.lowercaseMapping.unicodeScalars { word.append(contentsOf: UTF8.encode(ls)!) }
                }
                wordLength += 1
            case .cjk:
                flushWord()
                if let p = previousCJK {
                    var gram = String.UnicodeScalarView()
                    gram.append(p); gram.append(s)
                    body(String(gram), true)
                }
                previousCJK = s
                cjkRun += 1
            case .other:
                if wordLength > 0 { flushWord() }
                if cjkRun > 0 { endCJKRun() }
            }
        }
        flushWord()
        endCJKRun()
    }
}

/// The text analysis shared by indexing and querying: tokenization, optional stop words, and
/// stemming chosen per word by its script (English for Latin, Russian for Cyrillic), so mixed
/// text works without a language tag.
struct Analyzer: Sendable {
    enum Stemming: String, Sendable { case auto, english = "en", russian = "ru", none }

    var tokenizer: Tokenizer
    var stemming: Stemming
    var stopWords: StopWords
    private let english = EnglishStemmer()
    private let russian = RussianStemmer()

    init(stemming: Stemming = .auto, stopWords: StopWords = .none, minLength: Int = 1) {
        self.tokenizer = Tokenizer(minLength: minLength)
        self.stemming = stemming
        self.stopWords = stopWords
    }

    /// Lower-cased surface words minus stop words, before stemming (`isGram` as in Tokenizer).
    func forEachSurface(_ text: String, _ body: (String, Bool) -> Void) {
        tokenizer.forEachToken(text) { token, isGram in
            if !isGram && stopWords.drops(token) { return }
            body(token, isGram)
        }
    }

    /// The index term for a surface word.
    func stem(_ surface: String) -> String {
        if stemming == .none { return surface }
        var ascii = true, cyrillic = false
        for s in surface.unicodeScalars {
            if s.value >= 0x80 { ascii = false; if s.value >= 0x400 && s.value <= 0x4FF { cyrillic = true } }
        }
        switch stemming {
        case .auto: return ascii ? english.stem(surface) : (cyrillic ? russian.stem(surface) : surface)
        case .english: return ascii ? english.stem(surface) : surface
        case .russian: return cyrillic ? russian.stem(surface) : surface
        case .none: return surface
        }
    }

    /// The index terms of `text`, in order.
    func terms(_ text: String) -> [String] {
        var out: [String] = []
        forEachSurface(text) { t, isGram in out.append(isGram ? t : stem(t)) }
        return out
    }
}
