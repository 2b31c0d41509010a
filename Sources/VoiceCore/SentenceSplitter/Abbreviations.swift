/// Abbreviations that end in a period, per language. A `title` precedes what it qualifies ("Dr.
/// Smith", "z.B. der", "см. рис.") so its period never ends a sentence; an `other` one usually
/// closes a phrase ("etc.", "Inc.", "и т.д.") and ends the sentence when a capital follows.
enum AbbreviationKind: UInt8 {
    case title, other
}

struct Abbreviations: Sendable {
    /// Bit per language (`bit`) whose abbreviations this splitter knows.
    private let languages: UInt32

    init(language: SplitterLanguage) {
        switch language {
        case .auto: languages = ~0
        // English abbreviations show up in every Latin-script reply (product names, units).
        case .de, .fr, .es, .it, .pt, .nl, .ru, .uk: languages = Abbreviations.bit(language) | Abbreviations.bit(.en)
        default: languages = Abbreviations.bit(.en) | Abbreviations.bit(.ru)
        }
    }

    /// Looks up a word already hashed with `hash(lowercased scalars)`.
    func kind(ofHash h: UInt64) -> AbbreviationKind? {
        guard let e = Abbreviations.builtin[h], e.languages & languages != 0 else { return nil }
        return e.kind
    }

    @inline(__always) static func hashStart() -> UInt64 { 0xcbf2_9ce4_8422_2325 }
    @inline(__always) static func hashStep(_ h: UInt64, _ c: UInt32) -> UInt64 {
        (h ^ UInt64(c)) &* 0x0000_0100_0000_01B3
    }

    static func hash<S: Sequence>(_ scalars: S) -> UInt64 where S.Element == Unicode.Scalar {
        var h = hashStart()
        for s in scalars { h = hashStep(h, ScalarClass.lower(s.value)) }
        return h
    }

    private static func bit(_ l: SplitterLanguage) -> UInt32 {
        let bits: [SplitterLanguage: UInt32] = [.de: 2, .fr: 4, .es: 8, .it: 16, .pt: 32, .nl: 64, .ru: 128, .uk: 128]
        return bits[l] ?? 1
    }

    // Written without the final period; internal periods stay ("e.g", "z.b", "т.е").
    private static let lists: [(SplitterLanguage, AbbreviationKind, [String])] = [
        (.en, .title, ["mr", "mrs", "ms", "dr", "prof", "st", "mt", "ft", "gen", "col", "lt", "capt", "cpt", "sgt",
                       "rev", "hon", "gov", "sen", "rep", "pres", "supt", "messrs", "e.g", "i.e", "cf", "vs", "viz",
                       "approx", "ca", "no", "nos", "nr", "n°", "nº", "fig", "figs", "vol", "vols", "pp", "ch", "sec",
                       "eq", "art", "para", "dept", "est", "op", "al", "ave", "blvd", "rd", "univ", "jan", "feb",
                       "mar", "apr", "aug", "sep", "sept", "oct", "nov", "dec", "mon", "tue", "wed", "thu", "fri",
                       "sat", "sun"]),
        (.en, .other, ["etc", "co", "inc", "ltd", "corp", "jr", "sr", "llc", "bros", "esq", "plc", "a.m", "p.m",
                       "u.s", "u.k", "e.u", "u.s.a", "ph.d", "b.a", "m.a", "b.sc", "m.sc", "min", "max", "hr", "hrs",
                       "sq", "oz", "lb", "lbs", "yr", "yrs"]),
        (.de, .title, ["z.b", "d.h", "u.a", "bzw", "vgl", "hr", "hrn", "fr", "frl", "nr", "s", "evtl", "ggf", "inkl",
                       "sog", "str", "bspw", "zzgl", "ca", "abs", "bd", "dipl", "ing", "gebr", "o.ä", "u.u", "v.a",
                       "z.t", "i.d.r", "jh"]),
        (.de, .other, ["usw", "usf", "u.ä", "etc", "gmbh", "e.v", "mio", "mrd", "tsd", "std", "jhd"]),
        (.fr, .title, ["m", "mm", "mme", "mlle", "mgr", "pr", "ste", "p.ex", "env", "av", "bd", "cf", "chap"]),
        (.fr, .other, ["etc", "cie", "éd", "apr. j.-c", "av. j.-c"]),
        (.es, .title, ["sr", "sra", "srta", "dra", "d", "dña", "ud", "uds", "vd", "vds", "p.ej", "núm", "pág",
                       "aprox", "avda", "sto", "sta", "gral", "lic", "ing", "arq", "cía"]),
        (.es, .other, ["etc", "s.a", "ee.uu", "cía"]),
        (.it, .title, ["sig", "sigg", "dott", "ing", "avv", "geom", "rag", "prof", "pag", "ecc"]),
        (.pt, .title, ["sr", "sra", "srta", "dra", "exmo", "pág", "av"]),
        (.nl, .title, ["dhr", "mevr", "blz", "bijv", "o.a", "m.a.w", "d.w.z", "z.g.a"]),
        (.ru, .title, ["т.е", "т.к", "т.н", "т.ч", "см", "стр", "рис", "ул", "пр", "просп", "пер", "д", "им",
                       "проф", "акад", "доц", "ок", "напр", "гр", "тов", "св", "ст", "ср", "рус", "англ", "лат",
                       "нем", "франц", "обл", "р-н", "пос", "тел", "кв", "каб", "илл", "табл", "гл", "разд", "п",
                       "пп", "о", "оз", "им", "т", "ж.д", "ген", "кап", "г-н", "г-жа"]),
        (.ru, .other, ["т.д", "т.п", "др", "пр", "г", "гг", "в", "вв", "н.э", "тыс", "млн", "млрд", "руб",
                       "коп", "долл", "куб", "мин", "сек", "ч", "ед", "экз", "шт", "лл", "с.г", "н.в"]),
    ]

    private static let builtin: [UInt64: (kind: AbbreviationKind, languages: UInt32)] = {
        var t: [UInt64: (kind: AbbreviationKind, languages: UInt32)] = [:]
        for (lang, kind, words) in lists {
            for w in words {
                let h = hash(w.unicodeScalars), e = t[h] ?? (kind, 0)
                // A word that is a title in any language keeps its period inside sentences.
                t[h] = (kind == .title ? .title : e.kind, e.languages | bit(lang))
            }
        }
        return t
    }()

    /// Words that, capitalized after an acronym or abbreviation, almost always start a new sentence:
    /// pronouns, articles, conjunctions, prepositions, question words. A capitalized word not listed
    /// (a name: "U.S. Government", "Л.Н. Толстой") continues the sentence.
    static func startsSentence(hash: UInt64) -> Bool { starters.contains(hash) }

    private static let starters = Set([
        // English
        "a", "an", "the", "i", "he", "she", "it", "we", "they", "you", "this", "that", "these", "those", "there",
        "then", "what", "when", "where", "who", "why", "how", "however", "but", "and", "so", "if", "in", "on", "at",
        "for", "as", "my", "our", "your", "his", "her", "their", "its", "is", "are", "was", "were", "do", "does",
        "did", "can", "could", "will", "would", "should", "please", "let", "yes", "no", "after", "before", "also",
        "today", "now", "here", "some", "many", "most", "all", "each", "every", "one", "to", "with", "by", "from",
        "since", "while", "although", "because", "thus", "therefore", "meanwhile", "finally", "first", "next",
        // German
        "der", "die", "das", "ein", "eine", "ich", "er", "sie", "es", "wir", "ihr", "dann", "aber", "und", "wenn",
        "wie", "was", "wo", "im", "am", "auf", "mit", "für", "dies", "diese", "dieser", "heute", "jetzt",
        // French, Spanish
        "le", "la", "les", "un", "une", "il", "elle", "je", "nous", "vous", "ils", "elles", "ce", "cette", "mais",
        "et", "el", "los", "las", "una", "yo", "él", "ella", "nosotros", "ellos", "pero", "y", "en", "es", "esto",
        // Russian
        "он", "она", "оно", "они", "я", "мы", "вы", "ты", "это", "этот", "эта", "эти", "в", "во", "на", "но", "и",
        "а", "как", "что", "когда", "где", "после", "потом", "там", "тогда", "так", "если", "не", "по", "с", "из",
        "к", "у", "о", "за", "при", "для", "все", "всё", "его", "её", "их", "мой", "наш", "сегодня", "теперь",
    ].map { hash($0.unicodeScalars) })
}
