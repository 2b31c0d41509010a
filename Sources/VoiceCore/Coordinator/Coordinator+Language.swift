/// A session's language: the configured `language` for every job; with `auto` the ASR detects it
/// (its job gets `auto`) and the replies follow what it heard last.
extension Coordinator {
    /// The language of a session's assistant and TTS jobs. With `auto`: the language the ASR decoded
    /// the session's last utterance in, English before the first (a typed `text` input has none).
    /// A preemptive assistant job starts before the final reports the language, so it uses the
    /// language heard before; the final discards it when the language changed (`languageDetected`).
    func replyLanguage(_ s: SessionID) -> String {
        guard config.language == "auto" else { return config.language }
        return sessions[s]?.detectedLanguage ?? "en"
    }

    /// The ASR's `final` named the language it decoded in: kept for the replies when it changed.
    /// With `auto`, a reply held for this utterance was started in the language heard before: it is
    /// discarded, and the final starts one in the new language.
    mutating func languageDetected(_ s: SessionID, _ u: Utterance, _ language: String) {
        let tag = Self.trimmed(language)
        guard !tag.isEmpty, tag.utf8.count <= 16, tag != sessions[s]!.detectedLanguage else { return }
        let before = replyLanguage(s)
        sessions[s]!.detectedLanguage = tag
        record(.sessionLanguage, session: s, turn: u.turn, text: tag)
        if replyLanguage(s) != before, sessions[s]!.held?.turn == u.turn { discardHeld(s, reason: "language") }
    }
}
