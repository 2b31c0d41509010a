/// What the word before a period is; decides whether the period can end a sentence.
enum WordClass: Equatable {
    /// No word: a period after whitespace (spaced ellipsis ". . .").
    case empty
    case word
    /// Only digits (value kept for numbered lists: "1." "2)").
    case number(Int)
    /// One upper-case letter ("E. Smith", "I.").
    case initialUpper(isI: Bool)
    /// One lower-case letter ("p. 55", "a." list item).
    case initialLower(UInt32)
    case abbreviation(AbbreviationKind)
    /// Letters with periods inside ("U.S", "Л.Н", "P.M"): initials or an acronym; the next word decides.
    case acronym
    /// Only opening brackets or quotes ("[" in "[...]"): an omission mark, never an end.
    case openerOnly
    /// A token with periods inside that is not a known abbreviation: numbers, URLs, e-mails.
    case multiPeriod
}

/// The mark a pending Latin-style sentence end started with.
enum EndMark: Equatable { case dot, exclaim, semicolon, ellipsis }

/// A possible sentence end waiting for its lookahead character.
struct LatinEnd {
    var end: Int
    var mark: EndMark
    var word: WordClass
    var dots: Int
    var spacedDots: Int
    var firstToken: Bool
    var previousWordLower: Bool
}

enum PendingEnd {
    case none
    /// ". ! ? … ;" in alphabetic text: decided by the next non-space character.
    case latin(LatinEnd)
    /// "。！？" and other marks that always end: waits only for closing quotes/brackets.
    case hard(end: Int)
    /// After an acronym or a closing abbreviation followed by a capital: waits for that word to
    /// complete; a common sentence starter ("The", "It", "Он") ends the sentence, a name does not.
    case nextWord(LatinEnd, hash: UInt64)
    /// A first-segment comma: ends when whitespace follows ("1,000" does not).
    case comma(end: Int)
}

enum ListMarker: Equatable { case none, number(Int), letter(UInt32), bullet }
