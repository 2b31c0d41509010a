/// The languages devices reported over OTA, by device id: the most recent `capacity` device ids
/// are kept, the one reported least recently is forgotten first. Deterministic: nothing depends
/// on a dictionary's iteration order.
struct DeviceLanguages: Sendable {
    static let defaultCapacity = 4096

    private struct Known: Sendable {
        var language: String
        var stamp: UInt64
    }

    let capacity: Int
    private var known: [String: Known] = [:]
    /// (device id, stamp) in report order; an entry whose stamp is no longer the device's is stale.
    private var order: [(String, UInt64)] = []
    private var head = 0
    private var nextStamp: UInt64 = 1

    init(capacity: Int = DeviceLanguages.defaultCapacity) {
        precondition(capacity > 0)
        self.capacity = capacity
    }

    var count: Int { known.count }

    subscript(deviceID: String) -> String? { known[deviceID]?.language }

    /// Remembers `language` for `deviceID` as its most recent report; returns the language it
    /// replaced, if any.
    @discardableResult
    mutating func learn(_ deviceID: String, _ language: String) -> String? {
        let stamp = nextStamp
        nextStamp += 1
        let previous = known.updateValue(Known(language: language, stamp: stamp), forKey: deviceID)?.language
        order.append((deviceID, stamp))
        while known.count > capacity {
            let (id, s) = order[head]
            head += 1
            if known[id]?.stamp == s { known[id] = nil }
        }
        if order.count > 2 * capacity {
            // Drop the consumed prefix and the stale entries (at most `capacity` live ones stay,
            // in their order), so the queue stays bounded however often devices report.
            order = order[head...].filter { known[$0.0]?.stamp == $0.1 }
            head = 0
        }
        assert(known.count <= capacity && order.count <= 2 * capacity)
        return previous
    }
}
