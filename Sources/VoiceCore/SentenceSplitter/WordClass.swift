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
    /// A token with periods inside that is not a known abbreviation: acronyms, numbers, URLs.
    case multiPeriod
}

/// The mark a pending Latin-style sentence end started with.
enum EndMark: Equatable {
    case dot, exclaim, semicolon, ellipsis
}

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
    /// A first-segment comma: ends when whitespace follows ("1,000" does not).
    case comma(end: Int)
}

enum ListMarker: Equatable {
    case none
    case number(Int)
    case letter(UInt32)
    case bullet
}
