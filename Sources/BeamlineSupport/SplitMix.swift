import Foundation

/// SplitMix64 random numbers (Steele, Lea & Flood, OOPSLA 2014), reproducible from a seed,
/// with Poisson deviates (Knuth's method below 30, the normal approximation above).
public struct SplitMix: RandomNumberGenerator, Sendable {
    var state: UInt64

    public init(seed: UInt64) { state = seed }

    public mutating func next() -> UInt64 {
        state &+= 0x9E37_79B9_7F4A_7C15
        var z = state
        z = (z ^ (z >> 30)) &* 0xBF58_476D_1CE4_E5B9
        z = (z ^ (z >> 27)) &* 0x94D0_49BB_1331_11EB
        return z ^ (z >> 31)
    }

    public mutating func poisson(_ mean: Double) -> Int {
        guard mean > 0 else { return 0 }
        if mean < 30 {
            let limit = exp(-mean)
            var k = 0, p = 1.0
            repeat {
                k += 1
                p *= Double.random(in: 0 ..< 1, using: &self)
            } while p > limit
            return k - 1
        }
        let u1 = Double.random(in: Double.ulpOfOne ..< 1, using: &self), u2 = Double.random(in: 0 ..< 1, using: &self)
        return max(0, Int((mean + (-2 * log(u1)).squareRoot() * cos(2 * .pi * u2) * mean.squareRoot()).rounded()))
    }
}
