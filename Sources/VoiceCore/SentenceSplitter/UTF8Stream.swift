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

    mutating func finish(_ emit: (UInt32) -> Void) {
        if need > 0 {
            need = 0
            emit(UTF8Stream.replacement)
        }
    }
}
