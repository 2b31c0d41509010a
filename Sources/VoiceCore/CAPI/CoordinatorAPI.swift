#if canImport(Glibc)
import Glibc
#elseif canImport(Musl)
import Musl
#endif

// C exports of the Coordinator (include/voicecore.h, "Coordinator"). Thin: argument checks and
// reading / writing the typed structs; the decoding of events and encoding of effects is
// CoordinatorWire.

final class CoordinatorHandle: Handle {
    var wire: CoordinatorWire?
    /// The last drained effect / log line: their buffers stay valid until the next call.
    var effectBody: [CChar] = [0]
    var effectData: [UInt8] = []
    var logLine: [CChar] = [0]
    var healthJSON: [CChar] = [0]
    var tallyName: [CChar] = [0]

    init(_ wire: CoordinatorWire?) { self.wire = wire }

    func usable() throws(VCError) {
        if wire == nil { throw VCError(.invalidState, "the coordinator was not created (see the error of vc_coordinator_new)") }
    }
}

/// Byte offsets of the fields of `vc_event` (include/voicecore.h); they are ABI.
private enum EventLayout {
    static let kind = 0, flags = 4, session = 8, worker = 16, job = 24, turn = 32, timer = 40, protocolVersion = 48
    static let body = 56, bodyLen = 64, deviceID = 72, deviceIDLen = 80, clientID = 88, clientIDLen = 96, data = 104, dataLen = 112
    static let request = 120, path = 128, pathLen = 136, token = 144, tokenLen = 152
}

/// Byte offsets of the fields of `vc_effect` (include/voicecore.h); they are ABI.
private enum EffectLayout {
    static let kind = 0, flags = 4, session = 8, worker = 16, job = 24, turn = 32, timer = 40, atUs = 48
    static let segment = 56, sampleRate = 60, code = 64, jobKind = 68, body = 72, bodyLen = 80, data = 88, dataLen = 96
    static let request = 104
}

/// Byte offsets of the fields of `vc_counters` (include/voicecore.h); they are ABI.
private enum CountersLayout {
    static let placementFailures = 0, refusals = 32, degraded = 64
    static let jobsReconciled = 80, leaksMarked = 88, recycles = 96, progressTimeouts = 104, heartbeatTimeouts = 112
}

nonisolated(unsafe) private let invalidCoordinatorMessage: UnsafePointer<CChar> = UnsafePointer(strdup("invalid coordinator handle (NULL)")!)

@_cdecl("vc_coordinator_new")
public func vc_coordinator_new(_ out: UnsafeMutablePointer<OpaquePointer?>?, _ configJSON: UnsafePointer<CChar>?) -> Int32 {
    guard let out else { return Status.invalidArgument.rawValue }
    do {
        let wire = try CoordinatorWire(configJSON: parseOptions(configJSON))
        out.pointee = HandleTable.retain(CoordinatorHandle(wire))
        return Status.ok.rawValue
    } catch {
        let handle = CoordinatorHandle(nil)
        let code = handle.fail(error)
        out.pointee = HandleTable.retain(handle)
        return code
    }
}

@_cdecl("vc_coordinator_free")
public func vc_coordinator_free(_ c: OpaquePointer?) {
    HandleTable.release(c, as: CoordinatorHandle.self)
}

@_cdecl("vc_coordinator_errmsg")
public func vc_coordinator_errmsg(_ c: OpaquePointer?) -> UnsafePointer<CChar> {
    guard let h = HandleTable.get(c, as: CoordinatorHandle.self) else { return invalidCoordinatorMessage }
    return h.lastError.withUnsafeBufferPointer { UnsafePointer($0.baseAddress!) }
}

/// The caller's (pointer, length) at `offset` / `lenOffset` of `base`, copied; nil when the pointer
/// is NULL with a non-zero length.
private func bytesField(_ base: UnsafeRawPointer, _ offset: Int, _ lenOffset: Int) -> [UInt8]? {
    let len = base.load(fromByteOffset: lenOffset, as: Int.self)
    if len == 0 { return [] }
    guard len > 0, let p = base.load(fromByteOffset: offset, as: UnsafeRawPointer?.self) else { return nil }
    return Array(UnsafeRawBufferPointer(start: p, count: len))
}

@_cdecl("vc_coordinator_handle")
public func vc_coordinator_handle(_ c: OpaquePointer?, _ event: UnsafeRawPointer?, _ nowUs: Int64) -> Int32 {
    guard let h = HandleTable.get(c, as: CoordinatorHandle.self) else { return Status.invalidArgument.rawValue }
    return h.run { () throws(VCError) -> Int32 in
        try h.usable()
        guard let e = event else { throw VCError(.invalidArgument, "event is NULL") }
        var wire = WireEvent(kind: e.load(fromByteOffset: EventLayout.kind, as: Int32.self))
        wire.flags = e.load(fromByteOffset: EventLayout.flags, as: UInt32.self)
        wire.session = e.load(fromByteOffset: EventLayout.session, as: UInt64.self)
        wire.worker = e.load(fromByteOffset: EventLayout.worker, as: UInt64.self)
        wire.job = e.load(fromByteOffset: EventLayout.job, as: UInt64.self)
        wire.turn = e.load(fromByteOffset: EventLayout.turn, as: UInt64.self)
        wire.timer = e.load(fromByteOffset: EventLayout.timer, as: UInt64.self)
        wire.protocolVersion = e.load(fromByteOffset: EventLayout.protocolVersion, as: Int32.self)
        wire.request = e.load(fromByteOffset: EventLayout.request, as: UInt64.self)
        guard let body = bytesField(e, EventLayout.body, EventLayout.bodyLen),
              let path = bytesField(e, EventLayout.path, EventLayout.pathLen),
              let token = bytesField(e, EventLayout.token, EventLayout.tokenLen),
              let deviceID = bytesField(e, EventLayout.deviceID, EventLayout.deviceIDLen),
              let clientID = bytesField(e, EventLayout.clientID, EventLayout.clientIDLen),
              let data = bytesField(e, EventLayout.data, EventLayout.dataLen)
        else { throw VCError(.invalidArgument, "a NULL pointer with a non-zero length in the event") }
        wire.body = body
        wire.data = data
        if !deviceID.isEmpty { wire.deviceID = String(decoding: deviceID, as: UTF8.self) }
        if !clientID.isEmpty { wire.clientID = String(decoding: clientID, as: UTF8.self) }
        if !path.isEmpty { wire.path = String(decoding: path, as: UTF8.self) }
        if !token.isEmpty { wire.token = String(decoding: token, as: UTF8.self) }
        try h.wire!.handle(wire, nowUs: nowUs)
        return Status.ok.rawValue
    }
}

@_cdecl("vc_coordinator_next_effect")
public func vc_coordinator_next_effect(_ c: OpaquePointer?, _ out: UnsafeMutableRawPointer?) -> Int32 {
    guard let h = HandleTable.get(c, as: CoordinatorHandle.self), let out else { return Status.invalidArgument.rawValue }
    return h.run { () throws(VCError) -> Int32 in
        try h.usable()
        guard let effect = h.wire!.nextEffect() else { return 0 }
        out.storeBytes(of: effect.kind.rawValue, toByteOffset: EffectLayout.kind, as: Int32.self)
        out.storeBytes(of: effect.flags, toByteOffset: EffectLayout.flags, as: UInt32.self)
        out.storeBytes(of: effect.session, toByteOffset: EffectLayout.session, as: UInt64.self)
        out.storeBytes(of: effect.worker, toByteOffset: EffectLayout.worker, as: UInt64.self)
        out.storeBytes(of: effect.job, toByteOffset: EffectLayout.job, as: UInt64.self)
        out.storeBytes(of: effect.turn, toByteOffset: EffectLayout.turn, as: UInt64.self)
        out.storeBytes(of: effect.timer, toByteOffset: EffectLayout.timer, as: UInt64.self)
        out.storeBytes(of: effect.atUs, toByteOffset: EffectLayout.atUs, as: Int64.self)
        out.storeBytes(of: effect.segment, toByteOffset: EffectLayout.segment, as: Int32.self)
        out.storeBytes(of: effect.sampleRate, toByteOffset: EffectLayout.sampleRate, as: Int32.self)
        out.storeBytes(of: effect.code, toByteOffset: EffectLayout.code, as: Int32.self)
        out.storeBytes(of: effect.jobKind, toByteOffset: EffectLayout.jobKind, as: Int32.self)
        out.storeBytes(of: effect.request, toByteOffset: EffectLayout.request, as: UInt64.self)
        if let body = effect.body {
            h.effectBody = Array(body.utf8CString)
            h.effectBody.withUnsafeBufferPointer { out.storeBytes(of: UnsafeRawPointer($0.baseAddress!), toByteOffset: EffectLayout.body, as: UnsafeRawPointer.self) }
            out.storeBytes(of: h.effectBody.count - 1, toByteOffset: EffectLayout.bodyLen, as: Int.self)
        } else {
            out.storeBytes(of: nil, toByteOffset: EffectLayout.body, as: UnsafeRawPointer?.self)
            out.storeBytes(of: 0, toByteOffset: EffectLayout.bodyLen, as: Int.self)
        }
        h.effectData = effect.data ?? []
        if h.effectData.isEmpty {
            out.storeBytes(of: nil, toByteOffset: EffectLayout.data, as: UnsafeRawPointer?.self)
            out.storeBytes(of: 0, toByteOffset: EffectLayout.dataLen, as: Int.self)
        } else {
            h.effectData.withUnsafeBufferPointer { out.storeBytes(of: UnsafeRawPointer($0.baseAddress!), toByteOffset: EffectLayout.data, as: UnsafeRawPointer.self) }
            out.storeBytes(of: h.effectData.count, toByteOffset: EffectLayout.dataLen, as: Int.self)
        }
        return 1
    }
}

@_cdecl("vc_coordinator_counters")
public func vc_coordinator_counters(_ c: OpaquePointer?, _ nowUs: Int64, _ out: UnsafeMutableRawPointer?) -> Int32 {
    guard let h = HandleTable.get(c, as: CoordinatorHandle.self), let out else { return Status.invalidArgument.rawValue }
    return h.run { () throws(VCError) -> Int32 in
        try h.usable()
        let core = h.wire!.core
        let counters = core.counters
        let (degraded, kinds) = core.health(at: Instant(us: nowUs))
        for k in WorkerKind.allCases {
            let i = k.rawValue
            out.storeBytes(of: UInt64(clamping: counters.placementFailures[i]), toByteOffset: CountersLayout.placementFailures + 8 * i, as: UInt64.self)
            out.storeBytes(of: UInt64(clamping: counters.refusals[i]), toByteOffset: CountersLayout.refusals + 8 * i, as: UInt64.self)
            out.storeBytes(of: Int32(kinds[i].degraded ? 1 : 0), toByteOffset: CountersLayout.degraded + 4 * i, as: Int32.self)
        }
        out.storeBytes(of: UInt64(clamping: counters.jobsReconciled), toByteOffset: CountersLayout.jobsReconciled, as: UInt64.self)
        out.storeBytes(of: UInt64(clamping: counters.leaksMarked), toByteOffset: CountersLayout.leaksMarked, as: UInt64.self)
        out.storeBytes(of: UInt64(clamping: counters.recycles), toByteOffset: CountersLayout.recycles, as: UInt64.self)
        out.storeBytes(of: UInt64(clamping: counters.progressTimeouts), toByteOffset: CountersLayout.progressTimeouts, as: UInt64.self)
        out.storeBytes(of: UInt64(clamping: counters.heartbeatTimeouts), toByteOffset: CountersLayout.heartbeatTimeouts, as: UInt64.self)
        return degraded ? 1 : 0
    }
}

@_cdecl("vc_coordinator_next_log")
public func vc_coordinator_next_log(_ c: OpaquePointer?, _ json: UnsafeMutablePointer<UnsafePointer<CChar>?>?,
                                    _ len: UnsafeMutablePointer<Int>?) -> Int32 {
    guard let h = HandleTable.get(c, as: CoordinatorHandle.self), let json, let len else { return Status.invalidArgument.rawValue }
    return h.run { () throws(VCError) -> Int32 in
        try h.usable()
        guard let line = h.wire!.nextLogLine() else { return 0 }
        h.logLine = Array(line.utf8CString)
        json.pointee = h.logLine.withUnsafeBufferPointer { UnsafePointer($0.baseAddress!) }
        len.pointee = h.logLine.count - 1
        return 1
    }
}

@_cdecl("vc_coordinator_digest")
public func vc_coordinator_digest(_ c: OpaquePointer?, _ digest: UnsafeMutablePointer<UInt64>?,
                                  _ entries: UnsafeMutablePointer<UInt64>?) -> Int32 {
    guard let h = HandleTable.get(c, as: CoordinatorHandle.self), let digest else { return Status.invalidArgument.rawValue }
    return h.run { () throws(VCError) -> Int32 in
        try h.usable()
        digest.pointee = h.wire!.core.log.digest
        entries?.pointee = h.wire!.core.log.nextSeq - 1
        return Status.ok.rawValue
    }
}

@_cdecl("vc_coordinator_health")
public func vc_coordinator_health(_ c: OpaquePointer?, _ nowUs: Int64, _ json: UnsafeMutablePointer<UnsafePointer<CChar>?>?,
                                  _ len: UnsafeMutablePointer<Int>?) -> Int32 {
    guard let h = HandleTable.get(c, as: CoordinatorHandle.self), let json, let len else { return Status.invalidArgument.rawValue }
    return h.run { () throws(VCError) -> Int32 in
        try h.usable()
        let health = h.wire!.core.healthJSON(at: Instant(us: nowUs))
        var text = ""
        health.write(to: &text)
        h.healthJSON = Array(text.utf8CString)
        json.pointee = h.healthJSON.withUnsafeBufferPointer { UnsafePointer($0.baseAddress!) }
        len.pointee = h.healthJSON.count - 1
        return health["status"]?.stringValue == "degraded" ? 1 : 0
    }
}

/// Byte offsets of the fields of `vc_tally` (include/voicecore.h); they are ABI.
private enum TallyLayout {
    static let name = 0, count = 8, sum = 16, buckets = 24
}

@_cdecl("vc_coordinator_tally")
public func vc_coordinator_tally(_ c: OpaquePointer?, _ table: Int32, _ index: Int, _ out: UnsafeMutableRawPointer?) -> Int32 {
    guard let h = HandleTable.get(c, as: CoordinatorHandle.self), let out else { return Status.invalidArgument.rawValue }
    return h.run { () throws(VCError) -> Int32 in
        try h.usable()
        guard index >= 0 else { throw VCError(.invalidArgument, "negative tally index") }
        let tally = h.wire!.core.log.tally
        let name: String
        var count: UInt64 = 0, sum: Int64 = 0
        var buckets = [UInt64](repeating: 0, count: LogTally.boundsUs.count + 1)
        switch table {
        case 0:
            guard index < LogKind.allCases.count else { return 0 }
            name = LogKind.allCases[index].name
            count = tally.kinds[index]
        case 1:
            guard index < tally.outcomes.count else { return 0 }
            (name, count) = tally.outcomes[index]
        case 2:
            guard index < tally.stages.count else { return 0 }
            let stage = tally.stages[index]
            name = stage.name
            count = stage.histogram.count
            sum = stage.histogram.sumUs
            buckets = stage.histogram.buckets
        case 3:
            let rows = h.wire!.core.usage.rows
            guard index < rows.count else { return 0 }
            name = rows[index].agent + "\t" + rows[index].model
            count = rows[index].tokens
            buckets[0] = rows[index].turns
            buckets[1] = rows[index].estimated
        default:
            throw VCError(.invalidArgument, "unknown tally table \(table) (VC_TALLY_EVENTS, VC_TALLY_OUTCOMES, VC_TALLY_STAGES, VC_TALLY_USAGE)")
        }
        h.tallyName = Array(name.utf8CString)
        h.tallyName.withUnsafeBufferPointer { out.storeBytes(of: UnsafeRawPointer($0.baseAddress!), toByteOffset: TallyLayout.name, as: UnsafeRawPointer.self) }
        out.storeBytes(of: count, toByteOffset: TallyLayout.count, as: UInt64.self)
        out.storeBytes(of: sum, toByteOffset: TallyLayout.sum, as: Int64.self)
        for (i, b) in buckets.enumerated() { out.storeBytes(of: b, toByteOffset: TallyLayout.buckets + 8 * i, as: UInt64.self) }
        return 1
    }
}
