#if canImport(Glibc)
import Glibc
#elseif canImport(Musl)
import Musl
#endif

// C exports of the Simulator (include/voicecore.h, "Simulator"). Thin: argument checks and
// buffer handling only.

final class SimulatorHandle: Handle {
    var simulation: Simulation?
    var report: [CChar] = [0]
    var ran = false

    init(_ simulation: Simulation?) { self.simulation = simulation }
}

nonisolated(unsafe) private let invalidSimulatorMessage: UnsafePointer<CChar> = UnsafePointer(strdup("invalid simulator handle (NULL)")!)

@_cdecl("vc_sim_new")
public func vc_sim_new(_ out: UnsafeMutablePointer<OpaquePointer?>?, _ optionsJSON: UnsafePointer<CChar>?) -> Int32 {
    HandleTable.create(out, { () throws(VCError) in SimulatorHandle(try Simulation(options: SimOptions(json: parseOptions(optionsJSON)))) },
                       failed: { _ in SimulatorHandle(nil) })
}

@_cdecl("vc_sim_free")
public func vc_sim_free(_ s: OpaquePointer?) {
    HandleTable.release(s, as: SimulatorHandle.self)
}

@_cdecl("vc_sim_errmsg")
public func vc_sim_errmsg(_ s: OpaquePointer?) -> UnsafePointer<CChar> {
    HandleTable.errmsg(s, as: SimulatorHandle.self, invalid: invalidSimulatorMessage)
}

@_cdecl("vc_sim_run")
public func vc_sim_run(_ s: OpaquePointer?, _ report: UnsafeMutablePointer<UnsafePointer<CChar>?>?,
                       _ len: UnsafeMutablePointer<Int>?) -> Int32 {
    guard let h = HandleTable.get(s, as: SimulatorHandle.self), let report else { return Status.invalidArgument.rawValue }
    return h.run { () throws(VCError) -> Int32 in
        guard h.simulation != nil else { throw VCError(.invalidState, "the simulation was not created (see the error of vc_sim_new)") }
        guard !h.ran else { throw VCError(.invalidState, "the simulation already ran; make a new handle to run again") }
        h.ran = true
        let result = h.simulation!.run()
        h.simulation = nil
        h.report = Array(result.json.utf8CString)
        report.pointee = h.report.withUnsafeBufferPointer { UnsafePointer($0.baseAddress!) }
        len?.pointee = h.report.count - 1
        return result.passed ? 1 : 0
    }
}
