/// A reply's SentenceSplitter, as the Coordinator uses it: text deltas in, TTS segments (text plus
/// the emoji the splitter took out of it) out.
struct ReplySplitter: Sendable {
    struct Piece: Sendable {
        var text: String
        var emoji: [String]
    }

    private var splitter: SentenceSplitter

    init(options: SplitterOptions) {
        splitter = SentenceSplitter(options: options)
    }

    mutating func push(_ text: String) { splitter.push(text) }

    mutating func flush() { splitter.flush() }

    mutating func next() -> Piece? {
        guard let s = splitter.nextSegment() else { return nil }
        return Piece(text: s.text, emoji: s.emoji)
    }
}
