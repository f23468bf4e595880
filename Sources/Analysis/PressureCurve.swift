import BeamlineNumerics
import Foundation

/// A fitted description of one quantity (Q1, Q2, V, ρ₀…) against pressure on one isotherm, with
/// the covariance of its parameters, so that its value and standard uncertainty can be had at
/// any pressure inside the measured range.
///
/// Two forms:
///
/// - **line with hinges**: y(P) = a + bP + Σⱼ dⱼ hⱼ(P) + Σₛ Jₛ [P > sₛ], where
///   hⱼ(P) = wⱼ ln(1 + exp((P − cⱼ)/wⱼ)) is a smooth hinge ("softplus"): the slope changes by dⱼ
///   along a logistic centred on cⱼ, from 10 % to 90 % of the change over 2 ln 9 · wⱼ ≈ 4.39 wⱼ.
///   For wⱼ → 0 it is the sharp hinge max(0, P − cⱼ) of a piecewise-linear fit.
/// - **compression curve**: y(P) = a (1 + cP)^e + Σₛ Jₛ [P > sₛ], the form of Murnaghan's
///   V(P) = V₀(1 + K′P/K₀)^(−1/K′) (Murnaghan, PNAS 30 (1944) 244) and of Q ∝ V^(−1/3): ordinary
///   compression, without changes of slope.
///
/// - **curve with hinges**: y(P) = a + bL + qL² + Σⱼ dⱼ hⱼ(P) + Σₛ Jₛ [P > sₛ], L = ln(1 + cP)
///   with c fixed: the compression curve a(1 + cP)^e = a exp(eL) to second order in eL, linear in
///   its coefficients (within 10⁻⁴ of Murnaghan's Q1 from 0.5 to 45 GPa for K₀ = 40–80 GPa,
///   K′ = 3–6), so that ordinary compression needs no hinges.
///
/// In all, the steps Jₛ are discontinuities at fixed pressures sₛ (the value jumps for P > sₛ).
/// The covariance is that of the weighted least-squares fit, scaled by max(1, χ²/ν) so that a
/// scatter larger than the stated uncertainties widens it. For hinges it is taken over all the
/// parameters, the centres and fitted widths included ((JᵀWJ)⁻¹ with J the model's derivatives at
/// the measured pressures), so that their correlations with the slopes carry into the value's
/// uncertainty.
public struct PressureCurve: Sendable {
    public enum Baseline: String, Sendable, Codable { case line, curved, compression }

    public struct Hinge: Sendable, Equatable {
        /// Centre cⱼ of the slope change (GPa).
        public var centre: Double
        /// Logistic scale wⱼ (GPa): the change runs from 10 % to 90 % over `Hinge.span` · wⱼ.
        public var scale: Double
        public var centreSigma = 0.0
        public var scaleSigma = 0.0
        /// False for a sharp hinge, whose width was not fitted (it counts one parameter less).
        public var widthFitted = true

        /// 2 ln 9: the pressure range, in units of the scale, over which a logistic goes from 10 % to 90 %.
        public static let span = 2 * log(9.0)

        public init(centre: Double, scale: Double, centreSigma: Double = 0, scaleSigma: Double = 0,
                    widthFitted: Bool = true) {
            self.centre = centre
            self.scale = scale
            self.centreSigma = centreSigma
            self.scaleSigma = scaleSigma
            self.widthFitted = widthFitted
        }

        /// Parameters besides the slope change: the centre, and the width when it was fitted.
        public var shapeParameters: Int { widthFitted ? 2 : 1 }

        /// The 10–90 % range of the slope change (GPa).
        public var width: Double { Self.span * scale }

        /// w ln(1 + exp((P − c)/w)), evaluated without overflow.
        @inlinable public func value(at p: Double) -> Double {
            let z = (p - centre) / scale
            if z > 35 { return p - centre }
            if z < -35 { return scale * exp(z) }
            return scale * log1p(exp(z))
        }

        /// The hinge's slope at P: the logistic 1 / (1 + exp(−(P − c)/w)).
        @inlinable public func slope(at p: Double) -> Double {
            let z = (p - centre) / scale
            return 1 / (1 + exp(-z))
        }

        /// ∂h/∂w = softplus(z) − z·logistic(z), z = (P − c)/w.
        func scaleDerivative(at p: Double) -> Double {
            let z = (p - centre) / scale
            return value(at: p) / scale - z * slope(at: p)
        }
    }

    public var baseline: Baseline
    public var hinges: [Hinge]
    /// Pressures of the discontinuities (the value jumps for P above each).
    public var steps: [Double]
    /// Line: [a, b, d₁…, J₁…]. Curved: [a, b, q, d₁…, J₁…]. Compression: [a, c, e, J₁…].
    public var parameters: [Double]
    /// The curved baseline's c (0 for the others).
    public var logScale = 0.0
    /// Row-major covariance of `parameters`, scaled by max(1, χ²/ν).
    public var covariance: [Double]
    /// Covariance over `parameters` followed by each hinge's centre and (when fitted) scale; nil
    /// when the hinges' shapes were not part of the fit or it is singular.
    public var extendedCovariance: [Double]? = nil
    public var chiSquare: Double
    public var degreesOfFreedom: Int

    /// Index in `parameters` of the first hinge's slope change.
    var firstHinge: Int { baseline == .line ? 2 : 3 }

    /// The baseline at P and its slope.
    func baselineValue(at p: Double) -> (value: Double, slope: Double) {
        switch baseline {
        case .line: return (parameters[0] + parameters[1] * p, parameters[1])
        case .curved:
            let l = log1p(logScale * p), dl = logScale / (1 + logScale * p)
            let (a, b, q) = (parameters[0], parameters[1], parameters[2])
            return (a + b * l + q * l * l, (b + 2 * q * l) * dl)
        case .compression:
            let (a, c, e) = (parameters[0], parameters[1], parameters[2])
            return (Self.compression(parameters, p), a * e * c * pow(1 + c * p, e - 1))
        }
    }
    /// Index in `parameters` of the first step's jump.
    var firstStep: Int { firstHinge + hinges.count }

    public func value(at p: Double) -> Double {
        var v = baselineValue(at: p).value
        for (j, hinge) in hinges.enumerated() { v += parameters[firstHinge + j] * hinge.value(at: p) }
        for (k, s) in steps.enumerated() where p > s { v += parameters[firstStep + k] }
        return v
    }

    /// Slope dy/dP (steps left out).
    public func slope(at p: Double) -> Double {
        var s = baselineValue(at: p).slope
        for (j, hinge) in hinges.enumerated() { s += parameters[firstHinge + j] * hinge.slope(at: p) }
        return s
    }

    /// ∂y/∂parameters at P.
    func gradient(at p: Double) -> [Double] {
        var g = [Double](repeating: 0, count: parameters.count)
        switch baseline {
        case .line:
            g[0] = 1
            g[1] = p
        case .curved:
            let l = log1p(logScale * p)
            (g[0], g[1], g[2]) = (1, l, l * l)
        case .compression:
            let (a, c, e) = (parameters[0], parameters[1], parameters[2])
            let base = pow(1 + c * p, e)
            g[0] = base
            g[1] = a * e * p * pow(1 + c * p, e - 1)
            g[2] = a * base * log(1 + c * p)
        }
        for (j, hinge) in hinges.enumerated() { g[firstHinge + j] = hinge.value(at: p) }
        for (k, s) in steps.enumerated() where p > s { g[firstStep + k] = 1 }
        return g
    }

    /// ∂y/∂(parameters, hinge centres and fitted scales) at P.
    func extendedGradient(at p: Double) -> [Double] {
        var g = gradient(at: p)
        for (j, hinge) in hinges.enumerated() {
            let d = parameters[firstHinge + j]
            g.append(-d * hinge.slope(at: p))
            if hinge.widthFitted { g.append(d * hinge.scaleDerivative(at: p)) }
        }
        return g
    }

    /// Standard uncertainty of `value(at:)`: gᵀCg over every fitted parameter.
    public func sigma(at p: Double) -> Double {
        let (g, c) = extendedCovariance.map { (extendedGradient(at: p), $0) } ?? (gradient(at: p), covariance)
        let m = g.count
        var variance = 0.0
        for i in 0 ..< m where g[i] != 0 {
            for j in 0 ..< m where g[j] != 0 { variance += g[i] * c[i * m + j] * g[j] }
        }
        return max(0, variance).squareRoot()
    }

    /// The standard uncertainty of parameter i, from the extended covariance when there is one.
    func parameterSigma(_ i: Int) -> Double {
        if let extended = extendedCovariance {
            let m = Int(Double(extended.count).squareRoot().rounded())
            return max(0, extended[i * m + i]).squareRoot()
        }
        return max(0, covariance[i * parameters.count + i]).squareRoot()
    }

    /// Standard uncertainties of hinge j's centre and (when fitted) scale from the covariance over
    /// every parameter: the linearised profile with all the others refitted. Nil without one.
    public func shapeSigma(_ j: Int) -> (centre: Double, scale: Double?)? {
        guard let extended = extendedCovariance else { return nil }
        let m = Int(Double(extended.count).squareRoot().rounded())
        var index = parameters.count
        for hinge in hinges.prefix(j) { index += hinge.shapeParameters }
        let centre = max(0, extended[index * m + index]).squareRoot()
        let scale = hinges[j].widthFitted ? max(0, extended[(index + 1) * m + index + 1]).squareRoot() : nil
        return (centre, scale)
    }

    /// The jump at step k and its standard uncertainty.
    public func jump(_ k: Int) -> (value: Double, sigma: Double) {
        let i = firstStep + k
        return (parameters[i], parameterSigma(i))
    }

    /// Change of slope at hinge j and its standard uncertainty.
    public func slopeChange(_ j: Int) -> (value: Double, sigma: Double) {
        let i = firstHinge + j
        return (parameters[i], parameterSigma(i))
    }

    static func compression(_ q: [Double], _ p: Double) -> Double { q[0] * pow(1 + q[1] * p, q[2]) }

    /// Weighted least squares of the line (or, with `logScale` c, the curved baseline) with these
    /// hinges and steps; nil when singular.
    public static func fitLine(pressure p: [Double], value y: [Double], weights: [Double], hinges: [Hinge],
                               steps: [Double], logScale: Double? = nil) -> PressureCurve? {
        let base = logScale == nil ? 2 : 3
        let n = p.count, columns = base + hinges.count + steps.count
        guard n > columns else { return nil }
        var a: [Double] = []
        a.reserveCapacity(n * columns)
        for x in p {
            a.append(1)
            if let c = logScale {
                let l = log1p(c * x)
                a.append(l)
                a.append(l * l)
            } else {
                a.append(x)
            }
            for hinge in hinges { a.append(hinge.value(at: x)) }
            for s in steps { a.append(x > s ? 1 : 0) }
        }
        guard let (c, covariance) = LinearAlgebra.leastSquares(a, rows: n, columns: columns, y, weights: weights),
              c.allSatisfy(\.isFinite) else { return nil }
        var chi = 0.0
        for i in 0 ..< n {
            var model = 0.0
            for j in 0 ..< columns { model += a[i * columns + j] * c[j] }
            chi += (y[i] - model) * (y[i] - model) * weights[i]
        }
        // Each hinge's centre (and width), and the curve's c, were fitted too: degrees of freedom used.
        let dof = max(1, n - columns - hinges.reduce(0) { $0 + $1.shapeParameters } - (logScale == nil ? 0 : 1))
        let scale = max(1, chi / Double(dof))
        var curve = PressureCurve(baseline: logScale == nil ? .line : .curved, hinges: hinges, steps: steps,
                                  parameters: c, logScale: logScale ?? 0, covariance: covariance.map { $0 * scale },
                                  chiSquare: chi, degreesOfFreedom: dof)
        if !hinges.isEmpty {
            // The covariance over every fitted parameter: (JᵀWJ)⁻¹, J the derivatives at the data.
            let rows = p.map { curve.extendedGradient(at: $0) }
            let m = rows[0].count
            var normal = [Double](repeating: 0, count: m * m)
            for (i, row) in rows.enumerated() {
                for a in 0 ..< m { for b in 0 ..< m { normal[a * m + b] += weights[i] * row[a] * row[b] } }
            }
            if let inverse = LinearAlgebra.inverse(normal, size: m), inverse.allSatisfy(\.isFinite),
               (0 ..< m).allSatisfy({ inverse[$0 * m + $0] >= 0 }) {
                curve.extendedCovariance = inverse.map { $0 * scale }
            }
        }
        return curve
    }

    /// Weighted fit of the compression curve with these steps, by Levenberg–Marquardt from `start`
    /// ([a, c, e]) or from a few starting points; nil for negative pressures or a failed fit.
    public static func fitCompression(pressure p: [Double], value y: [Double], weights: [Double],
                                      steps: [Double], start: [Double]? = nil) -> PressureCurve? {
        let n = p.count, m = 3 + steps.count
        guard n >= m + 1, let first = p.first, first >= 0 else { return nil }
        // The fit runs on positive values; a and the jumps change sign back.
        let sign: Double = y.allSatisfy { $0 > 0 } ? 1 : y.allSatisfy { $0 < 0 } ? -1 : 0
        guard sign != 0 || start != nil else { return nil }
        let flip = sign == 0 ? 1 : sign
        let values = y.map { $0 * flip }
        let root = weights.map { $0.squareRoot() }
        let extra = steps.count
        let lm = LevenbergMarquardt(lower: [-.infinity, 1e-6, -50] + Array(repeating: -.infinity, count: extra),
                                    upper: [.infinity, 100, 50] + Array(repeating: .infinity, count: extra))
        var basis = [[Double]](repeating: [Double](repeating: 0, count: extra), count: n)
        for i in 0 ..< n {
            for (k, s) in steps.enumerated() where p[i] > s { basis[i][k] = 1 }
        }
        var starts: [[Double]] = []
        if let start { starts.append([start[0] * flip, start[1], start[2]]) }
        for c in [0.01, 0.05, 0.2, 1.0] where sign != 0 {
            let a = values[0] / pow(1 + c * p[0], 0.1)
            let e = log(values[n - 1] / a) / log(1 + c * p[n - 1])
            if a.isFinite, e.isFinite { starts.append([a, c, e]) }
        }
        var best: LevenbergMarquardt.Result?
        for initial in starts {
            let fit = lm.fit(initial + Array(repeating: 0, count: extra)) { q in
                (0 ..< n).map { i in
                    var model = compression(q, p[i])
                    for k in 0 ..< extra { model += q[3 + k] * basis[i][k] }
                    return (values[i] - model) * root[i]
                }
            }
            guard fit.parameters.allSatisfy(\.isFinite), fit.chiSquare.isFinite else { continue }
            if best == nil || fit.chiSquare < best!.chiSquare { best = fit }
        }
        guard let best else { return nil }
        let dof = max(1, n - m)
        // The fitter scales its covariance by χ²/ν; the curve's is scaled by max(1, χ²/ν).
        let reduced = best.chiSquare / Double(dof)
        let rescale = reduced > 0 ? max(1, reduced) / reduced : 1
        var parameters = best.parameters
        var covariance = best.covariance.map { $0 * rescale }
        if flip < 0 {
            // a and the jumps change sign; c and e do not.
            let flipped = (0 ..< m).map { $0 != 1 && $0 != 2 }
            for i in 0 ..< m where flipped[i] { parameters[i] *= -1 }
            for i in 0 ..< m { for j in 0 ..< m where flipped[i] != flipped[j] { covariance[i * m + j] *= -1 } }
        }
        return PressureCurve(baseline: .compression, hinges: [], steps: steps, parameters: parameters,
                             covariance: covariance, chiSquare: best.chiSquare, degreesOfFreedom: dof)
    }

    /// The same description (hinges and steps where they are) fitted to other values measured at
    /// these pressures, e.g. the density that the S(Q) stage refined beside Q1.
    public func refitted(pressure: [Double], value: [Double], sigma: [Double]) -> PressureCurve? {
        let keep = pressure.indices.filter {
            pressure[$0].isFinite && value[$0].isFinite && sigma[$0] > 0 && sigma[$0].isFinite
        }
        let p = keep.map { pressure[$0] }, y = keep.map { value[$0] }, w = keep.map { 1 / (sigma[$0] * sigma[$0]) }
        // Steps need a point on each side.
        guard steps.allSatisfy({ s in p.contains { $0 < s } && p.contains { $0 > s } }) else { return nil }
        switch baseline {
        case .line: return Self.fitLine(pressure: p, value: y, weights: w, hinges: hinges, steps: steps)
        case .curved:
            return Self.fitLine(pressure: p, value: y, weights: w, hinges: hinges, steps: steps, logScale: logScale)
        case .compression:
            return Self.fitCompression(pressure: p, value: y, weights: w, steps: steps,
                                       start: [y[0] / pow(1 + parameters[1] * p[0], parameters[2]), parameters[1],
                                               parameters[2]])
        }
    }
}
