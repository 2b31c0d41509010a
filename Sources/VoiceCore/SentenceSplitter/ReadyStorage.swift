import VoiceCoreKernels

/// The memory of the ready segments, which C writes (`vck_emit`: NUL-terminated texts and
/// `vck_ready` entries) and the builder's `facts` point at, so neither a C call nor the C ABI's
/// `vc_splitter_next` has to be lent it. A class so the memory is freed with its last owner; the
/// builder copies it before writing when a copy of the splitter shares it.
final class ReadyStorage {
    private(set) var text: UnsafeMutablePointer<UInt8>
    private(set) var textCapacity: Int
    private(set) var entries: UnsafeMutableRawPointer
    private(set) var entryCapacity: Int

    init(textCapacity: Int = 1024, entryCapacity: Int = 64) {
        self.textCapacity = textCapacity
        self.entryCapacity = entryCapacity
        text = .allocate(capacity: textCapacity)
        entries = .allocate(byteCount: entryCapacity * MemoryLayout<vck_ready>.stride,
                            alignment: MemoryLayout<vck_ready>.alignment)
    }

    deinit {
        text.deallocate()
        entries.deallocate()
    }

    /// A copy of the first `textCount` bytes and `entryCount` entries.
    func copy(textCount: Int, entryCount: Int) -> ReadyStorage {
        let c = ReadyStorage(textCapacity: textCapacity, entryCapacity: entryCapacity)
        c.text.update(from: text, count: textCount)
        c.entries.copyMemory(from: entries, byteCount: entryCount * MemoryLayout<vck_ready>.stride)
        return c
    }

    /// Room for `textCount + textRoom` bytes and `entryCount + entryRoom` entries, keeping the
    /// used part (growing geometrically).
    func reserve(textCount: Int, textRoom: Int, entryCount: Int, entryRoom: Int) {
        if textCount + textRoom > textCapacity {
            let capacity = max(textCount + textRoom, textCapacity * 2)
            let fresh = UnsafeMutablePointer<UInt8>.allocate(capacity: capacity)
            fresh.update(from: text, count: textCount)
            text.deallocate()
            text = fresh
            textCapacity = capacity
        }
        if entryCount + entryRoom > entryCapacity {
            let capacity = max(entryCount + entryRoom, entryCapacity * 2)
            let stride = MemoryLayout<vck_ready>.stride
            let fresh = UnsafeMutableRawPointer.allocate(byteCount: capacity * stride, alignment: MemoryLayout<vck_ready>.alignment)
            fresh.copyMemory(from: entries, byteCount: entryCount * stride)
            entries.deallocate()
            entries = fresh
            entryCapacity = capacity
        }
    }
}
