import BeamlineNumerics
import BeamlineSupport
import Foundation


/// Piecewise-linear description of a quantity against pressure. Candidate models:
/// a straight line; continuous lines with one or two changes of slope ("hinges", a smooth
/// transition); and two separate lines with a jump between neighbouring points (a
/// discontinuous transition). The Bayesian information criterion (Schwarz, Ann. Stat. 6
/// (1978) 461) picks the model, counting each breakpoint's position as a parameter and
/// admitting only models with at least two degrees of freedom left.
public struct Segmented: Sendable {
    public struct Breakpoint: Sendable {
        public var position: Double
        public var sigma: Double
        /// Jump between the two lines at the breakpoint (0 for a change of slope).
        public var jump: Double
        public var discontinuous: Bool
    }

    public var breakpoints: [Breakpoint]
    /// (intercept, slope) of each segment, and where each segment starts.
    public var lines: [(Double, Double)]
    public var starts: [Double]
    public var residualRMS: Double
    public var bic: Double

    static func lineFit(_ xs: ArraySlice<Double>, _ ys: ArraySlice<Double>) -> ((Double, Double), Double) {
        let m = Double(xs.count)
        let mx = xs.reduce(0, +) / m, my = ys.reduce(0, +) / m
        var sxx = 0.0, sxy = 0.0
        for (x, y) in zip(xs, ys) { sxx += (x - mx) * (x - mx); sxy += (x - mx) * (y - my) }
        let slope = sxx > 0 ? sxy / sxx : 0
        let intercept = my - slope * mx
        var rss = 0.0
        for (x, y) in zip(xs, ys) { rss += pow(y - intercept - slope * x, 2) }
        return ((intercept, slope), rss)
    }

    /// Least squares of y = a + b x + Σ c_k max(0, x − t_k) for fixed knots t.
    static func hinge(_ xs: [Double], _ ys: [Double], knots: [Double]) -> (coefficients: [Double], rss: Double)? {
        let columns = 2 + knots.count
        var a: [Double] = []
        for x in xs { a += [1, x] + knots.map { max(0, x - $0) } }
        guard let (c, _) = LinearAlgebra.leastSquares(a, rows: xs.count, columns: columns, ys) else { return nil }
        var rss = 0.0
        for (i, x) in xs.enumerated() {
            var v = c[0] + c[1] * x
            for (k, t) in knots.enumerated() { v += c[2 + k] * max(0, x - t) }
            rss += pow(ys[i] - v, 2)
        }
        return (c, rss)
    }

    public static func fit(x: [Double], y: [Double], maxBreakpoints: Int = 3) -> Segmented {
        let order = x.indices.sorted { x[$0] < x[$1] }
        let xs = order.map { x[$0] }, ys = order.map { y[$0] }
        let n = Double(xs.count)
        func bic(_ rss: Double, _ parameters: Int) -> Double { n * log(max(rss, 1e-300) / n) + Double(parameters) * log(n) }
        func admissible(_ parameters: Int) -> Bool { xs.count - parameters >= 2 }
        let (line0, rss0) = lineFit(xs[...], ys[...])
        var best = Segmented(breakpoints: [], lines: [line0], starts: [xs.first!], residualRMS: (rss0 / n).squareRoot(), bic: bic(rss0, 2))
        // Hinges: knots on a fine grid, each with at least two points on either side.
        let grid = stride(from: 0, through: 400, by: 1).map { xs[1] + (xs[xs.count - 2] - xs[1]) * Double($0) / 400 }
        for count in 1 ... max(1, min(maxBreakpoints, 2)) where admissible(2 + 2 * count) {
            var bestRSS = Double.infinity, bestKnots: [Double] = [], bestCoefficients: [Double] = []
            func search(_ from: Int, _ knots: [Double]) {
                if knots.count == count {
                    // Each segment keeps two points.
                    let edges = [-Double.infinity] + knots + [Double.infinity]
                    for k in 0 ..< edges.count - 1 where xs.filter({ $0 >= edges[k] && $0 <= edges[k + 1] }).count < 2 { return }
                    if let (c, rss) = hinge(xs, ys, knots: knots), rss < bestRSS { (bestRSS, bestKnots, bestCoefficients) = (rss, knots, c) }
                    return
                }
                var i = from
                while i < grid.count {
                    search(i + 4, knots + [grid[i]])
                    i += count == 1 ? 1 : 4
                }
            }
            search(0, [])
            guard bestRSS.isFinite else { continue }
            let score = bic(bestRSS, 2 + 2 * count)
            if score < best.bic {
                // Uncertainty of a knot: the range where the RSS stays within one reduced χ² unit.
                let dof = Double(xs.count - 2 - 2 * count)
                var points: [Breakpoint] = []
                for (k, t) in bestKnots.enumerated() {
                    var inside: [Double] = []
                    for g in grid {
                        var trial = bestKnots
                        trial[k] = g
                        if let (_, rss) = hinge(xs, ys, knots: trial), rss <= bestRSS * (1 + 1 / dof) { inside.append(g) }
                    }
                    let sigma = inside.isEmpty ? 0 : (inside.max()! - inside.min()!) / 2
                    points.append(Breakpoint(position: t, sigma: sigma, jump: 0, discontinuous: false))
                }
                var lines: [(Double, Double)] = [(bestCoefficients[0], bestCoefficients[1])]
                for k in 0 ..< bestKnots.count {
                    let previous = lines.last!
                    let slope = previous.1 + bestCoefficients[2 + k]
                    lines.append((previous.0 + previous.1 * bestKnots[k] - slope * bestKnots[k], slope))
                }
                best = Segmented(breakpoints: points, lines: lines, starts: [xs.first!] + bestKnots,
                                 residualRMS: (bestRSS / n).squareRoot(), bic: score)
            }
        }
        // A jump between neighbouring points: two separate lines.
        if admissible(5) {
            for cut in 2 ... max(2, xs.count - 2) where cut <= xs.count - 2 {
                let (left, rl) = lineFit(xs[..<cut], ys[..<cut]), (right, rr) = lineFit(xs[cut...], ys[cut...])
                let score = bic(rl + rr, 5)
                if score < best.bic {
                    let mid = (xs[cut - 1] + xs[cut]) / 2
                    let jump = (right.0 + right.1 * mid) - (left.0 + left.1 * mid)
                    best = Segmented(breakpoints: [Breakpoint(position: mid, sigma: (xs[cut] - xs[cut - 1]) / 2, jump: jump, discontinuous: true)],
                                     lines: [left, right], starts: [xs.first!, mid], residualRMS: ((rl + rr) / n).squareRoot(), bic: score)
                }
            }
        }
        return best
    }
}

/// Transitions of a quantity sampled at a few pressures, read from its finite-difference
/// slopes sₖ = Δy/ΔP between neighbouring points:
///
/// - a discontinuous step in gap k when the rise across it exceeds what either neighbouring
///   slope predicts by more than three times the point uncertainty σ:
///   (sₖ − max(sₖ₋₁, sₖ₊₁))·ΔPₖ > 3σ (for a rising quantity; falling ones by symmetry);
/// - a smooth transition (change of compressibility) at an interior point where the slope
///   changes by more than `relativeChange` and by more than the uncertainty of the slopes,
///   away from a step.
///
/// This keeps to what a handful of pressures can support; the segments between transitions
/// are then fitted as straight lines.
public enum TransitionFinder {
    public static func find(pressure: [Double], value: [Double], sigma: Double, relativeChange: Double = 0.2) -> [Segmented.Breakpoint] {
        let order = pressure.indices.sorted { pressure[$0] < pressure[$1] }
        let p = order.map { pressure[$0] }, y = order.map { value[$0] }
        guard p.count >= 4 else { return [] }
        var gaps: [Double] = [], slopes: [Double] = []
        for i in 1 ..< p.count {
            let gap: Double = p[i] - p[i - 1]
            gaps.append(gap)
            slopes.append((y[i] - y[i - 1]) / max(gap, 1e-12))
        }
        let rise: Double = y[y.count - 1] - y[0]
        let direction: Double = rise >= 0 ? 1 : -1
        var result: [Segmented.Breakpoint] = []
        var stepGaps = Set<Int>()
        for k in 1 ..< slopes.count - 1 {
            let here: Double = direction * slopes[k]
            let neighbours: Double = max(direction * slopes[k - 1], direction * slopes[k + 1])
            let excess: Double = here - neighbours
            if excess * gaps[k] > 3 * sigma {
                stepGaps.insert(k)
                result.append(Segmented.Breakpoint(position: (p[k] + p[k + 1]) / 2, sigma: gaps[k] / 2,
                                                   jump: direction * excess * gaps[k], discontinuous: true))
            }
        }
        for j in 1 ..< slopes.count where !stepGaps.contains(j) && !stepGaps.contains(j - 1) {
            let before = slopes[j - 1], after = slopes[j]
            let change = after - before
            let inverseGaps: Double = 1 / gaps[j - 1] + 1 / gaps[j]
            let slopeSigma: Double = sigma * 2.0.squareRoot() * inverseGaps
            let largest: Double = max(abs(before), abs(after))
            guard abs(change) > relativeChange * largest, abs(change) > 3 * slopeSigma else { continue }
            // The largest change within a run of neighbouring candidates.
            if let last = result.last, !last.discontinuous, abs(last.position - p[j]) < 1e-9 { continue }
            result.append(Segmented.Breakpoint(position: p[j], sigma: min(gaps[j - 1], gaps[j]) / 2, jump: 0, discontinuous: false))
        }
        return result.sorted { $0.position < $1.position }
    }
}

/// Sign of the thermal expansion between two isotherms, pressure window by window: at a
/// given pressure a larger Q1 at the higher temperature means a smaller volume, i.e.
/// negative thermal expansion.
public struct ThermalExpansion: Sendable {
    public struct Window: Sendable {
        public var from: Double, to: Double
        public var negative: Bool
    }

    public static func windows(low: (p: [Double], q1: [Double]), high: (p: [Double], q1: [Double])) -> [Window] {
        let lowOrder = low.p.indices.sorted { low.p[$0] < low.p[$1] }
        let lp = lowOrder.map { low.p[$0] }, lq = lowOrder.map { low.q1[$0] }
        var points: [(Double, Bool)] = []
        for (p, q) in zip(high.p, high.q1).sorted(by: { $0.0 < $1.0 }) {
            guard let reference = Interpolation.linear(lp, lq, at: p) else { continue }
            points.append((p, q > reference))
        }
        var windows: [Window] = []
        for (p, negative) in points {
            if let last = windows.last, last.negative == negative {
                windows[windows.count - 1].to = p
            } else {
                if let last = windows.last { windows[windows.count - 1].to = (last.to + p) / 2 }
                windows.append(Window(from: windows.last.map { $0.to } ?? p, to: p, negative: negative))
            }
        }
        return windows
    }
}
