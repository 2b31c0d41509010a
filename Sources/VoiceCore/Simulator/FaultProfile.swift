/// How often each kind of fault strikes, per simulated hour, for a profile.
public struct FaultProfile: Sendable {
    public enum Level: Int, Sendable {
        case none, moderate, harsh

        init?(name: String) {
            switch name {
            case "none": self = .none
            case "moderate": self = .moderate
            case "harsh": self = .harsh
            default: return nil
            }
        }

        var name: String {
            switch self {
            case .none: return "none"
            case .moderate: return "moderate"
            case .harsh: return "harsh"
            }
        }
    }

    /// The fault kinds, in report order.
    enum Kind: Int, CaseIterable, Sendable {
        case workerCrash, workerHang, workerSlow, workerErrors, workerGarbage, workerLeave, workerJoin
        case deviceDrop, partition, outage, latencySpike
        /// SIGSTOP: no heartbeats, no steps, no reading for a while, then SIGCONT.
        case workerFreeze
        /// A handler that swallows the hub's cancel: cancelled jobs keep their slots on the worker
        /// (its heartbeats report more load than the hub knows; new jobs are refused).
        case workerLeak
        /// Jobs the worker never starts (lost by a bug): the hub counts them, its heartbeats do not.
        case workerLoseJobs

        var name: String {
            switch self {
            case .workerCrash: return "worker_crash"
            case .workerHang: return "worker_hang"
            case .workerSlow: return "worker_slow"
            case .workerErrors: return "worker_errors"
            case .workerGarbage: return "worker_garbage"
            case .workerLeave: return "worker_leave"
            case .workerJoin: return "worker_join"
            case .deviceDrop: return "device_drop"
            case .partition: return "partition"
            case .outage: return "outage"
            case .latencySpike: return "latency_spike"
            case .workerFreeze: return "worker_freeze"
            case .workerLeak: return "worker_leak"
            case .workerLoseJobs: return "worker_lose_jobs"
            }
        }
    }

    /// Per kind, mean occurrences per simulated hour.
    var perHour: [Double]

    init(_ level: Level, devices: Int) {
        let d = Double(devices) / 50
        switch level {
        case .none:
            perHour = [Double](repeating: 0, count: Kind.allCases.count)
        case .moderate:
            perHour = [0.5, 0.2, 0.3, 0.3, 0.2, 0.3, 0.3, 4 * d, 0.1, 0.02, 0.3, 0.2, 0.2, 0.2]
        case .harsh:
            perHour = [3, 1.5, 2, 2, 1.5, 2, 2, 30 * d, 1, 0.25, 2, 1.5, 1.5, 1.5]
        }
    }

    var total: Double { perHour.reduce(0, +) }
}
