#if canImport(Glibc)
import Glibc
#elseif canImport(Musl)
import Musl
#endif

// C exports of the SentenceSplitter (include/voicecore.h, "Sentence splitter"). Thin: argument
// checks and buffer handling only; the splitting is `SentenceSplitter`.

final class SplitterHandle: Handle {
    /// The splitter, in memory of its own: a stored property of a class would have its every
    /// access checked for exclusivity at run time (twice per LLM delta).
    let state: UnsafeMutablePointer<SentenceSplitter>
    var splitter: SentenceSplitter {
        _read { yield state.pointee }
        _modify { yield &state.pointee }
    }
    /// Set when the options were rejected: the handle exists only to carry this message.
    var creationError: String?
    /// The last segment handed out: its text, NUL, its emoji joined by spaces, NUL (malloc'ed,
    /// owned by the handle, valid until the next call).
    private var out: UnsafeMutablePointer<UInt8>
    private var capacity = 256

    init(_ splitter: SentenceSplitter) {
        state = .allocate(capacity: 1)
        state.initialize(to: splitter)
        out = malloc(capacity)!.assumingMemoryBound(to: UInt8.self)
    }

    deinit {
        state.deinitialize(count: 1)
        state.deallocate()
        free(out)
    }

    func checkUsable() throws(VCError) {
        if let why = creationError { throw VCError(.invalidState, "the splitter was not created: \(why)") }
    }

    /// Copies `segment` into `out`: (text, emoji) as NUL-terminated C strings.
    func store(_ segment: Segment) -> (text: UnsafePointer<UInt8>, textLen: Int, emoji: UnsafePointer<UInt8>, emojiLen: Int) {
        var text = segment.text
        let emoji = segment.emoji.isEmpty ? "" : segment.emoji.joined(separator: " ")
        let textLen = text.utf8.count, emojiLen = emoji.utf8.count
        if textLen + emojiLen + 2 > capacity {
            capacity = max(capacity * 2, textLen + emojiLen + 2)
            out = realloc(out, capacity)!.assumingMemoryBound(to: UInt8.self)
        }
        text.withUTF8 { if let b = $0.baseAddress { out.update(from: b, count: textLen) } }
        out[textLen] = 0
        _ = UnsafeMutableBufferPointer(start: out + textLen + 1, count: emojiLen).initialize(from: emoji.utf8)
        out[textLen + 1 + emojiLen] = 0
        return (UnsafePointer(out), textLen, UnsafePointer(out + textLen + 1), emojiLen)
    }
}

/// Byte offsets of the fields of `vc_segment` (include/voicecore.h); they are ABI.
private enum SegmentLayout {
    static let text = 0, textLen = 8, emoji = 16, emojiLen = 24, index = 32, emojiCount = 40
}

nonisolated(unsafe) private let invalidHandleMessage: UnsafePointer<CChar> = UnsafePointer(strdup("invalid splitter handle (NULL)")!)

@_cdecl("vc_splitter_new")
public func vc_splitter_new(_ out: UnsafeMutablePointer<OpaquePointer?>?, _ optionsJSON: UnsafePointer<CChar>?) -> Int32 {
    guard let out else { return Status.invalidArgument.rawValue }
    do {
        let options = try SplitterOptions(json: parseOptions(optionsJSON))
        out.pointee = HandleTable.retain(SplitterHandle(SentenceSplitter(options: options)))
        return Status.ok.rawValue
    } catch {
        let handle = SplitterHandle(SentenceSplitter())
        handle.creationError = error.message
        let code = handle.fail(error)
        out.pointee = HandleTable.retain(handle)
        return code
    }
}

@_cdecl("vc_splitter_free")
public func vc_splitter_free(_ s: OpaquePointer?) {
    HandleTable.release(s, as: SplitterHandle.self)
}

@_cdecl("vc_splitter_errmsg")
public func vc_splitter_errmsg(_ s: OpaquePointer?) -> UnsafePointer<CChar> {
    guard let h = HandleTable.get(s, as: SplitterHandle.self) else { return invalidHandleMessage }
    return h.lastError.withUnsafeBufferPointer { UnsafePointer($0.baseAddress!) }
}

@_cdecl("vc_splitter_push")
public func vc_splitter_push(_ s: OpaquePointer?, _ text: UnsafePointer<CChar>?, _ len: Int) -> Int32 {
    HandleTable.with(s, as: SplitterHandle.self) { h in
        if h.hasNoError, let text, len > 0 {
            // The usual call, per LLM delta: nothing to check or clear.
            h.splitter.push(bytes: UnsafeBufferPointer(start: UnsafeRawPointer(text).assumingMemoryBound(to: UInt8.self), count: len))
            return Status.ok.rawValue
        }
        return h.run { () throws(VCError) -> Int32 in
            try h.checkUsable()
            guard let bytes = borrowBytes(text, len) else {
                throw VCError(.invalidArgument, text == nil ? "text is NULL with a non-zero length" : "negative length")
            }
            h.splitter.push(bytes: bytes)
            return Status.ok.rawValue
        }
    } ?? Status.invalidArgument.rawValue
}

@_cdecl("vc_splitter_next")
public func vc_splitter_next(_ s: OpaquePointer?, _ out: UnsafeMutableRawPointer?) -> Int32 {
    HandleTable.with(s, as: SplitterHandle.self) { h in
        // Asked after every push; usually nothing is ready.
        if out != nil && h.hasNoError && !h.splitter.hasReadySegment { return 0 }
        return h.run { () throws(VCError) -> Int32 in
            try h.checkUsable()
            guard let out else { throw VCError(.invalidArgument, "segment pointer is NULL") }
            guard let segment = h.splitter.nextSegment() else { return 0 }
            let (text, textLen, emoji, emojiLen) = h.store(segment)
            out.storeBytes(of: UnsafeRawPointer(text), toByteOffset: SegmentLayout.text, as: UnsafeRawPointer.self)
            out.storeBytes(of: textLen, toByteOffset: SegmentLayout.textLen, as: Int.self)
            out.storeBytes(of: UnsafeRawPointer(emoji), toByteOffset: SegmentLayout.emoji, as: UnsafeRawPointer.self)
            out.storeBytes(of: emojiLen, toByteOffset: SegmentLayout.emojiLen, as: Int.self)
            out.storeBytes(of: Int64(segment.index), toByteOffset: SegmentLayout.index, as: Int64.self)
            out.storeBytes(of: Int32(truncatingIfNeeded: segment.emoji.count), toByteOffset: SegmentLayout.emojiCount,
                           as: Int32.self)
            return 1
        }
    } ?? Status.invalidArgument.rawValue
}

@_cdecl("vc_splitter_flush")
public func vc_splitter_flush(_ s: OpaquePointer?) -> Int32 {
    call(s) { $0.flush() }
}

@_cdecl("vc_splitter_reset")
public func vc_splitter_reset(_ s: OpaquePointer?) -> Int32 {
    call(s) { $0.reset() }
}

/// Runs `body` on the splitter of a usable handle: VC_OK, or the error it recorded.
private func call(_ s: OpaquePointer?, _ body: (inout SentenceSplitter) -> Void) -> Int32 {
    HandleTable.with(s, as: SplitterHandle.self) { h in
        h.run { () throws(VCError) -> Int32 in
            try h.checkUsable()
            body(&h.splitter)
            return Status.ok.rawValue
        }
    } ?? Status.invalidArgument.rawValue
}
