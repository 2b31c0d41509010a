import Testing
@testable import VoiceCore

@Suite struct JSONTests {
    @Test func roundTripsNestedValues() throws {
        let text = #"{"a":[1,2.5,-3e2,true,false,null],"b":{"c":"x\"y\\z\n\u00e9\ud83d\ude00"}}"#
        let value = try JSONParser.parse(text)
        #expect(value["a"] == [1, 2.5, -300, true, false, nil])
        #expect(value["b"]?["c"]?.stringValue == "x\"y\\z\né😀")
        #expect(try JSONParser.parse(value.serialized) == value)
    }

    @Test(arguments: ["", "{", "[1,]", "{\"a\" 1}", "01", "\"\\x\"", "\"\\ud800\"", "tru", "1 2", "\"a\u{01}\"", "-", "1e"])
    func rejectsMalformedInput(_ text: String) {
        #expect(throws: VCError.self) { try JSONParser.parse(text) }
    }

    @Test func limitsNestingDepth() {
        let deep = String(repeating: "[", count: 10_000) + String(repeating: "]", count: 10_000)
        #expect(throws: VCError.self) { try JSONParser.parse(deep) }
    }

    @Test func writesIntegersWithoutFraction() {
        #expect(JSON.object([("n", 42), ("f", 0.5), ("s", "\u{01}")]).serialized == #"{"n":42,"f":0.5,"s":"\u0001"}"#)
    }
}
