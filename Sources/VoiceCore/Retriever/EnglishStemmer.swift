/// The Snowball English ("Porter2") stemmer, written from the published algorithm. It works on
/// lower-case ASCII letters; callers pass other words through unchanged.
struct EnglishStemmer: Sendable {
    private static let exceptions: [String: String] = [
        "skis": "ski", "skies": "sky", "dying": "die", "lying": "lie", "tying": "tie",
        "idly": "idl", "gently": "gentl", "ugly": "ugli", "early": "earli", "only": "onli",
        "singly": "singl", "sky": "sky", "news": "news", "howe": "howe", "atlas": "atlas",
        "cosmos": "cosmos", "bias": "bias", "andes": "andes",
    ]
    private static let stopAfter1a: Set<String> = [
        "inning", "outing", "canning", "herring", "earring", "proceed", "exceed", "succeed",
    ]

    init() {}

    func stem(_ word: String) -> String {
        if word.utf8.count <= 2 { return word }
        if let e = Self.exceptions[word] { return e }
        var w = Word(Array(word.utf8))
        w.run()
        return String(decoding: w.chars, as: UTF8.self)
    }

    private struct Word {
        var chars: [UInt8]
        var r1 = 0
        var r2 = 0

        init(_ c: [UInt8]) { chars = c }

        static let Y: UInt8 = 0x59

        func isVowel(_ c: UInt8) -> Bool {
            switch c {
            case UInt8(ascii: "a"), UInt8(ascii: "e"), UInt8(ascii: "i"), UInt8(ascii: "o"), UInt8(ascii: "u"), UInt8(ascii: "y"): return true
            default: return false
            }
        }
        func vowelAt(_ i: Int) -> Bool { isVowel(chars[i]) }

        func ends(_ s: StaticString) -> Bool {
            let n = s.utf8CodeUnitCount
            if n > chars.count { return false }
            let base = chars.count - n
            let p = s.utf8Start
            for i in 0..<n where chars[base + i] != p[i] { return false }
            return true
        }
        mutating func replace(_ n: Int, with s: StaticString) {
            chars.removeLast(n)
            let p = s.utf8Start
            for i in 0..<s.utf8CodeUnitCount { chars.append(p[i]) }
        }
        /// Whether the suffix of length n starts inside R1 / R2.
        func inR1(_ n: Int) -> Bool { chars.count - n >= r1 }
        func inR2(_ n: Int) -> Bool { chars.count - n >= r2 }

        func hasPrefix(_ s: StaticString) -> Bool {
            let n = s.utf8CodeUnitCount
            if n > chars.count { return false }
            let p = s.utf8Start
            for i in 0..<n where chars[i] != p[i] { return false }
            return true
        }

        mutating func markRegions() {
            let n = chars.count
            func after(_ start: Int) -> Int {
                var i = start
                while i < n && !vowelAt(i) { i += 1 }
                while i < n && vowelAt(i) { i += 1 }
                return min(n, i + 1)
            }
            if hasPrefix("gener") || hasPrefix("arsen") { r1 = 5 }
            else if hasPrefix("commun") { r1 = 6 }
            else { r1 = after(0) }
            r2 = r1 >= n ? n : after(r1)
        }

        /// A short syllable ends at index i (inclusive).
        func shortSyllable(endingAt i: Int) -> Bool {
            if i == 1 { return vowelAt(0) && !vowelAt(1) }
            if i < 2 { return false }
            let c = chars[i]
            return !vowelAt(i - 2) && vowelAt(i - 1) && !vowelAt(i) && c != UInt8(ascii: "w") && c != UInt8(ascii: "x") && c != Self.Y
        }
        func isShort() -> Bool { r1 >= chars.count && shortSyllable(endingAt: chars.count - 1) }
        func containsVowel(before end: Int) -> Bool {
            for i in 0..<end where vowelAt(i) { return true }
            return false
        }

        mutating func run() {
            if chars.first == UInt8(ascii: "'") { chars.removeFirst() }
            if chars.isEmpty { return }
            if chars[0] == UInt8(ascii: "y") { chars[0] = Self.Y }
            if chars.count > 1 {
                for i in 1..<chars.count where chars[i] == UInt8(ascii: "y") && isVowel(chars[i - 1]) { chars[i] = Self.Y }
            }
            markRegions()
            step0(); step1a()
            if !EnglishStemmer.stopAfter1a.contains(String(decoding: chars, as: UTF8.self)) {
                step1b(); step1c(); step2(); step3(); step4(); step5()
            }
            for i in 0..<chars.count where chars[i] == Self.Y { chars[i] = UInt8(ascii: "y") }
        }

        mutating func step0() {
            if ends("'s'") { chars.removeLast(3) } else if ends("'s") { chars.removeLast(2) } else if ends("'") { chars.removeLast(1) }
        }

        mutating func step1a() {
            if ends("sses") { chars.removeLast(2); return }
            if ends("ied") || ends("ies") {
                if chars.count > 4 { chars.removeLast(2) } else { chars.removeLast(1) }
                return
            }
            if ends("us") || ends("ss") { return }
            if ends("s") {
                if chars.count >= 3 && containsVowel(before: chars.count - 2) { chars.removeLast() }
            }
        }

        mutating func step1b() {
            var n = 0
            if ends("eedly") { n = 5 } else if ends("eed") { n = 3 }
            if n > 0 {
                if inR1(n) { chars.removeLast(n); chars.append(contentsOf: [UInt8(ascii: "e"), UInt8(ascii: "e")]) }
                return
            }
            if ends("ingly") { n = 5 } else if ends("edly") { n = 4 } else if ends("ing") { n = 3 } else if ends("ed") { n = 2 }
            if n == 0 { return }
            let stemEnd = chars.count - n
            guard containsVowel(before: stemEnd) else { return }
            chars.removeLast(n)
            if ends("at") || ends("bl") || ends("iz") { chars.append(UInt8(ascii: "e")); return }
            let c = chars.count
            if c >= 2 && chars[c - 1] == chars[c - 2] {
                switch chars[c - 1] {
                case UInt8(ascii: "b"), UInt8(ascii: "d"), UInt8(ascii: "f"), UInt8(ascii: "g"), UInt8(ascii: "m"),
                     UInt8(ascii: "n"), UInt8(ascii: "p"), UInt8(ascii: "r"), UInt8(ascii: "t"):
                    chars.removeLast(); return
                default: break
                }
            }
            if isShort() { chars.append(UInt8(ascii: "e")) }
        }

        mutating func step1c() {
            let c = chars.count
            guard c > 2, chars[c - 1] == UInt8(ascii: "y") || chars[c - 1] == Self.Y, !vowelAt(c - 2) else { return }
            chars[c - 1] = UInt8(ascii: "i")
        }

        func validLi(_ c: UInt8) -> Bool {
            switch c {
            case UInt8(ascii: "c"), UInt8(ascii: "d"), UInt8(ascii: "e"), UInt8(ascii: "g"), UInt8(ascii: "h"), UInt8(ascii: "k"),
                 UInt8(ascii: "m"), UInt8(ascii: "n"), UInt8(ascii: "r"), UInt8(ascii: "t"): return true
            default: return false
            }
        }

        mutating func step2() {
            // Longest suffix first; a found suffix outside R1 ends the step.
            let rules: [(StaticString, StaticString)] = [
                ("ization", "ize"), ("ational", "ate"), ("fulness", "ful"), ("ousness", "ous"), ("iveness", "ive"),
                ("tional", "tion"), ("biliti", "ble"), ("lessli", "less"), ("entli", "ent"), ("ation", "ate"),
                ("alism", "al"), ("aliti", "al"), ("ousli", "ous"), ("iviti", "ive"), ("fulli", "ful"),
                ("enci", "ence"), ("anci", "ance"), ("abli", "able"), ("izer", "ize"), ("ator", "ate"),
                ("alli", "al"), ("bli", "ble"),
            ]
            for (suffix, repl) in rules where ends(suffix) {
                let n = suffix.utf8CodeUnitCount
                if inR1(n) { replace(n, with: repl) }
                return
            }
            if ends("ogi") {
                if inR1(3) && chars.count >= 4 && chars[chars.count - 4] == UInt8(ascii: "l") { replace(3, with: "og") }
                return
            }
            if ends("li") {
                if inR1(2) && chars.count >= 3 && validLi(chars[chars.count - 3]) { chars.removeLast(2) }
            }
        }

        mutating func step3() {
            let rules: [(StaticString, StaticString)] = [
                ("ational", "ate"), ("tional", "tion"), ("alize", "al"), ("icate", "ic"), ("iciti", "ic"),
                ("ical", "ic"), ("ness", ""), ("ful", ""),
            ]
            if ends("ative") {
                if inR1(5) && inR2(5) { chars.removeLast(5) }
                return
            }
            for (suffix, repl) in rules where ends(suffix) {
                let n = suffix.utf8CodeUnitCount
                if inR1(n) { replace(n, with: repl) }
                return
            }
        }

        mutating func step4() {
            let suffixes: [StaticString] = [
                "ement", "ance", "ence", "able", "ible", "ment", "ant", "ent", "ism", "ate", "iti", "ous",
                "ive", "ize", "ion", "al", "er", "ic",
            ]
            for s in suffixes where ends(s) {
                let n = s.utf8CodeUnitCount
                // "ement" beats "ment" beats "ent": the list is ordered longest first within each family.
                guard inR2(n) else { return }
                if n == 3 && ends("ion") {
                    let p = chars.count - 4
                    if p >= 0 && (chars[p] == UInt8(ascii: "s") || chars[p] == UInt8(ascii: "t")) { chars.removeLast(3) }
                    return
                }
                chars.removeLast(n)
                return
            }
        }

        mutating func step5() {
            let c = chars.count
            if ends("e") {
                if inR2(1) || (inR1(1) && !shortSyllable(endingAt: c - 2)) { chars.removeLast() }
                return
            }
            if ends("l") && inR2(1) && c >= 2 && chars[c - 2] == UInt8(ascii: "l") { chars.removeLast() }
        }
    }
}
