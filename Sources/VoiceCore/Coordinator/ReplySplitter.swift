/// Cuts a reply's streamed text into TTS segments. Interim: a minimal cutter at sentence ends;
/// replaced by the SentenceSplitter (branch `splitter`) when it lands.
struct ReplySplitter: Sendable {
    struct Piece: Sendable {
        var text: String
        var emoji: [String]
    }

    private var buffer = ""
    private var ready: [Piece] = []
    private var readyHead = 0

    init(options: JSON) throws(VCError) {
        guard case .object = options else { throw VCError(.invalidArgument, "splitter options must be an object") }
    }

    mutating func push(_ text: String) {
        buffer += text
        var start = buffer.startIndex
        var i = buffer.startIndex
        while i < buffer.endIndex {
            let c = buffer[i]
            let next = buffer.index(after: i)
            let isEnd = "。！？!?\n".contains(c) || (c == "." && (next == buffer.endIndex ? false : buffer[next] == " "))
            if isEnd {
                emit(String(buffer[start..<next]))
                start = next
            }
            i = next
        }
        buffer = String(buffer[start...])
    }

    mutating func flush() {
        emit(buffer)
        buffer = ""
    }

    mutating func next() -> Piece? {
        guard readyHead < ready.count else { return nil }
        let p = ready[readyHead]
        readyHead += 1
        if readyHead == ready.count { ready.removeAll(keepingCapacity: true); readyHead = 0 }
        return p
    }

    private mutating func emit(_ raw: String) {
        var text = ""
        var emoji: [String] = []
        for ch in raw {
            if ch.unicodeScalars.first.map({ $0.properties.isEmojiPresentation }) == true { emoji.append(String(ch)) } else { text.append(ch) }
        }
        var trimmed = Substring(text)
        while let f = trimmed.first, f.isWhitespace { trimmed.removeFirst() }
        while let l = trimmed.last, l.isWhitespace { trimmed.removeLast() }
        if trimmed.isEmpty && emoji.isEmpty { return }
        ready.append(Piece(text: String(trimmed), emoji: emoji))
    }
}
