#if canImport(Glibc)
import Glibc
#elseif canImport(Musl)
import Musl
#endif

// C exports of the SentenceSplitter (include/voicecore.h, "Sentence splitter"). Thin: argument
// checks and buffer handling only.

final class SplitterHandle: Handle {
    /// Never copied (only mutated in place, or replaced by `reset`): `vc_splitter_push` relies on
    /// it to skip the splitter's copy-on-write tests (`pushInline(_:neverCopied:)`).
    var splitter: SentenceSplitter
    /// Set when the options were rejected: the handle exists only to carry this message. Every
    /// call on such a handle records an error, so between calls `hasNoError` implies this is nil:
    /// the per-delta calls test only that.
    var creationError: String?
    /// The last segment's emoji, joined and NUL-terminated (owned by the handle until the next
    /// call). Its text is handed out where the splitter keeps it, already NUL-terminated.
    var emoji = ByteBuffer(capacity: 64)

    init(_ splitter: SentenceSplitter) { self.splitter = splitter }

    func checkUsable() throws(VCError) {
        if let why = creationError { throw VCError(.invalidState, "the splitter was not created: \(why)") }
    }
}

/// Byte offsets of the fields of `vc_segment` (include/voicecore.h); they are ABI.
private enum SegmentLayout {
    static let text = 0, textLen = 8, emoji = 16, emojiLen = 24, index = 32, emojiCount = 40
}

/// The `emoji` of a segment without any: a literal, so NUL-terminated in read-only data.
private let noEmoji: StaticString = ""

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
    HandleTable.with(s, as: SplitterHandle.self) { h in push(h, text, len) } ?? Status.invalidArgument.rawValue
}

/// `vc_splitter_push` on a handle. A function of its own with a plain `Int32` result, so the
/// export's closure is inlined and the export is a NULL test and one call.
@inline(never)
private func push(_ h: SplitterHandle, _ text: UnsafePointer<CChar>?, _ len: Int) -> Int32 {
    // Called per LLM delta: the usual call goes straight in; only a bad argument, an unusable
    // handle or an error to clear takes the path through `run`.
    if h.hasNoError, let text, len > 0 {
        h.splitter.pushInline(UnsafeBufferPointer(start: UnsafeRawPointer(text).assumingMemoryBound(to: UInt8.self),
                                                  count: len), neverCopied: true)
        return Status.ok.rawValue
    }
    return pushChecked(h, text, len)
}

/// `vc_splitter_push` off the usual path (empty or bad arguments, unusable handle). Out of line,
/// so the usual path stays small enough to be inlined into the export.
@inline(never)
private func pushChecked(_ h: SplitterHandle, _ text: UnsafePointer<CChar>?, _ len: Int) -> Int32 {
    h.run { () throws(VCError) -> Int32 in
        try h.checkUsable()
        guard let bytes = borrowBytes(text, len) else {
            throw VCError(.invalidArgument, text == nil ? "text is NULL with a non-zero length" : "negative length")
        }
        h.splitter.pushInline(bytes, neverCopied: true)
        return Status.ok.rawValue
    }
}

@_cdecl("vc_splitter_next")
public func vc_splitter_next(_ s: OpaquePointer?, _ out: UnsafeMutableRawPointer?) -> Int32 {
    HandleTable.with(s, as: SplitterHandle.self) { h in
        // Asked after every push, and usually nothing is ready: that answer in a few instructions
        // when there is also no error to report or clear.
        if out != nil && h.hasNoError && !h.splitter.hasReadySegment { return 0 }
        return next(h, out)
    } ?? Status.invalidArgument.rawValue
}

/// `vc_splitter_next` on a live handle. Called after every push, so the common path is direct
/// (nothing on it can fail; the argument errors go through `run`).
@inline(never)
private func next(_ h: SplitterHandle, _ out: UnsafeMutableRawPointer?) -> Int32 {
    guard let out, h.creationError == nil else {
        return h.run { () throws(VCError) -> Int32 in
            try h.checkUsable()
            throw VCError(.invalidArgument, "segment pointer is NULL")
        }
    }
    h.clearError()
    // Asked after every push; usually nothing is ready.
    guard let (text, index, emojiCount) = h.splitter.takeNextSegment(joiningEmojiInto: &h.emoji) else { return 0 }
    // Most segments have no emoji: their `emoji` is a constant empty C string (valid for ever, so
    // also until the next call), and the handle's buffer is neither tested nor written.
    let emoji: UnsafeRawPointer, emojiLen: Int
    if emojiCount == 0 {
        emoji = UnsafeRawPointer(noEmoji.utf8Start)
        emojiLen = 0
    } else {
        emoji = UnsafeRawPointer(h.emoji.baseAddress)
        emojiLen = h.emoji.count &- 1
    }
    // The splitter's ready text stays in place (NUL after it) until the next push, flush or reset.
    out.storeBytes(of: UnsafeRawPointer(text.baseAddress), toByteOffset: SegmentLayout.text, as: UnsafeRawPointer?.self)
    out.storeBytes(of: text.count, toByteOffset: SegmentLayout.textLen, as: Int.self)
    out.storeBytes(of: emoji, toByteOffset: SegmentLayout.emoji, as: UnsafeRawPointer.self)
    out.storeBytes(of: emojiLen, toByteOffset: SegmentLayout.emojiLen, as: Int.self)
    out.storeBytes(of: Int64(index), toByteOffset: SegmentLayout.index, as: Int64.self)
    // A count of strings held in memory fits.
    out.storeBytes(of: Int32(truncatingIfNeeded: emojiCount), toByteOffset: SegmentLayout.emojiCount, as: Int32.self)
    return 1
}

@_cdecl("vc_splitter_flush")
public func vc_splitter_flush(_ s: OpaquePointer?) -> Int32 {
    HandleTable.with(s, as: SplitterHandle.self) { h in
        // Once per reply: the usual call goes straight in, like `vc_splitter_push`.
        if h.creationError == nil {
            h.clearError()
            h.splitter.flush()
            return Status.ok.rawValue
        }
        return flushChecked(h)
    } ?? Status.invalidArgument.rawValue
}

@inline(never)
private func flushChecked(_ h: SplitterHandle) -> Int32 {
    h.run { () throws(VCError) -> Int32 in
        try h.checkUsable()
        h.splitter.flush()
        return Status.ok.rawValue
    }
}

@_cdecl("vc_splitter_reset")
public func vc_splitter_reset(_ s: OpaquePointer?) -> Int32 {
    guard let h = HandleTable.get(s, as: SplitterHandle.self) else { return Status.invalidArgument.rawValue }
    return h.run { () throws(VCError) -> Int32 in
        try h.checkUsable()
        h.splitter.reset()
        return Status.ok.rawValue
    }
}
