/// Cuts a document into overlapping chunks of about `size` characters (Unicode scalars), ending
/// chunks at the strongest boundary near the limit: a paragraph end, else a sentence end, else
/// a space. Each chunk records its scalar offsets in the document for citations.
struct Chunker: Sendable {
    /// Target chunk size in characters; 0 keeps each document whole.
    var size = 1000
    /// Fraction of `size` that consecutive chunks share (0...0.5).
    var overlap = 0.15

    struct Span: Sendable, Equatable { var start: Int; var end: Int; var text: String }

    /// Sentence ends (exclusive scalar offsets) inside one paragraph, from the SentenceSplitter's
    /// batch mode.
    static func sentenceEnds(_ paragraph: [Unicode.Scalar]) -> [Int] {
        locate(SentenceSplitter.split(String(String.UnicodeScalarView(paragraph)), options: .batch), in: paragraph)
    }

    /// Maps split sentences back to offsets: each sentence's last few non-space scalars are found
    /// after the previous end. (The splitter may normalize spacing, so whole-text matching would
    /// be brittle; a sentence that cannot be located just contributes no boundary.)
    static func locate(_ sentences: [String], in paragraph: [Unicode.Scalar]) -> [Int] {
        var ends: [Int] = []
        var cursor = 0
        for sentence in sentences {
            let tail = Array(sentence.unicodeScalars.filter { !isSpace($0) }.suffix(6))
            if tail.isEmpty { continue }
            var k = cursor, matched = 0, end = -1
            var scan = cursor
            while scan < paragraph.count {
                if isSpace(paragraph[scan]) { scan += 1; continue }
                if paragraph[scan] == tail[matched] {
                    if matched == 0 { k = scan }
                    matched += 1
                    scan += 1
                    if matched == tail.count { end = scan; break }
                } else if matched > 0 {
                    scan = k + 1; matched = 0
                } else {
                    scan += 1
                }
            }
            if end > 0 { ends.append(end); cursor = end }
        }
        return ends
    }

    /// The whole text as one chunk, trimmed; no chunk when it is blank.
    static func whole(_ text: String) -> [Span] {
        let scalars = text.unicodeScalars
        var lo = 0, hi = 0, n = 0
        var first = -1
        for sc in scalars {
            if !isSpace(sc) { if first < 0 { first = n }; hi = n + 1 }
            n += 1
        }
        if first < 0 { return [] }
        lo = first
        if lo == 0 && hi == n { return [Span(start: 0, end: n, text: text)] }
        let a = scalars.index(scalars.startIndex, offsetBy: lo), b = scalars.index(scalars.startIndex, offsetBy: hi)
        return [Span(start: lo, end: hi, text: String(scalars[a..<b]))]
    }

    /// Unicode White_Space; ASCII (tab…carriage return, space) answered without the property table.
    @inline(__always)
    static func isSpace(_ s: Unicode.Scalar) -> Bool {
        let v = s.value
        if v < 0x80 { return v == 0x20 || (v >= 0x09 && v <= 0x0D) }
        return s.properties.isWhitespace
    }

    func chunks(_ text: String) -> [Span] {
        if size == 0 || text.unicodeScalars.count <= size { return Self.whole(text) }
        let s = Array(text.unicodeScalars)
        let n = s.count
        // Boundary strength at each offset: 3 paragraph end, 2 sentence end, 1 space.
        var strength = [UInt8](repeating: 0, count: n + 1)
        var i = 0
        while i < n {
            // A paragraph runs to the next blank line.
            var j = i
            while j < n {
                if s[j] == "\n" {
                    var k = j + 1
                    while k < n && s[k] != "\n" && Self.isSpace(s[k]) { k += 1 }
                    if k < n && s[k] == "\n" { break }
                }
                j += 1
            }
            for e in Self.sentenceEnds(Array(s[i..<j])) where i + e <= n { strength[i + e] = max(strength[i + e], 2) }
            strength[j] = 3
            i = j + 1
        }
        for k in 0..<n where Self.isSpace(s[k]) { strength[k] = max(strength[k], 1) }
        strength[n] = 3

        func span(_ a: Int, _ b: Int) -> Span? {
            var lo = a, hi = b
            while lo < hi && Self.isSpace(s[lo]) { lo += 1 }
            while hi > lo && Self.isSpace(s[hi - 1]) { hi -= 1 }
            if lo >= hi { return nil }
            var t = String.UnicodeScalarView()
            t.append(contentsOf: s[lo..<hi])
            return Span(start: lo, end: hi, text: String(t))
        }
        guard size > 0, n > size else { return span(0, n).map { [$0] } ?? [] }

        let overlapChars = Int(Double(size) * min(0.5, max(0, overlap)))
        var out: [Span] = []
        var start = 0
        while start < n {
            var end = n
            if start + size < n {
                let limit = start + size
                var best = -1, bestStrength: UInt8 = 0
                var k = limit
                while k > start + size / 2 {
                    if strength[k] > bestStrength { best = k; bestStrength = strength[k]; if bestStrength == 3 { break } }
                    k -= 1
                }
                end = best > start ? best : limit
            }
            if let c = span(start, end) { out.append(c) }
            if end >= n { break }
            var next = max(start + 1, end - overlapChars)
            if overlapChars > 0 {
                while next < end && strength[next] == 0 { next += 1 }
            } else {
                next = end
            }
            start = next
        }
        return out
    }
}
