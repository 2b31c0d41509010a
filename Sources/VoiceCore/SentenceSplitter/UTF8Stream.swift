/// UTF-8 decoding for the splitter. A sequence cut off at the end of a push is held and completed
/// from the next; malformed bytes (and a sequence still incomplete at the end) become U+FFFD, one
/// per maximal subpart (the WHATWG/Unicode practice), so hostile input never traps.
struct UTF8Stream: Sendable {
    /// The start of a sequence cut off at the end of the last push (at most 3 bytes).
    private var held: [UInt8] = []

    static let replacement: UInt32 = 0xFFFD

    /// The sequence at `p[i]`: (scalar, length) when whole and well-formed; (U+FFFD, length of
    /// its maximal subpart) when malformed; nil when it is a well-formed start cut off by `n`.
    @inline(__always)
    static func decode(_ p: UnsafePointer<UInt8>, _ i: Int, _ n: Int) -> (UInt32, Int)? {
        let b0 = p[i]
        if b0 < 0x80 { return (UInt32(b0), 1) }
        // The length, and the range of the second byte that excludes overlong forms, surrogates
        // and values past U+10FFFF.
        let len: Int, lo: UInt8, hi: UInt8
        switch b0 {
        case 0xC2...0xDF: (len, lo, hi) = (2, 0x80, 0xBF)
        case 0xE0: (len, lo, hi) = (3, 0xA0, 0xBF)
        case 0xED: (len, lo, hi) = (3, 0x80, 0x9F)
        case 0xE1...0xEF: (len, lo, hi) = (3, 0x80, 0xBF)
        case 0xF0: (len, lo, hi) = (4, 0x90, 0xBF)
        case 0xF1...0xF3: (len, lo, hi) = (4, 0x80, 0xBF)
        case 0xF4: (len, lo, hi) = (4, 0x80, 0x8F)
        default: return (replacement, 1)
        }
        var c = UInt32(b0) & (0x7F >> len)
        for k in 1..<len {
            guard i + k < n else { return nil }
            let b = p[i + k]
            guard k == 1 ? b >= lo && b <= hi : b & 0xC0 == 0x80 else { return (replacement, k) }
            c = (c << 6) | UInt32(b & 0x3F)
        }
        return (c, len)
    }

    /// Completes the sequence held from the last push with the first bytes of `p[..<n]`; returns
    /// how many of them it took.
    @inline(__always)
    mutating func complete(_ p: UnsafePointer<UInt8>, _ n: Int, _ emit: (UInt32) -> Void) -> Int {
        var i = 0
        while !held.isEmpty && i < n {
            held.append(p[i])
            guard let (c, len) = held.withUnsafeBufferPointer({ UTF8Stream.decode($0.baseAddress!, 0, $0.count) }) else {
                i += 1
                continue
            }
            // `p[i]` completed the sequence; or it broke it (U+FFFD for the rest) and is read again.
            if len == held.count { i += 1 }
            held.removeAll(keepingCapacity: true)
            emit(c)
        }
        return i
    }

    /// Holds `p[..<n]`, the well-formed start of a sequence, until the next push.
    mutating func hold(_ p: UnsafePointer<UInt8>, _ n: Int) {
        held.append(contentsOf: UnsafeBufferPointer(start: p, count: n))
    }

    /// End of input: a sequence still incomplete becomes U+FFFD.
    mutating func finish(_ emit: (UInt32) -> Void) {
        if held.isEmpty { return }
        held.removeAll(keepingCapacity: true)
        emit(UTF8Stream.replacement)
    }

    /// Calls `body` with each scalar of well-formed UTF-8 (bytes the splitter wrote itself).
    static func forEachScalar(_ bytes: ArraySlice<UInt8>, _ body: (UInt32) -> Void) {
        bytes.withUnsafeBufferPointer { b in
            var i = 0
            while i < b.count {
                let (c, len) = decode(b.baseAddress!, i, b.count)!
                i += len
                body(c)
            }
        }
    }

    /// Appends the UTF-8 encoding of `c` to `out`.
    @inline(__always)
    static func encode(_ c: UInt32, into out: inout [UInt8]) {
        if c < 0x80 { return out.append(UInt8(truncatingIfNeeded: c)) }
        let len = c < 0x800 ? 2 : c < 0x10000 ? 3 : 4
        out.append(UInt8(truncatingIfNeeded: (0xF00 >> len) | (c >> (6 * (len - 1)))))
        for k in (0..<len - 1).reversed() { out.append(UInt8(truncatingIfNeeded: 0x80 | ((c >> (6 * k)) & 0x3F))) }
    }
}
