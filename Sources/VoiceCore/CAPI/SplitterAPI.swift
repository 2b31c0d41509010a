#if canImport(Glibc)
import Glibc
#elseif canImport(Musl)
import Musl
#endif

// C exports of the SentenceSplitter (include/voicecore.h, "Sentence splitter"). Thin: argument
// checks and buffer handling only; the splitting is `SentenceSplitter`.

final class SplitterHandle: Handle {
    /// Not checked for exclusivity at run time: that check would be a measurable share of a push
    /// (twice per LLM delta); a handle is used from one thread at a time.
    @exclusivity(unchecked) var splitter: SentenceSplitter
    /// Set when the options were rejected: the handle exists only to carry this message.
    let creationError: String?
    /// The last segment handed out: its text, NUL, its emoji joined by spaces, NUL (malloc'ed,
    /// owned by the handle, valid until the next call).
    private var out = malloc(256)!.assumingMemoryBound(to: UInt8.self)
    private var capacity = 256

    init(_ splitter: SentenceSplitter, creationError: String? = nil) {
        self.creationError = creationError
        self.splitter = splitter
    }

    deinit { free(out) }

    func checkUsable() throws(VCError) {
        if let why = creationError { throw VCError(.invalidState, "the splitter was not created: \(why)") }
    }

    /// Writes `segment` to the caller's `vc_segment`, its text and emoji as NUL-terminated C strings
    /// in `out`.
    func store(_ segment: Segment, to v: UnsafeMutableRawPointer) {
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
        v.storeBytes(of: UnsafeRawPointer(out), toByteOffset: SegmentLayout.text, as: UnsafeRawPointer.self)
        v.storeBytes(of: textLen, toByteOffset: SegmentLayout.textLen, as: Int.self)
        v.storeBytes(of: UnsafeRawPointer(out + textLen + 1), toByteOffset: SegmentLayout.emoji, as: UnsafeRawPointer.self)
        v.storeBytes(of: emojiLen, toByteOffset: SegmentLayout.emojiLen, as: Int.self)
        v.storeBytes(of: Int64(segment.index), toByteOffset: SegmentLayout.index, as: Int64.self)
        v.storeBytes(of: Int32(truncatingIfNeeded: segment.emoji.count), toByteOffset: SegmentLayout.emojiCount, as: Int32.self)
    }
}

/// Byte offsets of the fields of `vc_segment` (include/voicecore.h); they are ABI.
private enum SegmentLayout {
    static let text = 0, textLen = 8, emoji = 16, emojiLen = 24, index = 32, emojiCount = 40
}

nonisolated(unsafe) private let invalidHandleMessage: UnsafePointer<CChar> = UnsafePointer(strdup("invalid splitter handle (NULL)")!)

@_cdecl("vc_splitter_new")
public func vc_splitter_new(_ out: UnsafeMutablePointer<OpaquePointer?>?, _ optionsJSON: UnsafePointer<CChar>?) -> Int32 {
    HandleTable.create(out, { () throws(VCError) in SplitterHandle(SentenceSplitter(options: try SplitterOptions(json: parseOptions(optionsJSON)))) },
                       failed: { SplitterHandle(SentenceSplitter(), creationError: $0.message) })
}

@_cdecl("vc_splitter_free")
public func vc_splitter_free(_ s: OpaquePointer?) {
    HandleTable.release(s, as: SplitterHandle.self)
}

@_cdecl("vc_splitter_errmsg")
public func vc_splitter_errmsg(_ s: OpaquePointer?) -> UnsafePointer<CChar> {
    HandleTable.errmsg(s, as: SplitterHandle.self, invalid: invalidHandleMessage)
}

@_cdecl("vc_splitter_push")
public func vc_splitter_push(_ s: OpaquePointer?, _ text: UnsafePointer<CChar>?, _ len: Int) -> Int32 {
    HandleTable.with(s, as: SplitterHandle.self) { h in
        if h.hasNoError, let text, len > 0 {
            // The usual call, per LLM delta: nothing to check or clear.
            h.splitter.push(bytes: UnsafeBufferPointer(start: UnsafeRawPointer(text).assumingMemoryBound(to: UInt8.self), count: len))
            return Status.ok.rawValue
        }
        guard let bytes = borrowBytes(text, len) else {
            return h.fail(.invalidArgument, text == nil ? "text is NULL with a non-zero length" : "negative length")
        }
        return call(s) { $0.push(bytes: bytes) }
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
            h.store(segment, to: out)
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
