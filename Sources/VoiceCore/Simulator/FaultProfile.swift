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
            perHour = [0.5, 0.2, 0.3, 0.3, 0.2, 0.3, 0.3, 4 * d, 0.1, 0.02, 0.3]
        case .harsh:
            perHour = [3, 1.5, 2, 2, 1.5, 2, 2, 30 * d, 1, 0.25, 2]
        }
    }

    var total: Double { perHour.reduce(0, +) }
}
