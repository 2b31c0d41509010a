/// The scalars that the splitter's fast path may copy in bulk: letters and digits that mean
/// nothing to the cleaner or the segment builder beyond "a word goes on" (no quote, mark, bullet,
/// emoji or whitespace). The predicate is the slow path's own classification, evaluated once per
/// BMP scalar into a table, so the fast path cannot disagree with it.
enum PlainScalar {
    static let none: UInt8 = 0
    static let word: UInt8 = 1
    /// A plain Han/Kana/Hangul scalar: a long run may be cut between two of them.
    static let cjk: UInt8 = 2
    /// A clause mark whose only effect is a break point for the length limit (`,` `:` `，` `、` `：`).
    /// The commas may also end a reply's first segment: the fast path asks `commaMayEnd` first.
    static let clause: UInt8 = 3
    /// Punctuation that only goes into the segment (`'` `-` inside a line).
    static let mark: UInt8 = 4

    /// A word or CJK scalar: one that sets the segment's and token's word facts.
    @inline(__always) static func isWord(_ kind: UInt8) -> Bool { kind &- 1 < 2 }

    /// Kind of every scalar below U+10000 (surrogates are `none`): built once, never freed or
    /// written again, so the splitter can keep a plain pointer to it.
    static let table: Table = {
        let t = UnsafeMutablePointer<UInt8>.allocate(capacity: 0x10000)
        for c in 0..<0x10000 { t[c] = kind(UInt32(c)) }
        return Table(base: UnsafePointer(t))
    }()

    /// In `kernelTable`: a lower-case word scalar (`VCK_PLAIN_LOWER`), and a word scalar
    /// (`ScalarClass.isWordScalar`, asked for every scalar on the slow path).
    static let lowercaseBit: UInt8 = 0x80
    static let wordScalarBit: UInt8 = 0x40

    /// `table` (low 3 bits) with `lowercaseBit` and `wordScalarBit`: the table of the C bulk path
    /// (`vck_plain_run`), which needs the case of a token's first letter.
    static let kernelTable: Table = {
        let t = UnsafeMutablePointer<UInt8>.allocate(capacity: 0x10000)
        for c in 0..<0x10000 {
            var k = table[c]
            if k == word && ScalarClass.isLowercase(UInt32(c)) { k |= lowercaseBit }
            if ScalarClass.isWordScalar(UInt32(c)) { k |= wordScalarBit }
            t[c] = k
        }
        return Table(base: UnsafePointer(t))
    }()

    /// `ScalarClass.isWordScalar(c)`, a table load for the BMP (`t` is `kernelTable`).
    @inline(__always) static func isWordScalar(_ c: UInt32, _ t: Table) -> Bool {
        c < 0x10000 ? t[Int(c)] & wordScalarBit != 0 : isWordScalarBeyondBMP(c)
    }

    /// Out of line, so that the table load above stays small enough to be inlined everywhere.
    @inline(never) private static func isWordScalarBeyondBMP(_ c: UInt32) -> Bool {
        ScalarClass.isWordScalar(c)
    }

    /// The immutable kind table; sharing it between threads is safe because nothing writes to it
    /// after it is built.
    struct Table: @unchecked Sendable {
        let base: UnsafePointer<UInt8>
        @inline(__always) subscript(c: Int) -> UInt8 { base[c] }
    }

    static func kind(_ c: UInt32) -> UInt8 {
        if c < 0x80 {
            if ScalarClass.isASCIILetter(c) || ScalarClass.isASCIIDigit(c) { return word }
            if c == 0x2C || c == 0x3A { return clause }
            if c == 0x27 || c == 0x2D { return mark }
            return none
        }
        if c == 0xFF0C || c == 0x3001 || c == 0xFF1A { return clause }
        if c >= 0xD800 && c <= 0xDFFF { return none }
        guard ScalarClass.isWordScalar(c), !ScalarClass.isWhitespace(c), !ScalarClass.isEmojiBase(c),
              !ScalarClass.isEmojiModifier(c), !ScalarClass.isHardTerminator(c), !ScalarClass.isBullet(c),
              !ScalarClass.isClauseMark(c), !ScalarClass.isCloser(c), !ScalarClass.isOpener(c),
              !SegmentBuilder.tracksQuote(c), c != 0x2026, c != 0xFF0E, c != 0xFF0C
        else { return none }
        return ScalarClass.isCJK(c) ? cjk : word
    }

    /// Decodes the well-formed 2- or 3-byte sequence at `p[i]` (lead byte >= 0x80) when it lies
    /// wholly before `n`; returns (scalar, length) or nil (malformed, 4-byte or cut off: the
    /// slow path deals with those).
    @inline(__always)
    static func decodeBMP(_ p: UnsafePointer<UInt8>, _ i: Int, _ n: Int) -> (UInt32, Int)? {
        let b0 = p[i]
        if b0 >= 0xC2 && b0 <= 0xDF {
            guard i + 1 < n else { return nil }
            let b1 = p[i + 1]
            guard b1 & 0xC0 == 0x80 else { return nil }
            return ((UInt32(b0 & 0x1F) << 6) | UInt32(b1 & 0x3F), 2)
        }
        if b0 >= 0xE0 && b0 <= 0xEF {
            guard i + 2 < n else { return nil }
            let b1 = p[i + 1], b2 = p[i + 2]
            guard b1 & 0xC0 == 0x80, b2 & 0xC0 == 0x80 else { return nil }
            let c = (UInt32(b0 & 0x0F) << 12) | (UInt32(b1 & 0x3F) << 6) | UInt32(b2 & 0x3F)
            // Overlong forms and surrogates are malformed.
            guard c >= 0x800, c < 0xD800 || c > 0xDFFF else { return nil }
            return (c, 3)
        }
        return nil
    }
}
