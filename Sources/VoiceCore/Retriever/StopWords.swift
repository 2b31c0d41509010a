/// Which words the analyzer leaves out, applied to lower-cased words before stemming.
public enum StopWords: String, Sendable {
    /// Every word counts.
    case none
    /// Function words: Lucene's English list and frequent Russian ones (option `true`).
    case function
    /// The function words and the words a spoken question or request is made of that name no topic
    /// ("what", "which", "tell me about", "please", "um"; "какая", "скажи"): asked
    /// "Which ocean is the largest?", the function list matches "which" in "Canberra …, not Sydney,
    /// which is the largest city." above "The Pacific is the largest ocean …" (option `"spoken"`).
    case spoken

    func drops(_ word: String) -> Bool {
        switch self {
        case .none: return false
        case .function: return Self.english.contains(word) || Self.russian.contains(word)
        case .spoken:
            return Self.english.contains(word) || Self.russian.contains(word) || Self.spokenEnglish.contains(word)
                || Self.spokenRussian.contains(word)
        }
    }

    /// Lucene's English list (the one bm25s calls "en").
    static let english: Set<String> = [
        "a", "an", "and", "are", "as", "at", "be", "but", "by", "for", "if", "in", "into", "is", "it", "no", "not",
        "of", "on", "or", "such", "that", "the", "their", "then", "there", "these", "they", "this", "to", "was",
        "will", "with",
    ]
    /// The most frequent Russian function words (a subset of Snowball's list).
    static let russian: Set<String> = [
        "и", "в", "во", "не", "что", "он", "на", "я", "с", "со", "как", "а", "то", "все", "она", "так", "его", "но",
        "да", "ты", "к", "у", "же", "вы", "за", "бы", "по", "только", "ее", "её", "мне", "было", "вот", "от", "меня",
        "еще", "ещё", "нет", "о", "из", "ему", "теперь", "когда", "даже", "ну", "ли", "если", "уже", "или", "ни",
        "быть", "был", "него", "до", "вас", "нибудь", "опять", "уж", "вам", "ведь", "там", "потом", "себя", "ничего",
        "ей", "может", "они", "тут", "где", "есть", "надо", "ней", "для", "мы", "тебя", "их", "чем", "была", "сам",
        "чтоб", "без", "будто", "чего", "раз", "тоже", "себе", "под", "будет", "ж", "тогда", "кто", "этот", "того",
        "потому", "этого", "какой", "совсем", "ним", "здесь", "этом", "один", "почти", "мой", "тем", "чтобы", "нее",
        "это", "эти", "при", "об",
    ]
    /// Question words, requests and fillers of spoken English. Pronouns and auxiliaries stay:
    /// "What can you do?" is about what "you" "can" "do".
    static let spokenEnglish: Set<String> = [
        "what", "which", "who", "whom", "whose", "where", "when", "why", "how", "s", "please", "tell", "know", "about",
        "hey", "um", "uh", "hmm", "okay", "ok",
    ]
    /// The same for Russian (what the function list lacks of them).
    static let spokenRussian: Set<String> = [
        "какая", "какое", "какие", "каков", "какова", "каково", "каковы", "который", "которая", "которое", "которые",
        "сколько", "почему", "зачем", "куда", "откуда", "скажи", "скажите", "расскажи", "расскажите", "пожалуйста",
        "знаешь", "знаете", "про",
    ]
}
