/// Language tags as devices, agents and workers send them ("zh-CN", "en_US", "ja"), compared by
/// their primary subtag: "zh-CN" and "zh-TW" are both Mandarin to an ASR model.
public enum LanguageTag {
    /// The primary subtag, lowercased: "zh-CN" → "zh", "en_US" → "en", "" → "".
    public static func primary(_ tag: some StringProtocol) -> String {
        String(tag.lowercased().split(whereSeparator: { $0 == "-" || $0 == "_" }).first ?? "")
    }
}
