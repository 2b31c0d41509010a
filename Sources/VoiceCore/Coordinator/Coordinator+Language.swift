/// A session's language: its agent's `language` (else the hub's) for every job; with `auto` the ASR
/// detects it (its job gets `auto`) and the replies follow what it heard last.
extension Coordinator {
    /// The language of a session's assistant and TTS jobs for `agent`. With `auto`: the language the
    /// ASR decoded the session's last utterance in, English before the first (a typed `text` input
    /// has none). A preemptive assistant job starts before the final reports the language, so it
    /// uses the language heard before; the final discards it when the language changed
    /// (`languageDetected`).
    func replyLanguage(_ s: SessionID, agent: String) -> String {
        let configured = configuredLanguage(session: s, agent: agent)
        guard configured == "auto" else { return configured }
        return sessions[s]?.detectedLanguage ?? "en"
    }

    /// The language the session's speech is expected in now: its agent's (else the hub's), or with
    /// `auto` the one heard last — what end-of-turn and backchannel rules compare transcripts with.
    func sessionLanguage(_ s: SessionID) -> String {
        replyLanguage(s, agent: sessions[s]?.agent ?? "")
    }

    /// The ASR's `final` named the language it decoded in: kept for the replies when it changed.
    /// With `auto`, a reply held for this utterance was started in the language heard before: it is
    /// discarded, and the final starts one in the new language.
    func languageDetected(_ s: SessionID, _ u: Utterance, _ language: String) {
        let tag = Self.trimmed(language)
        guard !tag.isEmpty, tag.utf8.count <= 16, tag != sessions[s]!.detectedLanguage else { return }
        let agent = sessions[s]!.agent
        let before = replyLanguage(s, agent: agent)
        sessions[s]!.detectedLanguage = tag
        record(.sessionLanguage, session: s, turn: u.turn, text: tag)
        if replyLanguage(s, agent: agent) != before, sessions[s]!.held?.turn == u.turn { discardHeld(s, reason: "language") }
    }
}
