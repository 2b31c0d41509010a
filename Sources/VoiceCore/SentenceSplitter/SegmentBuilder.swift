import VoiceCoreKernels

/// The segmentation state machine: Unicode scalars of (cleaned) text in, segments out. It keeps
/// the current segment's UTF-8 bytes and a handful of facts about them, updated per scalar, so a
/// decision never re-reads more than the word before a period.
struct SegmentBuilder {
    let options: SplitterOptions
    let abbreviations: Abbreviations
    private let plainKinds = PlainScalar.table
    private let kernelKinds = PlainScalar.kernelTable

    /// Ready segments as C data (`vck_ready` entries written by `vck_emit` in `readyStorage`, which
    /// `facts.ready_text`/`ready_entries` point at): their texts are NUL-terminated ranges of the
    /// text bytes, so the C ABI hands a text out where it lies (it stays put until the next push or
    /// flush writes there), and the C loop emits without returning to Swift.
    private var readyStorage = ReadyStorage()
    private var readyHead = 0
    private var readyCount: Int {
        @inline(__always) get { Int(facts.ready_count) }
        @inline(__always) set { facts.ready_count = Int64(newValue) }
    }
    /// The emoji of the ready segments that have any, in order (an entry counts its own; they are
    /// taken from `readyEmojiHead` on): ready segments stay plain data, so queueing and taking one
    /// needs no reference counting.
    private var readyEmoji: [String] = []
    /// Entries of `readyEmoji` in use (reused: removing costs more than overwriting).
    private var readyEmojiCount = 0
    private var readyEmojiHead = 0
    /// Segments emitted since the reply started; the comma rule applies to the first only.
    private var emittedInReply: Int {
        @inline(__always) get { Int(facts.emitted_in_reply) }
        set {
            facts.emitted_in_reply = Int64(newValue)
            refreshCommaFrom()
        }
    }

    private var seg = ByteBuffer(capacity: 1024)
    /// The facts the bulk path (`vck_plain_run`) keeps up to date, stored in its own layout so a
    /// call passes them by pointer instead of copying each in and out; the properties below name them.
    private var facts = vck_plain_state()
    private var segChars: Int {
        @inline(__always) get { Int(facts.chars) }
        @inline(__always) set { facts.chars = Int64(newValue) }
    }
    private var hasWord: Bool {
        @inline(__always) get { facts.has_word != 0 }
        @inline(__always) set { facts.has_word = newValue ? 1 : 0 }
    }
    private var spacePending: Bool {
        @inline(__always) get { facts.space_pending != 0 }
        @inline(__always) set { facts.space_pending = newValue ? 1 : 0 }
    }
    private var lastWasCJK: Bool {
        @inline(__always) get { facts.cjk != 0 }
        @inline(__always) set { facts.cjk = newValue ? 1 : 0 }
    }
    /// Open quotes and brackets: a sentence does not end inside them (its end may follow the closer).
    private var quoteDepth: Int {
        @inline(__always) get { Int(facts.quote_depth) }
        set {
            facts.quote_depth = Int64(newValue)
            refreshCommaFrom()
        }
    }
    private var lastScalar: UInt32 {
        @inline(__always) get { facts.last }
        @inline(__always) set { facts.last = newValue }
    }
    private var list: ListMarker {
        get {
            switch facts.list_kind {
            case 1: return .number(Int(facts.list_value))
            case 2: return .letter(UInt32(truncatingIfNeeded: facts.list_value))
            case 3: return .bullet
            default: return .none
            }
        }
        set {
            switch newValue {
            case .none: facts.list_kind = 0; facts.list_value = 0
            case .number(let n): facts.list_kind = 1; facts.list_value = Int64(n)
            case .letter(let l): facts.list_kind = 2; facts.list_value = Int64(l)
            case .bullet: facts.list_kind = 3; facts.list_value = 0
            }
        }
    }
    private var pending: PendingEnd = .none {
        didSet {
            switch pending {
            case .none:
                hasPending = false
                pendingFitsRun = true
            case .latin(let e):
                hasPending = true
                pendingFitsRun = e.spacedDots == 0 && (e.mark == .dot || e.mark == .exclaim)
                    && SegmentBuilder.classCode(e.word) != UInt8(VCK_CLASS_UNKNOWN)
            case .hard:
                hasPending = true
                pendingFitsRun = true
            case .nextWord, .comma:
                hasPending = true
                pendingFitsRun = false
            }
        }
    }
    /// `pending` is one the C loop knows (or none), so `takeRun` may be asked (it still checks the
    /// rest of the state).
    private(set) var pendingFitsRun = true
    /// `pending` is not `.none`: asked before every byte of plain text, so it is one load rather
    /// than a test of the enum's multi-payload layout.
    private var hasPending = false
    /// The current segment's emoji: the first `emojiCount` entries (reused, not removed).
    private var emoji: [String] = []
    private var emojiCount = 0 {
        didSet { facts.emoji_count = Int64(emojiCount) }
    }

    // The current token (the text since the last whitespace).
    private var tokenStart: Int {
        @inline(__always) get { Int(facts.token_start) }
        @inline(__always) set { facts.token_start = Int64(newValue) }
    }
    private var tokenHasWord: Bool {
        @inline(__always) get { facts.token_has_word != 0 }
        @inline(__always) set { facts.token_has_word = newValue ? 1 : 0 }
    }
    private var tokenFirstLower: Bool {
        @inline(__always) get { facts.token_first_lower != 0 }
        @inline(__always) set { facts.token_first_lower = newValue ? 1 : 0 }
    }
    private var tokenIndex: Int {
        @inline(__always) get { Int(facts.token_index) }
        @inline(__always) set { facts.token_index = Int64(newValue) }
    }
    private var previousWordLower: Bool {
        @inline(__always) get { facts.previous_word_lower != 0 }
        @inline(__always) set { facts.previous_word_lower = newValue ? 1 : 0 }
    }

    // Where an over-long segment can be cut: byte offset and scalar count at that point.
    private var clauseBreak: Int {
        @inline(__always) get { Int(facts.clause_break) }
        @inline(__always) set { facts.clause_break = Int64(newValue) }
    }
    private var clauseChars: Int {
        @inline(__always) get { Int(facts.clause_chars) }
        @inline(__always) set { facts.clause_chars = Int64(newValue) }
    }
    private var spaceBreak: Int {
        @inline(__always) get { Int(facts.space_break) }
        @inline(__always) set { facts.space_break = Int64(newValue) }
    }
    private var spaceChars: Int {
        @inline(__always) get { Int(facts.space_chars) }
        @inline(__always) set { facts.space_chars = Int64(newValue) }
    }
    private var cjkBreak: Int {
        @inline(__always) get { Int(facts.cjk_break) }
        @inline(__always) set { facts.cjk_break = Int64(newValue) }
    }
    private var cjkChars: Int {
        @inline(__always) get { Int(facts.cjk_chars) }
        @inline(__always) set { facts.cjk_chars = Int64(newValue) }
    }

    init(options: SplitterOptions) {
        self.options = options
        self.abbreviations = Abbreviations(language: options.language)
        facts.max_chars = Int64(options.maxSegmentChars)
        facts.clean = options.cleanForSpeech ? 1 : 0
        facts.first_comma_chars = options.firstSegment == .comma ? Int64(options.minFirstChars) : Int64.max
        facts.kinds = kernelKinds.base
        let anyLanguage = Abbreviations.anyLanguageTable
        facts.abbrev_keys = anyLanguage.keys
        facts.abbrev_values = anyLanguage.values
        facts.abbrev_mask = anyLanguage.mask
        facts.abbrev_allowed = abbreviations.allowedSets
        pointAtReadyStorage()
        refreshCommaFrom()
    }

    /// The bulk path's `comma_from`: from how many scalars a comma may end the segment (the first of
    /// a reply, outside quotes), or never. Kept up to date by the fields it depends on (they change
    /// per segment at most), rather than computed at every call of the kernel.
    @inline(__always)
    private mutating func refreshCommaFrom() {
        facts.comma_from = options.firstSegment == .comma && emittedInReply == 0 && quoteDepth == 0
            ? Int64(options.minFirstChars) : Int64.max
    }

    // MARK: output

    mutating func nextSegment() -> Segment? {
        withNextSegment { text, emoji, index in
            Segment(text: String(decoding: text, as: UTF8.self), emoji: emoji, index: index)
        }
    }

    /// Takes the next ready segment and lends its UTF-8 text to `body` (a NUL byte follows it).
    mutating func withNextSegment<R>(_ body: (UnsafeBufferPointer<UInt8>, [String], Int) -> R) -> R? {
        guard readyHead < readyCount else { return nil }
        let s = readyEntry(readyHead)
        readyHead += 1
        let emojiCount = Int(s.emoji_count)
        if emojiCount != 0 { takeEmojiOfLoopSegment() }
        let emoji = emojiCount == 0 ? [] : Array(readyEmoji[readyEmojiHead..<readyEmojiHead + emojiCount])
        readyEmojiHead += emojiCount
        let result = body(UnsafeBufferPointer(start: facts.ready_text + Int(s.start), count: Int(s.len)), emoji, Int(s.index))
        if readyHead == readyCount { readyDrained() }
        return result
    }

    /// Takes the next ready segment for the C ABI: its text where it lies (NUL after it; in place
    /// until the next push, flush or reset writes ready text), its index and number of emoji. The
    /// emoji, joined by spaces and NUL-terminated, replace the contents of `emojiOut` only when there
    /// are any. nil when none is ready.
    @inline(__always)
    mutating func takeNextSegment(joiningEmojiInto emojiOut: inout ByteBuffer)
        -> (text: UnsafeBufferPointer<UInt8>, index: Int, emojiCount: Int)? {
        guard readyHead < readyCount else { return nil }
        let s = readyEntry(readyHead)
        readyHead += 1
        let emojiCount = Int(s.emoji_count)
        if emojiCount != 0 {
            takeEmojiOfLoopSegment()
            joinEmoji(readyEmojiHead..<readyEmojiHead + emojiCount, into: &emojiOut)
            readyEmojiHead += emojiCount
        }
        let text = UnsafeBufferPointer(start: UnsafePointer(facts.ready_text + Int(s.start)), count: Int(s.len))
        if readyHead == readyCount { readyDrained() }
        return (text, Int(s.index), emojiCount)
    }

    @inline(__always) private func readyEntry(_ k: Int) -> vck_ready {
        UnsafeRawPointer(facts.ready_entries).load(fromByteOffset: k &* MemoryLayout<vck_ready>.stride, as: vck_ready.self)
    }

    /// Writes `readyEmoji[range]` joined by spaces and NUL-terminated into `out` (a plain loop: the
    /// generic `joined` on a slice costs several times more).
    @inline(never)
    private mutating func joinEmoji(_ range: Range<Int>, into out: inout ByteBuffer) {
        out.removeAll()
        for k in range {
            if k > range.lowerBound { out.append(0x20) }
            var e = readyEmoji[k]
            e.withUTF8 { out.append($0) }
        }
        out.append(0)
    }

    /// The last ready segment was taken: the queue's storage is reused (the texts handed out stay
    /// where they are until new ready text is written).
    @inline(__always)
    private mutating func readyDrained() {
        readyCount = 0
        facts.ready_len = 0
        readyHead = 0
        readyEmojiCount = 0
        readyEmojiHead = 0
    }

    @inline(__always) var hasReady: Bool { readyHead < readyCount }

    /// Lends the segment buffer to C (`facts.seg`) with room for what a C call may write when it
    /// takes `room` more input bytes, and makes sure the ready storage has room for what it may
    /// emit (vck_split_run.h); `takeBuffers` takes what it wrote. `vck_split_push` (split_run.c) tests
    /// the same room rule in C for an armed push: a change here must be made there too.
    @inline(__always) private mutating func lendBuffers(room: Int) {
        // Counts of bytes in memory: wrapping arithmetic cannot overflow here.
        let textRoom = seg.count &+ 2 &* room &+ 12, entryRoom = room &+ 4
        if facts.ready_len &+ Int64(textRoom) > facts.ready_text_cap
            || facts.ready_count &+ Int64(entryRoom) > facts.ready_entries_cap {
            readyStorage.reserve(textCount: Int(facts.ready_len), textRoom: textRoom, entryCount: readyCount, entryRoom: entryRoom)
            pointAtReadyStorage()
        }
        facts.seg_count = Int64(seg.count)
        facts.seg = seg.uniqueBase(room: room &+ 4)
    }

    // MARK: the usual push (split11)

    /// Runs the C loop over a whole push through `vck_split_push`: where it stopped, or -1 (its
    /// SIZE_MAX) when the loop is not armed (`armLoop`) or its buffers lack room, with nothing
    /// changed. What the loop changes stays in `facts` until `settleLoop` takes it back.
    @inline(__always)
    mutating func pushThroughLoop(_ p: UnsafePointer<UInt8>, _ n: Int) -> Int {
        vck_split_push(p, n, &facts)  // size_t comes in as Int: SIZE_MAX is -1
    }

    /// Lets the next pushes go straight to the C loop (`pushThroughLoop`) when `mayRun` (the
    /// splitter's decoder and cleaner let it) and nothing is pending here: lends the segment
    /// buffer for good (valid until the builder next writes it, which `settleLoop` precedes). For a
    /// builder whose splitter is never copied, so the buffers are its own.
    mutating func armLoop(_ mayRun: Bool, blankLines: Bool) {
        guard mayRun && !hasPending else { return }
        facts.seg_count = Int64(seg.count)
        facts.seg = seg.uniqueBase(room: 0)
        facts.seg_cap = Int64(seg.capacity)
        facts.prev_word = 2
        facts.paragraph_ok = blankLines ? 1 : 0
        facts.push_armed = 1
    }

    /// Takes back what armed pushes left in the C state: the segment's length, the emoji of a
    /// segment emitted, and (`adoptingEnd`) a held end as `pending`. Returns the cleaner's
    /// `previousWord` after the last scalar the loop took (nil: unchanged). Called before anything
    /// else looks at or writes the builder's state.
    @inline(__always)
    mutating func settleLoop(adoptingEnd: Bool) -> Bool? {
        guard facts.push_armed != 0 else { return nil }
        facts.push_armed = 0
        takeBuffers()
        if adoptingEnd { adoptHeldEnd() }
        let endsInWord = takenEndsInWord
        facts.prev_word = 2
        return endsInWord
    }

    /// The emoji of a segment the loop emitted go to the ready ones (before a ready segment's emoji
    /// are read: armed pushes leave them).
    @inline(__always) private mutating func takeEmojiOfLoopSegment() {
        if facts.emoji_taken != 0 {
            facts.emoji_taken = 0
            moveEmojiToReady()
        }
    }

    /// Takes what a C call wrote: the segment's bytes, and the emoji of a segment it emitted.
    @inline(__always) private mutating func takeBuffers() {
        seg.setCountUnique(Int(facts.seg_count))
        if facts.emoji_taken != 0 {
            facts.emoji_taken = 0
            moveEmojiToReady()
        }
    }

    private mutating func pointAtReadyStorage() {
        facts.ready_text = readyStorage.text
        facts.ready_text_cap = Int64(readyStorage.textCapacity)
        facts.ready_entries = readyStorage.entries.assumingMemoryBound(to: UInt8.self)
        facts.ready_entries_cap = Int64(readyStorage.entryCapacity)
    }

    mutating func addEmoji(_ e: String) {
        if emojiCount < emoji.count { emoji[emojiCount] = e } else { emoji.append(e) }
        emojiCount += 1
        spaceBeforeRemoved = spacePending
    }

    /// A space that preceded removed text (an emoji) is not kept before punctuation ("breeze ☀️.").
    private var spaceBeforeRemoved: Bool {
        @inline(__always) get { facts.space_before_removed != 0 }
        @inline(__always) set { facts.space_before_removed = newValue ? 1 : 0 }
    }

    /// A structural break (blank line, list item, heading): whatever is pending ends here.
    mutating func boundary() {
        if case .nextWord(let p, let h) = pending { decideNextWord(p, h) }
        pending = .none
        emit(upTo: seg.count)
    }

    /// End of input: the rest becomes segments; the next text starts a new reply.
    mutating func finish() {
        boundary()
        if emojiCount > 0 {
            // A reply of only emoji: one segment with empty text.
            lendBuffers(room: 0)
            facts.ready_text[Int(facts.ready_len)] = 0
            let entry = vck_ready(start: facts.ready_len, len: 0, index: facts.next_index, emoji_count: Int64(emojiCount))
            UnsafeMutableRawPointer(facts.ready_entries).storeBytes(
                of: entry, toByteOffset: readyCount * MemoryLayout<vck_ready>.stride, as: vck_ready.self)
            facts.ready_len += 1
            readyCount += 1
            facts.next_index += 1
            takeBuffers()
            moveEmojiToReady()
        }
        emittedInReply = 0
    }

    mutating func reset() {
        self = SegmentBuilder(options: options)
    }

    // MARK: input

    /// Called before any text goes in (each push, flush): the segment buffer is made unique once,
    /// so the appends inside need not test it (nothing copies the builder while it takes text).
    @inline(__always)
    mutating func prepareForInput() {
        seg.makeUnique()
        if !isKnownUniquelyReferenced(&readyStorage) { copyReadyStorage() }
    }

    /// `prepareForInput` for a builder whose splitter was never copied (`SentenceSplitter.pushInline`):
    /// its buffers are its own, checked only in debug builds.
    @inline(__always)
    mutating func assertUnshared() {
        assert(seg.isUnique && isKnownUniquelyReferenced(&readyStorage), "a never-copied splitter shares its buffers")
    }

    /// A copy of the splitter shares the ready storage: this one writes to its own copy.
    @inline(never)
    private mutating func copyReadyStorage() {
        readyStorage = readyStorage.copy(textCount: Int(facts.ready_len), entryCount: readyCount)
        pointAtReadyStorage()
    }

    @inline(__always)
    mutating func feed(_ c: UInt32) {
        if !hasPending {
            // The common case, without matching on `pending`.
            if ScalarClass.isWhitespace(c) { whitespace(c) } else { normal(c) }
            return
        }
        if settleNextWord(c) { return }
        if ScalarClass.isWhitespace(c) {
            whitespace(c)
            return
        }
        if !settleMark(c) { normal(c) }
    }

    /// `feed(0x20)`: the space after a sentence mark or between words where the bulk path did not
    /// take it, without `feed`'s dispatch.
    @inline(__always)
    mutating func feedSpace() {
        if hasPending { _ = settleNextWord(0x20) }
        whitespace(0x20)
    }

    /// `feed(0x2E)` while nothing is pending (what `normal` does for a period), without `feed`'s
    /// and `normal`'s dispatch.
    @inline(__always)
    mutating func feedPeriodWhileNothingPending() {
        if spacePending { materializeSpace(before: 0x2E) }
        period(0x2E)
        lastWasCJK = false
        checkLength()
    }

    /// `feed(c)` for `。！？；` (U+3002, U+FF01, U+FF1F, U+FF1B) while nothing is pending: what
    /// `normal` does for a hard terminator, without `feed`'s and `normal`'s dispatch.
    @inline(__always)
    mutating func feedCJKEndWhileNothingPending(_ c: UInt32) {
        if spacePending { materializeSpace(before: c) }
        append(c)
        pending = .hard(end: seg.count)
        lastWasCJK = false
        checkLength()
    }

    /// Decides a pending end with the plain scalar `c` that follows it (`PlainScalar`: never
    /// whitespace), as `feed(c)` would. True when `c` went in with the decision (the word after an
    /// acronym); false when nothing is pending any more and `c` is still to go in, so the bulk path
    /// can take it with the run after it instead of `normal(c)` (the letter after a sentence end).
    @inline(__always)
    mutating func settlePending(beforePlain c: UInt32) -> Bool {
        settleNextWord(c) || settleMark(c)
    }

    /// A pending `.nextWord`: a letter or apostrophe extends that word (true: `c` went in); anything
    /// else decides it (false).
    @inline(__always)
    private mutating func settleNextWord(_ c: UInt32) -> Bool {
        guard case .nextWord(let p, let h) = pending else { return false }
        if ScalarClass.isWordScalar(c) && !ScalarClass.isDigit(c) || c == 0x27 || c == 0x2019 {
            normal(c)
            pending = .nextWord(p, hash: Abbreviations.hashStep(h, ScalarClass.lower(c)))
            return true
        }
        decideNextWord(p, h)
        return false
    }

    /// A pending mark decided by the non-space scalar `c`: true when `c` was absorbed into the end
    /// (more marks, closing quotes, the word after an acronym); otherwise nothing is pending any
    /// more and `c` is still to go in.
    @inline(__always)
    private mutating func settleMark(_ c: UInt32) -> Bool {
        switch pending {
        case .none:
            return false
        case .latin(var p):
            return resolveLatin(&p, c)
        case .hard(let end):
            if quoteDepth > 0 && !ScalarClass.isCloser(c) {
                pending = .none
                return false
            }
            if c < 0x80 ? (c == 0x2E || c == 0x21 || c == 0x3F || c == 0x3B || ScalarClass.isCloser(c))
                : (ScalarClass.isHardTerminator(c) || ScalarClass.isCloser(c) || c == 0x2026) {
                append(c)
                pending = .hard(end: seg.count)
                return true
            }
            pending = .none
            // 「…。」と言った: a quotation followed by the quotative particle continues the sentence.
            if !((c == 0x3068 || c == 0x3063) && end > 0 && ScalarClass.isCloser(lastScalar)) { emit(upTo: end) }
            return false
        case .comma, .nextWord:
            pending = .none
            return false
        }
    }

    private mutating func decideNextWord(_ p: LatinEnd, _ h: UInt64) {
        pending = .none
        if SentenceStarters.contains(hash: h) { cut(at: p.end) }
    }

    @inline(__always)
    private mutating func whitespace(_ c: UInt32) {
        if hasPending {
            switch pending {
            case .hard(let end), .comma(let end):
                pending = .none
                if quoteDepth == 0 {
                    emit(upTo: end)
                    return
                }
            default:
                break
            }
        }
        if seg.isEmpty { return }
        spacePending = true
        if !options.cleanForSpeech { append(c) }
    }

    /// Resolves a pending Latin end with the next non-space scalar. Returns true when the scalar
    /// was absorbed into the end (more marks, closing quotes).
    private mutating func resolveLatin(_ p: inout LatinEnd, _ c: UInt32) -> Bool {
        let sawSpace = spacePending
        if !sawSpace {
            if c == 0x2E || c == 0x21 || c == 0x3F || c == 0x2026 || c == 0xFF01 || c == 0xFF1F {
                append(c)
                if c == 0x2E || c == 0x2026 {
                    p.dots += c == 0x2026 ? 3 : 1
                    if p.dots >= 2 { p.mark = .ellipsis }
                } else if p.mark == .dot {
                    p.mark = .exclaim
                }
                p.end = seg.count
                pending = .latin(p)
                return true
            }
            if ScalarClass.isCloser(c) {
                append(c)
                p.end = seg.count
                pending = .latin(p)
                return true
            }
        } else if c == 0x2E && (p.mark == .dot || p.mark == .ellipsis) {
            materializeSpace(before: c)
            append(c)
            p.dots += 1
            p.spacedDots += 1
            p.mark = .ellipsis
            p.end = seg.count
            pending = .latin(p)
            return true
        }
        pending = .none
        guard hasWord && quoteDepth == 0 else { return false }
        switch verdict(p, next: c, afterSpace: sawSpace) {
        case .end:
            emit(upTo: p.end)
        case .continue:
            break
        case .askNextWord:
            // Pending before the scalar goes in, so the length check cannot cut under `p.end`.
            pending = .nextWord(p, hash: Abbreviations.hashStep(Abbreviations.hashStart(), ScalarClass.lower(c)))
            normal(c)
            return true
        }
        return false
    }

    private func verdict(_ p: LatinEnd, next c: UInt32, afterSpace: Bool) -> EndVerdict {
        if p.word == .openerOnly { return .continue }
        if p.word == .acronym || p.word == .abbreviation(.other) {
            let ends = endsSentence(p, next: c, afterSpace: afterSpace)
            return ends && afterSpace && ScalarClass.isUppercase(c) ? .askNextWord : (ends ? .end : .continue)
        }
        return endsSentence(p, next: c, afterSpace: afterSpace) ? .end : .continue
    }

    private func endsSentence(_ p: LatinEnd, next c: UInt32, afterSpace: Bool) -> Bool {
        if !afterSpace {
            if ScalarClass.isCJK(c) { return true }
            switch p.mark {
            case .dot:
                return false
            case .ellipsis:
                return p.dots >= 3 && ScalarClass.isUppercase(c)
            case .exclaim, .semicolon:
                return !(ScalarClass.isWordScalar(c) || c == 0x2C || c == 0x3A)
            }
        }
        if p.mark == .semicolon { return true }
        if ScalarClass.isLowercase(c) { return false }
        switch p.mark {
        case .exclaim, .semicolon:
            return true
        case .ellipsis:
            // ". . ." inside a sentence; four marks (". . . ." or "....") end one.
            return !(p.spacedDots > 0 && p.dots == 3)
        case .dot:
            break
        }
        let digit = ScalarClass.isDigit(c)
        switch p.word {
        case .empty, .word, .multiPeriod, .acronym:
            return true
        case .openerOnly:
            return false
        case .number:
            return !p.firstToken
        case .initialUpper(let isI):
            return isI && p.previousWordLower && !digit
        case .initialLower:
            return false
        case .abbreviation(let kind):
            return kind == .other && !digit
        }
    }

    @inline(__always)
    private mutating func materializeSpace(before c: UInt32) {
        spacePending = false
        let dropSpace = spaceBeforeRemoved && (c == 0x2E || c == 0x2C || c == 0x21 || c == 0x3F || c == 0x3B
            || c == 0x3A || (c > 0x2FFF && !ScalarClass.isWordScalar(c)))
        spaceBeforeRemoved = false
        if options.cleanForSpeech && !dropSpace && !(lastWasCJK && ScalarClass.isCJK(c)) {
            seg.appendToUnique(0x20)
            segChars += 1
        }
        spaceBreak = seg.count
        spaceChars = segChars
        if tokenHasWord {
            tokenIndex += 1
            previousWordLower = tokenFirstLower
        }
        tokenStart = seg.count
        tokenHasWord = false
    }

    @inline(__always)
    private mutating func normal(_ c: UInt32) {
        if spacePending { materializeSpace(before: c) }
        if c < 0x80 {
            switch c {
            case 0x2E: // .
                period(c)
            case 0x21, 0x3F: // ! ?
                mark(c, .exclaim)
            case 0x3B: // ;
                mark(c, .semicolon)
            case 0x29: // )
                if tokenIndex > 0, startsNextListItem(dot: false) { cut(at: tokenStart) }
                if tokenIndex == 0, list == .none, case let .number(n) = classifyToken() { list = .number(n) }
                append(c)
            case 0x2C: // ,
                append(c)
                clauseBreak = seg.count
                clauseChars = segChars
                if commaMayEnd(charsBefore: segChars - 1) { pending = .comma(end: seg.count) }
            case 0x3A:
                append(c)
                clauseBreak = seg.count
                clauseChars = segChars
            default:
                append(c)
            }
        } else {
            switch c {
            case 0x2026:
                mark(c, .ellipsis)
            case 0xFF0E:
                period(c)
            case 0xFF0C:
                append(c)
                clauseBreak = seg.count
                clauseChars = segChars
                if commaMayEnd(charsBefore: segChars - 1) { emit(upTo: seg.count) }
            default:
                if ScalarClass.isHardTerminator(c) {
                    append(c)
                    pending = .hard(end: seg.count)
                } else if ScalarClass.isBullet(c) {
                    if seg.isEmpty {
                        list = .bullet
                    } else if list == .bullet && tokenStart == seg.count {
                        cut(at: tokenStart)
                        list = .bullet
                    }
                    append(c)
                } else {
                    if ScalarClass.isCJK(c) {
                        if lastWasCJK { cjkBreak = seg.count; cjkChars = segChars }
                        append(c)
                        lastWasCJK = true
                        checkLength()
                        return
                    }
                    if ScalarClass.isClauseMark(c) {
                        append(c)
                        clauseBreak = seg.count
                        clauseChars = segChars
                    } else {
                        append(c)
                    }
                }
            }
        }
        lastWasCJK = false
        checkLength()
    }

    @inline(__always)
    private mutating func append(_ c: UInt32) {
        if c < 0x80 {
            if c == 0x22 || c == 0x28 || c == 0x29 || c == 0x5B || c == 0x5D { trackQuote(c) }
            seg.appendToUnique(UInt8(truncatingIfNeeded: c))
            if ScalarClass.isASCIILetter(c) || ScalarClass.isASCIIDigit(c) { noteWord(c) }
        } else {
            if SegmentBuilder.tracksQuote(c) { trackQuote(c) }
            seg.appendToUnique(scalar: c)
            if PlainScalar.isWordScalar(c, kernelKinds) { noteWord(c) }
        }
        lastScalar = c
        segChars += 1
    }

    /// Non-ASCII scalars that open or close quotes (ASCII ones are tested inline).
    @inline(__always) static func tracksQuote(_ c: UInt32) -> Bool {
        c >= 0xAB && (c == 0xAB || c == 0xBB || (c >= 0x2018 && c <= 0x201E) || (c >= 0x3008 && c <= 0x300F))
    }

    private mutating func trackQuote(_ c: UInt32) {
        let atWordStart = tokenStart == seg.count
        switch c {
        case 0x22:
            // A straight quote opens at the start of a word, otherwise it closes.
            if atWordStart || ScalarClass.isOpener(lastScalar) { quoteDepth += 1 } else if quoteDepth > 0 { quoteDepth -= 1 }
        case 0x28, 0x5B, 0xAB, 0x201C, 0x201E, 0x300A, 0x3008, 0x300C, 0x300E:
            quoteDepth += 1
        case 0x2018:
            if atWordStart { quoteDepth += 1 }
        case 0x2019:
            // Also the apostrophe ("one’s"): it closes only after punctuation.
            if quoteDepth > 0 && !ScalarClass.isWordScalar(lastScalar) { quoteDepth -= 1 }
        case 0x29, 0x5D, 0xBB, 0x201D, 0x300B, 0x3009, 0x300D, 0x300F:
            if quoteDepth > 0 { quoteDepth -= 1 }
        default:
            break
        }
    }

    @inline(__always)
    private mutating func noteWord(_ c: UInt32) {
        hasWord = true
        if !tokenHasWord {
            tokenHasWord = true
            tokenFirstLower = c < 0x80 ? (c &- 0x61 < 26) : ScalarClass.isLowercase(c)
        }
    }

    private mutating func period(_ c: UInt32) {
        if tokenIndex > 0, startsNextListItem(dot: true) { cut(at: tokenStart) }
        let word = classifyToken()
        if tokenIndex == 0, list == .none {
            switch word {
            case .number(let n): list = .number(n)
            case .initialLower(let l): list = .letter(l)
            default: break
            }
        }
        let afterCJK = lastWasCJK
        append(c)
        lastWasCJK = false
        if afterCJK {
            pending = .hard(end: seg.count)
        } else {
            pending = .latin(LatinEnd(end: seg.count, mark: .dot, word: word, dots: 1, spacedDots: 0,
                                      firstToken: tokenIndex == 0, previousWordLower: previousWordLower))
        }
    }

    private mutating func mark(_ c: UInt32, _ kind: EndMark) {
        let word = kind == .ellipsis ? classifyToken() : .word
        let afterCJK = lastWasCJK
        append(c)
        lastWasCJK = false
        if kind == .semicolon && !options.semicolonEnds { return }
        if afterCJK {
            pending = .hard(end: seg.count)
        } else {
            pending = .latin(LatinEnd(end: seg.count, mark: kind, word: word, dots: kind == .ellipsis ? 3 : 0,
                                      spacedDots: 0, firstToken: tokenIndex == 0, previousWordLower: previousWordLower))
        }
    }

    @inline(__always)
    private func commaMayEnd(charsBefore: Int) -> Bool {
        options.firstSegment == .comma && emittedInReply == 0 && hasWord && charsBefore >= options.minFirstChars
            && quoteDepth == 0
    }

    // MARK: fast path

    /// Whether `appendPlainRun` may take the next bytes: no end pending.
    @inline(__always) var acceptsPlainRun: Bool {
        !hasPending
    }

    /// An end is pending (`settlePending(beforePlain:)` decides it).
    @inline(__always) var hasPendingEnd: Bool { hasPending }

    /// Copies the run of plain word scalars (`PlainScalar`) starting at `p[i]` into the segment in
    /// bulk, together with single spaces between words (clean mode), and returns where it stopped
    /// (`i` when nothing was taken). The state afterwards is exactly what feeding the same scalars
    /// one by one leaves: counts, token facts, CJK breaks, the last scalar. It stops before the
    /// scalar that would reach the length limit, so no cut is ever due inside it.
    @inline(__always)
    mutating func appendPlainRun(_ p: UnsafePointer<UInt8>, _ start: Int, _ n: Int) -> Int {
        if spacePending {
            // A space held from before: it goes in before a plain scalar as `materializeSpace` does.
            var chars = segChars
            guard chars + 2 < options.maxSegmentChars, let kind = plainKind(p, start, n), PlainScalar.isWord(kind)
            else { return start }
            materializeSpaceBeforePlain(cjk: lastWasCJK, cjkNext: kind == PlainScalar.cjk, chars: &chars)
            segChars = chars
        }
        // The scan itself is the C kernel `vck_plain_run`, on the facts it keeps up to date.
        facts.seg_count = Int64(seg.count)
        facts.took_space = 0
        let end = vck_plain_run(p, start, n, kernelKinds.base, seg.uniqueTail(room: n - start), &facts)
        seg.uniqueTailWritten(upTo: Int(facts.seg_count))
        // Without a branch: whether the run took a space is as random as the text.
        spaceBeforeRemoved = spaceBeforeRemoved && facts.took_space == 0
        return end
    }

    /// Takes what the C loop `vck_split_run` takes from `p[start..<n]` (plain runs, spaces, the
    /// usual sentence ends and their segments; vck_split_run.h) and returns where it stopped
    /// (`start` when it took nothing). A pending end it knows (a `.` `!` `?` after a plain word, a
    /// hard end) goes in with it and comes back as `pending`; any other leaves the text to `feed`.
    /// `blankLines`: the cleaner passes a blank line as a plain boundary (`passesBlankLine`).
    @inline(__always)
    mutating func takeRun(_ p: UnsafePointer<UInt8>, _ start: Int, _ n: Int, blankLines: Bool) -> Int {
        if hasPending && !handPendingToLoop() { return start }
        lendBuffers(room: n &- start)
        facts.prev_word = 2
        facts.paragraph_ok = blankLines ? 1 : 0
        let end = vck_split_run(p, start, n, &facts)
        takeBuffers()
        // An end held at the end of the push stays in C for the next push's call (which is where
        // its lookahead comes from); one held where the Swift path goes on becomes `pending`.
        if end < n { adoptHeldEnd() }
        return end
    }

    /// `pending` goes to the C loop (`facts.pend`) when it is one the loop knows; false (nothing
    /// changed) when it is not. Out of line: most pushes start with nothing pending, and `takeRun`
    /// is inlined into the push.
    @inline(never)
    private mutating func handPendingToLoop() -> Bool {
        switch pending {
        case .latin(let e) where pendingFitsRun:
            facts.pend = UInt8(e.mark == .dot ? VCK_PEND_DOT : VCK_PEND_EXCLAIM)
            facts.pend_class = SegmentBuilder.classCode(e.word)
            facts.pend_value = SegmentBuilder.classValue(e.word)
            facts.pend_end = Int64(e.end)
            facts.pend_dots = Int64(e.dots)
            facts.pend_first_token = e.firstToken ? 1 : 0
            facts.pend_prev_lower = e.previousWordLower ? 1 : 0
        case .hard(let end) where quoteDepth == 0 && !spacePending:
            facts.pend = UInt8(VCK_PEND_HARD)
            facts.pend_end = Int64(end)
        default:
            return false
        }
        pending = .none
        return true
    }

    /// An end the C loop holds (`facts.pend`) becomes `pending`, for the Swift path: called before
    /// anything but `takeRun` looks at the builder's state after a push that ended in the loop.
    @inline(__always)
    mutating func adoptHeldEnd() {
        if facts.pend != UInt8(VCK_PEND_NONE) {
            let end = Int(facts.pend_end)
            if facts.pend == UInt8(VCK_PEND_HARD) {
                pending = .hard(end: end)
            } else {
                pending = .latin(LatinEnd(end: end, mark: facts.pend == UInt8(VCK_PEND_DOT) ? .dot : .exclaim,
                                          word: SegmentBuilder.wordClass(facts.pend_class, facts.pend_value),
                                          dots: Int(facts.pend_dots), spacedDots: 0, firstToken: facts.pend_first_token != 0,
                                          previousWordLower: facts.pend_prev_lower != 0))
            }
            facts.pend = UInt8(VCK_PEND_NONE)
        }
    }

    /// The C loop's code for a word class (`VCK_CLASS_*`; UNKNOWN for those it leaves to Swift).
    static func classCode(_ w: WordClass) -> UInt8 {
        switch w {
        case .word: return UInt8(VCK_CLASS_WORD)
        case .number: return UInt8(VCK_CLASS_NUMBER)
        case .initialUpper: return UInt8(VCK_CLASS_INITIAL_UPPER)
        case .initialLower: return UInt8(VCK_CLASS_INITIAL_LOWER)
        case .abbreviation(let kind): return UInt8(kind == .title ? VCK_CLASS_TITLE : VCK_CLASS_OTHER)
        case .acronym: return UInt8(VCK_CLASS_ACRONYM)
        case .multiPeriod: return UInt8(VCK_CLASS_MULTI_PERIOD)
        case .empty, .openerOnly: return UInt8(VCK_CLASS_UNKNOWN)
        }
    }

    /// The value that goes with `classCode(w)`: the number, the initial, or whether the initial is I.
    static func classValue(_ w: WordClass) -> Int64 {
        switch w {
        case .number(let n): return Int64(n)
        case .initialUpper(let isI): return isI ? 1 : 0
        case .initialLower(let l): return Int64(l)
        default: return 0
        }
    }

    /// The word class the C loop's code and value stand for.
    static func wordClass(_ code: UInt8, _ value: Int64) -> WordClass {
        switch Int(code) {
        case VCK_CLASS_NUMBER: return .number(Int(value))
        case VCK_CLASS_INITIAL_UPPER: return .initialUpper(isI: value != 0)
        case VCK_CLASS_INITIAL_LOWER: return .initialLower(UInt32(truncatingIfNeeded: value))
        case VCK_CLASS_TITLE: return .abbreviation(.title)
        case VCK_CLASS_OTHER: return .abbreviation(.other)
        case VCK_CLASS_ACRONYM: return .acronym
        case VCK_CLASS_MULTI_PERIOD: return .multiPeriod
        default: return .word
        }
    }

    /// The bytes of a sequence cut off at the end of a push that the C loop holds (`facts.carry`):
    /// when the loop does not take it at the next push, the caller's stream decoder gets them
    /// (`dropCarry`), as it would have without the loop.
    var carry: [UInt8] {
        withUnsafeBytes(of: facts.carry) { Array($0.prefix(Int(facts.carry_len))) }
    }

    @inline(__always) var hasCarry: Bool { facts.carry_len != 0 }

    mutating func dropCarry() { facts.carry_len = 0 }

    /// The cleaner's `previousWord` after what `takeRun` took, or nil when it took only what the
    /// cleaner drops (`*`, backticks), which leaves it as it was.
    @inline(__always) var takenEndsInWord: Bool? { facts.prev_word == 2 ? nil : facts.prev_word != 0 }

    /// Whether the last scalar taken was a word scalar (the cleaner's `previousWord` after a run).
    /// After a run the last scalar is in the BMP, and the run's kinds that are not words are not
    /// word scalars either, so one table load answers.
    @inline(__always) var lastIsWordScalar: Bool { PlainScalar.isWord(plainKinds[Int(lastScalar & 0xFFFF)]) }

    /// Feeds one plain scalar through `appendPlainRun`; false (nothing changed) when it does not fit.
    mutating func appendPlainScalar(_ c: UInt32) -> Bool {
        guard c >= 0x80 && c < 0x10000 && plainKinds[Int(c)] != PlainScalar.none else { return false }
        var bytes: (UInt8, UInt8, UInt8) = (0, 0, 0)
        return withUnsafeMutableBytes(of: &bytes) { raw in
            let b = raw.baseAddress!.assumingMemoryBound(to: UInt8.self)
            let len = UTF8Stream.encode(c, into: b)
            return appendPlainRun(UnsafePointer(b), 0, len) == len
        }
    }

    @inline(__always)
    private func plainKind(_ p: UnsafePointer<UInt8>, _ i: Int, _ n: Int) -> UInt8? {
        guard i < n else { return nil }
        if p[i] < 0x80 { return plainKinds[Int(p[i])] }
        guard let (c, _) = PlainScalar.decodeBMP(p, i, n) else { return nil }
        return plainKinds[Int(c)]
    }

    /// `materializeSpace(before:)` for a plain scalar (never punctuation, so never dropped).
    @inline(__always)
    private mutating func materializeSpaceBeforePlain(cjk: Bool, cjkNext: Bool, chars: inout Int) {
        spacePending = false
        spaceBeforeRemoved = false
        if options.cleanForSpeech && !(cjk && cjkNext) {
            seg.appendToUnique(0x20)
            chars += 1
        }
        spaceBreak = seg.count
        spaceChars = chars
        if tokenHasWord {
            tokenIndex += 1
            previousWordLower = tokenFirstLower
        }
        tokenStart = seg.count
        tokenHasWord = false
    }

    // MARK: the word before a mark

    /// Reads the current token (bytes since the last whitespace), skipping leading openers and
    /// bullets. Only this short range is decoded (it is valid UTF-8: the builder wrote it).
    ///
    /// `mutating` (like `startsNextListItem`) although it changes nothing: a non-mutating method
    /// called from a mutating one gets a copy of this large struct (a 350-byte `memcpy` per period).
    private mutating func classifyToken() -> WordClass {
        let token = UnsafeBufferPointer(start: seg.baseAddress + tokenStart, count: seg.count - tokenStart)
        return SegmentBuilder.classify(token: token, abbreviations)
    }

    private static func classify(token t: UnsafeBufferPointer<UInt8>, _ abbreviations: Abbreviations) -> WordClass {
        var i = 0
        let n = t.count
        var count = 0
        var first: UInt32 = 0
        var allDigits = true
        var value = 0
        var hasDot = false
        var h = Abbreviations.hashStart()
        var leading = true
        var skipped = false
        var lettersAndDots = true
        // The usual token: ASCII letters, perhaps ending in digits or dots, read in a tight loop;
        // the general loop below takes over at anything else, with the same facts so far.
        if n > 0 && t[0] &- 0x41 < 58 && (t[0] | 0x20) &- 0x61 < 26 {
            first = UInt32(t[0])
            leading = false
            allDigits = false
            while i < n {
                let b = t[i]
                let l = b | 0x20
                guard l &- 0x61 < 26 else { break }
                h = Abbreviations.hashStep(h, UInt32(l))
                i += 1
            }
            count = i
        }
        while i < n {
            let c: UInt32
            let b0 = t[i]
            // Cyrillic letters (U+0400–U+045F, lead byte 0xD0/0xD1): the facts the general case below
            // gives them — a letter, neither opener, bullet, dot nor digit — without its tests.
            if b0 &- 0xD0 < 2 {
                let l = (UInt32(b0 & 0x1F) << 6) | UInt32(t[i + 1] & 0x3F)
                if l <= 0x45F {
                    i += 2
                    leading = false
                    if count == 0 { first = l }
                    count += 1
                    allDigits = false
                    h = Abbreviations.hashStep(h, ScalarClass.lower(l))
                    continue
                }
            }
            if b0 < 0x80 {
                c = UInt32(b0)
                i += 1
                if leading && ScalarClass.isOpener(c) {
                    skipped = true
                    continue
                }
                if c != 0x2E && !ScalarClass.isASCIILetter(c) { lettersAndDots = false }
            } else {
                let len: Int
                (c, len) = SegmentBuilder.decode(t, i)
                i += len
                if leading && (ScalarClass.isOpener(c) || ScalarClass.isBullet(c)) {
                    skipped = true
                    continue
                }
                if !ScalarClass.isLetter(c) { lettersAndDots = false }
            }
            leading = false
            if count == 0 { first = c }
            count += 1
            if c == 0x2E { hasDot = true }
            if ScalarClass.isASCIIDigit(c) {
                if value < 1_000_000 { value = value * 10 + Int(c - 0x30) }
            } else {
                allDigits = false
            }
            h = Abbreviations.hashStep(h, ScalarClass.lower(c))
        }
        if count == 0 { return skipped ? .openerOnly : .empty }
        if allDigits { return .number(value) }
        if count == 1 && ScalarClass.isLetter(first) {
            if ScalarClass.isUppercase(first) { return .initialUpper(isI: first == 0x49) }
            return .initialLower(first)
        }
        if let kind = abbreviations.kind(ofHash: h) { return .abbreviation(kind) }
        if !hasDot { return .word }
        return lettersAndDots ? .acronym : .multiPeriod
    }

    /// Decodes the sequence at `t[i]` (lead byte >= 0x80; the builder wrote it, so it is complete).
    @inline(__always)
    private static func decode(_ t: UnsafeBufferPointer<UInt8>, _ i: Int) -> (UInt32, Int) {
        let b0 = UInt32(t[i])
        if b0 < 0xE0 { return (((b0 & 0x1F) << 6) | (UInt32(t[i + 1]) & 0x3F), 2) }
        if b0 < 0xF0 {
            return (((b0 & 0x0F) << 12) | ((UInt32(t[i + 1]) & 0x3F) << 6) | (UInt32(t[i + 2]) & 0x3F), 3)
        }
        return (((b0 & 0x07) << 18) | ((UInt32(t[i + 1]) & 0x3F) << 12) | ((UInt32(t[i + 2]) & 0x3F) << 6)
            | (UInt32(t[i + 3]) & 0x3F), 4)
    }

    /// In a segment that started with list marker N (or letter x), a later "N+1." / "N+1)" (or
    /// "y.") starts the next item.
    @inline(__always)
    private mutating func startsNextListItem(dot: Bool) -> Bool {
        switch list {
        case .number(let n):
            let len = seg.count - tokenStart
            guard len > 0, len <= 3 else { return false }
            var v = 0
            for i in tokenStart..<seg.count {
                let b = seg[i]
                guard b &- 0x30 < 10 else { return false }
                v = v * 10 + Int(b - 0x30)
            }
            return v == n + 1
        case .letter(let l):
            guard dot, seg.count - tokenStart == 1 else { return false }
            return UInt32(seg[tokenStart]) == l + 1
        default:
            return false
        }
    }

    @inline(__always)
    static func decode(_ b: ByteBuffer, _ i: Int) -> (UInt32, Int) {
        let b0 = UInt32(b[i])
        if b0 < 0x80 { return (b0, 1) }
        if b0 < 0xE0 { return (((b0 & 0x1F) << 6) | (UInt32(b[i + 1]) & 0x3F), 2) }
        if b0 < 0xF0 {
            return (((b0 & 0x0F) << 12) | ((UInt32(b[i + 1]) & 0x3F) << 6) | (UInt32(b[i + 2]) & 0x3F), 3)
        }
        return (((b0 & 0x07) << 18) | ((UInt32(b[i + 1]) & 0x3F) << 12) | ((UInt32(b[i + 2]) & 0x3F) << 6)
            | (UInt32(b[i + 3]) & 0x3F), 4)
    }

    // MARK: emitting and cutting

    /// Emits `seg[..<end]` (trimmed) as a segment and starts a new one (`vck_emit`: the same code
    /// as the C loop's).
    private mutating func emit(upTo end: Int) {
        lendBuffers(room: 0)
        vck_emit(&facts, Int64(end))
        takeBuffers()
    }

    /// Moves the segment's emoji to the ready ones (the segment just emitted counts them).
    private mutating func moveEmojiToReady() {
        for k in 0..<emojiCount {
            if readyEmojiCount < readyEmoji.count { readyEmoji[readyEmojiCount] = emoji[k] } else { readyEmoji.append(emoji[k]) }
            readyEmojiCount += 1
        }
        emojiCount = 0
    }

    /// Emits `seg[..<offset]` and feeds the rest again as the start of the next segment (the rest
    /// is short: a list marker, or the tail after a break).
    private mutating func cut(at offset: Int) {
        // A local copy: feeding the tail may cut again (a tail longer than the limit).
        var tail = ByteBuffer(capacity: seg.count - offset)
        tail.append(seg, offset..<seg.count)
        pending = .none
        emit(upTo: offset)
        var i = 0
        while i < tail.count {
            let (c, len) = SegmentBuilder.decode(tail, i)
            i += len
            feed(c)
        }
    }

    @inline(__always)
    private mutating func checkLength() {
        guard segChars >= options.maxSegmentChars else { return }
        guard !hasPending else { return }
        let half = options.maxSegmentChars / 2
        let at: Int
        if clauseBreak > 0 && clauseChars >= half { at = clauseBreak }
        else if spaceBreak > 0 && spaceChars >= half { at = spaceBreak }
        else if cjkBreak > 0 && cjkChars >= half { at = cjkBreak }
        else { at = max(clauseBreak, spaceBreak, cjkBreak) }
        cut(at: at > 0 ? at : seg.count)
    }
}

/// `facts` holds pointers: to immutable tables built once, and to the builder's own buffers, which
/// are lent afresh before every C call that writes (`lendBuffers`; the ready storage is copied
/// before input when a copy of the splitter shares it), so a copy sent elsewhere never writes
/// through another copy's pointers. The exception, `armLoop`, lends the segment buffer across
/// pushes only to a splitter that is never copied (the C ABI's handle).
extension SegmentBuilder: @unchecked Sendable {}
