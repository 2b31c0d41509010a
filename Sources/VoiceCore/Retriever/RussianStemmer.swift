/// The Snowball Russian stemmer, written from the published algorithm. It works on lower-case
/// Cyrillic words; `ё` is folded to `е` first.
struct RussianStemmer: Sendable {
    private typealias Ending = [UInt32]

    private static func endings(_ list: [String]) -> [Ending] {
        // Longest first, so the first match is Snowball's longest match.
        list.map { $0.unicodeScalars.map(\.value) }.sorted { $0.count > $1.count }
    }

    private static let gerund1 = endings(["в", "вши", "вшись"])
    private static let gerund2 = endings(["ив", "ивши", "ившись", "ыв", "ывши", "ывшись"])
    private static let adjective = endings([
        "ее", "ие", "ые", "ое", "ими", "ыми", "ей", "ий", "ый", "ой", "ем", "им", "ым", "ом", "его", "ого",
        "ему", "ому", "их", "ых", "ую", "юю", "ая", "яя", "ою", "ею",
    ])
    private static let participle1 = endings(["ем", "нн", "вш", "ющ", "щ"])
    private static let participle2 = endings(["ивш", "ывш", "ующ"])
    private static let reflexive = endings(["ся", "сь"])
    private static let verb1 = endings(["ла", "на", "ете", "йте", "ли", "й", "л", "ем", "н", "ло", "но", "ет", "ют", "ны", "ть", "ешь", "нно"])
    private static let verb2 = endings([
        "ила", "ыла", "ена", "ейте", "уйте", "ите", "или", "ыли", "ей", "уй", "ил", "ыл", "им", "ым", "ен", "ило",
        "ыло", "ено", "ят", "ует", "уют", "ит", "ыт", "ены", "ить", "ыть", "ишь", "ую", "ю",
    ])
    private static let noun = endings([
        "а", "ев", "ов", "ие", "ье", "е", "иями", "ями", "ами", "еи", "ии", "и", "ией", "ей", "ой", "ий", "й",
        "иям", "ям", "ием", "ем", "ам", "ом", "о", "у", "ах", "иях", "ях", "ы", "ь", "ию", "ью", "ю", "ия", "ья", "я",
    ])
    private static let derivational = endings(["ост", "ость"])
    private static let superlative = endings(["ейше", "ейш"])

    private static let a: UInt32 = 0x430, ya: UInt32 = 0x44F, n: UInt32 = 0x43D, i: UInt32 = 0x438
    private static let softSign: UInt32 = 0x44C, yo: UInt32 = 0x451, ye: UInt32 = 0x435

    init() {}

    static func isVowel(_ c: UInt32) -> Bool {
        switch c {
        case 0x430, 0x435, 0x438, 0x43E, 0x443, 0x44B, 0x44D, 0x44E, 0x44F: return true  // а е и о у ы э ю я
        default: return false
        }
    }

    func stem(_ word: String) -> String {
        var w = word.unicodeScalars.map { $0.value == Self.yo ? Self.ye : $0.value }
        let count = w.count
        var rv = count
        for k in 0..<count where Self.isVowel(w[k]) { rv = k + 1; break }
        func after(_ start: Int) -> Int {
            var k = start
            while k < count && !Self.isVowel(w[k]) { k += 1 }
            while k < count && Self.isVowel(w[k]) { k += 1 }
            return min(count, k + 1)
        }
        let r1 = after(0)
        let r2 = r1 >= count ? count : after(r1)
        if rv >= count { return word }

        // The longest ending in `list` that lies in RV, or nil.
        func match(_ list: [Ending]) -> Int? {
            for e in list where e.count <= w.count - rv {
                if w.suffix(e.count).elementsEqual(e) { return e.count }
            }
            return nil
        }
        func precededByAorYa(_ len: Int) -> Bool {
            let p = w.count - len - 1
            return p >= rv && (w[p] == Self.a || w[p] == Self.ya)
        }
        // Group 1 endings need a preceding а/я; group 2 endings stand alone. The longest match of
        // both groups decides, as in Snowball's `among`.
        func removeGrouped(_ g1: [Ending], _ g2: [Ending]) -> Bool {
            let m1 = match(g1) ?? 0, m2 = match(g2) ?? 0
            if m1 == 0 && m2 == 0 { return false }
            if m2 >= m1 { w.removeLast(m2); return true }
            guard precededByAorYa(m1) else { return false }
            w.removeLast(m1); return true
        }

        if !removeGrouped(Self.gerund1, Self.gerund2) {
            if let r = match(Self.reflexive) { w.removeLast(r) }
            if let adj = match(Self.adjective) {
                w.removeLast(adj)
                _ = removeGrouped(Self.participle1, Self.participle2)
            } else if !removeGrouped(Self.verb1, Self.verb2) {
                if let nn = match(Self.noun) { w.removeLast(nn) }
            }
        }
        if w.count > rv && w.last == Self.i { w.removeLast() }
        if let d = match(Self.derivational), w.count - d >= r2 { w.removeLast(d) }
        if w.count >= rv + 2 && w[w.count - 1] == Self.n && w[w.count - 2] == Self.n {
            w.removeLast()
        } else if let s = match(Self.superlative) {
            w.removeLast(s)
            if w.count >= rv + 2 && w[w.count - 1] == Self.n && w[w.count - 2] == Self.n { w.removeLast() }
        } else if w.count > rv && w.last == Self.softSign {
            w.removeLast()
        }
        var out = String.UnicodeScalarView()
        for c in w { if let s = Unicode.Scalar(c) { out.append(s) } }
        return String(out)
    }
}
