/// An incremental UTF-8 decoder that keeps an incomplete sequence between pushes. Malformed bytes
/// (and a sequence still incomplete at the end) become U+FFFD, following the WHATWG/Unicode
/// "maximal subpart" practice, so hostile input never traps.
struct UTF8Stream: Sendable {
    private var need = 0
    private var scalar: UInt32 = 0
    private var lower: UInt8 = 0x80
    private var upper: UInt8 = 0xBF

    static let replacement: UInt32 = 0xFFFD

    @inline(__always) var isIdle: Bool { need == 0 }

    @inline(__always)
    mutating func consume(_ b: UInt8, _ emit: (UInt32) -> Void) {
        if need == 0 {
            start(b, emit)
            return
        }
        if b >= lower && b <= upper {
            scalar = (scalar << 6) | UInt32(b & 0x3F)
            lower = 0x80
            upper = 0xBF
            need -= 1
            if need == 0 { emit(scalar) }
            return
        }
        need = 0
        emit(UTF8Stream.replacement)
        start(b, emit)
    }

    @inline(__always)
    private mutating func start(_ b: UInt8, _ emit: (UInt32) -> Void) {
        lower = 0x80
        upper = 0xBF
        switch b {
        case 0x00...0x7F:
            emit(UInt32(b))
        case 0xC2...0xDF:
            need = 1; scalar = UInt32(b & 0x1F)
        case 0xE0:
            need = 2; scalar = 0; lower = 0xA0
        case 0xE1...0xEC, 0xEE, 0xEF:
            need = 2; scalar = UInt32(b & 0x0F)
        case 0xED:
            need = 2; scalar = UInt32(b & 0x0F); upper = 0x9F
        case 0xF0:
            need = 3; scalar = 0; lower = 0x90
        case 0xF1...0xF3:
            need = 3; scalar = UInt32(b & 0x07)
        case 0xF4:
            need = 3; scalar = 4; upper = 0x8F
        default:
            emit(UTF8Stream.replacement)
        }
    }

    /// Writes the UTF-8 encoding of the scalar `c` (1 to 4 bytes) at `p`: its length.
    @inline(__always)
    static func encode(_ c: UInt32, into p: UnsafeMutablePointer<UInt8>) -> Int {
        if c < 0x80 {
            p[0] = UInt8(truncatingIfNeeded: c)
            return 1
        }
        if c < 0x800 {
            p[0] = UInt8(truncatingIfNeeded: 0xC0 | (c >> 6))
            p[1] = UInt8(truncatingIfNeeded: 0x80 | (c & 0x3F))
            return 2
        }
        if c < 0x10000 {
            p[0] = UInt8(truncatingIfNeeded: 0xE0 | (c >> 12))
            p[1] = UInt8(truncatingIfNeeded: 0x80 | ((c >> 6) & 0x3F))
            p[2] = UInt8(truncatingIfNeeded: 0x80 | (c & 0x3F))
            return 3
        }
        p[0] = UInt8(truncatingIfNeeded: 0xF0 | (c >> 18))
        p[1] = UInt8(truncatingIfNeeded: 0x80 | ((c >> 12) & 0x3F))
        p[2] = UInt8(truncatingIfNeeded: 0x80 | ((c >> 6) & 0x3F))
        p[3] = UInt8(truncatingIfNeeded: 0x80 | (c & 0x3F))
        return 4
    }

    /// Decodes the well-formed sequence of 2 to 4 bytes at `p[i]` (lead byte >= 0x80) when it lies
    /// wholly before `n`: (scalar, length), exactly what `consume` would emit for those bytes; nil
    /// for anything else (malformed or cut off: `consume` deals with those).
    @inline(__always)
    static func decodeWhole(_ p: UnsafePointer<UInt8>, _ i: Int, _ n: Int) -> (UInt32, Int)? {
        let b0 = p[i]
        if b0 < 0xF0 { return PlainScalar.decodeBMP(p, i, n) }
        guard b0 <= 0xF4, i + 3 < n else { return nil }
        let b1 = p[i + 1], b2 = p[i + 2], b3 = p[i + 3]
        guard b1 & 0xC0 == 0x80, b2 & 0xC0 == 0x80, b3 & 0xC0 == 0x80 else { return nil }
        let c = (UInt32(b0 & 0x07) << 18) | (UInt32(b1 & 0x3F) << 12) | (UInt32(b2 & 0x3F) << 6) | UInt32(b3 & 0x3F)
        // Overlong forms and values past U+10FFFF are malformed.
        guard c >= 0x10000, c <= 0x10FFFF else { return nil }
        return (c, 4)
    }

    /// The scalar that the first bytes of `p[0..<n]` complete, and how many bytes they are, when
    /// the held sequence completes well-formed there; nil otherwise (malformed, or still cut off).
    /// Changes nothing: `consume` those bytes, or `forgetHeld()` once they are taken otherwise.
    @inline(__always)
    func completion(_ p: UnsafePointer<UInt8>, _ n: Int) -> (scalar: UInt32, used: Int)? {
        guard need > 0, need <= n, p[0] >= lower, p[0] <= upper else { return nil }
        var c = (scalar << 6) | UInt32(p[0] & 0x3F)
        var k = 1
        while k < need {
            guard p[k] & 0xC0 == 0x80 else { return nil }
            c = (c << 6) | UInt32(p[k] & 0x3F)
            k += 1
        }
        return (c, need)
    }

    /// Drops the held sequence (its completion was taken through `completion`).
    @inline(__always) mutating func forgetHeld() { need = 0 }

    mutating func finish(_ emit: (UInt32) -> Void) {
        if need > 0 {
            need = 0
            emit(UTF8Stream.replacement)
        }
    }
}
