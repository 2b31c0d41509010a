/// The end-of-turn decision: when has the user finished speaking? The ASR worker reports evidence —
/// a pause began (`pause`), the turn model's probability that the audio so far is a finished turn
/// (`turn`), the speculative transcript of the pause and its language (`speculative`), speech again
/// (`resume`) — and the core decides, so one rule serves every worker and the Simulator covers it.
///
/// The rule, for the silence heard since the pause began (a transcript counts as words only when it
/// is in the session's language: an English-only ASR's reading of Chinese speech says nothing about
/// where the sentence stands):
/// - the words end on one a sentence does not end on ("and", "the", "和", "и", "und", "て" …; a German
///   verb particle such as "aus", or a Chinese or Japanese particle that can end a sentence such as
///   "的", "の", "て", only without final punctuation), or on a comma or an ellipsis: wait `open_ms`
///   (the speaker is mid-sentence);
/// - else the turn model is confident (`probability ≥ threshold`) and the words are a finished
///   question (`?`, `？`, a question particle last: "ですか", "吗", a question word first and no
///   final punctuation: "which ocean is the largest", or a Chinese question word in place and no
///   final punctuation: "今天天气怎么样"): end now (after `min_silence_ms`, the debounce of a breath);
/// - else no model spoke and the words read as finished (`.`, `?`, `!`, `。`, a question particle,
///   a Chinese question in place, sentence-final particle or "请" request): end at `text_ms`;
/// - else one of the two says finished — the model is confident (the words are a statement, have no
///   final punctuation, are in another language or have not arrived), or the words read as finished
///   but the model doubts it: end at `hold_ms`, past a pause inside a sentence (Whisper writes
///   "Remind me to call." for the first half of "Remind me to call … my mother at six");
/// - else (neither): end at `fallback_ms`.
/// When the worker decodes an unsure pass again with beam search (`refined`) and the greedy words
/// end open but the beam's do not ("Кополлика с" → "Который час."), the beam's words decide, never
/// sooner than `hold_ms`: beam search prefers a fluent completion ("Wie wird das Wetter morgen in …"
/// → "Wie wird das Wetter morgen?"), and the hold outlasts a pause inside a sentence.
/// Evidence arriving later moves the deadline. The worker's own silence limit stays as a safety
/// net for a hub that never decides.
public struct TurnTakingConfig: Sendable, Equatable {
    /// Whether the core ends utterances (`endpointing: "hub"` in the ASR job's params) or leaves it
    /// to the ASR worker's own silence rule.
    public var hubEndpointing = true
    public var minSilenceUs: Int64 = 150_000
    public var threshold = 0.5
    public var textUs: Int64 = 350_000
    public var holdUs: Int64 = 750_000
    public var fallbackUs: Int64 = 900_000
    public var openUs: Int64 = 1_600_000
    /// Realtime mode, speech over a playing reply: this long after the speech starts, the reply's
    /// downlink pauses (no audio goes to the device, the position is kept) until the speech proves
    /// a backchannel (the reply resumes where it paused) or an interruption (the reply is cut).
    public var bargeInUs: Int64 = 0
    /// Speech over the reply still going this long after its start is an interruption.
    public var interruptUs: Int64 = 1_000_000
    /// Speech over the reply no longer than this whose transcript has no words of the session's
    /// language (an English-only ASR hearing "嗯", "ага") is a backchannel.
    public var backchannelUs: Int64 = 700_000

    public init() {}

    mutating func apply(json: JSON) throws(VCError) {
        guard let members = json.objectValue else { throw VCError(.invalidArgument, "config: turn must be an object") }
        for (key, value) in members {
            let path = "turn." + key
            switch key {
            case "endpointing":
                switch try ConfigValue.string(path, value) {
                case "hub": hubEndpointing = true
                case "worker": hubEndpointing = false
                default: throw VCError(.invalidArgument, "config: turn.endpointing must be \"hub\" or \"worker\"")
                }
            case "min_silence_ms": minSilenceUs = try ConfigValue.ms(path, value)
            case "threshold": threshold = try ConfigValue.double(path, value, 0...1)
            case "text_ms": textUs = try ConfigValue.ms(path, value)
            case "hold_ms": holdUs = try ConfigValue.ms(path, value)
            case "fallback_ms": fallbackUs = try ConfigValue.ms(path, value)
            case "open_ms": openUs = try ConfigValue.ms(path, value)
            case "barge_in_ms": bargeInUs = Int64(try ConfigValue.int(path, value, 0...86_400_000)) * 1000
            case "interrupt_ms": interruptUs = try ConfigValue.ms(path, value)
            case "backchannel_ms": backchannelUs = try ConfigValue.ms(path, value)
            default: throw VCError(.invalidArgument, "config: unknown key \"\(path)\"")
            }
        }
    }
}

/// What the ASR worker has reported about the current pause.
struct PauseEvidence: Sendable, Equatable {
    /// When the silence began (the worker reports how much it had heard when it said `pause`).
    var since: Instant
    var probability: Double?
    var text: String?
    /// The transcript is in the session's language (or either is unknown): its words are evidence.
    var textTrusted = true
    /// The same pass decoded again with beam search (`refined`), in the transcript's language.
    var refined: String?
}

enum EndOfTurn {
    /// The time at which the turn ends, given what is known now (evidence arriving later may move it).
    static func deadline(_ e: PauseEvidence, config c: TurnTakingConfig) -> Instant {
        switch rule(e, config: c) {
        case "open": return e.since + c.openUs
        case "model": return e.since + c.minSilenceUs
        case "text": return e.since + max(c.minSilenceUs, c.textUs)
        case "hold": return e.since + c.holdUs
        default: return e.since + c.fallbackUs
        }
    }

    /// The beam search's words where they decide: the pause's words (in the session's language)
    /// end open and these do not.
    static func deciding(refinedOf e: PauseEvidence) -> String? {
        guard e.textTrusted, let text = e.text, TurnText.readsOpen(text), let refined = e.refined,
              !TurnText.readsOpen(refined) else { return nil }
        return refined
    }

    /// The words the rule reads (the `turn.endpoint` text): the pause's transcript when it is in the
    /// session's language, or its beam-search text where that decides; nil for none.
    static func words(_ e: PauseEvidence) -> String? {
        e.textTrusted ? deciding(refinedOf: e) ?? e.text : nil
    }

    /// Which rule sets the deadline (the `turn.endpoint` reason): open, model, text, hold, fallback.
    static func rule(_ e: PauseEvidence, config c: TurnTakingConfig) -> String {
        if let refined = deciding(refinedOf: e) {
            let beam = rule(PauseEvidence(since: e.since, probability: e.probability, text: refined), config: c)
            return beam == "model" || beam == "text" ? "hold" : beam
        }
        let words = e.textTrusted ? e.text : nil
        if let words, TurnText.readsOpen(words) { return "open" }
        let confident = e.probability.map { $0 >= c.threshold } ?? false
        let finished = words.map(TurnText.readsFinished) ?? false
        if confident, let words, TurnText.readsQuestion(words) { return "model" }
        if e.probability == nil, finished { return "text" }
        if confident || finished { return "hold" }
        return "fallback"
    }
}

/// Language rules on transcripts: open endings and backchannels (en, zh, ru, de, ja).
enum TurnText {
    /// Words a sentence does not end on, whatever the ASR punctuated after them. A wrong "open"
    /// only costs the wait; a wrong "finished" cuts the speaker off, so the lists are generous.
    static let openWords: Set<String> = Set("""
        a an the and or but nor so because if than that which who whose whom of to for with from by as at in into \
        onto about like my your our their this these those is are was were am be been \
        und oder aber denn weil dass wenn als ob der die das den dem des ein eine einen einem einer zu von mit für auf \
        an in im über unter nach bei aus um wie mein meine dein deine \
        и или но а что чтобы потому если как в во на с со к ко о об про по за из от для у мой моя мое мои какой какая \
        какое какие который которая \
        um uh er erm hmm äh ähm öhm ehm э ээ эм ам мм ммм хм ну
        """.split(whereSeparator: { $0 == " " || $0 == "\n" }).map(String.init))
    /// Chinese and Japanese endings that leave the sentence open (particles, conjunctions).
    static let openSuffixes = ["和", "的", "跟", "或者", "还有", "关于", "因为", "所以", "但是", "而且", "然后", "把", "在", "给",
                               "呃", "那个", "就是",
                               "て", "で", "と", "が", "の", "に", "を", "は", "から", "けど", "それから", "えっと", "あの"]
    static let backchannels: Set<String> = [
        "uh-huh", "uh huh", "uh-uh", "mm-hmm", "mm hmm", "mhm", "mm", "hmm", "yeah", "yep", "yes", "right", "okay", "ok", "sure",
        "got it", "i see", "uh", "um", "ah", "oh",
        "嗯", "对", "好", "好的", "是的", "是", "嗯嗯", "哦", "对对",
        "ага", "угу", "да", "понятно", "ну", "ясно", "так",
        "ja", "genau", "mhm", "aha", "stimmt", "gut",
        "うん", "はい", "ええ", "そう",
    ]

    /// The transcript without trailing punctuation, spaces and quotes, lowercased, its Chinese in
    /// simplified characters (`simplified`).
    static func core(_ text: String) -> Substring {
        let trailing: Set<Character> = [" ", ".", ",", "!", "?", "…", "。", "，", "！", "？", "、", "\"", "'", "»", "”", "’", "-", ";", ":"]
        var t = Substring(simplified(text.lowercased()))
        while let last = t.last, trailing.contains(last) { t = t.dropLast() }
        while let first = t.first, first == " " { t = t.dropFirst() }
        return t
    }

    /// German separable-verb particles that are also prepositions: "Mach das Licht in der Küche
    /// aus.", "Mach bitte das Licht an." end on them. Open without final punctuation, finished with
    /// it (Whisper writes "…, wie das..." or no stop at all for a sentence that breaks off).
    static let particles: Set<String> = ["an", "auf", "aus", "zu", "mit", "nach", "um"]
    /// Chinese and Japanese endings of `openSuffixes` that also end sentences — "你是怎么来的？",
    /// "何してるの？", "ちょっと待って。", "雨だから。" — open without final punctuation, finished with it.
    static let finalSuffixes = ["的", "て", "で", "と", "が", "の", "に", "は", "から", "けど"]
    /// Question particles that end a question whether or not the ASR wrote its "？".
    static let questionSuffixes = ["吗", "嗎", "ですか", "ますか", "でしょうか", "のか"]

    static func readsOpen(_ text: String) -> Bool {
        let raw = text.trimmingTrailingSpaces
        if raw.hasSuffix(",") || raw.hasSuffix("，") || raw.hasSuffix("、") || raw.hasSuffix("...") || raw.hasSuffix("…") { return true }
        let body = core(text)
        guard !body.isEmpty else { return false }
        if let space = body.lastIndex(of: " ") {
            let last = String(body[body.index(after: space)...])
            if particles.contains(last), let stop = raw.last, ".!?".contains(stop) { return false }
            return openWords.contains(last)
        }
        if isWide(body) {
            if let stop = raw.last, "。？！.?!".contains(stop), finalSuffixes.contains(where: { body.hasSuffix($0) }),
               !openSuffixes.contains(where: { body.hasSuffix($0) && !finalSuffixes.contains($0) }) {
                return false
            }
            return openSuffixes.contains { body.hasSuffix($0) }
        }
        return openWords.contains(String(body))
    }

    static func readsFinished(_ text: String) -> Bool {
        guard let last = text.trimmingTrailingSpaces.last else { return false }
        return ("．.?!。？！".contains(last) || endsOnQuestionParticle(text) || asksInPlace(text) || endsChineseSentence(text)) && !readsOpen(text)
    }

    static func readsQuestion(_ text: String) -> Bool {
        guard let last = text.trimmingTrailingSpaces.last else { return false }
        return ("?？".contains(last) || endsOnQuestionParticle(text) || opensAsUnpunctuatedQuestion(text) || asksInPlace(text)) && !readsOpen(text)
    }

    /// Question words that open a question in en, de and ru. Whisper tiny.en often writes a short
    /// question with no capital and no final mark ("which ocean is the largest"); its first word
    /// still says what it is. ("что", "wie" and the auxiliaries open statements too: left out.)
    static let questionWords: Set<String> = [
        "what", "which", "who", "whom", "whose", "where", "when", "why", "how",
        "was", "wer", "wo", "wann", "warum", "wieso", "weshalb", "welche", "welcher", "welches", "wieviel",
        "какой", "какая", "какое", "какие", "где", "когда", "почему", "зачем", "кто", "сколько", "куда", "откуда",
    ]

    /// "which ocean is the largest": a question word first and no final punctuation at all (an
    /// ASR that wrote "." or "!" said it is no question).
    static func opensAsUnpunctuatedQuestion(_ text: String) -> Bool {
        let raw = text.trimmingTrailingSpaces
        guard let last = raw.last, last.isLetter || last.isNumber else { return false }
        guard let first = raw.lowercased().split(separator: " ").first else { return false }
        return questionWords.contains(String(first.filter { $0.isLetter }))
    }

    /// Whether the text has Chinese or Japanese in it (CJK punctuation, kana, ideographs: U+3000 up).
    static func isWide(_ text: some StringProtocol) -> Bool {
        text.unicodeScalars.contains { $0.value >= 0x3000 }
    }

    /// Traditional characters of the Chinese words these rules know, and their simplified forms:
    /// Whisper writes Mandarin in either ("今天天氣怎麼樣", "請把客廳的燈關掉"), the lists hold simplified.
    static let simplifiedForms: [Character: Character] = [
        "還": "还", "關": "关", "於": "于", "為": "为", "後": "后", "給": "给", "個": "个", "對": "对", "別": "别",
        "說": "说", "麼": "么", "樣": "样", "裡": "里", "裏": "里", "兒": "儿", "誰": "谁", "幾": "几", "嗎": "吗",
        "點": "点", "沒": "没", "難": "难", "請": "请", "問": "问", "這": "这", "們": "们", "會": "会", "長": "长",
    ]

    static func simplified(_ text: String) -> String {
        guard isWide(text) else { return text }
        return String(text.map { simplifiedForms[$0] ?? $0 })
    }

    /// Chinese asks in place: the question word stands where the answer goes ("今天天气怎么样",
    /// "意大利的首都是哪里", "现在几点了"), and Whisper often writes no "？" after it.
    static let chineseQuestionWords = ["什么", "怎么", "哪里", "哪儿", "哪个", "哪些", "谁", "几点", "几个", "多少", "为什么",
                                       "是不是", "有没有", "能不能", "可不可以", "好不好", "对不对", "要不要"]

    /// Chinese sentence-final particles: after them the sentence is over ("现在几点了", "走吧",
    /// "好啊"), punctuated or not.
    static let chineseFinalParticles = ["了", "吧", "啊", "呀", "啦", "呢", "嘛"]

    /// Chinese that reads finished without final punctuation (Whisper base rarely writes it after
    /// Mandarin): a sentence-final particle last, or a request opened with "请" ("请把客厅的灯关掉").
    static func endsChineseSentence(_ text: String) -> Bool {
        guard let last = text.trimmingTrailingSpaces.last, last.isLetter else { return false }
        let body = core(text)
        guard let first = body.first, isWide(String(first)) else { return false }
        // "请" and three more characters at least: "请问" alone opens a question, it is no request.
        return chineseFinalParticles.contains { body.hasSuffix($0) } || (body.hasPrefix("请") && body.count >= 4)
    }

    /// "今天天气怎么样", "现在几点了": Chinese with a question word and no final punctuation other than
    /// "？" (an ASR that wrote "。" or "！" said it is no question).
    static func asksInPlace(_ text: String) -> Bool {
        guard let last = text.trimmingTrailingSpaces.last, last.isLetter || "?？".contains(last) else { return false }
        let body = core(text)
        return isWide(body) && chineseQuestionWords.contains { body.contains($0) }
    }

    /// "今日の天気はどうですか", "现在几点了吗": a question particle last, with or without "？" / "。".
    static func endsOnQuestionParticle(_ text: String) -> Bool {
        let body = core(text)
        return questionSuffixes.contains { body.hasSuffix($0) }
    }

    /// Whether a transcript's language is the session's: both known and different is a mismatch
    /// ("en" from an English-only ASR in a "zh" session); "zh-CN" matches "zh".
    static func sameLanguage(_ transcript: String?, _ session: String) -> Bool {
        guard let transcript, !transcript.isEmpty, !session.isEmpty else { return true }
        return LanguageTag.primary(transcript) == LanguageTag.primary(session)
    }

    /// Words that carry no content of their own: the open words (articles, conjunctions,
    /// prepositions, fillers), backchannels, pronouns, single letters, interjections ("ой", "naja").
    /// Whisper base writes a Russian hesitation as "ам" or "хм" (fillers, in `openWords`), and
    /// Whisper hears eSpeak's "mm-hmm" as "And m m" or "And then then.", and base a noisy German
    /// "mhm" as "Und dann...": no content words.
    static let emptyWords: Set<String> = openWords.union(backchannels).union([
        "then", "i", "me", "you", "he", "she", "it", "we", "they", "them", "him", "her", "us", "hm", "mmm", "uh-uh",
        "ой", "ах", "ох", "потом", "ach", "na", "naja", "achso", "dann",
    ])

    /// Whether any word of the transcript is a content word (not in `emptyWords`, longer than one letter).
    static func hasContentWords(_ text: String) -> Bool {
        wordsOf(core(text)).contains { $0.count > 1 && !emptyWords.contains(String($0)) }
    }

    /// Words that stop a reply however short: a listener's "stop", "wait", "no", in every language.
    static let interruptions: Set<String> = [
        "stop", "wait", "no", "cancel", "pause", "enough", "quiet", "hold", "what", "why", "hello", "hey", "sorry",
        "停", "停下", "等等", "等一下", "不", "不对", "不是", "别说了", "什么", "为什么", "喂",
        "стоп", "стой", "хватит", "подожди", "погоди", "нет", "что", "почему", "алло", "эй",
        "stopp", "halt", "warte", "moment", "nein", "was", "warum", "hallo",
        "待って", "ストップ", "やめて", "いいえ", "違う", "なに", "何", "え", "もしもし",
    ]

    /// One word ("Подать", "Ciao", "おう", "是大範": Whisper base's readings of eSpeak's "понятно",
    /// "genau", "うん", "是的"), said once or repeated ("Da... Da...", "help help.": base's and
    /// tiny.en's readings of a noisy "mhm" and "mm-hmm"): a single word, or at most three Chinese
    /// or Japanese characters, that is not one of the `interruptions` ("Stop, stop!" cuts).
    static func isOneWord(_ text: String) -> Bool {
        let words = Set(wordsOf(core(text)))
        guard words.count == 1, let word = words.first, !interruptions.contains(String(word)) else { return false }
        let wide = isWide(word)
        return !wide || word.count <= 3
    }

    static func isBackchannel(_ text: String) -> Bool {
        let body = core(text)
        if body.isEmpty { return false }
        if backchannels.contains(String(body)) { return true }
        // "yeah, yeah", "uh-huh, okay", "Ja... ja.": every word a backchannel.
        let words = wordsOf(body)
        return words.count <= 3 && words.allSatisfy { backchannels.contains(String($0)) }
    }

    /// The words of a `core` transcript, split at spaces and punctuation ("mm-hmm" and "uh-huh"
    /// stay one word).
    private static func wordsOf(_ body: Substring) -> [Substring] {
        body.split(whereSeparator: { " ,，、.!?;:…\"“”。？！".contains($0) })
    }
}

extension String {
    fileprivate var trimmingTrailingSpaces: Substring {
        var s = Substring(self)
        while let last = s.last, last == " " || last == "\n" || last == "\t" { s = s.dropLast() }
        return s
    }
}
