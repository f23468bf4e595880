import Foundation

/// Tick marks at 1, 2 or 5 × 10ⁿ for a plot axis, and their labels with just enough decimals.
///
/// The step is the smallest of 1, 2, 5 × 10ⁿ that gives at most `maximumCount` ticks over the range
/// (Heckbert, "Nice numbers for graph labels", Graphics Gems I, 1990, with the step chosen from the
/// count rather than rounded). Values of magnitude ≥ 10⁵ or < 10⁻³ are labelled in units of 10ᵏ, the
/// factor going into the axis label ("I (×10⁵)") as matplotlib's offset text does.
public struct AxisTicks: Equatable {
    public var step: Double
    public var values: [Double]
    /// The power of ten the labels are in units of (0: as they are).
    public var exponent: Int

    public init(from lower: Double, to upper: Double, maximumCount: Int = 6) {
        precondition(lower.isFinite && upper.isFinite && upper > lower, "an axis needs a finite, non-empty range")
        let span = upper - lower
        var magnitude = pow(10, floor(log10(span / Double(max(maximumCount, 2)))))
        var step = magnitude
        search: while true {
            for factor in [1.0, 2, 5] {
                step = factor * magnitude
                if (floor(upper / step) - ceil(lower / step)) + 1 <= Double(maximumCount) { break search }
            }
            magnitude *= 10
        }
        let first = ceil(lower / step - 1e-9), last = floor(upper / step + 1e-9)
        self.step = step
        // Integer multiples of the step: no 0.30000000000000004 from repeated addition.
        values = stride(from: first, through: last, by: 1).map { $0 * step == 0 ? 0 : $0 * step }
        let largest = max(abs(lower), abs(upper))
        if largest >= 1e5 || largest < 1e-3 {
            exponent = Int(floor(log10(largest)))
        } else {
            exponent = 0
        }
    }

    /// The label of one tick: in units of 10^exponent, with the decimals the step needs.
    public func label(_ value: Double) -> String {
        let scale = pow(10, Double(exponent))
        let scaledStep = step / scale
        let decimals = max(0, Int(-floor(log10(scaledStep) + 1e-9)))
        let text = String(format: "%.\(decimals)f", value / scale)
        // "-0" and "-0.0" read as a mistake.
        return text.allSatisfy { "-0.".contains($0) }
            ? String(text.drop { $0 == "-" }) : text.replacingOccurrences(of: "-", with: "−")
    }

    /// The axis label with the labels' power of ten, "I (×10⁵)", when there is one.
    public func axisLabel(_ label: String) -> String {
        guard exponent != 0 else { return label }
        let superscripts: [Character: Character] = [
            "0": "⁰", "1": "¹", "2": "²", "3": "³", "4": "⁴", "5": "⁵",
            "6": "⁶", "7": "⁷", "8": "⁸", "9": "⁹", "-": "⁻",
        ]
        let power = String(String(exponent).map { superscripts[$0] ?? $0 })
        return "\(label) (×10\(power))"
    }
}
