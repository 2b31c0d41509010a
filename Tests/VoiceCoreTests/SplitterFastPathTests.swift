import Testing
@testable import VoiceCore

/// The bulk path (plain letter runs copied at once) must leave exactly the segments the
/// scalar-by-scalar path leaves, for any text, chunking and options.
@Suite struct SplitterFastPathTests {
    /// Deterministic xorshift, so a failure names its seed.
    struct Rng {
        var state: UInt64
        mutating func next(_ n: Int) -> Int {
            state ^= state << 13
            state ^= state >> 7
            state ^= state << 17
            return Int(state % UInt64(n))
        }
    }

    static let pieces: [String] = [
        "a", "Z", "7", "é", "ß", "Ж", "ж", "中", "日本", "한", "ا", "ह", " ", " ", " ", "  ", "\n", "\n\n", "\t",
        ".", ",", "!", "?", ";", ":", "…", "。", "，", "、", "！", "？", "「", "」", "《", "》", "(", ")", "\"", "'",
        "’", "«", "»", "*", "**", "_", "~~", "`", "```", "#", "- ", "1. ", "2) ", "[x](y)", "<think>", "</think>",
        "<", "😊", "👍🏽", "🇩🇪", "\u{200D}", "\u{FE0F}", "\u{00A0}", "\u{3000}", "Dr. ", "e.g. ", "т.е. ", "U.S. ",
        "The ", "It ", "Он ", "3.14", "1,000", "http://a.b/c", "word", "Wort", "слово", "汉字汉字", "かな", "\u{FFFD}",
        // Runs the C bulk path takes whole: spaces between CJK (dropped) and between words (kept),
        // capitals at a token start in two- and three-byte scripts, a scalar of a mixed block.
        "漢字 漢字", "カタカナ ", "Ärger ", "Ёлка ", "×", "a b c d e f g h ",
        // What the C loop (vck_split_run) takes besides runs: sentence ends after plain words (ASCII
        // and Cyrillic), periods inside and after other tokens, quotes and brackets it counts, the
        // full-width semicolon, the particle after a quotation, and what the idle cleaner drops.
        "Hello world. ", "done! Next", "понятно. ", "руб. ", "за ", "z.B. ", "ein ", "p.m. ", "v2.5", "“", "”",
        "„", "『", "』", "〈", "〉", "；", "と", "。」と", "!)", "Sie.", "**bold**", "`code`",
        // What the C loop decides at a period besides plain words (split9): the word classes of
        // numbers, initials, acronyms, abbreviations of the chosen language and several periods,
        // list items it opens and continues, tokens of Latin-1 and CJK letters; plain punctuation,
        // 々, … after CJK, marks after a hard end, blank lines (also after a heading line).
        "1.", "2.", "a.", "b.", "I.", "Л.Н. ", "Hr. ", "Müller.", "etc. ", "Inc.", "v1.2.3.", "3.5",
        "是3.", "价格. ", "Jr. ", "Mr. Smith. ", "Das ist z.B. ", "$", "#", "%", "=", "@", "々", "……", "！-",
        "。。", "?!", "\n\nThe ", "\n\n東京", "\n\n1. ", "# Title\n\nText. ", "\n\nЭто ",
        // A scalar of another kind that ends a CJK or Cyrillic run inside the kernel's inner loops.
        "漢字、漢字，", "ЖжЖ×ж«", "ёлка ×",
        // Tokens before a period that classify_token takes in its Cyrillic loop (split12): capitals,
        // Ѐ-Џ, a scalar past U+045F, Cyrillic then Latin, initials; and a segment ending in U+3000.
        "ГОСТ. ", "Ѐже. ", "жѠ. ", "Жx. ", "т. ", "Т. ", "г.", "Ёж3. ", "文。\u{3000}",
    ]

    static func text(seed: UInt64) -> [UInt8] {
        var rng = Rng(state: seed | 1)
        var out: [UInt8] = []
        for _ in 0..<(20 + rng.next(400)) {
            if rng.next(40) == 0 {
                out.append([0x80, 0xC3, 0xE4, 0xF0, 0xFF, 0xED][rng.next(6)])  // invalid UTF-8 too
            } else if rng.next(60) == 0 {
                // Three-byte shapes that are not scalars: overlong, surrogate, bad continuation.
                out.append(contentsOf: [[0xE0, 0x80, 0x80], [0xED, 0xA0, 0x80], [0xE4, 0xB8, 0x41]][rng.next(3)])
            } else {
                out.append(contentsOf: pieces[rng.next(pieces.count)].utf8)
            }
        }
        return out
    }

    static func segments(_ bytes: [UInt8], _ options: SplitterOptions, fast: Bool, seed: UInt64,
                         maxChunk: Int = 30) -> [Segment] {
        var s = SentenceSplitter(options: options)
        s.usesFastPath = fast
        var rng = Rng(state: seed &* 31 | 1)
        var out: [Segment] = []
        var i = 0
        while i < bytes.count {
            let n = min(1 + rng.next(maxChunk), bytes.count - i)
            bytes[i..<(i + n)].withUnsafeBufferPointer { s.push(bytes: $0) }
            while let seg = s.nextSegment() { out.append(seg) }
            i += n
        }
        s.flush()
        while let seg = s.nextSegment() { out.append(seg) }
        return out
    }

    @Test(arguments: 0..<6)
    func bulkPathEqualsScalarPath(variant: Int) {
        var o = SplitterOptions()
        switch variant {
        case 1: o = .batch
        case 2: o.cleanForSpeech = false
        case 3: o.maxSegmentChars = 16; o.minFirstChars = 0
        case 4: o.language = .de; o.maxSegmentChars = 40
        case 5: o.cleanForSpeech = false; o.maxSegmentChars = 17
        default: break
        }
        for seed in UInt64(1)...150 {
            let bytes = SplitterFastPathTests.text(seed: seed &+ UInt64(variant) &* 1000)
            let fast = SplitterFastPathTests.segments(bytes, o, fast: true, seed: seed)
            let slow = SplitterFastPathTests.segments(bytes, o, fast: false, seed: seed)
            #expect(fast == slow, "variant \(variant), seed \(seed)")
            if fast != slow { return }
        }
    }

    /// A scalar split across pushes joins the run after it in a 64-byte scratch buffer
    /// (`joinSplitScalar`): pushes longer than that, and pushes cut inside CJK scalars.
    @Test func splitScalarBeforeLongPushEqualsScalarPath() {
        var o = SplitterOptions()
        for seed in UInt64(1)...120 {
            o.maxSegmentChars = seed % 3 == 0 ? 30 : 220
            let bytes = SplitterFastPathTests.text(seed: seed &+ 77_000)
            let fast = SplitterFastPathTests.segments(bytes, o, fast: true, seed: seed, maxChunk: 160)
            let slow = SplitterFastPathTests.segments(bytes, o, fast: false, seed: seed, maxChunk: 160)
            #expect(fast == slow, "seed \(seed)")
            if fast != slow { return }
        }
        // Every CJK scalar cut after its first byte, the rest of the text in one long push.
        let text = Array(String(repeating: "漢字かな、カタカナ 한국어 word ", count: 12).utf8)
        for cut in stride(from: 1, to: 60, by: 1) where text[cut] & 0xC0 == 0x80 {
            var fast = SentenceSplitter(), slow = SentenceSplitter()
            slow.usesFastPath = false
            for s in [0..<cut, cut..<text.count] {
                text[s].withUnsafeBufferPointer { fast.push(bytes: $0) }
                text[s].withUnsafeBufferPointer { slow.push(bytes: $0) }
            }
            fast.flush()
            slow.flush()
            var a: [Segment] = [], b: [Segment] = []
            while let seg = fast.nextSegment() { a.append(seg) }
            while let seg = slow.nextSegment() { b.append(seg) }
            #expect(a == b, "cut at \(cut)")
            #expect(!a.isEmpty)
        }
    }

    /// Pushes whose first C call refuses the push's first byte with an end pending that the C loop
    /// does not take (a hard end inside quotes, then the cleaner's held underscore), and ends the C
    /// loop holds across pushes (decided by the next push, or by a flush), against the scalar path.
    @Test func pushBoundariesAroundHeldEndsEqualScalarPath() {
        let cases: [[String]] = [
            ["«$3.50؟", "_3.141."], ["Hello world.", " Next one."], ["Hello world.", " next one."],
            ["Das ist z.B.", " ein Test. Hr.", " Müller kommt."], ["東京です。", "「はい。」", "と言った。"],
            ["U.S.", " Government."], ["1.", " Punkt. 2.", " Punkt."], ["Done!", "\n\nNext"], ["Ende.", ""],
            ["Es ist 3.", "5 Grad."], ["Это т.д.", " Всё."], ["我明白了…", "…让我想想。"],
        ]
        for pushes in cases {
            var fast = SentenceSplitter(), slow = SentenceSplitter()
            slow.usesFastPath = false
            for text in pushes {
                fast.push(text)
                slow.push(text)
            }
            fast.flush()
            slow.flush()
            var a: [Segment] = [], b: [Segment] = []
            while let seg = fast.nextSegment() { a.append(seg) }
            while let seg = slow.nextSegment() { b.append(seg) }
            #expect(a == b, "\(pushes)")
            #expect(!a.isEmpty)
        }
    }

    /// A copy made while the C loop holds an end: each copy decides it with its own next push.
    @Test func copyWithHeldEndDecidesItSeparately() {
        var a = SentenceSplitter()
        a.push("It works.")
        var b = a
        a.push(" Next")
        b.push(" next")
        #expect(a.nextSegment()?.text == "It works.")
        #expect(b.nextSegment() == nil)
        b.flush()
        #expect(b.nextSegment()?.text == "It works. next")
    }

    @Test func copiedSplitterDoesNotShareItsBuffers() {
        var a = SentenceSplitter()
        a.push("Hello there my good friend")
        var b = a
        a.push(" Alice. ")
        b.push(" Bob. ")
        a.flush()
        b.flush()
        #expect(a.nextSegment()?.text == "Hello there my good friend Alice.")
        #expect(b.nextSegment()?.text == "Hello there my good friend Bob.")
    }

    @Test func plainTableMatchesTheClassification() {
        for c in UInt32(0)..<0x10000 {
            let table = PlainScalar.table[Int(c)]
            if table != PlainScalar.kind(c) {
                Issue.record("U+\(String(c, radix: 16)): table \(table), kind \(PlainScalar.kind(c))")
                return
            }
        }
    }

    /// The C ABI's push (`pushInline(_:neverCopied: true)`, split11): armed pushes go straight to
    /// the C loop and leave their state there until a push leaves it; its segments (text, joined
    /// emoji, index, taken as `vc_splitter_next` takes them) are the scalar path's, whether they
    /// are taken after every push or only at the end (the buffers then grow under armed pushes).
    @Test(arguments: [false, true])
    func armedPushEqualsScalarPath(drainAtEnd: Bool) {
        for seed in UInt64(1)...120 {
            var o = SplitterOptions()
            if seed % 3 == 1 { o.maxSegmentChars = 24; o.minFirstChars = 0 }
            if seed % 5 == 2 { o.cleanForSpeech = false }
            let bytes = SplitterFastPathTests.text(seed: seed &+ 7000)
            let slow = SplitterFastPathTests.segments(bytes, o, fast: false, seed: seed)
            var s = SentenceSplitter(options: o)
            var emoji = ByteBuffer(capacity: 64)
            var armed: [Segment] = []
            func drain() {
                while let (text, index, count) = s.takeNextSegment(joiningEmojiInto: &emoji) {
                    let joined = count == 0 ? [] : [String(decoding: UnsafeBufferPointer(start: emoji.baseAddress, count: emoji.count - 1), as: UTF8.self)]
                    armed.append(Segment(text: String(decoding: text, as: UTF8.self), emoji: joined, index: index))
                }
            }
            var rng = Rng(state: seed &* 31 | 1)
            var i = 0
            while i < bytes.count {
                let n = min(1 + rng.next(30), bytes.count - i)
                bytes[i..<(i + n)].withUnsafeBufferPointer { s.pushInline($0, neverCopied: true) }
                if !drainAtEnd { drain() }
                i += n
            }
            s.flush()
            drain()
            let want = slow.map { Segment(text: $0.text, emoji: $0.emoji.isEmpty ? [] : [$0.emoji.joined(separator: " ")], index: $0.index) }
            #expect(armed == want, "seed \(seed), drain at end \(drainAtEnd)")
            if armed != want { return }
        }
    }
}
