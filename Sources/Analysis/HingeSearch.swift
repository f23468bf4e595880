import BeamlineNumerics
import Foundation

/// The search behind `TransitionAnalysis`' smooth changes: the centres and widths of the hinges
/// (`PressureCurve.Hinge`) that minimise χ² on a baseline, the baseline's coefficients, the
/// slope changes and the jumps fitted linearly for each trial. The baseline is a line, or the
/// curve a + bL + qL², L = ln(1 + cP), for a fixed c (`PressureCurve.Baseline.curved`).
/// Centres are tried on a grid of a few positions per gap between pressures, logistic scales on a
/// geometric grid from sharp (0.2 % of the pressure range) to a 10–90 % range of a third of it.
struct HingeSearch {
    typealias Hinge = PressureCurve.Hinge

    let p: [Double], y: [Double], weights: [Double]
    let steps: [Double], stepHalfGaps: [Double]
    /// The curved baseline's c; nil for a line.
    let logScale: Double?
    /// ln(1 + cPᵢ) at each pressure, for the curved baseline.
    let logColumn: [Double]
    let centres: [Double]
    let scales: [Double]
    /// Points needed on each side of a change's centre to see the slope before and after it.
    let pointsPerSide: Int
    let logN: Double

    init(p: [Double], y: [Double], weights: [Double], steps: [Double], stepHalfGaps: [Double],
         logScale: Double? = nil) {
        self.logScale = logScale
        logColumn = logScale.map { c in p.map { log1p(c * $0) } } ?? []
        self.p = p
        self.y = y
        self.weights = weights
        self.steps = steps
        self.stepHalfGaps = stepHalfGaps
        let n = p.count
        let range = max(p[n - 1] - p[0], 1e-9)
        let perGap = max(2, 60 / max(1, n - 1))
        var grid: [Double] = []
        for k in 0 ..< n - 1 where p[k + 1] > p[k] {
            for m in 1 ... perGap { grid.append(p[k] + (p[k + 1] - p[k]) * Double(m) / Double(perGap + 1)) }
            if k < n - 2 { grid.append(p[k + 1]) }
        }
        centres = grid
        let smallest = 0.002 * range, largest = range / (3 * Hinge.span)
        scales = (0 ..< 9).map { smallest * pow(largest / smallest, Double($0) / 8) }
        pointsPerSide = n >= 6 ? 2 : 1
        logN = log(Double(n))
    }

    /// A hinge on the grid: sharp (its width not a parameter) at the smallest scale.
    func hinge(_ centre: Double, _ scale: Double) -> Hinge {
        let sharp = scale <= scales[0] * (1 + 1e-9)
        return Hinge(centre: centre, scale: max(scale, scales[0]), widthFitted: !sharp)
    }

    /// Parameters of the baseline: a line's two, the curve's three and its c.
    var baselineParameters: Int { logScale == nil ? 2 : 4 }

    /// Parameters of the model: the baseline's, each hinge's, each step's jump.
    func parameters(_ hinges: [Hinge]) -> Int {
        baselineParameters + steps.count + hinges.reduce(0) { $0 + 1 + $1.shapeParameters }
    }

    /// χ² plus the Bayesian information criterion's penalty for the hinges' parameters: what the
    /// search minimises, so that one smooth change (three parameters) beats two sharp ones (four)
    /// that fit no better. Infinity when the model has fewer than one degree of freedom left.
    func score(_ hinges: [Hinge]) -> Double {
        guard parameters(hinges) <= p.count - 1 else { return .infinity }
        return chiSquare(hinges) + Double(hinges.reduce(0) { $0 + 1 + $1.shapeParameters }) * logN
    }

    /// A set of changes the data can locate: each inside the pressure range with its 10–90 %
    /// range, points on both sides, clear of the others and of the steps.
    func admissible(_ hinges: [Hinge]) -> Bool {
        let n = p.count
        let sorted = hinges.sorted { $0.centre < $1.centre }
        for (j, h) in sorted.enumerated() {
            let half = h.width / 2
            guard h.scale > 0, h.centre - half >= p[0], h.centre + half <= p[n - 1] else { return false }
            guard pointsBelow(h.centre) >= pointsPerSide, pointsAbove(h.centre) >= pointsPerSide else { return false }
            for (s, gap) in zip(steps, stepHalfGaps) where abs(h.centre - s) <= half + gap { return false }
            if j > 0 {
                let previous = sorted[j - 1]
                guard previous.centre + previous.width / 2 <= h.centre - half,
                      p.contains(where: { $0 > previous.centre && $0 < h.centre }) else { return false }
            }
        }
        return true
    }

    /// How many pressures lie below (above) x; `p` is sorted.
    func pointsBelow(_ x: Double) -> Int {
        var low = 0, high = p.count
        while low < high { let mid = (low + high) / 2; if p[mid] < x { low = mid + 1 } else { high = mid } }
        return low
    }

    func pointsAbove(_ x: Double) -> Int {
        var low = 0, high = p.count
        while low < high { let mid = (low + high) / 2; if p[mid] <= x { low = mid + 1 } else { high = mid } }
        return p.count - low
    }

    /// Weighted χ² of the line with these hinges and the steps; infinity when not admissible.
    /// Called for every trial of the searches (millions in a run's series): no allocation.
    func chiSquare(_ hinges: [Hinge]) -> Double {
        guard admissible(hinges) else { return .infinity }
        let base = logScale == nil ? 2 : 3
        let m = base + hinges.count + steps.count, n = p.count
        return withUnsafeTemporaryAllocation(of: Double.self, capacity: n * m + m * m + m) { buffer in
            // The design matrix (row i: the model's columns at pressure i), the normal equations.
            let design = buffer.baseAddress!, normal = design + n * m, rhs = normal + m * m
            normal.initialize(repeating: 0, count: m * m + m)
            for i in 0 ..< n {
                let row = design + i * m
                row[0] = 1
                if logScale == nil {
                    row[1] = p[i]
                } else {
                    row[1] = logColumn[i]
                    row[2] = logColumn[i] * logColumn[i]
                }
                for (j, h) in hinges.enumerated() { row[base + j] = h.value(at: p[i]) }
                for (k, s) in steps.enumerated() { row[base + hinges.count + k] = p[i] > s ? 1 : 0 }
                let w = weights[i]
                for a in 0 ..< m {
                    let wa = w * row[a]
                    rhs[a] += wa * y[i]
                    for b in 0 ... a { normal[a * m + b] += wa * row[b] }
                }
            }
            for a in 0 ..< m { for b in 0 ..< a { normal[b * m + a] = normal[a * m + b] } }
            guard LinearAlgebra.solveInPlace(normal, size: m, columns: rhs, count: 1) else { return .infinity }
            var chi = 0.0
            for i in 0 ..< n {
                let row = design + i * m
                var model = 0.0
                for a in 0 ..< m { model += row[a] * rhs[a] }
                chi += (y[i] - model) * (y[i] - model) * weights[i]
            }
            return chi.isFinite ? chi : .infinity
        }
    }

    /// These hinges and the best further one on the grid.
    func addOne(to hinges: [Hinge]) -> [Hinge] {
        var best = hinges, bestChi = Double.infinity
        for c in centres {
            for w in scales {
                let trial = hinges + [hinge(c, w)]
                let chi = score(trial)
                if chi < bestChi { (best, bestChi) = (trial, chi) }
            }
        }
        return best
    }

    /// The best `count` sharp hinges over every combination of grid positions.
    func sharpCombinations(_ count: Int) -> [Hinge] {
        var best: [Hinge] = [], bestChi = Double.infinity
        let sharp = scales[0]
        func extend(_ start: Int, _ chosen: [Hinge]) {
            if chosen.count == count {
                let chi = chiSquare(chosen)
                if chi < bestChi { (best, bestChi) = (chosen, chi) }
                return
            }
            guard start < centres.count else { return }
            for i in start ..< centres.count { extend(i + 1, chosen + [hinge(centres[i], sharp)]) }
        }
        extend(0, [])
        return best
    }

    /// Coordinate descent: each hinge in turn moved to its best centre and scale on the grid with
    /// the others held, then refined between its neighbouring grid values.
    func descend(_ start: [Hinge], rounds: Int = 4) -> (hinges: [Hinge], score: Double) {
        var hinges = start, chi = score(start)
        guard !hinges.isEmpty else { return (hinges, chi) }
        for _ in 0 ..< rounds {
            let before = chi
            for j in hinges.indices {
                for c in centres {
                    for w in scales {
                        var trial = hinges
                        trial[j] = hinge(c, w)
                        let t = score(trial)
                        if t < chi { (hinges, chi) = (trial, t) }
                    }
                }
            }
            if chi >= before { break }
        }
        // Finer: centres between the neighbouring grid positions, scales within a grid step.
        let ratio = scales.count > 1 ? scales[1] / scales[0] : 2
        for _ in 0 ..< 2 {
            for j in hinges.indices {
                let h = hinges[j]
                let lower = centres.last { $0 < h.centre } ?? p[0]
                let upper = centres.first { $0 > h.centre } ?? p[p.count - 1]
                for a in 0 ... 20 {
                    for b in -3 ... 3 {
                        var trial = hinges
                        trial[j] = hinge(lower + (upper - lower) * Double(a) / 20, h.scale * pow(ratio, Double(b) / 3))
                        let t = score(trial)
                        if t < chi { (hinges, chi) = (trial, t) }
                    }
                }
            }
        }
        return (hinges.sorted { $0.centre < $1.centre }, chi)
    }

    /// Ranges of hinge `index`'s centre and scale over which χ² (the others held) stays within
    /// `threshold`: the projections of that region on each axis, i.e. the profile ranges.
    func profile(_ hinges: [Hinge], index: Int, within threshold: Double)
        -> (centre: ClosedRange<Double>, scale: ClosedRange<Double>) {
        let h = hinges[index]
        var cLow = h.centre, cHigh = h.centre, wLow = h.scale, wHigh = h.scale
        let n = p.count
        let fineCentres = centres + (0 ... 200).map { p[0] + (p[n - 1] - p[0]) * Double($0) / 200 }
        let smallest = scales[0], largest = scales[scales.count - 1]
        let fineScales = (0 ..< 30).map { smallest * pow(largest / smallest, Double($0) / 29) } + [h.scale]
        for c in fineCentres {
            for w in fineScales {
                var trial = hinges
                trial[index] = Hinge(centre: c, scale: w, widthFitted: h.widthFitted)
                guard chiSquare(trial) <= threshold else { continue }
                (cLow, cHigh) = (min(cLow, c), max(cHigh, c))
                (wLow, wHigh) = (min(wLow, w), max(wHigh, w))
            }
        }
        return (cLow ... cHigh, wLow ... wHigh)
    }
}
