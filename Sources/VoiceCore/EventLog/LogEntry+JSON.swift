/// The JSON-line form of a log entry (docs/events.md). Session and worker ids are rendered by the
/// caller's naming (the daemon's string ids at the C edge).
extension LogEntry {
    public func jsonLine(sessionName: (SessionID) -> String = { $0.description },
                         workerName: (WorkerID) -> String = { $0.description }) -> String {
        var out = "{\"t_us\":"
        out += String(time.us)
        out += ",\"seq\":"
        out += String(seq)
        out += ",\"kind\":\""
        out += kind.name
        out += "\""
        if let session { out += ",\"session\":"; JSON.writeString(sessionName(session), to: &out) }
        if let turn { out += ",\"turn\":"; out += String(turn.raw) }
        if let job { out += ",\"job\":"; out += String(job.raw) }
        if let jobKind { out += ",\"job_kind\":\""; out += jobKind.name; out += "\"" }
        if let worker { out += ",\"worker\":"; JSON.writeString(workerName(worker), to: &out) }
        if let from { out += ",\"from\":"; JSON.writeString(from, to: &out) }
        if let to { out += ",\"to\":"; JSON.writeString(to, to: &out) }
        if let reason { out += ",\"reason\":"; JSON.writeString(reason, to: &out) }
        if let value { out += ",\"value\":"; out += String(value) }
        if let text { out += ",\"text\":"; JSON.writeString(text, to: &out) }
        if let timings {
            out += ",\"timings\":{"
            for (i, (name, us)) in timings.enumerated() {
                if i > 0 { out += "," }
                JSON.writeString(name, to: &out)
                out += ":"
                out += String(us)
            }
            out += "}"
        }
        out += "}"
        return out
    }
}
