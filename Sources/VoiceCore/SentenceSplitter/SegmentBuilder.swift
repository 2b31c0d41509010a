/// The segmentation state machine: Unicode scalars of (cleaned) text in, segments out. It keeps
/// the current segment's UTF-8 bytes and a handful of facts about them, updated per scalar, so a
/// decision never re-reads more than the word before a period.
struct SegmentBuilder: Sendable {
    let options: SplitterOptions
    private let abbreviations: Abbreviations

    private var ready = Ring<Segment>()
    private var nextIndex = 0
    /// Segments emitted since the reply started; the comma rule applies to the first only.
    private var emittedInReply = 0

    /// The current segment's UTF-8 bytes and the facts about them (`emit` resets both).
    private var seg: [UInt8] = []
    private var facts = Facts()
    private var pending: PendingEnd = .none {
        didSet {
            if case .none = pending { hasPending = false } else { hasPending = true }
        }
    }
    /// `pending` is not `.none` (asked per scalar: one load).
    private var hasPending = false
    /// The emoji removed from the current segment.
    private var emoji: [String] = []

    private struct Facts {
        /// Unicode scalars in `seg`.
        var chars = 0
        var hasWord = false, spacePending = false, lastWasCJK = false
        /// A space that preceded removed text (an emoji) is not kept before punctuation ("breeze ☀️.").
        var spaceBeforeRemoved = false
        /// Open quotes and brackets: a sentence does not end inside them (its end may follow the closer).
        var quoteDepth = 0
        var lastScalar: UInt32 = 0
        var list: ListMarker = .none
        // The current token (the text since the last whitespace).
        var tokenStart = 0, tokenIndex = 0
        var tokenHasWord = false, tokenFirstLower = false, previousWordLower = false
        // Where an over-long segment can be cut: byte offset and scalar count at that point.
        var clauseBreak = 0, clauseChars = 0
        var spaceBreak = 0, spaceChars = 0
        var cjkBreak = 0, cjkChars = 0
    }

    init(options: SplitterOptions) {
        self.options = options
        abbreviations = Abbreviations(language: options.language)
        seg.reserveCapacity(256)
    }

    // MARK: output

    var hasReady: Bool { !ready.isEmpty }
    /// `appendRun` may be called: no end is pending.
    var acceptsRun: Bool { !hasPending }

    mutating func nextSegment() -> Segment? { ready.pop() }

    mutating func addEmoji(_ e: String) {
        emoji.append(e)
        facts.spaceBeforeRemoved = facts.spacePending
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
        if !emoji.isEmpty {
            // A reply of only emoji: one segment with empty text.
            ready.push(Segment(text: "", emoji: emoji, index: nextIndex))
            nextIndex += 1
            emoji = []
        }
        emittedInReply = 0
    }

    // MARK: input

    @inline(__always)
    mutating func feed(_ c: UInt32) {
        if !hasPending {
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

    /// A pending `.nextWord`: a letter or apostrophe extends that word (true: `c` went in); anything
    /// else decides it (false).
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
    private mutating func settleMark(_ c: UInt32) -> Bool {
        switch pending {
        case .none:
            return false
        case .latin(var p):
            return resolveLatin(&p, c)
        case .hard(let end):
            if facts.quoteDepth > 0 && !ScalarClass.isCloser(c) {
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
            if !((c == 0x3068 || c == 0x3063) && end > 0 && ScalarClass.isCloser(facts.lastScalar)) { emit(upTo: end) }
            return false
        case .comma, .nextWord:
            pending = .none
            return false
        }
    }

    private mutating func decideNextWord(_ p: LatinEnd, _ h: UInt64) {
        pending = .none
        if Abbreviations.startsSentence(hash: h) { cut(at: p.end) }
    }

    private mutating func whitespace(_ c: UInt32) {
        if hasPending {
            switch pending {
            case .hard(let end), .comma(let end):
                pending = .none
                if facts.quoteDepth == 0 { return emit(upTo: end) }
            default:
                break
            }
        }
        if seg.isEmpty { return }
        facts.spacePending = true
        if !options.cleanForSpeech { append(c) }
    }

    /// Resolves a pending Latin end with the next non-space scalar. Returns true when the scalar
    /// was absorbed into the end (more marks, closing quotes).
    private mutating func resolveLatin(_ p: inout LatinEnd, _ c: UInt32) -> Bool {
        let sawSpace = facts.spacePending
        if !sawSpace {
            if c == 0x2E || c == 0x21 || c == 0x3F || c == 0x2026 || c == 0xFF01 || c == 0xFF1F {
                if c == 0x2E || c == 0x2026 {
                    p.dots += c == 0x2026 ? 3 : 1
                    if p.dots >= 2 { p.mark = .ellipsis }
                } else if p.mark == .dot {
                    p.mark = .exclaim
                }
                return extend(&p, c)
            }
            if ScalarClass.isCloser(c) { return extend(&p, c) }
        } else if c == 0x2E && (p.mark == .dot || p.mark == .ellipsis) {
            materializeSpace(before: c)
            p.dots += 1
            p.spacedDots += 1
            p.mark = .ellipsis
            return extend(&p, c)
        }
        pending = .none
        guard facts.hasWord && facts.quoteDepth == 0 && p.word != .openerOnly && endsSentence(p, next: c, afterSpace: sawSpace)
        else { return false }
        if (p.word == .acronym || p.word == .abbreviation(.other)) && sawSpace && ScalarClass.isUppercase(c) {
            // The next word decides. Pending before the scalar goes in, so the length check cannot
            // cut under `p.end`.
            pending = .nextWord(p, hash: Abbreviations.hashStep(Abbreviations.hashStart(), ScalarClass.lower(c)))
            normal(c)
            return true
        }
        emit(upTo: p.end)
        return false
    }

    /// `c` joins the pending end (another mark, a closer): the end moves past it.
    private mutating func extend(_ p: inout LatinEnd, _ c: UInt32) -> Bool {
        append(c)
        p.end = seg.count
        pending = .latin(p)
        return true
    }

    private func endsSentence(_ p: LatinEnd, next c: UInt32, afterSpace: Bool) -> Bool {
        if !afterSpace {
            if ScalarClass.isCJK(c) { return true }
            switch p.mark {
            case .dot: return false
            case .ellipsis: return p.dots >= 3 && ScalarClass.isUppercase(c)
            case .exclaim, .semicolon: return !(ScalarClass.isWordScalar(c) || c == 0x2C || c == 0x3A)
            }
        }
        if p.mark == .semicolon { return true }
        if ScalarClass.isLowercase(c) { return false }
        switch p.mark {
        case .exclaim, .semicolon: return true
        // ". . ." inside a sentence; four marks (". . . ." or "....") end one.
        case .ellipsis: return !(p.spacedDots > 0 && p.dots == 3)
        case .dot: break
        }
        switch p.word {
        case .empty, .word, .multiPeriod, .acronym: return true
        case .openerOnly, .initialLower: return false
        case .number: return !p.firstToken
        case .initialUpper(let isI): return isI && p.previousWordLower && !ScalarClass.isDigit(c)
        case .abbreviation(let kind): return kind == .other && !ScalarClass.isDigit(c)
        }
    }

    private mutating func materializeSpace(before c: UInt32) {
        facts.spacePending = false
        let dropSpace = facts.spaceBeforeRemoved && (c == 0x2E || c == 0x2C || c == 0x21 || c == 0x3F || c == 0x3B
            || c == 0x3A || (c > 0x2FFF && !ScalarClass.isWordScalar(c)))
        facts.spaceBeforeRemoved = false
        if options.cleanForSpeech && !dropSpace && !(facts.lastWasCJK && ScalarClass.isCJK(c)) {
            seg.append(0x20)
            facts.chars += 1
        }
        facts.spaceBreak = seg.count
        facts.spaceChars = facts.chars
        if facts.tokenHasWord {
            facts.tokenIndex += 1
            facts.previousWordLower = facts.tokenFirstLower
        }
        facts.tokenStart = seg.count
        facts.tokenHasWord = false
    }

    @inline(__always)
    private mutating func normal(_ c: UInt32) {
        if facts.spacePending { materializeSpace(before: c) }
        if c < 0x80 {
            switch c {
            case 0x2E: period(c)
            case 0x21, 0x3F: mark(c, .exclaim)
            case 0x3B: mark(c, .semicolon)
            case 0x29: // )
                if facts.tokenIndex > 0, startsNextListItem(dot: false) { cut(at: facts.tokenStart) }
                if facts.tokenIndex == 0, facts.list == .none, case let .number(n) = classifyToken() { facts.list = .number(n) }
                append(c)
            case 0x2C, 0x3A: // , :
                append(c)
                clauseBreak()
                if c == 0x2C && commaMayEnd(charsBefore: facts.chars - 1) { pending = .comma(end: seg.count) }
            default: append(c)
            }
        } else {
            switch c {
            case 0x2026: mark(c, .ellipsis)
            case 0xFF0E: period(c)
            default:
                if ScalarClass.isHardTerminator(c) {
                    append(c)
                    pending = .hard(end: seg.count)
                } else if ScalarClass.isBullet(c) {
                    if seg.isEmpty {
                        facts.list = .bullet
                    } else if facts.list == .bullet && facts.tokenStart == seg.count {
                        cut(at: facts.tokenStart)
                        facts.list = .bullet
                    }
                    append(c)
                } else if ScalarClass.isCJK(c) {
                    if facts.lastWasCJK {
                        facts.cjkBreak = seg.count
                        facts.cjkChars = facts.chars
                    }
                    append(c)
                    facts.lastWasCJK = true
                    checkLength()
                    return
                } else {
                    append(c)
                    if ScalarClass.isClauseMark(c) { clauseBreak() }
                    // A full-width comma needs no space after it to end the first segment.
                    if c == 0xFF0C && commaMayEnd(charsBefore: facts.chars - 1) { emit(upTo: seg.count) }
                }
            }
        }
        facts.lastWasCJK = false
        checkLength()
    }

    @inline(__always)
    private mutating func clauseBreak() {
        facts.clauseBreak = seg.count
        facts.clauseChars = facts.chars
    }

    @inline(__always)
    private mutating func append(_ c: UInt32) {
        let word: Bool
        if c < 0x80 {
            if c == 0x22 || c == 0x28 || c == 0x29 || c == 0x5B || c == 0x5D { trackQuote(c) }
            seg.append(UInt8(truncatingIfNeeded: c))
            word = ScalarClass.isASCIILetter(c) || ScalarClass.isASCIIDigit(c)
        } else {
            if c == 0xAB || c == 0xBB || (c >= 0x2018 && c <= 0x201E) || (c >= 0x3008 && c <= 0x300F) { trackQuote(c) }
            UTF8Stream.encode(c, into: &seg)
            word = ScalarClass.isWordScalar(c)
        }
        counted(c, word: word)
    }

    /// The facts every scalar of the segment updates.
    @inline(__always)
    private mutating func counted(_ c: UInt32, word: Bool) {
        if word {
            facts.hasWord = true
            if !facts.tokenHasWord {
                facts.tokenHasWord = true
                facts.tokenFirstLower = ScalarClass.isLowercase(c)
            }
        }
        facts.lastScalar = c
        facts.chars += 1
    }

    private mutating func trackQuote(_ c: UInt32) {
        let atWordStart = facts.tokenStart == seg.count
        switch c {
        case 0x22:
            // A straight quote opens at the start of a word, otherwise it closes.
            if atWordStart || ScalarClass.isOpener(facts.lastScalar) {
                facts.quoteDepth += 1
            } else if facts.quoteDepth > 0 {
                facts.quoteDepth -= 1
            }
        case 0x28, 0x5B, 0xAB, 0x201C, 0x201E, 0x300A, 0x3008, 0x300C, 0x300E:
            facts.quoteDepth += 1
        case 0x2018:
            if atWordStart { facts.quoteDepth += 1 }
        case 0x2019:
            // Also the apostrophe ("one’s"): it closes only after punctuation.
            if facts.quoteDepth > 0 && !ScalarClass.isWordScalar(facts.lastScalar) { facts.quoteDepth -= 1 }
        case 0x29, 0x5D, 0xBB, 0x201D, 0x300B, 0x3009, 0x300D, 0x300F:
            if facts.quoteDepth > 0 { facts.quoteDepth -= 1 }
        default:
            break
        }
    }

    private mutating func period(_ c: UInt32) {
        if facts.tokenIndex > 0, startsNextListItem(dot: true) { cut(at: facts.tokenStart) }
        let word = classifyToken()
        if facts.tokenIndex == 0, facts.list == .none {
            switch word {
            case .number(let n): facts.list = .number(n)
            case .initialLower(let l): facts.list = .letter(l)
            default: break
            }
        }
        mark(c, .dot, word: word)
    }

    /// A possible sentence end after `word`: always one after CJK text, else decided by what follows.
    private mutating func mark(_ c: UInt32, _ kind: EndMark, word: WordClass? = nil) {
        let word = word ?? (kind == .ellipsis ? classifyToken() : .word)
        let afterCJK = facts.lastWasCJK
        append(c)
        facts.lastWasCJK = false
        if kind == .semicolon && !options.semicolonEnds { return }
        pending = afterCJK ? .hard(end: seg.count)
            : .latin(LatinEnd(end: seg.count, mark: kind, word: word, dots: kind == .dot ? 1 : kind == .ellipsis ? 3 : 0,
                              spacedDots: 0, firstToken: facts.tokenIndex == 0, previousWordLower: facts.previousWordLower))
    }

    private func commaMayEnd(charsBefore: Int) -> Bool {
        options.firstSegment == .comma && emittedInReply == 0 && facts.hasWord
            && charsBefore >= options.minFirstChars && facts.quoteDepth == 0
    }

    /// Takes the run of plain scalars at `p[start..<n]` (letters and digits of ASCII, Latin-1 and
    /// Latin Extended but × ÷, Cyrillic U+0400–U+045F, Kana, Han and Hangul: nothing any rule looks
    /// at but "a word goes on"), with single spaces between them when cleaning, while nothing is
    /// pending (`acceptsRun`): what `feed` does with each (`whitespace`, `normal`,
    /// `materializeSpace`, `append`), without the dispatch. Stops before the scalar that would
    /// reach the length limit.
    mutating func appendRun(_ p: UnsafePointer<UInt8>, _ start: Int, _ n: Int) -> Int {
        assert(!hasPending)
        let room = options.maxSegmentChars - 1
        var i = start, copied = start
        while i < n && facts.chars < room {
            var k = i
            if p[i] == 0x20 {
                guard options.cleanForSpeech && !facts.spacePending && i + 1 < n && seg.count + i - copied > 0
                else { break }
                k += 1
            }
            guard let (c, len) = UTF8Stream.decode(p, k, n), len == 1 ? ScalarClass.isASCIILetter(c) || ScalarClass.isASCIIDigit(c)
                : len == 2 ? c &- 0xC0 < 0x190 && c != 0xD7 && c != 0xF7 || c &- 0x400 < 0x60
                : len == 3 && (c &- 0x3040 < 0xC0 || c &- 0x3400 < 0x19C0 || c &- 0x4E00 < 0x5200 || c &- 0xAC00 < 0x2BB0)
            else { break }
            let cjk = len == 3
            if k > i || facts.spacePending {
                // A space before `c`: as `whitespace` then `materializeSpace(before: c)`.
                guard !(cjk && facts.lastWasCJK) && facts.chars + 1 < room else { break }
                seg.append(contentsOf: UnsafeBufferPointer(start: p + copied, count: i - copied))
                copied = k
                materializeSpace(before: c)
            }
            if cjk && facts.lastWasCJK {
                facts.cjkBreak = seg.count + k - copied
                facts.cjkChars = facts.chars
            }
            facts.lastWasCJK = cjk
            counted(c, word: true)
            i = k + len
        }
        seg.append(contentsOf: UnsafeBufferPointer(start: p + copied, count: i - copied))
        return i
    }

    // MARK: the word before a mark

    /// Classifies the current token (bytes since the last whitespace), skipping leading openers and
    /// bullets.
    private func classifyToken() -> WordClass {
        var count = 0, value = 0
        var first: UInt32 = 0
        var allDigits = true, hasDot = false, leading = true, skipped = false, lettersAndDots = true
        var h = Abbreviations.hashStart()
        UTF8Stream.forEachScalar(seg[facts.tokenStart...]) { c in
            if leading && (ScalarClass.isOpener(c) || ScalarClass.isBullet(c)) {
                skipped = true
                return
            }
            if c != 0x2E && !ScalarClass.isLetter(c) { lettersAndDots = false }
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

    /// In a segment that started with list marker N (or letter x), a later "N+1." / "N+1)" (or
    /// "y.") starts the next item.
    private func startsNextListItem(dot: Bool) -> Bool {
        let start = facts.tokenStart, len = seg.count - start
        switch facts.list {
        case .number(let n):
            guard len > 0, len <= 3 else { return false }
            var v = 0
            for b in seg[start...] {
                guard b &- 0x30 < 10 else { return false }
                v = v * 10 + Int(b - 0x30)
            }
            return v == n + 1
        case .letter(let l):
            return dot && len == 1 && UInt32(seg[start]) == l + 1
        default:
            return false
        }
    }

    // MARK: emitting and cutting

    /// Emits `seg[..<end]`, trimmed, as a segment (when it has a word, or always without cleaning)
    /// and starts a new one.
    private mutating func emit(upTo end: Int) {
        var lo = 0, hi = end
        while lo < hi && seg[lo] <= 0x20 { lo += 1 }
        while hi > lo && seg[hi - 1] <= 0x20 { hi -= 1 }
        // Non-ASCII whitespace at the end: no-break space, then ideographic space.
        while hi - lo >= 2 && seg[hi - 2] == 0xC2 && seg[hi - 1] == 0xA0 { hi -= 2 }
        while hi - lo >= 3 && seg[hi - 3] == 0xE3 && seg[hi - 2] == 0x80 && seg[hi - 1] == 0x80 { hi -= 3 }
        if lo < hi && (facts.hasWord || !options.cleanForSpeech) {
            ready.push(Segment(text: String(decoding: seg[lo..<hi], as: UTF8.self), emoji: emoji, index: nextIndex))
            nextIndex += 1
            emittedInReply += 1
            emoji = []
        }
        seg.removeAll(keepingCapacity: true)
        facts = Facts()
    }

    /// Emits `seg[..<offset]` and feeds the rest again as the start of the next segment (the rest
    /// is short: a list marker, or the tail after a break).
    private mutating func cut(at offset: Int) {
        let tail = Array(seg[offset...])
        pending = .none
        emit(upTo: offset)
        UTF8Stream.forEachScalar(tail[...]) { feed($0) }
    }

    @inline(__always)
    private mutating func checkLength() {
        guard facts.chars >= options.maxSegmentChars, !hasPending else { return }
        let f = facts, half = options.maxSegmentChars / 2
        let at: Int
        if f.clauseBreak > 0 && f.clauseChars >= half { at = f.clauseBreak }
        else if f.spaceBreak > 0 && f.spaceChars >= half { at = f.spaceBreak }
        else if f.cjkBreak > 0 && f.cjkChars >= half { at = f.cjkBreak }
        else { at = max(f.clauseBreak, f.spaceBreak, f.cjkBreak) }
        cut(at: at > 0 ? at : seg.count)
    }
}
