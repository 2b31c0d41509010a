/// The seeded PRNG of the core (SplitMix64): deterministic, one 64-bit word of state, so a
/// scheduler's choices replay exactly from its seed.
public struct SplitMix64: RandomNumberGenerator, Sendable {
    public var state: UInt64
    public init(seed: UInt64) { state = seed }

    public mutating func next() -> UInt64 {
        state &+= 0x9E37_79B9_7F4A_7C15
        var z = state
        z = (z ^ (z >> 30)) &* 0xBF58_476D_1CE4_E5B9
        z = (z ^ (z >> 27)) &* 0x94D0_49BB_1331_11EB
        return z ^ (z >> 31)
    }

    /// A uniform integer in 0..<bound (bound > 0), by Lemire's multiply-shift.
    public mutating func below(_ bound: Int) -> Int {
        Int((UInt128(next()) &* UInt128(UInt64(bound))) >> 64)
    }

    /// A uniform double in [0, 1).
    public mutating func unit() -> Double { Double(next() >> 11) * 0x1.0p-53 }
}
