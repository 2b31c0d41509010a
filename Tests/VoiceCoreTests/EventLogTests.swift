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
