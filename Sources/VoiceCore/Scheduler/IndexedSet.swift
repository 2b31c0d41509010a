/// A set of small non-negative integers with O(1) insert, remove, membership and uniform random
/// pick (dense array plus positions), so power-of-two-choices sampling never scans.
struct IndexedSet: Sendable {
    private(set) var members: [Int32] = []
    private var position: [Int32] = []

    var count: Int { members.count }
    var isEmpty: Bool { members.isEmpty }

    func contains(_ x: Int32) -> Bool {
        Int(x) < position.count && position[Int(x)] >= 0
    }

    mutating func insert(_ x: Int32) {
        if Int(x) >= position.count { position.append(contentsOf: repeatElement(-1, count: Int(x) + 1 - position.count)) }
        guard position[Int(x)] < 0 else { return }
        position[Int(x)] = Int32(members.count)
        members.append(x)
    }

    mutating func remove(_ x: Int32) {
        guard contains(x) else { return }
        let at = Int(position[Int(x)])
        let last = members.removeLast()
        if at < members.count {
            members[at] = last
            position[Int(last)] = Int32(at)
        }
        position[Int(x)] = -1
    }

    subscript(i: Int) -> Int32 { members[i] }
}
