/// One TTS-ready piece of text. `emoji` lists the emoji removed from it (in order; each entry is
/// one emoji, including modifier/ZWJ sequences); `index` counts segments since the splitter was
/// made or reset.
public struct Segment: Sendable, Equatable {
    public var text: String
    public var emoji: [String]
    public var index: Int

    public init(text: String, emoji: [String] = [], index: Int) {
        self.text = text
        self.emoji = emoji
        self.index = index
    }
}
