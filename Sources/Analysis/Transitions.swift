import BeamlineNumerics
import Foundation

/// Transitions of one quantity (Q1, V, …) measured at a handful of pressures on an isotherm.
///
/// Two kinds are told apart:
///
/// - A **discontinuous step**: the quantity rises (or falls) across one gap between neighbouring
///   pressures by more than either neighbouring segment allows. With sₖ = Δyₖ/ΔPₖ the mean slope
///   across gap k, the excess over the nearer of the two neighbouring slopes, times the gap,
///   must exceed `threshold` times its standard uncertainty. A step is only called where the
///   two pressures bracket it within `stepWindow`: across a wide gap the same rise is equally a
///   steep continuous change, and the transition could not be located anyway. The step sits at
///   the middle of the gap, ± half the gap. For a quantity that only densification can change
///   (Q1, V) only a step in that direction counts: a glass does not expand on compression.
/// - A **smooth transition** (a change of slope): after the steps are taken out, a continuous
///   piecewise-linear function with 0…`maxBreakpoints` free breakpoints (hinges) is fitted by
///   weighted least squares, and the number of breakpoints is the one with the lowest Bayesian
///   information criterion BIC = χ² + p ln n (Schwarz, Ann. Stat. 6 (1978) 461), p counting
///   intercept, slope, and a slope change and a position for each breakpoint, and each step's
///   jump; at least one degree of freedom is kept. A breakpoint's uncertainty is the range of
///   positions over which χ² stays within max(1, χ²/ν) of its minimum, and at least half the
///   gap between the two pressures around it.
///
/// Breakpoints are reported only when they describe the data better (BIC lower by more than 2)
/// than a smooth compression curve y = a(1 + cP)^e, the form Murnaghan's equation gives V and
/// Q1: the curvature of ordinary compression is not a transition.
///
/// Each point's uncertainty combines the measured one with the pressure's:
/// σᵢ² = σ_yᵢ² + (sᵢ σ_Pᵢ)², sᵢ the smaller neighbouring slope, because in a diamond cell the
/// pressure is usually the less certain coordinate.
public struct TransitionAnalysis: Sendable {
    public enum Kind: String, Sendable, Codable { case smooth, discontinuous }

    public struct Transition: Sendable {
        public var pressure: Double
        public var sigma: Double
        public var kind: Kind
        /// Discontinuous: the jump of the quantity across the gap beyond the neighbouring slopes.
        /// Smooth: the change of slope (per GPa).
        public var change: Double
        /// Discontinuous: |excess| / its standard uncertainty. Smooth: drop in BIC against the
        /// model without this many breakpoints.
        public var significance: Double
    }

    /// A straight piece of the fitted model, y = intercept + slope·P on [from, to].
    public struct Segment: Sendable {
        public var from: Double, to: Double
        public var intercept: Double, slope: Double
    }

    public var transitions: [Transition]
    public var segments: [Segment]
    public var chiSquare: Double
    public var degreesOfFreedom: Int

    public struct Options: Sendable {
        public var maxBreakpoints = 3
        /// Widest gap (GPa) across which a jump is called discontinuous.
        public var stepWindow = 1.5
        /// Significance (in standard uncertainties) a step must reach.
        public var threshold = 3.0
        /// +1 for a quantity that can only step up under compression (Q1, Q2: a denser glass),
        /// −1 for one that can only step down (volume), 0 for either (widths, ratios).
        public var stepDirection = 0.0
        public init(maxBreakpoints: Int = 3, stepWindow: Double = 1.5, threshold: Double = 3.0, stepDirection: Double = 0) {
            self.maxBreakpoints = maxBreakpoints
            self.stepWindow = stepWindow
            self.threshold = threshold
            self.stepDirection = stepDirection
        }
    }

    /// - Parameters:
    ///   - valueSigma: standard uncertainty of each value.
    ///   - pressureSigma: standard uncertainty of each pressure.
    public static func analyse(pressure: [Double], value: [Double], valueSigma: [Double], pressureSigma: [Double],
                               options: Options = Options()) -> TransitionAnalysis {
        precondition(value.count == pressure.count && valueSigma.count == pressure.count && pressureSigma.count == pressure.count,
                     "one value and two uncertainties per pressure")
        let order = pressure.indices.filter { pressure[$0].isFinite && value[$0].isFinite }.sorted { pressure[$0] < pressure[$1] }
        let p = order.map { pressure[$0] }, y = order.map { value[$0] }
        let n = p.count
        guard n >= 2 else { return TransitionAnalysis(transitions: [], segments: [], chiSquare: 0, degreesOfFreedom: 0) }
        let gaps = (0 ..< n - 1).map { p[$0 + 1] - p[$0] }
        let slopes = (0 ..< n - 1).map { gaps[$0] > 0 ? (y[$0 + 1] - y[$0]) / gaps[$0] : 0 }
        let sigma: [Double] = (0 ..< n).map { i in
            let neighbouring = [i - 1, i].filter { $0 >= 0 && $0 < n - 1 && gaps[$0] > 0 }.map { abs(slopes[$0]) }
            let s = neighbouring.min() ?? 0
            let sy = max(0, valueSigma[order[i]].isFinite ? valueSigma[order[i]] : 0)
            let sp = max(0, pressureSigma[order[i]].isFinite ? pressureSigma[order[i]] : 0)
            // A zero uncertainty would give the point infinite weight.
            return max((sy * sy + s * s * sp * sp).squareRoot(), 1e-12 * max(abs(y[i]), 1))
        }

        // Steps, gap by gap, each with a neighbouring segment on both sides.
        var transitions: [Transition] = []
        var stepGaps: [(gap: Int, jump: Double)] = []
        if n >= 4 {
            for k in 1 ..< n - 2 where gaps[k] > 0 && gaps[k] <= options.stepWindow && gaps[k - 1] > 0 && gaps[k + 1] > 0 {
                let low = min(slopes[k - 1], slopes[k + 1]), high = max(slopes[k - 1], slopes[k + 1])
                guard slopes[k] > high || slopes[k] < low else { continue }
                let reference = slopes[k] > high ? high : low
                let neighbour = reference == slopes[k - 1] ? k - 1 : k + 1
                let excess = (slopes[k] - reference) * gaps[k]
                // A volume that grows on compression is not a transition but a bad point.
                guard options.stepDirection == 0 || excess * options.stepDirection > 0 else { continue }
                let referenceSigma = hypot(sigma[neighbour], sigma[neighbour + 1]) / gaps[neighbour]
                let excessSigma = (sigma[k] * sigma[k] + sigma[k + 1] * sigma[k + 1] + pow(gaps[k] * referenceSigma, 2)).squareRoot()
                let significance = abs(excess) / excessSigma
                guard significance > options.threshold else { continue }
                let jump = (slopes[k] - (slopes[k - 1] + slopes[k + 1]) / 2) * gaps[k]
                stepGaps.append((k, jump))
                transitions.append(Transition(pressure: (p[k] + p[k + 1]) / 2, sigma: gaps[k] / 2, kind: .discontinuous,
                                              change: jump, significance: significance))
            }
        }
        var corrected = y
        for (k, jump) in stepGaps { for i in (k + 1) ..< n { corrected[i] -= jump } }

        // Smooth changes: continuous piecewise lines on what the steps leave.
        let weights = sigma.map { 1 / ($0 * $0) }
        let stepPositions = stepGaps.map { (p[$0.gap] + p[$0.gap + 1]) / 2 }
        let stepHalfGaps = stepGaps.map { gaps[$0.gap] / 2 }
        func fit(_ knots: [Double], _ data: [Double], steps: [Double] = []) -> (coefficients: [Double], chiSquare: Double)? {
            let columns = 2 + knots.count + steps.count
            var a: [Double] = []
            a.reserveCapacity(n * columns)
            for x in p {
                a.append(1)
                a.append(x)
                for t in knots { a.append(max(0, x - t)) }
                for s in steps { a.append(x > s ? 1 : 0) }
            }
            guard let (c, _) = LinearAlgebra.leastSquares(a, rows: n, columns: columns, data, weights: weights) else { return nil }
            var chi = 0.0
            for i in 0 ..< n {
                var model = 0.0
                for j in 0 ..< columns { model += a[i * columns + j] * c[j] }
                chi += pow(data[i] - model, 2) * weights[i]
            }
            return (c, chi)
        }
        // Candidate positions: a few per gap, at most about a hundred in all.
        let perGap = max(2, 96 / max(1, n - 1))
        var grid: [Double] = []
        for k in 0 ..< n - 1 where gaps[k] > 0 {
            for m in 1 ... perGap { grid.append(p[k] + gaps[k] * Double(m) / Double(perGap + 1)) }
            if k < n - 2 { grid.append(p[k + 1]) }
        }
        func pointsBetween(_ a: Double, _ b: Double) -> Bool { p.contains { $0 > a && $0 < b } }
        let logN = log(Double(n))
        var best: (bic: Double, knots: [Double], chi: Double)? = nil
        var bicByCount: [Int: Double] = [:]
        for count in 0 ... max(0, options.maxBreakpoints) {
            let parameters = 2 + 2 * count + stepGaps.count
            guard parameters <= n - 1 else { break }
            var bestChi = Double.infinity, bestKnots: [Double] = []
            func search(_ start: Int, _ knots: [Double]) {
                if knots.count == count {
                    if let (_, chi) = fit(knots, corrected), chi < bestChi { (bestChi, bestKnots) = (chi, knots) }
                    return
                }
                guard start < grid.count else { return }
                // Three breakpoints: every other candidate, then the refinement below.
                for i in stride(from: start, to: grid.count, by: count >= 3 ? 2 : 1) where knots.last.map({ pointsBetween($0, grid[i]) }) ?? true {
                    search(i + 1, knots + [grid[i]])
                }
            }
            search(0, [])
            guard bestChi.isFinite else { continue }
            // Refine each breakpoint between its neighbouring candidates.
            for _ in 0 ..< 2 {
                for k in 0 ..< bestKnots.count {
                    let lower = grid.last { $0 < bestKnots[k] } ?? p[0], upper = grid.first { $0 > bestKnots[k] } ?? p[n - 1]
                    for m in 0 ... 20 {
                        var trial = bestKnots
                        trial[k] = lower + (upper - lower) * Double(m) / 20
                        if k > 0, !pointsBetween(trial[k - 1], trial[k]) { continue }
                        if k + 1 < trial.count, !pointsBetween(trial[k], trial[k + 1]) { continue }
                        if let (_, chi) = fit(trial, corrected), chi < bestChi { (bestChi, bestKnots) = (chi, trial) }
                    }
                }
            }
            let bic = bestChi + Double(parameters) * logN
            bicByCount[count] = bic
            if best == nil || bic < best!.bic { best = (bic, bestKnots, bestChi) }
        }
        // Breakpoints only where a smooth compression curve will not do: the hinges must beat it
        // by more than 2 in BIC ("positive" evidence, Kass & Raftery, JASA 90 (1995) 773).
        let curve = Self.smoothCurve(p: p, y: corrected, weights: weights)
        let curveBIC = curve.map { $0.chiSquare + Double(3 + stepGaps.count) * logN } ?? .infinity
        let curvePreferred = curve != nil && !(best?.knots.isEmpty ?? true) && best!.bic > curveBIC - 2
        let knots = curvePreferred ? [] : best?.knots ?? []
        let chiMin = curvePreferred ? curve!.chiSquare : best?.chi ?? 0
        let dof = max(1, n - (curvePreferred ? 3 : 2 + 2 * knots.count) - stepGaps.count)
        let tolerance = max(1, chiMin / Double(dof))
        if let (coefficients, _) = fit(knots, corrected) {
            for (k, t) in knots.enumerated() {
                // Profile of χ² along this breakpoint, the others held.
                var inside: [Double] = [t]
                let probes = grid + (0 ... 200).map { p[0] + (p[n - 1] - p[0]) * Double($0) / 200 }
                for g in probes where g > p[0] && g < p[n - 1] {
                    var trial = knots
                    trial[k] = g
                    if k > 0, !pointsBetween(trial[k - 1], g) { continue }
                    if k + 1 < trial.count, !pointsBetween(g, trial[k + 1]) { continue }
                    if let (_, chi) = fit(trial, corrected), chi <= chiMin + tolerance { inside.append(g) }
                }
                // On curved data the hinge's place inside its gap depends on how the two lines are
                // extrapolated, so it is not known better than that gap.
                let below = p.last { $0 <= t } ?? p[0], above = p.first { $0 > t } ?? p[n - 1]
                let halfRange = max((inside.max()! - inside.min()!) / 2, (above - below) / 2)
                // A change of slope inside a step's gap or right beside it is that step.
                if zip(stepPositions, stepHalfGaps).contains(where: { abs($0 - t) <= halfRange + $1 }) { continue }
                let fewer = min(bicByCount[knots.count - 1] ?? .infinity, curveBIC)
                transitions.append(Transition(pressure: t, sigma: halfRange, kind: .smooth, change: coefficients[2 + k],
                                              significance: fewer - best!.bic))
            }
        }

        // The model drawn: hinges and steps fitted together on the measured values.
        var segments: [Segment] = []
        var chiSquare = chiMin
        if curvePreferred, let curve {
            // The smooth curve in short straight pieces, with the steps' jumps added back.
            let edges = (Array(stride(from: 0, through: 40, by: 1)).map { p[0] + (p[n - 1] - p[0]) * Double($0) / 40 } + stepPositions).sorted()
            func model(_ x: Double, side: Double) -> Double {
                var v = Self.curveValue(curve.parameters, x)
                for (gap, jump) in stepGaps where side > (p[gap] + p[gap + 1]) / 2 { v += jump }
                return v
            }
            for k in 0 ..< edges.count - 1 where edges[k + 1] > edges[k] {
                let mid = (edges[k] + edges[k + 1]) / 2
                let ya = model(edges[k], side: mid), yb = model(edges[k + 1], side: mid)
                let slope = (yb - ya) / (edges[k + 1] - edges[k])
                segments.append(Segment(from: edges[k], to: edges[k + 1], intercept: ya - slope * edges[k], slope: slope))
            }
        } else if let (c, chi) = fit(knots, y, steps: stepPositions) {
            chiSquare = chi
            let edges = ([p[0]] + knots + stepPositions + [p[n - 1]]).sorted()
            for k in 0 ..< edges.count - 1 where edges[k + 1] > edges[k] {
                let mid = (edges[k] + edges[k + 1]) / 2
                var intercept = c[0], slope = c[1]
                for (j, t) in knots.enumerated() where mid > t {
                    slope += c[2 + j]
                    intercept -= c[2 + j] * t
                }
                for (j, s) in stepPositions.enumerated() where mid > s { intercept += c[2 + knots.count + j] }
                segments.append(Segment(from: edges[k], to: edges[k + 1], intercept: intercept, slope: slope))
            }
        }
        return TransitionAnalysis(transitions: transitions.sorted { $0.pressure < $1.pressure }, segments: segments,
                                  chiSquare: chiSquare, degreesOfFreedom: dof)
    }

    static func curveValue(_ q: [Double], _ x: Double) -> Double { q[0] * pow(1 + q[1] * x, q[2]) }

    /// Weighted fit of y = a (1 + c P)^e: Murnaghan's V(P) = V₀(1 + K′P/K₀)^(−1/K′)
    /// (Murnaghan, PNAS 30 (1944) 244) and Q ∝ V^(−1/3) both have this form, so it describes a
    /// compression curve with no transition. Nil for values of both signs or a failed fit.
    static func smoothCurve(p: [Double], y: [Double], weights: [Double]) -> (parameters: [Double], chiSquare: Double)? {
        let n = p.count
        guard n >= 4, p[0] >= 0 else { return nil }
        let sign: Double = y.allSatisfy { $0 > 0 } ? 1 : y.allSatisfy { $0 < 0 } ? -1 : 0
        guard sign != 0 else { return nil }
        let values = y.map { $0 * sign }
        let lm = LevenbergMarquardt(lower: [-.infinity, 1e-6, -50], upper: [.infinity, 100, 50])
        var best: (parameters: [Double], chiSquare: Double)?
        for c in [0.01, 0.05, 0.2, 1.0] {
            let a = values[0] / pow(1 + c * p[0], 0.1)
            let e = log(values[n - 1] / a) / log(1 + c * p[n - 1])
            guard a.isFinite, e.isFinite else { continue }
            let fit = lm.fit([a, c, e]) { q in (0 ..< n).map { (values[$0] - Self.curveValue(q, p[$0])) * weights[$0].squareRoot() } }
            guard fit.parameters.allSatisfy({ $0.isFinite }), fit.chiSquare.isFinite else { continue }
            if best == nil || fit.chiSquare < best!.chiSquare { best = (fit.parameters, fit.chiSquare) }
        }
        return best.map { ([$0.parameters[0] * sign, $0.parameters[1], $0.parameters[2]], $0.chiSquare) }
    }
}
