/// Classification of Unicode scalars by the splitter's needs. Everything is a range test on the
/// scalar value (ASCII first), so the hot path never builds a Character or consults Unicode tables.
enum ScalarClass {
    @inline(__always) static func isWhitespace(_ c: UInt32) -> Bool {
        c == 0x20 || (c >= 0x09 && c <= 0x0D) || c == 0xA0 || c == 0x3000 || c == 0x2028 || c == 0x2029
            || (c >= 0x2000 && c <= 0x200A) || c == 0x202F || c == 0x205F || c == 0x1680 || c == 0x85
    }

    @inline(__always) static func isASCIIDigit(_ c: UInt32) -> Bool { c &- 0x30 < 10 }

    /// ASCII and full-width digits.
    @inline(__always) static func isDigit(_ c: UInt32) -> Bool { c &- 0x30 < 10 || c &- 0xFF10 < 10 }

    @inline(__always) static func isASCIILetter(_ c: UInt32) -> Bool { (c | 0x20) &- 0x61 < 26 }

    /// Han, Kana, Hangul and their punctuation-free neighbours: text written without spaces, where a
    /// long run may be cut between any two characters.
    @inline(__always) static func isCJK(_ c: UInt32) -> Bool {
        guard c >= 0x2E80 else { return false }
        return (c >= 0x3040 && c <= 0x30FF) || (c >= 0x3400 && c <= 0x4DBF) || (c >= 0x4E00 && c <= 0x9FFF)
            || (c >= 0xAC00 && c <= 0xD7AF) || (c >= 0x1100 && c <= 0x11FF) || (c >= 0xF900 && c <= 0xFAFF)
            || (c >= 0x20000 && c <= 0x3FFFF) || (c >= 0x31F0 && c <= 0x31FF) || (c >= 0xFF66 && c <= 0xFF9F)
            || (c >= 0x2E80 && c <= 0x2FDF) || c == 0x3005 || c == 0x3007
    }

    /// Marks that end a sentence in any context: CJK full stops, full-width ! ? ;, Devanagari danda,
    /// Arabic/Urdu marks, double punctuation signs.
    @inline(__always) static func isHardTerminator(_ c: UInt32) -> Bool {
        switch c {
        case 0x3002, 0xFF01, 0xFF1F, 0xFF1B, 0xFF61, 0x0964, 0x0965, 0x061F, 0x06D4, 0x203C, 0x2047, 0x2048, 0x2049,
             0x0589, 0x1362, 0x1367, 0x1368, 0x104A, 0x104B, 0x17D4, 0x0F0D: return true
        default: return false
        }
    }

    /// Closing quotes and brackets: they stay with the sentence they close.
    @inline(__always) static func isCloser(_ c: UInt32) -> Bool {
        switch c {
        case 0x22, 0x27, 0x29, 0x5D, 0x7D, 0x2019, 0x201D, 0xBB, 0x203A, 0x300D, 0x300F, 0xFF09, 0x3011, 0x300B,
             0x3009, 0xFF3D, 0xFF5D, 0x3015, 0x3017, 0x3019, 0x301B, 0x301E, 0x301F, 0xFF02, 0xFF07: return true
        default: return false
        }
    }

    /// Opening quotes and brackets, skipped when looking at the word before a period.
    @inline(__always) static func isOpener(_ c: UInt32) -> Bool {
        switch c {
        case 0x22, 0x27, 0x28, 0x5B, 0x7B, 0x2018, 0x201C, 0x201E, 0xAB, 0x2039, 0x300C, 0x300E, 0xFF08, 0x3010,
             0x300A, 0x3008, 0xBF, 0xA1: return true
        default: return false
        }
    }

    /// List bullets that are not markdown syntax (markdown's `-`, `*`, `+` are handled per line).
    @inline(__always) static func isBullet(_ c: UInt32) -> Bool {
        c == 0x2022 || c == 0x2043 || c == 0x25E6 || c == 0x25AA || c == 0x2023 || c == 0x25CF || c == 0x25AB
    }

    /// Clause marks: where an over-long run is best cut.
    @inline(__always) static func isClauseMark(_ c: UInt32) -> Bool {
        c == 0x2C || c == 0x3A || c == 0x3B || c == 0xFF0C || c == 0x3001 || c == 0xFF1A || c == 0xFF1B || c == 0x060C
            || c == 0x2014 || c == 0x2013
    }

    /// Letters, digits and other non-punctuation: a segment needs at least one to be spoken.
    @inline(__always) static func isWordScalar(_ c: UInt32) -> Bool {
        if c < 0x80 { return isASCIILetter(c) || isASCIIDigit(c) }
        if c &- 0x2000 < 0xC00 || c &- 0x3000 < 0x40 || c &- 0xFE10 < 0x60 || c &- 0xFF01 < 0xF || c &- 0xFF1A < 7
            || c &- 0xFF3B < 6 || c &- 0xFF5B < 0xB { return false }
        switch c {
        case 0xA1, 0xA7, 0xAB, 0xB6, 0xB7, 0xBB, 0xBF, 0xD7, 0xF7, 0x0964, 0x0965, 0x061F, 0x060C, 0x06D4: return false
        default: return true
        }
    }

    /// Letter case, for the few scripts whose sentences start with a capital (asked at decisions
    /// and token starts only; Unicode properties for the rest, out of line: inlined, they make
    /// every caller fetch the properties' metadata on entry).
    @inline(never) static func isLowercase(_ c: UInt32) -> Bool {
        if c < 0x80 { return c &- 0x61 < 26 }
        if c >= 0x400 && c <= 0x45F { return c >= 0x430 }
        if c >= 0x2E80 && c <= 0xFFEF { return false }
        return Unicode.Scalar(c)?.properties.isLowercase ?? false
    }

    @inline(never) static func isUppercase(_ c: UInt32) -> Bool {
        if c < 0x80 { return c &- 0x41 < 26 }
        if c >= 0x400 && c <= 0x45F { return c < 0x430 }
        if c >= 0x2E80 && c <= 0xFFEF { return false }
        return Unicode.Scalar(c)?.properties.isUppercase ?? false
    }

    @inline(never) static func isLetter(_ c: UInt32) -> Bool {
        if c < 0x80 { return isASCIILetter(c) }
        if c >= 0x400 && c <= 0x45F || isCJK(c) { return true }
        return Unicode.Scalar(c)?.properties.isAlphabetic ?? false
    }

    /// Lower-cases Latin, Greek and Cyrillic letters for abbreviation look-up.
    @inline(__always) static func lower(_ c: UInt32) -> UInt32 {
        if c < 0x80 { return c &- 0x41 < 26 ? c | 0x20 : c }
        if c >= 0x410 && c <= 0x42F { return c + 0x20 }
        if c >= 0x400 && c <= 0x40F { return c + 0x50 }
        if (c >= 0xC0 && c <= 0xDE && c != 0xD7) || (c >= 0x391 && c <= 0x3AB) { return c + 0x20 }
        return c
    }

    /// Emoji and pictographs (dropped from speech, reported separately).
    @inline(__always) static func isEmojiBase(_ c: UInt32) -> Bool {
        if c < 0x2300 { return false }
        return (c >= 0x1F000 && c <= 0x1FAFF) || (c >= 0x2600 && c <= 0x27BF) || (c >= 0x2B05 && c <= 0x2B55)
            || c == 0x231A || c == 0x231B || (c >= 0x23E9 && c <= 0x23FA) || c == 0x2934 || c == 0x2935
            || c == 0x3030 || c == 0x303D || c == 0x3297 || c == 0x3299
    }

    /// Scalars that continue an emoji sequence: ZWJ, variation selectors, skin tones, tags, keycap.
    @inline(__always) static func isEmojiModifier(_ c: UInt32) -> Bool {
        c == 0x200D || c == 0xFE0F || c == 0xFE0E || c == 0x20E3 || (c >= 0x1F3FB && c <= 0x1F3FF)
            || (c >= 0xE0020 && c <= 0xE007F)
    }
}
