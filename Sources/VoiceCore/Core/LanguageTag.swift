/// Language tags as devices, agents and workers send them ("zh-CN", "en_US", "ja"), compared by
/// their primary subtag: "zh-CN" and "zh-TW" are both Mandarin to an ASR model.
public enum LanguageTag {
    /// The primary subtag, lowercased: "zh-CN" → "zh", "en_US" → "en", "" → "".
    public static func primary(_ tag: some StringProtocol) -> String {
        String(tag.lowercased().split(whereSeparator: { $0 == "-" || $0 == "_" }).first ?? "")
    }

    /// How a model that handles `languages` (primary subtags; empty: every language) fits a job
    /// in `language` (a primary subtag; "auto": the ASR detects it): 2 it names the language, 1 it
    /// names none (it hears every language and can tell them apart), 0 it does not hear it (an
    /// English-only Whisper writes English words for any speech).
    public static func fit(_ languages: Set<String>, _ language: String) -> Int {
        if languages.isEmpty { return 1 }
        return languages.contains(language) ? 2 : 0
    }
}
