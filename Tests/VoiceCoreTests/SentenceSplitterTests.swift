import Testing
@testable import VoiceCore

/// Streams `text` through a splitter in pieces of `chunk` bytes (0 = whole) and returns the texts.
private func stream(_ text: String, _ options: SplitterOptions = SplitterOptions(), chunk: Int = 0) -> [String] {
    var s = SentenceSplitter(options: options)
    let bytes = Array(text.utf8)
    var out: [String] = []
    var i = 0
    let step = chunk == 0 ? max(bytes.count, 1) : chunk
    while i < bytes.count {
        let piece = Array(bytes[i..<min(i + step, bytes.count)])
        piece.withUnsafeBufferPointer { s.push(bytes: $0) }
        while let seg = s.nextSegment() { out.append(seg.text) }
        i += step
    }
    s.flush()
    while let seg = s.nextSegment() { out.append(seg.text) }
    return out.filter { !$0.isEmpty }
}

private func batch(_ text: String, _ language: SplitterLanguage = .auto) -> [String] {
    var o = SplitterOptions.batch
    o.language = language
    return SentenceSplitter.split(text, options: o)
}

@Suite struct SentenceSplitterTests {
    @Test func readmeExample() {
        var s = SentenceSplitter()
        s.push("Hello Dr. Smith. It costs $3.50 today")
        #expect(s.nextSegment()?.text == "Hello Dr. Smith.")
        #expect(s.nextSegment() == nil)
        s.flush()
        #expect(s.nextSegment() == Segment(text: "It costs $3.50 today", emoji: [], index: 1))
    }

    @Test(arguments: [
        ("Pi is 3.14 exactly. Next one.", ["Pi is 3.14 exactly.", "Next one."]),
        ("Ask Dr. Who and Mr. Smith. They know.", ["Ask Dr. Who and Mr. Smith.", "They know."]),
        ("Use e.g. this one. Or i.e. that.", ["Use e.g. this one.", "Or i.e. that."]),
        ("Visit example.com today. Mail jane.doe@mail.org now.", ["Visit example.com today.", "Mail jane.doe@mail.org now."]),
        ("Update to v1.2.3 first. Then restart.", ["Update to v1.2.3 first.", "Then restart."]),
        ("1. Buy milk. 2. Call mom.", ["1. Buy milk.", "2. Call mom."]),
        ("He said \"Stop.\" Then he left.", ["He said \"Stop.\"", "Then he left."]),
        ("It works (mostly.) and then? No way!", ["It works (mostly.) and then?", "No way!"]),
        ("Wait... what? Really!! Yes?!", ["Wait... what?", "Really!!", "Yes?!"]),
        ("I live in the U.S. How about you?", ["I live in the U.S.", "How about you?"]),
        ("I work for the U.S. Government here.", ["I work for the U.S. Government here."]),
        ("Pay $100.00. It is due.", ["Pay $100.00.", "It is due."]),
    ])
    func english(_ input: String, _ expected: [String]) {
        #expect(batch(input, .en) == expected)
        #expect(batch(input) == expected)
    }

    @Test func germanFrenchSpanish() {
        #expect(batch("Das ist z.B. ein Hund. Er bellt.", .de) == ["Das ist z.B. ein Hund.", "Er bellt."])
        #expect(batch("Hr. Müller kommt um 8 Uhr. Wir warten.", .de) == ["Hr. Müller kommt um 8 Uhr.", "Wir warten."])
        #expect(batch("Mme. Dupont est là. Elle attend.", .fr) == ["Mme. Dupont est là.", "Elle attend."])
        #expect(batch("¿Cómo estás? La Sra. García llegó.", .es) == ["¿Cómo estás?", "La Sra. García llegó."])
    }

    @Test func russian() {
        #expect(batch("Это т.е. пример. Он работает.", .ru) == ["Это т.е. пример.", "Он работает."])
        #expect(batch("Фрукты, овощи и т.д. Всё свежее.", .ru) == ["Фрукты, овощи и т.д.", "Всё свежее."])
        #expect(batch("А. С. Пушкин родился в 1799 г. в Москве. Он поэт.")
            == ["А. С. Пушкин родился в 1799 г. в Москве.", "Он поэт."])
        #expect(batch("Л.Н. Толстой писал. Он жил долго.") == ["Л.Н. Толстой писал.", "Он жил долго."])
    }

    @Test func cjkHindiArabic() {
        #expect(batch("你好。今天天气很好！我们走吧？好；走…") == ["你好。", "今天天气很好！", "我们走吧？", "好；", "走…"])
        #expect(batch("我们去看《摔跤吧！爸爸》好吗？好！") == ["我们去看《摔跤吧！爸爸》好吗？", "好！"])
        #expect(batch("「ありがとう。」と言った。次です。") == ["「ありがとう。」と言った。", "次です。"])
        #expect(batch("안녕하세요. 반갑습니다!") == ["안녕하세요.", "반갑습니다!"])
        #expect(batch("यह एक वाक्य है। यह दूसरा है।") == ["यह एक वाक्य है।", "यह दूसरा है।"])
        #expect(batch("كيف حالك؟ أنا بخير.") == ["كيف حالك؟", "أنا بخير."])
        #expect(batch("これは父の\n家です。") == ["これは父の家です。"])
    }

    @Test func closersStayWithTheirSentence() {
        #expect(batch("他说：“你好！”然后走了。") == ["他说：“你好！”", "然后走了。"])
        #expect(batch("She said: 'Go.' Then silence.") == ["She said: 'Go.'", "Then silence."])
    }

    @Test func firstSegmentMayEndAtAComma() {
        #expect(stream("Well, sure thing, I can help. Here it is, done.")
            == ["Well, sure thing,", "I can help.", "Here it is, done."])
        #expect(stream("好的，我来帮你查一下天气，稍等。明天晴，气温二十度。") == ["好的，我来帮你查一下天气，", "稍等。", "明天晴，气温二十度。"])
        // An enumeration comma never ends it; neither does a thousands separator.
        #expect(stream("苹果、香蕉、橙子、葡萄都很好吃。") == ["苹果、香蕉、橙子、葡萄都很好吃。"])
        #expect(stream("It costs 1,000,000 dollars. Ok.") == ["It costs 1,000,000 dollars.", "Ok."])
        var o = SplitterOptions()
        o.firstSegment = .sentence
        #expect(stream("Well, sure thing, I can help.", o) == ["Well, sure thing, I can help."])
    }

    @Test func longRunsAreCutAtTheBestBreak() {
        var o = SplitterOptions()
        o.maxSegmentChars = 40
        o.firstSegment = .sentence
        let words = stream(String(repeating: "word ", count: 30), o)
        #expect(words.allSatisfy { $0.unicodeScalars.count <= 40 })
        #expect(words.joined(separator: " ") == String(repeating: "word ", count: 30).trimmingSpaces)
        let clause = stream("one two three four five six seven eight, nine ten eleven twelve thirteen", o)
        #expect(clause.first == "one two three four five six seven eight,")
        let han = stream(String(repeating: "汉", count: 100), o)
        #expect(han.count == 3 && han.allSatisfy { $0.unicodeScalars.count <= 40 })
        #expect(han.joined() == String(repeating: "汉", count: 100))
    }

    @Test func cleanForSpeech() {
        var s = SentenceSplitter()
        for piece in ["<thi", "nk>Let me think. The user", " wants X.</th", "ink>**Sure**", "! Here is `code` and ", "[a link](http://x.y/z_w). 😊👍🏽 Done."] {
            s.push(piece)
        }
        s.flush()
        var segs: [Segment] = []
        while let x = s.nextSegment() { segs.append(x) }
        #expect(segs.map(\.text) == ["Sure!", "Here is code and a link.", "Done."])
        #expect(segs[1].emoji == ["😊", "👍🏽"])
        #expect(stream("# Title\nSome text here\n\n- item one\n- item two\n1. first\n2. second")
            == ["Title", "Some text here", "item one", "item two", "1. first", "2. second"])
        #expect(stream("```python\nprint(1)\n```\nsnake_case and _emphasis_ ok") == ["print(1)", "snake_case and emphasis ok"])
        #expect(stream("Not a link [1] here. <b>x") == ["Not a link [1] here.", "<b>x"])
    }

    @Test func rawModeKeepsEverything() {
        var o = SplitterOptions.batch
        o.cleanForSpeech = false
        #expect(SentenceSplitter.split("**Hi** 😊 there. <think>x</think>", options: o)
            == ["**Hi** 😊 there.", "<think>x</think>"])
    }

    @Test func emojiOnlyReplyIsReported() {
        var s = SentenceSplitter()
        s.push("😊")
        s.flush()
        #expect(s.nextSegment() == Segment(text: "", emoji: ["😊"], index: 0))
    }

    @Test func chunkingDoesNotChangeSegments() {
        let text = """
        <think>reasoning. More.</think>Sure, here's the plan. 1. Book Dr. Lee at 3 p.m. today. \
        好的，我们明天见！「はい。」ですね。Привет, т.е. мир… Ещё? 😊 **Done** e.g. v2.0. 今天\u{1F600}好。
        """
        let whole = stream(text)
        for chunk in 1...9 { #expect(stream(text, chunk: chunk) == whole) }
        #expect(whole.count > 5)
    }

    @Test func invalidUTF8IsReplaced() {
        var s = SentenceSplitter()
        let bad: [UInt8] = [0x41, 0xFF, 0x42, 0x2E, 0x20, 0xE4, 0xBD]
        bad.withUnsafeBufferPointer { s.push(bytes: $0) }
        s.flush()
        #expect(s.nextSegment()?.text == "A\u{FFFD}B.")
        #expect(s.nextSegment()?.text == "\u{FFFD}")
    }

    @Test func optionsFromJSON() throws {
        let o = try SplitterOptions(json: ["language": "de", "first_segment": "sentence", "min_first_chars": 3,
                                           "max_segment_chars": 100, "clean_for_speech": false, "semicolon_ends": false])
        #expect(o.language == .de && o.firstSegment == .sentence && o.minFirstChars == 3)
        #expect(o.maxSegmentChars == 100 && !o.cleanForSpeech && !o.semicolonEnds)
        #expect(throws: VCError.self) { try SplitterOptions(json: ["lang": "de"]) }
        #expect(throws: VCError.self) { try SplitterOptions(json: ["language": "xx"]) }
        #expect(throws: VCError.self) { try SplitterOptions(json: ["max_segment_chars": 2]) }
        #expect(throws: VCError.self) { try SplitterOptions(json: ["min_first_chars": 1.5]) }
    }

    @Test func resetForgetsEverything() {
        var s = SentenceSplitter()
        s.push("Half a sentence. And")
        s.reset()
        s.push("New.")
        s.flush()
        #expect(s.nextSegment() == Segment(text: "New.", emoji: [], index: 0))
        #expect(s.nextSegment() == nil)
    }
}

private extension String {
    var trimmingSpaces: String {
        var s = Substring(self)
        while s.last == " " { s = s.dropLast() }
        return String(s)
    }
}
