/// Little-endian binary encoding for the index file: fixed-width numbers, length-prefixed
/// strings and arrays of plain numbers copied in bulk.
struct ByteWriter {
    var bytes: [UInt8] = []

    mutating func u32(_ v: UInt32) { withUnsafeBytes(of: v.littleEndian) { bytes.append(contentsOf: $0) } }
    mutating func u64(_ v: UInt64) { withUnsafeBytes(of: v.littleEndian) { bytes.append(contentsOf: $0) } }
    mutating func i32(_ v: Int32) { u32(UInt32(bitPattern: v)) }
    mutating func f64(_ v: Double) { u64(v.bitPattern) }

    mutating func string(_ s: String) {
        u32(UInt32(s.utf8.count))
        bytes.append(contentsOf: s.utf8)
    }

    /// An array of fixed-width numbers: count, then raw little-endian elements.
    mutating func array<T: FixedWidthInteger>(_ a: [T]) {
        u64(UInt64(a.count))
        a.withUnsafeBytes { bytes.append(contentsOf: $0) }
    }

    mutating func floats(_ a: [Float]) {
        u64(UInt64(a.count))
        a.withUnsafeBytes { bytes.append(contentsOf: $0) }
    }

    mutating func floats(_ a: AlignedFloats) {
        u64(UInt64(a.count))
        a.withUnsafeBufferPointer { bytes.append(contentsOf: UnsafeRawBufferPointer($0)) }
    }
}

/// Reads what `ByteWriter` wrote, checking every length against the bytes left, so a truncated
/// or corrupt file is an error, never an out-of-bounds read.
struct ByteReader {
    let base: UnsafeRawBufferPointer
    var offset = 0
    let what: String

    init(_ base: UnsafeRawBufferPointer, what: String) { self.base = base; self.what = what }

    var remaining: Int { base.count - offset }

    func corrupt(_ detail: String) -> VCError { VCError(.corrupt, "\(what): \(detail) at byte \(offset)") }

    mutating func need(_ n: Int) throws(VCError) {
        if n < 0 || n > remaining { throw corrupt("truncated data") }
    }

    mutating func u32() throws(VCError) -> UInt32 {
        try need(4)
        defer { offset += 4 }
        return UInt32(littleEndian: base.loadUnaligned(fromByteOffset: offset, as: UInt32.self))
    }

    mutating func u64() throws(VCError) -> UInt64 {
        try need(8)
        defer { offset += 8 }
        return UInt64(littleEndian: base.loadUnaligned(fromByteOffset: offset, as: UInt64.self))
    }

    mutating func i32() throws(VCError) -> Int32 { Int32(bitPattern: try u32()) }
    mutating func f64() throws(VCError) -> Double { Double(bitPattern: try u64()) }

    mutating func string() throws(VCError) -> String {
        let n = Int(try u32())
        try need(n)
        let slice = UnsafeRawBufferPointer(rebasing: base[offset..<(offset + n)])
        offset += n
        guard let s = String(validating: slice.bindMemory(to: UInt8.self), as: UTF8.self) else { throw corrupt("invalid UTF-8 string") }
        return s
    }

    mutating func count(elementSize: Int) throws(VCError) -> Int {
        let n = try u64()
        guard n <= UInt64(remaining / max(1, elementSize)) else { throw corrupt("array longer than the data") }
        return Int(n)
    }

    mutating func array<T: FixedWidthInteger>(_: T.Type) throws(VCError) -> [T] {
        let n = try count(elementSize: MemoryLayout<T>.size)
        let byteCount = n * MemoryLayout<T>.size
        let out = [T](unsafeUninitializedCapacity: n) { buf, initialized in
            UnsafeMutableRawBufferPointer(buf).copyMemory(from: UnsafeRawBufferPointer(rebasing: base[offset..<(offset + byteCount)]))
            initialized = n
        }
        offset += byteCount
        return out
    }

    mutating func floats() throws(VCError) -> [Float] {
        let n = try count(elementSize: 4)
        let out = [Float](unsafeUninitializedCapacity: n) { buf, initialized in
            UnsafeMutableRawBufferPointer(buf).copyMemory(from: UnsafeRawBufferPointer(rebasing: base[offset..<(offset + n * 4)]))
            initialized = n
        }
        offset += n * 4
        return out
    }

    /// Like `floats()`, into 64-byte-aligned storage (the vector table).
    mutating func alignedFloats() throws(VCError) -> AlignedFloats {
        let n = try count(elementSize: 4)
        let out = AlignedFloats(copying: UnsafeRawBufferPointer(rebasing: base[offset..<(offset + n * 4)]), count: n)
        offset += n * 4
        return out
    }
}
