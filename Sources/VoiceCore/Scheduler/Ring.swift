/// A growable FIFO ring buffer: O(1) push at the back and pop at the front without shifting.
struct Ring<Element> {
    private var storage: [Element?] = []
    private var head = 0
    private(set) var count = 0

    var isEmpty: Bool { count == 0 }

    mutating func push(_ element: Element) {
        if count == storage.count { grow() }
        storage[(head + count) & (storage.count - 1)] = element
        count += 1
    }

    mutating func pop() -> Element? {
        guard count > 0 else { return nil }
        let element = storage[head]
        storage[head] = nil
        head = (head + 1) & (storage.count - 1)
        count -= 1
        return element
    }

    var first: Element? { count > 0 ? storage[head] : nil }

    /// Empties the ring but keeps its storage for reuse.
    mutating func removeAll() {
        while pop() != nil {}
        head = 0
    }

    private mutating func grow() {
        let newCapacity = Swift.max(8, storage.count * 2)
        var next = [Element?](repeating: nil, count: newCapacity)
        for i in 0..<count { next[i] = storage[(head + i) & (storage.count - 1)] }
        storage = next
        head = 0
    }
}
extension Ring: Sendable where Element: Sendable {}
