import VoiceCoreKernels

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
    private let plainKinds = PlainScalar.table
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
        pushInline(bytes, neverCopied: false)
    }

    /// `push(bytes:)`, inlined into `vc_splitter_push` (called per LLM delta: a call layer there
    /// costs a measurable share of a 13-byte push). `neverCopied`: the caller's splitter has never
    /// been copied (the C ABI's handle keeps its own and copies it nowhere), so its buffers are not
    /// shared and the copy-on-write tests before writing them can go (`prepareForInput`), and its
    /// usual push is one C call (`vck_split_push`), which leaves what it changes in the C state; the
    /// rest of a push the loop did not finish, or one it refused, goes the Swift way (`pushAfterLoop`).
    @inline(__always)
    mutating func pushInline(_ bytes: UnsafeBufferPointer<UInt8>, neverCopied: Bool) {
        guard let base = bytes.baseAddress else { return }
        let n = bytes.count
        if neverCopied {
            let i = builder.pushThroughLoop(base, n)
            if i != n { pushAfterLoop(base, n, stoppedAt: i) }
            return
        }
        settleLoop(adoptingEnd: false)
        builder.prepareForInput()
        pushFromStart(base, n)
    }

    /// A push the armed C loop did not finish: it stopped at `i`, or refused the push (`i < 0`).
    /// The builder and the cleaner take back what the loop left; the Swift path goes on; then the
    /// loop is armed again when the state lets it.
    @inline(never)
    private mutating func pushAfterLoop(_ base: UnsafePointer<UInt8>, _ n: Int, stoppedAt i: Int) {
        builder.assertUnshared()
        if i >= 0 {
            // As after `takeRun` stopping early: a held end becomes `pending`.
            settleLoop(adoptingEnd: true)
            pushRest(base, n, from: i, refused: i)
        } else {
            settleLoop(adoptingEnd: false)
            pushFromStart(base, n)
        }
        builder.armLoop(usesFastPath && decoder.isIdle && cleaner.passesPlainText, blankLines: cleaner.passesBlankLine)
    }

    /// What armed pushes left in the C state goes back to the builder and the cleaner.
    @inline(__always)
    private mutating func settleLoop(adoptingEnd: Bool) {
        if let endsInWord = builder.settleLoop(adoptingEnd: adoptingEnd) { cleaner.plainTextPassed(endsInWord: endsInWord) }
    }

    /// A push from its first byte: one C call over all of it when the state lets the loop start,
    /// the Swift loop from where it stops.
    @inline(__always)
    private mutating func pushFromStart(_ base: UnsafePointer<UInt8>, _ n: Int) {
        if usesFastPath && decoder.isIdle && cleaner.passesPlainText && builder.pendingFitsRun {
            // The usual push: one C call over all of it (with a sequence or an end the loop held at
            // the end of the last push); the Swift loop takes over only where it stops.
            let i = builder.takeRun(base, 0, n, blankLines: cleaner.passesBlankLine)
            if i > 0, let endsInWord = builder.takenEndsInWord { cleaner.plainTextPassed(endsInWord: endsInWord) }
            if i != n { pushRest(base, n, from: i, refused: i) }
        } else {
            builder.adoptHeldEnd()
            pushRest(base, n, from: 0, refused: -1)
        }
    }

    /// The rest of a push from `p[start]`, byte by byte with the C loop for the runs, where the
    /// first C call stopped (`refused`: where the C loop last stopped, since it would refuse the
    /// same byte in the same state again) or where it could not start. Out of line, so the usual
    /// push is a small function.
    @inline(never)
    private mutating func pushRest(_ base: UnsafePointer<UInt8>, _ n: Int, from start: Int, refused firstRefused: Int) {
        var i = start
        var refused = firstRefused
        // A sequence the C loop held that it did not complete: the stream decoder takes its bytes.
        if builder.hasCarry { releaseCarry() }
        if !decoder.isIdle && usesFastPath, let j = joinSplitScalar(base, n) { i = j }
        // The decoder holds a sequence only after `consume` (below, and from the last push): the
        // bytes that complete or break it are drained there, so the loop need not test it per byte.
        while i < n && !decoder.isIdle {
            consume(base[i])
            i += 1
        }
        while i < n {
            let b = base[i]
            if b < 0x80 {
                let kind = plainKinds[Int(b)]
                if usesFastPath && i != refused && startsRun(b, kind) && cleaner.passesPlainText,
                   let j = fastRun(base, i, n) {
                    i = j
                    refused = j
                    continue
                }
                if usesFastPath && kind != PlainScalar.none && builder.hasPendingEnd && cleaner.passesPlainText,
                   let j = settleThenRun(UInt32(b), kind, base, i, 1, n) {
                    i = j
                    continue
                }
                i += 1
                // Punctuation and spaces in running text: nothing for the cleaner to do.
                if usesFastPath && SpeechCleaner.passesASCII(UInt32(b)) && cleaner.passesPlainText {
                    // The two commonest: the space after a mark, the period at a word's end.
                    if b == 0x20 {
                        cleaner.feedPassingSpace(&builder)
                    } else if b == 0x2E && !builder.hasPendingEnd {
                        cleaner.feedPassingPeriod(&builder)
                    } else {
                        cleaner.feedPassingASCII(UInt32(b), &builder)
                    }
                } else if usesFastPath && cleaner.dropsInlineMarker(b) {
                    continue
                } else {
                    cleaner.feed(UInt32(b), &builder)
                }
                continue
            }
            // A whole well-formed sequence, decoded once: a plain scalar starts a run, anything else
            // goes to the cleaner as it would from the decoder.
            if let (c, len) = UTF8Stream.decodeWhole(base, i, n) {
                let kind = c < 0x10000 ? plainKinds[Int(c)] : PlainScalar.none
                if usesFastPath && (kind != PlainScalar.none || SentenceSplitter.isLoopMark(c)) && cleaner.passesPlainText
                    && i != refused, let j = fastRun(base, i, n) {
                    i = j
                    refused = j
                    continue
                }
                if usesFastPath && kind != PlainScalar.none && builder.hasPendingEnd && cleaner.passesPlainText,
                   let j = settleThenRun(c, kind, base, i, len, n) {
                    i = j
                    continue
                }
                if usesFastPath && cleaner.passesPlainText {
                    if (c == 0x3002 || c == 0xFF01 || c == 0xFF1F || c == 0xFF1B) && !builder.hasPendingEnd {
                        cleaner.feedPassingCJKEnd(c, &builder)
                    } else {
                        cleaner.feedPassingScalar(c, &builder)
                    }
                } else {
                    cleaner.feed(c, &builder)
                }
                i += len
                continue
            }
            // Malformed or cut off at the end of the push: the decoder replaces or keeps it.
            consume(b)
            i += 1
            while i < n && !decoder.isIdle {
                consume(base[i])
                i += 1
            }
        }
    }

    /// ASCII bytes the C loop may take (`vck_split_run`): plain ones, the space, `. ! ?`, the
    /// brackets it counts, and the `*` and backticks the idle cleaner drops.
    @inline(__always) private func startsRun(_ b: UInt8, _ kind: UInt8) -> Bool {
        kind != PlainScalar.none || b == 0x20 || b == 0x2E || b == 0x21 || b == 0x3F || b == 0x28 || b == 0x29
            || b == 0x2A || b == 0x60
    }

    /// The non-ASCII marks the C loop takes: 。！？； and the quotes and brackets it counts.
    @inline(__always) private static func isLoopMark(_ c: UInt32) -> Bool {
        c == 0x3002 || c == 0xFF01 || c == 0xFF1F || c == 0xFF1B || c == 0xAB || c == 0xBB || c == 0x201C || c == 0x201D
            || c == 0x201E || (c >= 0x3008 && c <= 0x300F)
    }

    /// Takes what the C loop takes at `p[i]` (the builder's `takeRun`): where it stopped, or nil
    /// when it took nothing.
    @inline(__always)
    private mutating func fastRun(_ p: UnsafePointer<UInt8>, _ i: Int, _ n: Int) -> Int? {
        guard builder.pendingFitsRun else { return nil }
        let j = builder.takeRun(p, i, n, blankLines: cleaner.passesBlankLine)
        guard j > i else { return nil }
        if let endsInWord = builder.takenEndsInWord { cleaner.plainTextPassed(endsInWord: endsInWord) }
        return j
    }

    /// The C loop's held bytes go to the stream decoder, which would have held them.
    private mutating func releaseCarry() {
        let held = builder.carry
        builder.dropCarry()
        for b in held { consume(b) }
    }

    /// Whether the bulk path may take plain text now: nothing pending in the builder or the cleaner.
    @inline(__always) private var takesPlainRun: Bool { builder.acceptsPlainRun && cleaner.passesPlainText }

    /// Takes the run of plain text at `p[i]` in bulk: where it ended, or nil when it took nothing.
    @inline(__always)
    private mutating func plainRun(_ p: UnsafePointer<UInt8>, _ i: Int, _ n: Int) -> Int? {
        let j = builder.appendPlainRun(p, i, n)
        guard j > i else { return nil }
        cleaner.plainTextPassed(endsInWord: builder.lastIsWordScalar)
        return j
    }

    /// A plain scalar `c` (of `kind`, `len` bytes at `p[i]`) while an end is pending: the scalar
    /// decides the end, then, unless the decision took it, goes into the bulk path with the run after
    /// it — the letter after a sentence end no longer takes the scalar-by-scalar path. Returns where
    /// the push goes on, or nil when the run took nothing (nothing is pending then: `feed` takes `c`).
    @inline(__always)
    private mutating func settleThenRun(_ c: UInt32, _ kind: UInt8, _ p: UnsafePointer<UInt8>, _ i: Int, _ len: Int,
                                        _ n: Int) -> Int? {
        if builder.settlePending(beforePlain: c) {
            cleaner.plainTextPassed(endsInWord: PlainScalar.isWord(kind))
            return i + len
        }
        return plainRun(p, i, n)
    }

    /// A plain scalar split across pushes, completed by the first bytes of this one, goes into the
    /// bulk path together with the run after it (one kernel call, not one for the lone scalar and
    /// another for the run): the scalar's bytes and the start of the push are joined in a small
    /// scratch buffer. Returns where the push goes on, or nil when the byte-by-byte path must take
    /// the completion (not plain, not taken, or nothing may go in bulk now).
    private mutating func joinSplitScalar(_ p: UnsafePointer<UInt8>, _ n: Int) -> Int? {
        guard let (c, used) = decoder.completion(p, n), c >= 0x80, c < 0x10000,
              plainKinds[Int(c)] != PlainScalar.none, takesPlainRun
        else { return nil }
        let scalarLength = c < 0x800 ? 2 : 3
        let copied = min(n - used, 61)
        let end: Int = withUnsafeTemporaryAllocation(of: UInt8.self, capacity: 64) { scratch in
            let s = scratch.baseAddress!
            _ = UTF8Stream.encode(c, into: s)
            vck_copy_short(s + scalarLength, p + used, copied)
            return builder.appendPlainRun(UnsafePointer(s), 0, scalarLength + copied)
        }
        guard end >= scalarLength else { return nil }
        decoder.forgetHeld()
        cleaner.plainTextPassed(endsInWord: builder.lastIsWordScalar)
        return used + end - scalarLength
    }

    /// One byte through the stream decoder (a sequence split across pushes, or malformed bytes). A
    /// scalar completed here may have been split across pushes: plain ones still go in bulk.
    private mutating func consume(_ b: UInt8) {
        decoder.consume(b) { c in
            if usesFastPath && builder.acceptsPlainRun && cleaner.passesPlainText && builder.appendPlainScalar(c) {
                cleaner.plainTextPassed(endsInWord: builder.lastIsWordScalar)
            } else {
                cleaner.feed(c, &builder)
            }
        }
    }

    /// Whether `nextSegment()` would return a segment.
    @inline(__always) var hasReadySegment: Bool { builder.hasReady }

    /// The next ready segment, or nil when none is ready yet.
    public mutating func nextSegment() -> Segment? {
        builder.nextSegment()
    }

    /// Takes the next ready segment, lending its UTF-8 text (valid only inside `body`; for the C
    /// ABI: NUL-terminated, and in place until the next push, flush or reset), emoji and index to
    /// `body`; nil when none is ready.
    public mutating func withNextSegment<R>(_ body: (UnsafeBufferPointer<UInt8>, [String], Int) -> R) -> R? {
        builder.withNextSegment(body)
    }

    /// `withNextSegment` for the C ABI, without a closure or an emoji array: the text where the
    /// splitter keeps it (NUL-terminated, in place until the next push, flush or reset), the index,
    /// and the number of emoji, which (joined by spaces, NUL-terminated) replace the contents of
    /// `emojiOut` only when there are any. nil when none is ready.
    @inline(__always)
    mutating func takeNextSegment(joiningEmojiInto emojiOut: inout ByteBuffer)
        -> (text: UnsafeBufferPointer<UInt8>, index: Int, emojiCount: Int)? {
        builder.takeNextSegment(joiningEmojiInto: &emojiOut)
    }

    /// End of input: everything held becomes segments. The next push starts a new reply (the
    /// first-segment rule applies again); segment indexes keep counting.
    public mutating func flush() {
        settleLoop(adoptingEnd: true)
        builder.prepareForInput()
        builder.adoptHeldEnd()
        if builder.hasCarry { releaseCarry() }
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
