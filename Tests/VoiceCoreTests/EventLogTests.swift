import Testing
@testable import VoiceCore

@Suite struct EventLogTests {
    @Test func jsonLineHasTheDocumentedShape() {
        let e = LogEntry(time: Instant(us: 1500), seq: 7, kind: .jobFailed, session: SessionID(3), turn: TurnID(2),
                         job: JobID(9), jobKind: .tts, worker: WorkerID(4), reason: "worker \"lost\"", value: -5)
        #expect(e.jsonLine() == #"{"t_us":1500,"seq":7,"kind":"job.failed","session":"s3","turn":2,"job":9,"job_kind":"tts","worker":"w4","reason":"worker \"lost\"","value":-5}"#)
        let named = e.jsonLine(sessionName: { _ in "dev-1" }, workerName: { _ in "gpu-a" })
        #expect(named.contains(#""session":"dev-1""#) && named.contains(#""worker":"gpu-a""#))
        let t = LogEntry(time: Instant(us: 0), kind: .turnEnded, timings: [("asr_us", 10), ("total_us", 30)])
        #expect(t.jsonLine().hasSuffix(#""timings":{"asr_us":10,"total_us":30}}"#))
    }

    @Test func theTallyCountsEveryEntryStoredOrNot() {
        var log = EventLog()
        log.storing = false
        log.append(LogEntry(time: Instant(us: 0), kind: .turnMark, reason: "asr_final", value: 40))
        log.append(LogEntry(time: Instant(us: 0), kind: .turnMark, reason: "asr_final", value: 2_000_000))
        log.append(LogEntry(time: Instant(us: 0), kind: .turnMark, reason: "speech_start"))  // no value: not observed
        log.append(LogEntry(time: Instant(us: 0), kind: .turnEnded, reason: "done"))
        log.append(LogEntry(time: Instant(us: 0), kind: .turnEnded, reason: "done"))
        log.append(LogEntry(time: Instant(us: 0), kind: .turnEnded, reason: "aborted"))
        let t = log.tally
        #expect(t.kinds[Int(LogKind.turnMark.rawValue)] == 3 && t.kinds[Int(LogKind.turnEnded.rawValue)] == 3)
        #expect(t.outcomes.map(\.name) == ["done", "aborted"] && t.outcomes.map(\.count) == [2, 1])
        #expect(t.stages.count == 1 && t.stages[0].name == "asr_final")
        let h = t.stages[0].histogram
        #expect(h.count == 2 && h.sumUs == 2_000_040)
        #expect(h.buckets[1] == 1)   // 40 us: in the 50 us bucket
        #expect(h.buckets[12] == 1)  // 2 s: in the 2.5 s bucket
    }

    @Test func everyKindHasAStableUniqueName() {
        let names = LogKind.allCases.map(\.name)
        #expect(Set(names).count == names.count)
        for k in LogKind.allCases { #expect(LogKind(name: k.name) == k) }
        #expect(LogKind(name: "input.rejected") == .inputRejected)
    }

    @Test func sequenceNumbersAreGapFreeAndTheDigestCoversUnstoredEntries() {
        var stored = EventLog()
        var digestOnly = EventLog()
        digestOnly.storing = false
        for i in 0..<10 {
            let e = LogEntry(time: Instant(us: Int64(i)), kind: .jobQueued, job: JobID(UInt64(i)))
            stored.append(e)
            digestOnly.append(e)
        }
        #expect(stored.take().map(\.seq) == Array(1...10))
        #expect(digestOnly.pendingCount == 0)
        #expect(stored.digest == digestOnly.digest)
        stored.append(LogEntry(time: Instant(us: 0), kind: .jobQueued))
        #expect(stored.digest != digestOnly.digest)
    }

    @Test func anUndrainedLogKeepsTheNewestEntries() {
        var log = EventLog()
        log.capacity = 100
        for i in 0..<1_000 { log.append(LogEntry(time: Instant(us: Int64(i)), kind: .jobDone)) }
        #expect(log.pendingCount == 100)
        #expect(log.dropped == 900)
        let kept = log.take()
        #expect(kept.first?.seq == 901 && kept.last?.seq == 1000)
    }
}
