import Foundation
import Testing
@testable import VoiceCore

/// The Simulator's worker model held to the real worker SDK: the conformance scenarios of
/// Tests/conformance/worker_scenarios.json, which Tests/python/test_worker_conformance.py runs
/// against the real SDK over a real socket, run here through the model (`workerReceives`, its job
/// steps and heartbeats), and both must send the hub the same messages.
///
/// A `send` step hands the model all its messages at one instant before anything it scheduled
/// runs, as the SDK reads one write before its event loop runs a task; an `expect` step runs
/// everything the model scheduled (heartbeats aside) and compares all it sent.
@Suite struct SimulatorConformanceTests {
    static let file = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent()
        .appendingPathComponent("conformance/worker_scenarios.json")

    static func scenarios() throws -> [JSON] {
        let text = try String(contentsOf: file, encoding: .utf8)
        return try JSONParser.parse(text)["scenarios"]?.arrayValue ?? []
    }

    /// One simulated worker with the scenario's slots, connected and registered; nothing pending.
    static func worker(slots: [WorkerKind: Int]) throws -> Simulation {
        var sim = try Simulation(options: SimOptions(json: JSONParser.parse(#"{"seed": 1, "devices": 1, "faults": "none"}"#)))
        sim.workers = [SimWorker(name: "conformance", kinds: KindSet(Array(slots.keys)), roles: KindSet(), slots: slots, online: true)]
        sim.workerConnect(0)
        sim.workerReceives(0, epoch: sim.workers[0].epoch, .registered(heartbeatMs: 5000), nil)
        _ = drain(&sim)
        return sim
    }

    /// Runs what the model scheduled; returns what it sent the hub, normalized.
    static func drain(_ sim: inout Simulation) -> [String] {
        var sent: [String] = []
        while let item = sim.queue.pop() {
            sim.now = max(sim.now, item.time)
            switch item.event {
            case let .toCore(e): if let s = normalize(e) { sent.append(s) }
            case let .toWorker(i, epoch, m, audio): sim.workerReceives(i, epoch: epoch, m, audio)
            case let .workerJobStart(i, job, gen): sim.workerJobStart(i, job, gen: gen)
            case let .workerJobStep(i, job, gen): sim.workerJobStep(i, job, gen: gen)
            default: break  // heartbeats: a `load` step asks for one
            }
        }
        return sent
    }

    static func normalize(_ e: Event) -> String? {
        switch e {
        case .workerConnected, .workerRegister: return nil
        case let .workerAccepted(_, id): return "accepted \(id.raw)"
        case let .workerDone(_, id): return "done \(id.raw)"
        case let .workerError(_, id, _, retryable): return "error \(id.raw) retryable=\(retryable)"
        case let .workerAudio(_, id, last, _): return last ? "audio \(id.raw) last" : nil
        case let .workerOutput(_, id, output): return "output \(id.raw) \(eventName(output))"
        case let .workerHeartbeat(_, load):
            return "load " + load.map { "\($0.key.name)=\($0.value)" }.sorted().joined(separator: " ")
        default: return "unexpected \(e)"
        }
    }

    static func eventName(_ output: JobOutput) -> String {
        switch output {
        case .speechStart: "speech_start"
        case .partial: "partial"
        case .final: "final"
        case .speculative: "speculative"
        case .speculationVoid: "speculation_void"
        case .refined: "refined"
        case .speechEnd: "speech_end"
        case .pause: "pause"
        case .resume: "resume"
        case .turnProbability: "turn"
        case .delta: "delta"
        case .toolCall: "tool_call"
        case .toolResult: "tool_result"
        case .mcp: "mcp"
        case .segmentDone: "segment_done"
        case .usage: "usage"
        }
    }

    /// An expected worker→hub message of the file, as `normalize` writes it.
    static func expected(_ m: JSON) -> String {
        let type = m["type"]?.stringValue ?? "?"
        let job = m["job"]?.int64Value ?? -1
        switch type {
        case "audio": return "audio \(job)\(m["last"]?.boolValue == true ? " last" : "")"
        case "output": return "output \(job) \(m["event"]?.stringValue ?? "?")"
        case "error": return "error \(job) retryable=\(m["retryable"]?.boolValue ?? false)"
        default: return "\(type) \(job)"
        }
    }

    /// A hub→worker message of the file as the Coordinator would have sent it.
    static func message(_ m: JSON) throws -> WorkerMessage {
        let job = JobID(UInt64(m["job"]?.int64Value ?? 0))
        switch m["type"]?.stringValue {
        case "job":
            let kind = try #require(WorkerKind(name: m["kind"]?.stringValue ?? ""))
            let params: JobParams = switch kind {
            case .tts: .tts(text: m["params"]?["text"]?.stringValue ?? "", segment: 0, sampleRate: 24000, language: "en", voice: "")
            case .asr: .asr(mode: ListenMode(name: m["params"]?["mode"]?.stringValue ?? "auto") ?? .auto, sampleRate: 16000, language: "")
            default: .assistant(text: "", language: "en", deviceID: "d")
            }
            return .job(job, kind: kind, session: SessionID(1), turn: TurnID(UInt32(job.raw)), params: params)
        case "cancel": return .cancel(job, reason: m["reason"]?.stringValue ?? "")
        case "input":
            #expect(m["event"]?.stringValue == "end", "only `input end` is modelled here")
            return .inputEnd(job)
        default:
            Issue.record("unknown hub message \(m)")
            return .error("?", job: job)
        }
    }

    @Test func scenariosAreThere() throws {
        #expect(try Self.scenarios().count >= 6)
    }

    @Test func workerModelConformsToTheSDK() throws {
        for scenario in try Self.scenarios() {
            let name = scenario["name"]?.stringValue ?? "?"
            var slots: [WorkerKind: Int] = [:]
            for (kind, n) in scenario["slots"]?.objectValue ?? [] {
                slots[try #require(WorkerKind(name: kind))] = Int(n.int64Value ?? 0)
            }
            var sim = try Self.worker(slots: slots)
            for (k, step) in (scenario["steps"]?.arrayValue ?? []).enumerated() {
                if let send = step["send"]?.arrayValue {
                    // One write: every message read before anything the model scheduled runs.
                    for m in send { sim.workerReceives(0, epoch: sim.workers[0].epoch, try Self.message(m), nil) }
                } else if let expect = step["expect"]?.arrayValue {
                    let sent = Self.drain(&sim)
                    #expect(sent == expect.map(Self.expected), "\(name), step \(k)")
                } else if let load = step["load"]?.objectValue {
                    sim.workerHeartbeat(0, epoch: sim.workers[0].epoch)
                    let sent = Self.drain(&sim)
                    let want = "load " + load.map { "\($0.0)=\($0.1.int64Value ?? -1)" }.sorted().joined(separator: " ")
                    #expect(sent == [want], "\(name), step \(k)")
                } else {
                    Issue.record("\(name), step \(k): unknown step")
                }
            }
        }
    }
}
