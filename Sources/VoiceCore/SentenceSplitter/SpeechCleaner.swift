/// The stage before segmentation: removes what must not be spoken — `<think>` reasoning blocks,
/// markdown syntax (emphasis, heading hashes, bullets, code fences, link targets) and emoji (which
/// are reported) — and turns markdown line structure (blank lines, list items, headings) into
/// segment boundaries. Everything is decided with a few scalars of lookahead held in small
/// buffers, so tags and markers split across deltas behave exactly like whole ones.
/// With `strip == false` only the line structure is applied and every scalar passes unchanged.
struct SpeechCleaner {
    let strip: Bool

    private static let openTag: [UInt32] = Array("<think>".unicodeScalars.map(\.value))
    private static let closeTag: [UInt32] = Array("</think>".unicodeScalars.map(\.value))

    private var inThink = false
    private var tagMatched = 0

    private var atLineStart = true
    private var lineHold: [UInt32] = []
    private var headingLine = false
    private var inFence = false
    private var skipRestOfLine = false

    private enum LinkState { case none, text, afterText, target }
    private var link: LinkState = .none
    private var linkHeld: [UInt32] = []
    private static let maxLinkText = 200

    private var underscores = 0
    private var tildes = 0
    private var previousWord = false

    /// The emoji being collected (base, modifiers, ZWJ sequence) as UTF-8.
    private var emojiBytes: [UInt8] = []
    private var collectingEmoji = false
    private var afterZWJ = false
    private var regionalOpen = false

    init(strip: Bool) {
        self.strip = strip
    }

    @inline(__always)
    mutating func feed(_ c: UInt32, _ out: inout SegmentBuilder) {
        if strip {
            if tagMatched > 0 || c == 0x3C {
                thinkTag(c, &out)
                return
            }
            if inThink { return }
        }
        line(c, &out)
    }

    /// Whether a letter would pass straight to the builder, changing only `previousWord`: nothing
    /// is held or being dropped.
    var isIdle: Bool {
        !skipRestOfLine && !atLineStart && (!strip || tagMatched == 0 && !inThink && link == .none
            && underscores == 0 && tildes == 0 && !collectingEmoji)
    }

    /// A run of words went to the builder past the idle cleaner (`SegmentBuilder.appendRun`).
    mutating func wordsPassed() { previousWord = true }

    /// End of input: releases what was held, then ends the reply.
    mutating func finish(_ out: inout SegmentBuilder) {
        if !inThink { for t in SpeechCleaner.openTag[..<tagMatched] { line(t, &out) } }
        tagMatched = 0
        releaseLineHold(&out)
        if link == .text || link == .afterText { abortLink(&out, closed: link == .afterText) }
        link = .none
        tildesAndUnderscores(before: 0x20, &out)
        flushEmoji(&out)
        out.finish()
        self = SpeechCleaner(strip: strip)  // the next reply starts afresh
    }

    @inline(never)
    private mutating func thinkTag(_ c: UInt32, _ out: inout SegmentBuilder) {
        let tag = inThink ? SpeechCleaner.closeTag : SpeechCleaner.openTag
        if c == tag[tagMatched] {
            tagMatched += 1
            if tagMatched == tag.count {
                tagMatched = 0
                inThink.toggle()
            }
            return
        }
        let matched = tagMatched
        tagMatched = 0
        if !inThink { for t in tag[..<matched] { line(t, &out) } }
        feed(c, &out)
    }

    // MARK: line structure

    @inline(__always)
    private mutating func line(_ c: UInt32, _ out: inout SegmentBuilder) {
        if skipRestOfLine {
            if c == 0x0A {
                skipRestOfLine = false
                atLineStart = true
                out.feed(0x0A)
            }
            return
        }
        if atLineStart && lineStart(c, &out) { return }
        inline(c, &out)
        if c == 0x0A {
            if headingLine {
                out.boundary()
                headingLine = false
            }
            atLineStart = true
        }
    }

    /// Handles a scalar at the start of a line; returns true when it was consumed.
    private mutating func lineStart(_ c: UInt32, _ out: inout SegmentBuilder) -> Bool {
        if lineHold.isEmpty {
            switch c {
            case 0x20, 0x09, 0x0D:
                return true
            case 0x0A:
                out.boundary()
                return true
            case 0x60, 0x23, 0x2D, 0x2A, 0x2B, 0x30...0x39:
                // A fence, or (outside fences) a heading, bullet or list number.
                if inFence && c != 0x60 { break }
                lineHold.append(c)
                return true
            case 0x3E where !inFence:
                out.boundary()
                if strip { return true }
            default:
                break
            }
            atLineStart = false
            return false
        }
        let first = lineHold[0]
        let last = lineHold[lineHold.count - 1]
        switch first {
        case 0x23 where c == 0x23 && lineHold.count < 6:
            lineHold.append(c)
            return true
        case 0x60 where c == 0x60:
            lineHold.append(c)
            if lineHold.count == 3 {
                lineHold.removeAll(keepingCapacity: true)
                out.boundary()
                inFence.toggle()
                atLineStart = false
                if strip { skipRestOfLine = true } else { for t in 0..<3 { _ = t; out.feed(0x60) } }
            }
            return true
        case 0x30...0x39 where ScalarClass.isASCIIDigit(last):
            if ScalarClass.isASCIIDigit(c) && lineHold.count < 3 || c == 0x2E || c == 0x29 {
                lineHold.append(c)
                return true
            }
        default:
            break
        }
        if c == 0x20 || c == 0x09 {
            let marker: Bool
            var keepText = !strip
            switch first {
            case 0x23:
                marker = true
                headingLine = true
            case 0x2D, 0x2A, 0x2B:
                marker = lineHold.count == 1
            case 0x30...0x39:
                marker = last == 0x2E || last == 0x29
                keepText = true
            default:
                marker = false
            }
            if marker {
                out.boundary()
                if keepText {
                    for h in lineHold { out.feed(h) }
                    out.feed(0x20)
                }
                lineHold.removeAll(keepingCapacity: true)
                atLineStart = false
                return true
            }
        }
        releaseLineHold(&out)
        return false
    }

    private mutating func releaseLineHold(_ out: inout SegmentBuilder) {
        atLineStart = false
        if lineHold.isEmpty { return }
        let held = lineHold
        lineHold.removeAll(keepingCapacity: true)
        for h in held { inline(h, &out) }
    }

    // MARK: inline markdown and emoji

    @inline(__always)
    private mutating func inline(_ c: UInt32, _ out: inout SegmentBuilder) {
        guard strip else {
            out.feed(c)
            return
        }
        switch link {
        case .none:
            if c == 0x5B {
                link = .text
                linkHeld.removeAll(keepingCapacity: true)
                return
            }
        case .text:
            if c == 0x5D {
                link = .afterText
                return
            }
            if c == 0x0A || c == 0x5B || linkHeld.count >= SpeechCleaner.maxLinkText {
                abortLink(&out, closed: false)
                return inline(c, &out)  // as `.none` takes it
            }
            linkHeld.append(c)
            return
        case .afterText:
            if c == 0x28 {
                link = .target
                for h in linkHeld { plain(h, &out) }
                linkHeld.removeAll(keepingCapacity: true)
                return
            }
            abortLink(&out, closed: true)
        case .target:
            if c == 0x29 {
                link = .none
                return
            }
            if !ScalarClass.isWhitespace(c) { return }
            link = .none
        }
        plain(c, &out)
    }

    private mutating func abortLink(_ out: inout SegmentBuilder, closed: Bool) {
        link = .none
        plain(0x5B, &out)
        for h in linkHeld { plain(h, &out) }
        linkHeld.removeAll(keepingCapacity: true)
        if closed { plain(0x5D, &out) }
    }

    @inline(__always)
    private mutating func plain(_ c: UInt32, _ out: inout SegmentBuilder) {
        if c == 0x5F {
            underscores += 1
            return
        }
        if c == 0x7E {
            tildes += 1
            return
        }
        if underscores | tildes != 0 { tildesAndUnderscores(before: c, &out) }
        if c == 0x2A || c == 0x60 { return }
        if c >= 0x200D && ScalarClass.isEmojiModifier(c) {
            if collectingEmoji {
                UTF8Stream.encode(c, into: &emojiBytes)
                afterZWJ = c == 0x200D
            }
            return
        }
        if ScalarClass.isEmojiBase(c) {
            let regional = c >= 0x1F1E6 && c <= 0x1F1FF
            if !(afterZWJ || (regional && regionalOpen)) { flushEmoji(&out) }
            regionalOpen = regional && !regionalOpen
            afterZWJ = false
            UTF8Stream.encode(c, into: &emojiBytes)
            collectingEmoji = true
            return
        }
        if collectingEmoji { flushEmoji(&out) }
        out.feed(c)
        previousWord = ScalarClass.isWordScalar(c)
    }

    /// `snake_case` keeps its underscores; `_emphasis_` and `~~strike~~` lose their markers.
    private mutating func tildesAndUnderscores(before c: UInt32, _ out: inout SegmentBuilder) {
        if underscores > 0 {
            if previousWord && ScalarClass.isWordScalar(c) && c != 0x5F {
                for _ in 0..<underscores { out.feed(0x5F) }
            }
            underscores = 0
        }
        if tildes > 0 {
            if tildes == 1 {
                out.feed(0x7E)
                previousWord = false
            }
            tildes = 0
        }
    }

    private mutating func flushEmoji(_ out: inout SegmentBuilder) {
        if !collectingEmoji { return }
        out.addEmoji(String(decoding: emojiBytes, as: UTF8.self))
        emojiBytes.removeAll(keepingCapacity: true)
        collectingEmoji = false
        afterZWJ = false
        regionalOpen = false
    }
}
