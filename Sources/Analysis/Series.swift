import BeamlineNumerics
import BeamlineSupport
import Foundation

/// Thermal expansion between two isotherms as a confidence band, not a sign change.
///
/// Each isotherm's quantity (Q1, Q2) is described by its own fitted curve (`PressureCurve`, the
/// description the transition analysis chose, steps included), because the two isotherms were
/// measured at different pressures. Their difference Δ(P) = y_high(P) − y_low(P) and its standard
/// uncertainty σ_Δ² = σ_high² + σ_low² (each from its fit's covariance, which carries the points'
/// σ and the pressures' σ) are evaluated on a grid over the pressures both isotherms cover; the
/// band is Δ ± kσ_Δ. For Q1, a band above zero means a denser glass at the higher temperature:
/// negative thermal expansion; below zero, positive; containing zero, indistinguishable. An edge
/// is where Δ − kσ_Δ (or Δ + kσ_Δ) crosses zero, with the uncertainty σ_Δ / |d(Δ ∓ kσ_Δ)/dP|
/// there; the first and last edges are the common pressure range itself, which bounds the
/// windows (nothing is extrapolated).
public struct ThermalExpansion: Sendable {
    public enum Sign: String, Sendable, Codable { case negative, positive, indistinguishable }

    public struct Window: Sendable, Equatable {
        public var from: Double, fromSigma: Double, fromIsDataLimit: Bool
        public var to: Double, toSigma: Double, toIsDataLimit: Bool
        public var sign: Sign
    }

    /// y_high − y_low and its standard uncertainty on a grid of pressures.
    public struct Band: Sendable, Equatable {
        public var pressure: [Double]
        public var difference: [Double]
        public var sigma: [Double]
    }

    /// The pressures both isotherms cover, or nil when they do not overlap.
    public static func commonRange(_ a: [Double], _ b: [Double]) -> ClosedRange<Double>? {
        let finiteA = a.filter(\.isFinite), finiteB = b.filter(\.isFinite)
        guard let a0 = finiteA.min(), let a1 = finiteA.max(), let b0 = finiteB.min(), let b1 = finiteB.max() else { return nil }
        let low = max(a0, b0), high = min(a1, b1)
        return low < high ? low ... high : nil
    }

    /// `samples` evenly spaced pressures over `range`, both ends included.
    static func grid(_ range: ClosedRange<Double>, _ samples: Int) -> [Double] {
        (0 ..< samples).map { range.lowerBound + (range.upperBound - range.lowerBound) * Double($0) / Double(samples - 1) }
    }

    public static func band(low: PressureCurve, high: PressureCurve, over range: ClosedRange<Double>,
                            samples: Int = 181) -> Band {
        let pressures = grid(range, samples)
        return Band(pressure: pressures, difference: pressures.map { high.value(at: $0) - low.value(at: $0) },
                    sigma: pressures.map { hypot(high.sigma(at: $0), low.sigma(at: $0)) })
    }

    /// The relative volume change V_high/V_low − 1 = (Q1_low/Q1_high)³ − 1 from the two Q1 curves
    /// (V ∝ Q1⁻³), with its uncertainty.
    public static func volumeBand(low: PressureCurve, high: PressureCurve, over range: ClosedRange<Double>,
                                  samples: Int = 181) -> Band {
        let pressures = grid(range, samples)
        var change: [Double] = [], sigma: [Double] = []
        for p in pressures {
            let ql = low.value(at: p), qh = high.value(at: p)
            let ratio = pow(ql / qh, 3)
            change.append(ratio - 1)
            sigma.append(3 * ratio * hypot(low.sigma(at: p) / ql, high.sigma(at: p) / qh))
        }
        return Band(pressure: pressures, difference: change, sigma: sigma)
    }

    /// Windows of the band at `confidence` standard uncertainties. `increasingMeansNegative`: a
    /// positive difference is negative thermal expansion (Q1, Q2); false for a volume difference.
    public static func windows(_ band: Band, confidence k: Double = 3, increasingMeansNegative: Bool = true) -> [Window] {
        let n = band.pressure.count
        guard n >= 2 else { return [] }
        func sign(_ i: Int) -> Sign {
            let lower = band.difference[i] - k * band.sigma[i], upper = band.difference[i] + k * band.sigma[i]
            if lower > 0 { return increasingMeansNegative ? .negative : .positive }
            if upper < 0 { return increasingMeansNegative ? .positive : .negative }
            return .indistinguishable
        }
        var windows: [Window] = []
        var current = Window(from: band.pressure[0], fromSigma: 0, fromIsDataLimit: true, to: band.pressure[0], toSigma: 0,
                             toIsDataLimit: false, sign: sign(0))
        for i in 1 ..< n {
            let s = sign(i)
            guard s != current.sign else { continue }
            // Which edge of the band crossed zero between i − 1 and i.
            let lowerCrossed = (band.difference[i - 1] - k * band.sigma[i - 1] > 0) != (band.difference[i] - k * band.sigma[i] > 0)
            let side = lowerCrossed ? -k : k
            let g0 = band.difference[i - 1] + side * band.sigma[i - 1], g1 = band.difference[i] + side * band.sigma[i]
            let p0 = band.pressure[i - 1], p1 = band.pressure[i]
            let t = g1 != g0 ? min(max(g0 / (g0 - g1), 0), 1) : 0.5
            let edge = p0 + (p1 - p0) * t
            let slope = abs((g1 - g0) / (p1 - p0))
            let sigmaAtEdge = band.sigma[i - 1] + (band.sigma[i] - band.sigma[i - 1]) * t
            let range = band.pressure[n - 1] - band.pressure[0]
            let edgeSigma = slope > 0 ? min(sigmaAtEdge / slope, range) : range
            current.to = edge
            current.toSigma = edgeSigma
            windows.append(current)
            current = Window(from: edge, fromSigma: edgeSigma, fromIsDataLimit: false, to: edge, toSigma: 0,
                             toIsDataLimit: false, sign: s)
        }
        current.to = band.pressure[n - 1]
        current.toIsDataLimit = true
        windows.append(current)
        return windows
    }
}

/// Relaxation of a quantity in time at fixed pressure and temperature (Q1 of a glass that keeps
/// densifying after a pressure step). Two descriptions are fitted by weighted least squares and
/// the Bayesian information criterion picks one:
///
/// - a straight line, y = a + b t (a drift that has not yet slowed down);
/// - a stretched exponential approach to a limit (Kohlrausch; Williams & Watts, Trans. Faraday
///   Soc. 66 (1970) 80), y = y∞ − Δ·exp(−(t/τ)^β), with β = 1 unless `stretched` is set.
public struct Relaxation: Sendable {
    public enum Model: String, Sendable, Codable { case linear, exponential }

    public var model: Model
    /// Line: [a, b]. Exponential: [y∞, Δ, τ, β], with t counted from `origin`.
    public var parameters: [Double]
    /// The first time of the series: the exponential starts there.
    public var origin: Double
    public var uncertainties: [Double]
    public var chiSquare: Double
    /// The line's slope and its uncertainty, reported whichever model wins.
    public var slope: Double, slopeSigma: Double
    public var points: Int

    public func value(at t: Double) -> Double {
        switch model {
        case .linear: return parameters[0] + parameters[1] * t
        case .exponential: return parameters[0] - parameters[1] * exp(-pow(max(t - origin, 0) / parameters[2], parameters[3]))
        }
    }

    public static func fit(time: [Double], value: [Double], sigma: [Double], stretched: Bool = false) -> Relaxation? {
        let n = time.count
        guard n >= 3, let t0 = time.min(), let t1 = time.max(), t1 > t0 else { return nil }
        let weights = sigma.map { $0 > 0 && $0.isFinite ? 1 / ($0 * $0) : 1 }
        let design: [Double] = time.flatMap { [1, $0] }
        guard let (line, covariance) = LinearAlgebra.leastSquares(design, rows: n, columns: 2, value, weights: weights) else { return nil }
        var lineChi = 0.0
        for i in 0 ..< n { lineChi += pow(value[i] - line[0] - line[1] * time[i], 2) * weights[i] }
        let scale = max(1, lineChi / Double(max(1, n - 2)))
        var result = Relaxation(model: .linear, parameters: line, origin: t0, uncertainties: [covariance[0] * scale, covariance[3] * scale].map { $0.squareRoot() },
                                chiSquare: lineChi, slope: line[1], slopeSigma: (covariance[3] * scale).squareRoot(), points: n)
        let free = stretched ? 4 : 3
        guard n >= free + 2 else { return result }
        // Start from the line: the limit a little beyond the last point, τ a third of the span.
        let span = t1 - t0
        let first = line[0] + line[1] * t0, last = line[0] + line[1] * t1
        let start = [last + (last - first) * 0.2, (last - first) * 1.2, span / 3, 1]
        let lm = LevenbergMarquardt(lower: [-.infinity, -.infinity, span * 1e-3, 0.2], upper: [.infinity, .infinity, span * 100, 2],
                                    fixed: [false, false, false, !stretched])
        let fitted = lm.fit(start) { q in
            (0 ..< n).map { i in (value[i] - (q[0] - q[1] * exp(-pow(max(time[i] - t0, 0) / q[2], q[3])))) * weights[i].squareRoot() }
        }
        guard fitted.converged, fitted.parameters.allSatisfy({ $0.isFinite }), !fitted.atBound[2] else { return result }
        let logN = log(Double(n))
        if fitted.chiSquare + Double(free) * logN < lineChi + 2 * logN {
            result.model = .exponential
            result.parameters = fitted.parameters
            result.uncertainties = fitted.uncertainties
            result.chiSquare = fitted.chiSquare
        }
        return result
    }
}

/// The volume change across a discontinuity, ΔV/V = V_after/V_before − 1 (negative: a collapse).
public struct VolumeChange: Sendable, Equatable {
    public var relative: Double
    public var sigma: Double

    /// From the jump J of Q1 at step k of its curve, with V ∝ Q1^(−e):
    /// ΔV/V = (Q1_before/(Q1_before + J))^e − 1; σ from σ_J and σ_e.
    public static func fromQ1(_ curve: PressureCurve, step k: Int, exponent e: Double, exponentSigma: Double = 0) -> VolumeChange {
        let before = curve.value(at: curve.steps[k]), (jump, jumpSigma) = curve.jump(k)
        let ratio = before / (before + jump)
        let change = pow(ratio, e) - 1
        let byJump = e * pow(ratio, e) / (before + jump) * jumpSigma
        let byExponent = log(ratio) * pow(ratio, e) * exponentSigma
        return VolumeChange(relative: change, sigma: hypot(byJump, byExponent))
    }

    /// From the jump of the number density ρ₀ at step k of its curve (V ∝ 1/ρ₀):
    /// ΔV/V = ρ_before/(ρ_before + J) − 1.
    public static func fromDensity(_ curve: PressureCurve, step k: Int) -> VolumeChange {
        let before = curve.value(at: curve.steps[k]), (jump, jumpSigma) = curve.jump(k)
        return VolumeChange(relative: before / (before + jump) - 1, sigma: before / pow(before + jump, 2) * jumpSigma)
    }

    /// The exponent e of ρ₀ ∝ Q1^e (so V ∝ Q1^(−e)) from a weighted straight-line fit of ln ρ₀
    /// against ln Q1, each point's uncertainty σ² = (σ_ρ/ρ)² + e²(σ_Q1/Q1)²; its uncertainty is
    /// scaled by max(1, χ²/ν). Nil with fewer than three usable points.
    public static func densityExponent(q1: [Double], q1Sigma: [Double], density: [Double],
                                       densitySigma: [Double]) -> (exponent: Double, sigma: Double)? {
        let usable = q1.indices.filter {
            q1[$0] > 0 && density[$0] > 0 && densitySigma[$0] > 0 && q1Sigma[$0] >= 0
                && [q1[$0], q1Sigma[$0], density[$0], densitySigma[$0]].allSatisfy(\.isFinite)
        }
        guard usable.count >= 3 else { return nil }
        let x = usable.map { log(q1[$0]) }, y = usable.map { log(density[$0]) }
        var e = 3.0, result: (Double, Double)?
        for _ in 0 ..< 3 {
            let weights = usable.map { 1 / (pow(densitySigma[$0] / density[$0], 2) + e * e * pow(q1Sigma[$0] / q1[$0], 2)) }
            guard let (c, covariance) = LinearAlgebra.leastSquares(x.flatMap { [1, $0] }, rows: x.count, columns: 2, y,
                                                                    weights: weights) else { return nil }
            var chi = 0.0
            for i in x.indices { chi += pow(y[i] - c[0] - c[1] * x[i], 2) * weights[i] }
            e = c[1]
            result = (e, (covariance[3] * max(1, chi / Double(max(1, x.count - 2)))).squareRoot())
        }
        return result
    }
}
