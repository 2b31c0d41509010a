/// Streaming sentence splitter: LLM text deltas in, TTS-ready segments out, each emitted the
/// moment its end is certain. Bytes are decoded (`UTF8Stream`), cleaned for speech
/// (`SpeechCleaner`) and segmented (`SegmentBuilder`) one scalar at a time; the state carried
/// between pushes is the current segment and a few scalars of lookahead, so the cost is linear in
/// the input however it is chunked, and the segments do not depend on the chunking.
///
/// Invalid UTF-8 is replaced by U+FFFD (a sequence split across pushes is completed first; one
/// still incomplete at `flush` is replaced).
public struct SentenceSplitter: Sendable {
    public let options: SplitterOptions
    private var decoder = UTF8Stream()
    private var cleaner: SpeechCleaner
    private var builder: SegmentBuilder

    public init(options: SplitterOptions = SplitterOptions()) {
        self.options = options
        cleaner = SpeechCleaner(strip: options.cleanForSpeech)
        builder = SegmentBuilder(options: options)
    }

    public mutating func push(_ text: String) {
        var text = text
        text.withUTF8 { push(bytes: $0) }
    }

    /// Pushes raw UTF-8 bytes; a multi-byte sequence may be split across calls.
    public mutating func push(bytes: UnsafeBufferPointer<UInt8>) {
        guard let p = bytes.baseAddress else { return }
        let n = bytes.count
        var i = decoder.complete(p, n) { c in cleaner.feed(c, &builder) }
        while i < n {
            // The usual text, runs of letters, in bulk (`appendRun`).
            if (p[i] >= 0x30 || p[i] == 0x20) && builder.acceptsRun && cleaner.isIdle {
                let j = builder.appendRun(p, i, n)
                if j > i {
                    cleaner.wordsPassed()
                    i = j
                    if i == n { break }
                }
            }
            guard let (c, len) = UTF8Stream.decode(p, i, n) else { return decoder.hold(p + i, n - i) }
            cleaner.feed(c, &builder)
            i += len
        }
    }

    /// Whether `nextSegment()` would return a segment.
    var hasReadySegment: Bool { builder.hasReady }

    /// The next ready segment, or nil when none is ready yet.
    public mutating func nextSegment() -> Segment? {
        builder.nextSegment()
    }

    /// End of input: everything held becomes segments. The next push starts a new reply (the
    /// first-segment rule applies again); segment indexes keep counting.
    public mutating func flush() {
        decoder.finish { c in cleaner.feed(c, &builder) }
        cleaner.finish(&builder)
    }

    /// Forgets all text, held state and ready segments, as if newly made.
    public mutating func reset() {
        self = SentenceSplitter(options: options)
    }

    /// Splits a whole text (documents, RAG chunking). `.batch` ends every segment at a sentence end.
    public static func split(_ text: String, options: SplitterOptions = .batch) -> [String] {
        var s = SentenceSplitter(options: options)
        s.push(text)
        s.flush()
        var out: [String] = []
        while let seg = s.nextSegment() {
            if !seg.text.isEmpty { out.append(seg.text) }
        }
        return out
    }

    /// Pushes and drains in one call.
    public mutating func segments(after text: String) -> [Segment] {
        push(text)
        var out: [Segment] = []
        while let seg = nextSegment() { out.append(seg) }
        return out
    }
}
