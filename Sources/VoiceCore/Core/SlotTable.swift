/// A map whose values live in a dense array of slots: one hash lookup finds a key's slot, after
/// which `table[slot: i]` reads and writes the value in place. (Dictionary's `values[index]`
/// getter copies the whole value, which for a large struct dominates a hot path.)
struct SlotTable<Key: DenseKey, Value> {
    private var index = IDMap<Key, Int>()
    private var slots: [Value?] = []
    private var free: [Int] = []

    var count: Int { index.count }
    var isEmpty: Bool { index.isEmpty }
    var keys: [Key] { index.keyList }

    func slot(_ key: Key) -> Int? { index[key] }

    subscript(slot i: Int) -> Value {
        _read { yield slots[i]! }
        _modify { yield &slots[i]! }
    }

    subscript(key: Key) -> Value? {
        _read {
            if let i = index[key] { yield slots[i] } else { yield nil }
        }
        set {
            if let v = newValue {
                if let i = index[key] {
                    slots[i] = v
                } else if let i = free.popLast() {
                    slots[i] = v
                    index[key] = i
                } else {
                    index[key] = slots.count
                    slots.append(v)
                }
            } else {
                _ = removeValue(forKey: key)
            }
        }
        _modify {
            if let i = index[key] {
                var v = slots[i].take()
                defer {
                    if let v { slots[i] = v } else { index[key] = nil; free.append(i) }
                }
                yield &v
            } else {
                var v: Value? = nil
                defer { if let v { self[key] = v } }
                yield &v
            }
        }
    }

    @discardableResult
    mutating func removeValue(forKey key: Key) -> Value? {
        guard let i = index.removeValue(forKey: key) else { return nil }
        free.append(i)
        return slots[i].take()
    }

    /// Key-value pairs in unspecified order.
    var pairs: [(key: Key, value: Value)] { index.keyList.map { ($0, slots[index[$0]!]!) } }
}

extension SlotTable: Sendable where Value: Sendable {}
