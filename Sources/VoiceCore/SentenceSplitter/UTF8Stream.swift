/// An incremental UTF-8 decoder that keeps an incomplete sequence between pushes. Malformed bytes
/// (and a sequence still incomplete at the end) become U+FFFD, following the WHATWG/Unicode
/// "maximal subpart" practice, so hostile input never traps.
struct UTF8Stream: Sendable {
    private var need = 0
    private var scalar: UInt32 = 0
    private var lower: UInt8 = 0x80
    private var upper: UInt8 = 0xBF

    static let replacement: UInt32 = 0xFFFD

    var isIdle: Bool { need == 0 }

    @inline(__always)
    mutating func consume(_ b: UInt8, _ emit: (UInt32) -> Void) {
        if need == 0 {
            if b < 0x80 { emit(UInt32(b)) } else { start(b, emit) }
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
        if b < 0x80 { emit(UInt32(b)) } else { start(b, emit) }
    }

    private mutating func start(_ b: UInt8, _ emit: (UInt32) -> Void) {
        lower = 0x80
        upper = 0xBF
        switch b {
        case 0xC2...0xDF: need = 1; scalar = UInt32(b & 0x1F)
        case 0xE0: need = 2; scalar = 0; lower = 0xA0
        case 0xE1...0xEC, 0xEE, 0xEF: need = 2; scalar = UInt32(b & 0x0F)
        case 0xED: need = 2; scalar = UInt32(b & 0x0F); upper = 0x9F
        case 0xF0: need = 3; scalar = 0; lower = 0x90
        case 0xF1...0xF3: need = 3; scalar = UInt32(b & 0x07)
        case 0xF4: need = 3; scalar = 4; upper = 0x8F
        default: emit(UTF8Stream.replacement)
        }
    }

    /// End of input: a sequence still incomplete becomes U+FFFD.
    mutating func finish(_ emit: (UInt32) -> Void) {
        if need > 0 {
            need = 0
            emit(UTF8Stream.replacement)
        }
    }

    /// The well-formed sequence at `p[i]` when it lies wholly before `n`: (scalar, length), what
    /// `consume` would emit for those bytes; nil when it is malformed or cut off.
    @inline(__always)
    static func decodeWhole(_ p: UnsafePointer<UInt8>, _ i: Int, _ n: Int) -> (UInt32, Int)? {
        let b0 = p[i]
        if b0 < 0x80 { return (UInt32(b0), 1) }
        if b0 < 0xC2 || b0 > 0xF4 { return nil }
        let len = b0 < 0xE0 ? 2 : b0 < 0xF0 ? 3 : 4
        guard i + len <= n else { return nil }
        var c = UInt32(b0) & (0x7F >> len)
        for k in 1..<len {
            let b = p[i + k]
            guard b & 0xC0 == 0x80 else { return nil }
            c = (c << 6) | UInt32(b & 0x3F)
        }
        // Overlong forms, surrogates and values past U+10FFFF are malformed.
        let min: UInt32 = len == 2 ? 0x80 : len == 3 ? 0x800 : 0x10000
        guard c >= min, c <= 0x10FFFF, c < 0xD800 || c > 0xDFFF else { return nil }
        return (c, len)
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
