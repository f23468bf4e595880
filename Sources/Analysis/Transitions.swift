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
/// - A **smooth transition**: a change of slope with a centre and a width. The quantity is
///   fitted (weighted least squares, steps included as jumps) by a line plus 0…`maxBreakpoints`
///   smooth hinges w ln(1 + exp((P − c)/w)) (`PressureCurve`), whose slope changes along a
///   logistic: one broad change is one hinge with a large w, not two sharp breakpoints. Each
///   hinge costs three parameters (centre, width, slope change), and a further hinge is kept only
///   when it lowers the Bayesian information criterion BIC = χ² + p ln n (Schwarz, Ann. Stat. 6
///   (1978) 461) by more than 2 ("positive" evidence, Kass & Raftery, JASA 90 (1995) 773). A
///   change must lie inside the data: its 10–90 % range between the first and last pressures,
///   two points on each side of its centre, and apart from the other changes and the steps.
///   Centre and width uncertainties are profile-likelihood ranges (χ² within max(1, χ²/ν) of
///   its minimum, the other parameters refitted); a change with no point inside its 10–90 %
///   range is not located better than the gap around it. Its significance is its own: the BIC of
///   the best description without it minus that with it.
///
/// Hinges are reported only when they describe the data better (BIC lower by more than 2)
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
        /// Smooth: the 10–90 % range of the slope change (GPa). Discontinuous: 0 (the change is
        /// narrower than its gap, which `widthSigma` gives).
        public var width: Double
        public var widthSigma: Double
        /// Discontinuous: the jump of the quantity. Smooth: the change of slope (per GPa).
        public var change: Double
        public var changeSigma: Double
        /// Discontinuous: |excess| / its standard uncertainty. Smooth: drop in BIC that this change
        /// brings against the best description without it.
        public var significance: Double
    }

    /// A straight piece of the fitted model, y = intercept + slope·P on [from, to].
    public struct Segment: Sendable {
        public var from: Double, to: Double
        public var intercept: Double, slope: Double
    }

    public var transitions: [Transition]
    /// The model drawn, in short straight pieces.
    public var segments: [Segment]
    /// The model itself (nil with fewer than two points).
    public var curve: PressureCurve?
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
        public init(maxBreakpoints: Int = 3, stepWindow: Double = 1.5, threshold: Double = 3.0,
                    stepDirection: Double = 0) {
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
        precondition(value.count == pressure.count && valueSigma.count == pressure.count
                     && pressureSigma.count == pressure.count, "one value and two uncertainties per pressure")
        let order = pressure.indices.filter { pressure[$0].isFinite && value[$0].isFinite }
            .sorted { pressure[$0] < pressure[$1] }
        let p = order.map { pressure[$0] }, y = order.map { value[$0] }
        let n = p.count
        guard n >= 2 else {
            return TransitionAnalysis(transitions: [], segments: [], curve: nil, chiSquare: 0, degreesOfFreedom: 0)
        }
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
        let weights = sigma.map { 1 / ($0 * $0) }

        // Steps, gap by gap, each with a neighbouring segment on both sides.
        var stepSignificance: [Double] = []
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
                stepSignificance.append(significance)
            }
        }
        let stepPositions = stepGaps.map { (p[$0.gap] + p[$0.gap + 1]) / 2 }
        let stepHalfGaps = stepGaps.map { gaps[$0.gap] / 2 }
        let logN = log(Double(n))
        typealias Hinge = PressureCurve.Hinge
        /// One description: its baseline (its search), its hinges, its BIC.
        struct Candidate {
            var search: HingeSearch
            var hinges: [Hinge]
            var bic: Double
        }
        // Ordinary compression without changes: the curve a(1 + cP)^e, whose c also places the
        // curved baselines tried below.
        let compression = PressureCurve.fitCompression(pressure: p, value: y, weights: weights, steps: stepPositions)
        let compressionBIC = compression.map { $0.chiSquare + Double(3 + stepPositions.count) * logN } ?? .infinity
        // Baselines: a line, and (with enough points for them) curves around the compression
        // curve's scale. For each, the best hinges of each count: the previous count's plus one,
        // and for one or two also every combination of sharp hinges, polished by coordinate descent.
        var searches = [HingeSearch(p: p, y: y, weights: weights, steps: stepPositions, stepHalfGaps: stepHalfGaps)]
        if n >= 10, let fitted = compression?.parameters[1] {
            // c = K′/K₀ of the compression curve; glasses and standards have 0.01–0.5 GPa⁻¹. A curve
            // bent much harder than that would take a change at low pressure for compression.
            let c = min(max(fitted, 0.02), 0.3)
            searches += [c / 2.5, c, c * 2.5].map {
                HingeSearch(p: p, y: y, weights: weights, steps: stepPositions, stepHalfGaps: stepHalfGaps, logScale: $0)
            }
        }
        var byCount: [[Candidate]] = [[]]
        for search in searches {
            let base = Double(search.baselineParameters + stepPositions.count) * logN
            var previous = Candidate(search: search, hinges: [], bic: search.score([]) + base)
            byCount[0].append(previous)
            for count in 1 ... max(1, options.maxBreakpoints) where options.maxBreakpoints > 0 {
                guard search.baselineParameters + 2 * count + stepPositions.count <= n - 1 else { break }
                var found = [search.descend(search.addOne(to: previous.hinges))]
                if count <= 2 { found.append(search.descend(search.sharpCombinations(count))) }
                guard let best = found.filter({ $0.score.isFinite && $0.hinges.count == count })
                    .min(by: { $0.score < $1.score }) else { break }
                previous = Candidate(search: search, hinges: best.hinges, bic: best.score + base)
                if byCount.count <= count { byCount.append([]) }
                byCount[count].append(previous)
            }
        }
        // Without changes: the best of the line, the curves and the compression curve. A further
        // change only for positive evidence (BIC lower by more than 2).
        var description = byCount[0].min { $0.bic < $1.bic }!
        var acceptedBIC = min(description.bic, compressionBIC)
        var useCompression = compressionBIC < description.bic
        for count in 1 ..< byCount.count {
            guard let best = byCount[count].min(by: { $0.bic < $1.bic }), best.bic < acceptedBIC - 2 else { continue }
            (description, acceptedBIC, useCompression) = (best, best.bic, false)
        }
        let search = description.search
        var hinges = useCompression ? [] : description.hinges

        // Each change located: profile ranges of centre and width, its own significance.
        var smooth: [Transition] = []
        if !hinges.isEmpty {
            let chiMin = search.chiSquare(hinges)
            let dof = max(1, n - search.parameters(hinges))
            let tolerance = max(1, chiMin / Double(dof))
            for j in hinges.indices {
                // Over every baseline of the chosen kind: the curve's c is a fitted parameter too.
                let ranges = searches.filter { ($0.logScale == nil) == (search.logScale == nil) }
                    .map { $0.profile(hinges, index: j, within: chiMin + tolerance) }
                var centreRange = ranges.map(\.centre.lowerBound).min()! ... ranges.map(\.centre.upperBound).max()!
                let scaleRange = ranges.map(\.scale.lowerBound).min()! ... ranges.map(\.scale.upperBound).max()!
                let below = p.last { $0 <= hinges[j].centre } ?? p[0], above = p.first { $0 > hinges[j].centre } ?? p[n - 1]
                let lowEdge = hinges[j].centre - hinges[j].width / 2, highEdge = hinges[j].centre + hinges[j].width / 2
                if !p.contains(where: { $0 > lowEdge && $0 < highEdge }) {
                    // No point inside the change: it is not located better than its gap.
                    centreRange = min(centreRange.lowerBound, below) ... max(centreRange.upperBound, above)
                }
                hinges[j].centreSigma = (centreRange.upperBound - centreRange.lowerBound) / 2
                hinges[j].scaleSigma = (scaleRange.upperBound - scaleRange.lowerBound) / 2
                // The best description without this change: the others where they are, their slopes
                // and every baseline refitted (for the only change, also the compression curve).
                var without = description.hinges
                without.remove(at: j)
                var withoutBIC = searches.map { other in
                    other.score(without) + Double(other.baselineParameters + stepPositions.count) * logN
                }.min()!
                if without.isEmpty { withoutBIC = min(withoutBIC, compressionBIC) }
                smooth.append(Transition(pressure: hinges[j].centre, sigma: hinges[j].centreSigma, kind: .smooth,
                                         width: hinges[j].width, widthSigma: PressureCurve.Hinge.span * hinges[j].scaleSigma,
                                         change: 0, changeSigma: 0, significance: withoutBIC - description.bic))
            }
        }
        let curve = useCompression ? compression
            : PressureCurve.fitLine(pressure: p, value: y, weights: weights, hinges: hinges, steps: stepPositions,
                                    logScale: search.logScale)
        var transitions = smooth
        if let curve {
            for j in transitions.indices {
                (transitions[j].change, transitions[j].changeSigma) = curve.slopeChange(j)
                // The profile holds the other changes; the covariance refits them too. The larger.
                if let shape = curve.shapeSigma(j) {
                    transitions[j].sigma = max(transitions[j].sigma, shape.centre)
                    if let scale = shape.scale {
                        transitions[j].widthSigma = max(transitions[j].widthSigma, PressureCurve.Hinge.span * scale)
                    }
                }
            }
        }
        for (k, step) in stepGaps.enumerated() {
            let jump = curve?.jump(k) ?? (step.jump, .nan)
            transitions.append(Transition(pressure: stepPositions[k], sigma: stepHalfGaps[k], kind: .discontinuous,
                                          width: 0, widthSigma: stepHalfGaps[k], change: jump.value,
                                          changeSigma: jump.sigma, significance: stepSignificance[k]))
        }
        let segments = curve.map { Self.segments(of: $0, from: p[0], to: p[n - 1]) } ?? []
        return TransitionAnalysis(transitions: transitions.sorted { $0.pressure < $1.pressure }, segments: segments,
                                  curve: curve, chiSquare: curve?.chiSquare ?? 0,
                                  degreesOfFreedom: curve?.degreesOfFreedom ?? max(1, n - 2))
    }

    /// The curve in straight pieces: exact for a line, short chords (and a break at every step)
    /// for anything curved.
    static func segments(of curve: PressureCurve, from start: Double, to end: Double) -> [Segment] {
        var edges = [start, end] + curve.steps.filter { $0 > start && $0 < end }
        if curve.baseline == .compression || !curve.hinges.isEmpty {
            edges += (1 ..< 60).map { start + (end - start) * Double($0) / 60 }
            edges += curve.hinges.map(\.centre).filter { $0 > start && $0 < end }
        }
        edges.sort()
        var pieces: [Segment] = []
        for k in 0 ..< edges.count - 1 where edges[k + 1] > edges[k] {
            // Values taken just inside the piece, so that a step's jump falls between pieces.
            let inset = (edges[k + 1] - edges[k]) * 1e-9
            let ya = curve.value(at: edges[k] + inset), yb = curve.value(at: edges[k + 1] - inset)
            let slope = (yb - ya) / (edges[k + 1] - edges[k] - 2 * inset)
            pieces.append(Segment(from: edges[k], to: edges[k + 1], intercept: ya - slope * (edges[k] + inset), slope: slope))
        }
        return pieces
    }
}
