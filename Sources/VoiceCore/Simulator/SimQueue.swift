/// The simulator's agenda: a binary min-heap of events ordered by (time, sequence). The sequence
/// number breaks ties in scheduling order, so the run is a pure function of the seed.
struct SimQueue: Sendable {
    struct Item: Sendable {
        var time: Int64
        var seq: UInt64
        var event: SimEvent
    }

    /// The heap orders small plain keys; the events wait in a slab, so sifting moves 24 bytes
    /// instead of an enum with payloads (retain/release free).
    private struct Key: Sendable {
        var time: Int64
        var seq: UInt64
        var slot: Int32
    }

    private var heap: [Key] = []
    private var slab: [SimEvent?] = []
    private var freeSlots: [Int32] = []
    private var nextSeq: UInt64 = 0

    var count: Int { heap.count }

    init() {
        heap.reserveCapacity(4096)
        slab.reserveCapacity(4096)
    }

    mutating func schedule(_ event: SimEvent, at time: Int64) {
        let slot: Int32
        if let free = freeSlots.popLast() {
            slot = free
            slab[Int(slot)] = event
        } else {
            slot = Int32(slab.count)
            slab.append(event)
        }
        var i = heap.count
        heap.append(Key(time: time, seq: nextSeq, slot: slot))
        nextSeq &+= 1
        let key = heap[i]
        while i > 0 {
            let parent = (i - 1) / 2
            guard Self.less(key, heap[parent]) else { break }
            heap[i] = heap[parent]
            i = parent
        }
        heap[i] = key
    }

    var nextTime: Int64? { heap.first?.time }

    mutating func pop() -> Item? {
        guard !heap.isEmpty else { return nil }
        let top = heap[0]
        let last = heap.removeLast()
        let n = heap.count
        if n > 0 {
            var i = 0
            while true {
                let l = 2 * i + 1, r = l + 1
                var m = l
                if l >= n { break }
                if r < n && Self.less(heap[r], heap[l]) { m = r }
                guard Self.less(heap[m], last) else { break }
                heap[i] = heap[m]
                i = m
            }
            heap[i] = last
        }
        let event = slab[Int(top.slot)].take()!
        freeSlots.append(top.slot)
        return Item(time: top.time, seq: top.seq, event: event)
    }

    private static func less(_ a: Key, _ b: Key) -> Bool {
        a.time < b.time || (a.time == b.time && a.seq < b.seq)
    }
}

/// Everything that can happen in the simulated world.
enum SimEvent: Sendable {
    /// An input reaches the Coordinator (after its link's latency).
    case toCore(Event)
    /// A Coordinator timer falls due.
    case coreTimer(TimerID)
    /// A message from the core reaches a device (index, connection epoch).
    case toDevice(Int, epoch: UInt32, DeviceMessage)
    /// The device's user does the next thing of their script.
    case deviceStep(Int, epoch: UInt32)
    /// A listening device sends its next audio frame.
    case deviceFrame(Int, epoch: UInt32)
    /// The device tries to connect.
    case deviceConnect(Int)
    /// The host finished playing a turn's audio to a device.
    case hostPlaybackDone(SessionID, TurnID)
    /// Messages from the core reach a worker (index, connection epoch).
    case toWorker(Int, epoch: UInt32, WorkerMessage, [UInt8]?)
    /// A worker's job makes its next step (index, job, job generation).
    case workerJobStep(Int, JobID, gen: UInt32)
    /// A worker's job task starts (after the messages read with its `job`): it sends `accepted`.
    case workerJobStart(Int, JobID, gen: UInt32)
    case workerHeartbeat(Int, epoch: UInt32)
    case workerConnect(Int)
    /// The fault injector's next decision.
    case fault
    /// A fault of some worker or link ends.
    case faultEnd(FaultEnd)
    /// Periodic invariant checks.
    case checkpoint
    /// An operator asks the device to say something (admin API), at random moments.
    case operatorSay(Int)
}

enum FaultEnd: Sendable {
    /// A crashed or departed worker comes back.
    case workerRestart(Int)
    case workerHang(Int)
    case workerSlow(Int)
    case workerErrors(Int)
    case workerGarbage(Int)
    case workerFreeze(Int)
    case workerLeak(Int)
    case workerLoseJobs(Int)
    case partition
    case latencySpike
}
