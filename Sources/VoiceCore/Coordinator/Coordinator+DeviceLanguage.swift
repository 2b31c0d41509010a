/// A device's language: what it reported over OTA (`Event.deviceLanguage`, remembered per device
/// id in `deviceLanguages`) and the one rule that picks a session's language for its jobs.
extension Coordinator {
    /// The most bytes a reported language tag may have.
    static let maxLanguageTagBytes = 16

    /// The language of a session's jobs (the ASR's hint, the assistant's `language`, the TTS
    /// voice's) for `agent` (the session's, or the one its reply started with): the agent's own
    /// `language` when it sets one, else the language its device reported over OTA when the core
    /// knows it, else the hub's `language`. `auto` (from any of them) is resolved for replies by
    /// `replyLanguage`.
    func configuredLanguage(session s: SessionID, agent: String? = nil) -> String {
        if let own = config.agents[agent ?? sessions[s]?.agent ?? ""]?.language, !own.isEmpty { return own }
        if let deviceID = sessions[s]?.info.deviceID, !deviceID.isEmpty, let reported = deviceLanguages[deviceID] {
            return reported
        }
        return config.language
    }

    /// A device reported its language (OTA). A bad device id or tag is rejected and changes
    /// nothing; a good one is remembered for the device's sessions, this one and later ones.
    func deviceLanguage(_ deviceID: String, _ language: String) {
        guard Self.isDeviceID(deviceID) else {
            rejectLanguage("device language: the device id must be 1-64 characters of A-Z a-z 0-9 : . _ -")
            return
        }
        guard Self.isLanguageTag(language) else {
            rejectLanguage("device language: \"\(language.prefix(32))\" is not a language tag (BCP 47, at most \(Self.maxLanguageTagBytes) bytes)")
            return
        }
        let previous = deviceLanguages.learn(deviceID, language)
        record(.deviceLanguage, from: previous, to: language, text: deviceID)
    }

    private func rejectLanguage(_ reason: String) {
        lastRejection = VCError(.invalidArgument, reason)
        log.append(LogEntry(time: now, kind: .inputRejected, reason: reason))
    }

    /// A device id as the daemon admits one: 1-64 of A-Z a-z 0-9 : . _ -
    static func isDeviceID(_ id: String) -> Bool {
        let bytes = id.utf8
        guard (1...64).contains(bytes.count) else { return false }
        return bytes.allSatisfy { isAlphanumeric($0) || $0 == UInt8(ascii: ":") || $0 == UInt8(ascii: ".") || $0 == UInt8(ascii: "_") || $0 == UInt8(ascii: "-") }
    }

    /// A BCP 47-shaped tag of at most `maxLanguageTagBytes` bytes: a primary subtag of 2-8 ASCII
    /// letters, then subtags of 1-8 ASCII letters or digits, separated by "-" ("en", "zh-CN",
    /// "zh-Hans-CN", "es-419").
    static func isLanguageTag(_ tag: String) -> Bool {
        let bytes = Array(tag.utf8)
        guard !bytes.isEmpty, bytes.count <= maxLanguageTagBytes else { return false }
        let subtags = bytes.split(separator: UInt8(ascii: "-"), omittingEmptySubsequences: false)
        for (i, sub) in subtags.enumerated() {
            guard (i == 0 ? 2 : 1)...8 ~= sub.count else { return false }
            guard sub.allSatisfy({ i == 0 ? isLetter($0) : isAlphanumeric($0) }) else { return false }
        }
        return true
    }

    private static func isLetter(_ b: UInt8) -> Bool { (b | 0x20) >= UInt8(ascii: "a") && (b | 0x20) <= UInt8(ascii: "z") }
    private static func isAlphanumeric(_ b: UInt8) -> Bool { isLetter(b) || (b >= UInt8(ascii: "0") && b <= UInt8(ascii: "9")) }
}
