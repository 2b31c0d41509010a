/// Typed identifiers shared by the Coordinator, the Scheduler, the EventLog and the Simulator.
/// They are plain integers so that tables keyed by them are cheap. A session id and a worker id
/// are the host's own (the daemon's connection number, `vc_event.session` / `vc_event.worker`):
/// one id per connection on both sides of the C ABI, printed as "s12" / "w3" in logs.

/// A device connection. Assigned by the host.
public struct SessionID: Hashable, Comparable, Sendable, CustomStringConvertible {
    public var raw: UInt64
    public init(_ raw: UInt64) { self.raw = raw }
    public static func < (a: SessionID, b: SessionID) -> Bool { a.raw < b.raw }
    public var description: String { "s\(raw)" }
}

/// A worker connection. Assigned by the host.
public struct WorkerID: Hashable, Comparable, Sendable, CustomStringConvertible {
    public var raw: UInt64
    public init(_ raw: UInt64) { self.raw = raw }
    public static func < (a: WorkerID, b: WorkerID) -> Bool { a.raw < b.raw }
    public var description: String { "w\(raw)" }
}

/// One attempt of a job on a worker. Issued by the Coordinator in increasing order and never
/// reused, so late output of a cancelled or superseded attempt can always be recognised.
public struct JobID: Hashable, Comparable, Sendable, CustomStringConvertible {
    public var raw: UInt64
    public init(_ raw: UInt64) { self.raw = raw }
    public static func < (a: JobID, b: JobID) -> Bool { a.raw < b.raw }
    public var description: String { String(raw) }
}

/// A turn of a session: one utterance and the reply to it. Numbered per session from 1.
public struct TurnID: Hashable, Comparable, Sendable, CustomStringConvertible {
    public var raw: UInt32
    public init(_ raw: UInt32) { self.raw = raw }
    public static func < (a: TurnID, b: TurnID) -> Bool { a.raw < b.raw }
    public var description: String { String(raw) }
}

/// A timer the host arms on the Coordinator's behalf (`timer.set`) and reports (`timer.fired`).
public struct TimerID: Hashable, Comparable, Sendable, CustomStringConvertible {
    public var raw: UInt64
    public init(_ raw: UInt64) { self.raw = raw }
    public static func < (a: TimerID, b: TimerID) -> Bool { a.raw < b.raw }
    public var description: String { String(raw) }
}

/// A point on the host's monotonic clock, in microseconds. The core never reads a clock: every
/// instant arrives with an event.
public struct Instant: Hashable, Comparable, Sendable, CustomStringConvertible {
    public var us: Int64
    public init(us: Int64) { self.us = us }
    public static func < (a: Instant, b: Instant) -> Bool { a.us < b.us }
    public static func + (a: Instant, d: Int64) -> Instant { Instant(us: a.us &+ d) }
    public static func - (a: Instant, b: Instant) -> Int64 { a.us &- b.us }
    public var description: String { "\(us)us" }
}
