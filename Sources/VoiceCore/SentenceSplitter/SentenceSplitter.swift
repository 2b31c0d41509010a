/// Streaming sentence splitter: LLM text deltas in, TTS-ready segments out, each emitted the
/// moment its end is certain. The input is scanned once, byte by byte; the state carried between
/// pushes is the current segment and a few scalars of lookahead, so the cost is linear in the
/// input however it is chunked, and the segments do not depend on the chunking.
///
/// Invalid UTF-8 is replaced by U+FFFD (a sequence split across pushes is completed first; one
/// still incomplete at `flush` is replaced).
public struct SentenceSplitter: Sendable {
    public let options: SplitterOptions
    private var decoder = UTF8Stream()
    private var cleaner: SpeechCleaner
    private var builder: SegmentBuilder
    /// Off only in tests that compare the bulk path with the scalar-by-scalar one.
    var usesFastPath = true

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
        guard let base = bytes.baseAddress else { return }
        builder.prepareForInput()
        let n = bytes.count
        var i = 0
        while i < n {
            if usesFastPath && decoder.isIdle && builder.mayStartPlainRun(base, i, n) && builder.acceptsPlainRun
                && cleaner.passesPlainText {
                let j = builder.appendPlainRun(base, i, n)
                if j > i {
                    cleaner.plainTextPassed(endsInWord: builder.lastIsWordScalar)
                    i = j
                    continue
                }
            }
            let b = base[i]
            i += 1
            if b < 0x80 && decoder.isIdle {
                // Punctuation and spaces in running text: nothing for the cleaner to do.
                if usesFastPath && SpeechCleaner.passesASCII(UInt32(b)) && cleaner.passesPlainText {
                    cleaner.feedPassingASCII(UInt32(b), &builder)
                } else {
                    cleaner.feed(UInt32(b), &builder)
                }
                continue
            }
            // A whole well-formed sequence: decoded in one step. The fast path above already declined
            // it (a plain one would have gone in bulk), so it goes to the cleaner as it would from
            // the decoder.
            if decoder.isIdle, let (c, len) = UTF8Stream.decodeWhole(base, i - 1, n) {
                if usesFastPath && cleaner.passesPlainText {
                    cleaner.feedPassingScalar(c, &builder)
                } else {
                    cleaner.feed(c, &builder)
                }
                i += len - 1
                continue
            }
            // A scalar completed here may have been split across pushes: plain ones still go in bulk.
            decoder.consume(b) { c in
                if usesFastPath && builder.acceptsPlainRun && cleaner.passesPlainText && builder.appendPlainScalar(c) {
                    cleaner.plainTextPassed(endsInWord: builder.lastIsWordScalar)
                } else {
                    cleaner.feed(c, &builder)
                }
            }
        }
    }

    /// Whether `nextSegment()` would return a segment.
    var hasReadySegment: Bool { builder.hasReady }

    /// The next ready segment, or nil when none is ready yet.
    public mutating func nextSegment() -> Segment? {
        builder.nextSegment()
    }

    /// Takes the next ready segment, lending its UTF-8 text (valid only inside `body`), emoji and
    /// index to `body`; nil when none is ready.
    public mutating func withNextSegment<R>(_ body: (UnsafeBufferPointer<UInt8>, [String], Int) -> R) -> R? {
        builder.withNextSegment(body)
    }

    /// End of input: everything held becomes segments. The next push starts a new reply (the
    /// first-segment rule applies again); segment indexes keep counting.
    public mutating func flush() {
        builder.prepareForInput()
        decoder.finish { c in cleaner.feed(c, &builder) }
        cleaner.finish(&builder)
    }

    /// Forgets all text, held state and ready segments, as if newly made.
    public mutating func reset() {
        let fast = usesFastPath
        self = SentenceSplitter(options: options)
        usesFastPath = fast
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
