import BeamlineNumerics
import BeamlineSupport
import Foundation

/// Sign of the thermal expansion between two isotherms, pressure window by window: at a
/// given pressure a larger Q1 at the higher temperature means a smaller volume, i.e.
/// negative thermal expansion. A window ends where the difference of the two curves crosses
/// zero (linear interpolation between the measured pressures).
public struct ThermalExpansion: Sendable {
    public struct Window: Sendable {
        public var from: Double, to: Double
        public var negative: Bool
    }

    public static func windows(low: (p: [Double], q1: [Double]), high: (p: [Double], q1: [Double])) -> [Window] {
        let lowOrder = low.p.indices.sorted { low.p[$0] < low.p[$1] }
        let lp = lowOrder.map { low.p[$0] }, lq = lowOrder.map { low.q1[$0] }
        // Q1(high T) − Q1(low T) at each pressure of the higher isotherm (the lower one interpolated).
        var points: [(p: Double, difference: Double)] = []
        for (p, q) in zip(high.p, high.q1).sorted(by: { $0.0 < $1.0 }) {
            guard let reference = Interpolation.linear(lp, lq, at: p) else { continue }
            points.append((p, q - reference))
        }
        var windows: [Window] = []
        for (k, point) in points.enumerated() {
            let negative = point.difference > 0
            if let last = windows.last, last.negative == negative {
                windows[windows.count - 1].to = point.p
            } else if let previous = k > 0 ? points[k - 1] : nil {
                // The sign changes where the difference, interpolated linearly, crosses zero.
                let crossing = previous.p + (point.p - previous.p) * previous.difference / (previous.difference - point.difference)
                windows[windows.count - 1].to = crossing
                windows.append(Window(from: crossing, to: point.p, negative: negative))
            } else {
                windows.append(Window(from: point.p, to: point.p, negative: negative))
            }
        }
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
