import BeamlineNumerics
import BeamlineSupport
import Foundation

/// The background scale and the number density refined together from the data, so that
/// S(Q) needs neither (Eggert, Weck, Loubeyre & Mezouar, Phys. Rev. B 65 (2002) 174105;
/// the procedure of glassure, Prescher et al.).
///
/// For a trial scale s and density ρ₀: I = I_sample − s·I_background; α from the
/// Krogh-Moe/Norman sum rule ∫Q²[S(Q) − 1]dQ = −2π²ρ₀; S(Q) Faber–Ziman. Below r_min there
/// are no atoms, so F(r) = (2/π)∫F(Q)M(Q)sin(Qr)dQ must equal −4πρ₀r (M the Lorch function).
/// The misfit χ² = ∫₀^{r_min} ΔF(r)² dr, ΔF(r) = F(r) + 4πρ₀r (F of the unmeasured Q < Q_min
/// taken as S = 0), is minimised over (s, ρ₀) by Levenberg–Marquardt; the standard
/// uncertainties come from its covariance. The Kaplow iteration, S ← S·[1 − ΔF(Q)/Q] with
/// ΔF(Q) = ∫₀^{r_min} ΔF(r) sin(Qr) dr (Eggert et al. eq. 12–13), can be applied inside each
/// trial (`iterations`) and to the final S(Q) (`finalIterations`). Both are 0 by default:
/// on Percus–Yevick liquids with known S(Q) and density (`SelfConsistentTests`) the
/// iteration inside the optimisation flattens χ² so that the scale drifts off by 60 %, and on
/// the final S(Q) it raised the RMS error from 0.002 to 0.004 (the Lorch-broadened first peak
/// reaches below r_min and is "corrected" away).
public struct SelfConsistentNormalization: Sendable {
    /// r below which there are no atoms, Å; nil: chosen from the data (below the first peak).
    public var rMin: Double?
    /// Kaplow iterations per trial of the optimisation.
    public var iterations = 0
    /// Kaplow iterations applied to S(Q) at the solution.
    public var finalIterations = 0
    /// Step of the r grid below r_min, Å.
    public var rStep = 0.02
    /// Refine the background scale (false: keep the given one, refine the density only).
    public var refineScale = true
    /// Starting density, atoms/Å³ (nil: a scan over 0.02–0.2).
    public var startDensity: Double?
    /// The result of the neighbouring point of a pressure series, tried as a start too.
    public var neighbour: (scale: Double, density: Double)?
    /// The largest misfit accepted, relative to ∫₀^{r_min} (4πρ₀r)² dr. Measured: 0.006 on the
    /// dev run, 0.03 on a real Mg2SiO4 glass, 0.22 on a peak-model S(Q) with no density.
    public var maximumRelativeMisfit = 0.1

    public init() {}

    /// What the refinement found.
    public struct Outcome: Sendable {
        public var scale: Double
        public var scaleSigma: Double
        public var density: Double
        public var densitySigma: Double
        public var rMin: Double
        /// Levenberg–Marquardt iterations, and the Kaplow iterations of each trial.
        public var iterations: Int
        public var kaplowIterations: Int
        /// ∫₀^{r_min} ΔF(r)² dr at the solution, Å⁻³, and relative to ∫₀^{r_min} (4πρ₀r)² dr.
        public var misfit: Double
        public var relativeMisfit: Double
        /// The Kaplow-corrected S(Q) at the solution.
        public var s: [Double]
        public var alpha: Double
    }

    /// The pieces of the reduction that do not depend on (s, ρ₀).
    struct Problem {
        var q: [Double]
        var sample: [Double]
        var background: [Double]
        var meanF2: [Double]
        var squareMeanF: [Double]
        var compton: [Double]
        var path: String
    }

    /// Everything for one (s, ρ₀) trial: the r grid and the sine matrix are computed once.
    struct Kernel {
        let problem: Problem
        let r: [Double]
        /// sin(Q_i r_j), row j (r), column i (Q).
        let sines: [Double]
        /// Trapezoid weights of the Q grid times (2/π) times the Lorch function.
        let forwardWeights: [Double]
        /// Trapezoid weights of the r grid.
        let rWeights: [Double]
        /// Trapezoid weights times Q²/⟨f⟩², and ∫Q²(⟨f²⟩ + C)/⟨f⟩² dQ, for the Krogh-Moe sum rule.
        let kroghMoeWeights: [Double]
        let scatteringIntegral: Double
        /// F(r) of the unmeasured Q < Q_min, where S ≈ 0 and F(Q) = −Q:
        /// (2/π)∫₀^{Q_min} −Q sin(Qr) dQ = −(2/π)[sin(Q_min r)/r² − Q_min cos(Q_min r)/r].
        let lowQ: [Double]
        let iterations: Int

        init(problem: Problem, rMin: Double, rStep: Double, iterations: Int) {
            self.problem = problem
            self.iterations = iterations
            let q = problem.q
            let n = q.count
            let qMax = q[n - 1]
            let count = max(2, Int((rMin / rStep).rounded(.down)) + 1)
            r = (0 ..< count).map { Double($0) * rMin / Double(count - 1) }
            var sines = [Double](repeating: 0, count: count * n)
            for j in 0 ..< count { StructureFactor.forEachSine(q, r: r[j]) { i, sine in sines[j * n + i] = sine } }
            self.sines = sines
            let w = StructureFactor.trapezoidWeights(q)
            let kroghMoe = (0 ..< n).map { w[$0] * q[$0] * q[$0] / problem.squareMeanF[$0] }
            kroghMoeWeights = kroghMoe
            scatteringIntegral = (0 ..< n).reduce(0) { $0 + kroghMoe[$1] * (problem.meanF2[$1] + problem.compton[$1]) }
            forwardWeights = (0 ..< n).map { i in
                let x = Double.pi * q[i] / qMax
                return 2 / .pi * w[i] * (x == 0 ? 1 : sin(x) / x)
            }
            let dr = r[1] - r[0]
            rWeights = (0 ..< count).map { $0 == 0 || $0 == count - 1 ? dr / 2 : dr }
            let q0 = q[0]
            lowQ = r.map { x in x == 0 ? 0 : -2 / .pi * (sin(q0 * x) / (x * x) - q0 * cos(q0 * x) / x) }
        }

        /// Krogh-Moe/Norman α for density ρ (S ≈ 0 below Q_min adds −Q_min³/3): the integral of
        /// Q²(⟨f²⟩ + C)/⟨f⟩² does not depend on the trial, so it is taken once.
        func alpha(_ intensity: [Double], density: Double) -> Double {
            var bottom = 0.0
            for i in intensity.indices { bottom += kroghMoeWeights[i] * intensity[i] }
            return (scatteringIntegral - 2 * .pi * .pi * density + pow(problem.q[0], 3) / 3) / bottom
        }

        /// ΔF(r_j) = F(r_j) + 4πρ r_j.
        func misfit(_ s: [Double], density: Double) -> [Double] {
            let n = problem.q.count, q = problem.q
            var weighted = [Double](repeating: 0, count: n)
            for i in 0 ..< n { weighted[i] = forwardWeights[i] * q[i] * (s[i] - 1) }
            return sines.withUnsafeBufferPointer { m in
                r.indices.map { j in
                    var sum = 0.0
                    let row = j * n
                    for i in 0 ..< n { sum += m[row + i] * weighted[i] }
                    return sum + lowQ[j] + 4 * .pi * density * r[j]
                }
            }
        }

        /// The Kaplow-corrected S(Q), its α and the misfit left, for (scale, density).
        func evaluate(scale: Double, density: Double) -> (s: [Double], alpha: Double, misfit: [Double]) {
            let p = problem, n = p.q.count
            let intensity = (0 ..< n).map { p.sample[$0] - scale * p.background[$0] }
            let a = alpha(intensity, density: density)
            var s = (0 ..< n).map { 1 + (a * intensity[$0] - p.meanF2[$0] - p.compton[$0]) / p.squareMeanF[$0] }
            var delta = misfit(s, density: density)
            for _ in 0 ..< iterations {
                let weights = r.indices.map { delta[$0] * rWeights[$0] }
                sines.withUnsafeBufferPointer { m in
                    var correction = [Double](repeating: 0, count: n)
                    for j in r.indices where weights[j] != 0 {
                        let row = j * n, w = weights[j]
                        for i in 0 ..< n { correction[i] += w * m[row + i] }
                    }
                    for i in 0 ..< n where p.q[i] > 0 { s[i] *= 1 - correction[i] / p.q[i] }
                }
                delta = misfit(s, density: density)
            }
            return (s, a, delta)
        }

        func residuals(scale: Double, density: Double) -> [Double] {
            let d = evaluate(scale: scale, density: density).misfit
            return d.indices.map { d[$0] * rWeights[$0].squareRoot() }
        }
    }

    /// r_min from the data: a little below where G(r) first rises through zero towards its
    /// first maximum (between 1 and 5 Å), with the high-Q normalisation at the given scale.
    static func chooseRMin(_ p: Problem, scale: Double) -> Double {
        let n = p.q.count
        let intensity = (0 ..< n).map { p.sample[$0] - scale * p.background[$0] }
        let start = p.q.firstIndex { $0 >= 0.6 * p.q[n - 1] } ?? 0
        var top = 0.0, bottom = 0.0
        for i in max(1, start + 1) ..< n {
            let h = 0.5 * (p.q[i] - p.q[i - 1])
            top += h * (p.meanF2[i] + p.compton[i] + p.meanF2[i - 1] + p.compton[i - 1])
            bottom += h * (intensity[i] + intensity[i - 1])
        }
        let a = bottom > 0 ? top / bottom : 1
        let f = (0 ..< n).map { p.q[$0] * (a * intensity[$0] - p.meanF2[$0] - p.compton[$0]) / p.squareMeanF[$0] }
        let r = stride(from: 0.5, through: 5.0, by: 0.01).map { $0 }
        let g = StructureFactor.transform(q: p.q, f: f, r: r, lorch: true)
        // The first rise through zero (from r = 1 Å) that goes on to a peak of at least a third
        // of the highest one: the leading edge of the first coordination shell.
        let window = r.indices.filter { r[$0] >= 1 }
        guard let highest = window.map({ g[$0] }).max(), highest > 0 else { return 1.5 }
        var k = window.first!
        while k + 1 < r.count {
            if g[k] <= 0, g[k + 1] > 0 {
                var j = k + 1, top = g[j]
                while j + 1 < r.count, g[j + 1] > 0 { j += 1; top = max(top, g[j]) }
                if top >= highest / 3 { return max(0.8, r[k] - 0.1) }
                k = j
            }
            k += 1
        }
        return 1.5
    }

    /// Refines (s, ρ₀) for `problem`, starting from `scale`.
    func refine(_ problem: Problem, scale startScale: Double) throws -> Outcome {
        let rMin = self.rMin ?? Self.chooseRMin(problem, scale: startScale)
        let kernel = Kernel(problem: problem, rMin: rMin, rStep: rStep, iterations: iterations)
        func chi2(_ s: Double, _ rho: Double) -> Double {
            kernel.residuals(scale: s, density: rho).reduce(0) { $0 + $1 * $1 }
        }
        // Start: the given density, or the best of a logarithmic scan; the neighbour's result
        // when it fits better.
        var scale0 = startScale
        var rho0 = startDensity ?? 0.06
        var best = startDensity.map { chi2(startScale, $0) } ?? .infinity
        if startDensity == nil {
            for k in 0 ... 14 {
                let rho = 0.02 * pow(10, Double(k) / 14)
                let c = chi2(startScale, rho)
                if c < best { best = c; rho0 = rho }
            }
        }
        if let neighbour, chi2(refineScale ? neighbour.scale : startScale, neighbour.density) < best {
            scale0 = refineScale ? neighbour.scale : startScale
            rho0 = neighbour.density
        }
        let upperScale = max(2, 3 * startScale)
        let lm = LevenbergMarquardt(maxIterations: 100, relativeTolerance: 1e-10,
                                    lower: [0, 0.003], upper: [upperScale, 0.5],
                                    fixed: [!refineScale, false])
        let fit = lm.fit([scale0, rho0]) { p in kernel.residuals(scale: p[0], density: p[1]) }
        let path = problem.path
        guard fit.parameters.allSatisfy(\.isFinite), fit.chiSquare.isFinite else {
            throw BeamlineError(path: path, "the background-scale/density refinement diverged")
        }
        if refineScale, fit.atBound[0] {
            throw BeamlineError(path: path, String(format: "the refined background scale ran to its bound (%.4g): "
                + "the background does not fit this pattern; give --bg-scale", fit.parameters[0]))
        }
        if fit.atBound[1] {
            throw BeamlineError(path: path, String(format: "the refined density ran to its bound (%.4g atoms/Å³); "
                + "check the composition, the Q range or give --density", fit.parameters[1]))
        }
        guard fit.converged else {
            throw BeamlineError(path: path, "the background-scale/density refinement did not converge in \(fit.iterations) iterations")
        }
        // G(r) below r_min must follow −4πρ₀r: a misfit of more than a tenth of that line's own
        // weight, ∫(4πρ₀r)²dr = (4πρ₀)²r_min³/3, means no (scale, density) describes this S(Q).
        let line = pow(4 * .pi * fit.parameters[1], 2) * pow(rMin, 3) / 3
        let relativeMisfit = fit.chiSquare / line
        guard relativeMisfit <= maximumRelativeMisfit else {
            throw BeamlineError(path: path, String(format: "G(r) below r_min = %.2f Å does not follow −4πρ₀r at any scale "
                + "and density (misfit %.0f %% of the line's weight; the best were scale %.4g, ρ₀ %.4g atoms/Å³): "
                + "give --bg-scale, or --eggert-rmin below the first peak", rMin, 100 * relativeMisfit,
                fit.parameters[0], fit.parameters[1]))
        }
        let final = Kernel(problem: problem, rMin: rMin, rStep: rStep, iterations: finalIterations)
        let solution = final.evaluate(scale: fit.parameters[0], density: fit.parameters[1])
        return Outcome(scale: fit.parameters[0], scaleSigma: refineScale ? fit.uncertainties[0] : 0,
                       density: fit.parameters[1], densitySigma: fit.uncertainties[1], rMin: rMin,
                       iterations: fit.iterations, kaplowIterations: finalIterations, misfit: fit.chiSquare,
                       relativeMisfit: relativeMisfit,
                       s: solution.s, alpha: solution.alpha)
    }
}
