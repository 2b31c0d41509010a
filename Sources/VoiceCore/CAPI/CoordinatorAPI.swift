#if canImport(Glibc)
import Glibc
#elseif canImport(Musl)
import Musl
#endif

// C exports of the Coordinator (include/voicecore.h, "Coordinator"). Thin: argument checks and
// buffer handling only; the JSON edge is CoordinatorWire.

final class CoordinatorHandle: Handle {
    var wire: CoordinatorWire?
    /// The last drained effect / log line: their buffers stay valid until the next call.
    var effectJSON: [CChar] = [0]
    var effectData: [UInt8] = []
    var logLine: [CChar] = [0]
    var healthJSON: [CChar] = [0]
    var tallyName: [CChar] = [0]

    init(_ wire: CoordinatorWire?) { self.wire = wire }

    func usable() throws(VCError) {
        if wire == nil { throw VCError(.invalidState, "the coordinator was not created (see the error of vc_coordinator_new)") }
    }
}

/// Byte offsets of the fields of `vc_effect` (include/voicecore.h); they are ABI.
private enum EffectLayout {
    static let json = 0, jsonLen = 8, data = 16, dataLen = 24
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

@_cdecl("vc_coordinator_handle")
public func vc_coordinator_handle(_ c: OpaquePointer?, _ json: UnsafePointer<CChar>?, _ jsonLen: Int,
                                  _ data: UnsafeRawPointer?, _ dataLen: Int, _ nowUs: Int64) -> Int32 {
    guard let h = HandleTable.get(c, as: CoordinatorHandle.self) else { return Status.invalidArgument.rawValue }
    return h.run { () throws(VCError) -> Int32 in
        try h.usable()
        guard let text = borrowBytes(json, jsonLen), jsonLen > 0 else { throw VCError(.invalidArgument, "event JSON is NULL or empty") }
        guard dataLen >= 0, dataLen == 0 || data != nil else { throw VCError(.invalidArgument, "data is NULL with a non-zero length") }
        let bytes = dataLen == 0 ? [] : Array(UnsafeRawBufferPointer(start: data, count: dataLen))
        let event: JSON
        do throws(VCError) {
            event = try JSONParser.parse(bytes: Array(text))
        } catch {
            h.wire!.rejectUnparsable(error, nowUs: nowUs)
            throw error
        }
        try h.wire!.handle(json: event, data: bytes, nowUs: nowUs)
        return Status.ok.rawValue
    }
}

@_cdecl("vc_coordinator_next_effect")
public func vc_coordinator_next_effect(_ c: OpaquePointer?, _ out: UnsafeMutableRawPointer?) -> Int32 {
    guard let h = HandleTable.get(c, as: CoordinatorHandle.self), let out else { return Status.invalidArgument.rawValue }
    return h.run { () throws(VCError) -> Int32 in
        try h.usable()
        guard let effect = h.wire!.nextEffect() else { return 0 }
        h.effectJSON = Array(effect.json.utf8CString)
        h.effectData = effect.data ?? []
        h.effectJSON.withUnsafeBufferPointer { out.storeBytes(of: UnsafeRawPointer($0.baseAddress!), toByteOffset: EffectLayout.json, as: UnsafeRawPointer.self) }
        out.storeBytes(of: h.effectJSON.count - 1, toByteOffset: EffectLayout.jsonLen, as: Int.self)
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
