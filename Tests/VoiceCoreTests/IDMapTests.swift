import Testing
@testable import VoiceCore

@Suite struct IDMapTests {
    /// Random inserts, overwrites and removals agree with a Dictionary (backward-shift deletion
    /// keeps every probe run intact).
    @Test func agreesWithDictionary() {
        var map = IDMap<JobID, Int>()
        var reference: [JobID: Int] = [:]
        var rng = SplitMix64(seed: 1)
        for step in 0..<50_000 {
            let key = JobID(UInt64(rng.below(2_000)) * 7)
            if rng.below(3) == 0 {
                #expect(map.removeValue(forKey: key) == reference.removeValue(forKey: key))
            } else {
                map[key] = step
                reference[key] = step
            }
            if step % 5_000 == 0 {
                for (k, v) in reference { #expect(map[k] == v) }
            }
        }
        #expect(map.count == reference.count)
        #expect(Set(map.keyList) == Set(reference.keys))
    }

    @Test func slotTableKeepsValuesInPlaceAcrossRemovals() {
        var table = SlotTable<SessionID, [Int]>()
        for i in 0..<100 { table[SessionID(UInt64(i))] = [i] }
        for i in stride(from: 0, to: 100, by: 2) { table[SessionID(UInt64(i))] = nil }
        table[SessionID(7)]!.append(70)
        #expect(table[SessionID(7)] == [7, 70])
        let slot = table.slot(SessionID(9))!
        table[slot: slot].append(90)
        #expect(table[SessionID(9)] == [9, 90])
        #expect(table.count == 50 && table[SessionID(8)] == nil)
        table[SessionID(200)] = [200]  // reuses a freed slot
        #expect(table[SessionID(200)] == [200] && table.count == 51)
    }
}
