import BeamlineNumerics
import BeamlineSupport
import Foundation

/// The first and second maxima of a structure factor (or intensity) curve.
public struct PeakAnalysis: Sendable {
    public struct Maximum: Sendable {
        /// Position of the maximum of the curve, and its standard uncertainty (see `fitTop`).
        public var q: Double, qSigma: Double
        /// The curve's value there (S(Q₁) for a structure factor) and its uncertainty.
        public var height: Double, heightSigma: Double
        /// Centre of the pseudo-Voigt fitted to the whole maximum on a linear background (the
        /// seed study's Q₁; off the maximum when the peak is asymmetric), its FWHM.
        public var pseudoVoigtCentre: Double, pseudoVoigtCentreSigma: Double
        public var fwhm: Double, fwhmSigma: Double

        public init(q: Double, qSigma: Double, height: Double = .nan, heightSigma: Double = .nan,
                    pseudoVoigtCentre: Double = .nan, pseudoVoigtCentreSigma: Double = .nan,
                    fwhm: Double, fwhmSigma: Double) {
            self.q = q
            self.qSigma = qSigma
            self.height = height
            self.heightSigma = heightSigma
            self.pseudoVoigtCentre = pseudoVoigtCentre
            self.pseudoVoigtCentreSigma = pseudoVoigtCentreSigma
            self.fwhm = fwhm
            self.fwhmSigma = fwhmSigma
        }
    }

    public var first: Maximum
    public var second: Maximum
    /// Full width of the first maximum at half its height above S = 1 (interpolated on the data).
    public var halfHeightWidth: Double?
    public var ratio: Double, ratioSigma: Double

    /// Points where a narrow feature (a crystalline standard's reflection) stands out of
    /// the curve: more than `k` noise levels above a quadratic fitted by least squares to the
    /// points within ±0.03 Å⁻¹, a window in which a glass's broad maxima are parabolas but a
    /// Bragg peak is not. The noise level is the robust spread (MAD) of those residuals, at
    /// least 10⁻³ of the curve's range, so that a noise-free curve's smooth top is not taken
    /// for a feature.
    public static func sharpFeatures(q: [Double], y: [Double], k: Double = 6) -> [Bool] {
        guard q.count > 10 else { return [Bool](repeating: false, count: q.count) }
        let step = (q.last! - q.first!) / Double(q.count - 1)
        let half = max(3, Int(0.03 / step))
        var residual = [Double](repeating: 0, count: q.count)
        // The local quadratic's value at q[i] from its normal equations, with t scaled to
        // [-1, 1] so that they stay well conditioned.
        let scale = 1 / (Double(half) * step)
        for i in q.indices {
            let lo = max(0, i - half), hi = min(q.count - 1, i + half)
            var m = [Double](repeating: 0, count: 5), r = [Double](repeating: 0, count: 3)
            for j in lo ... hi {
                let t = (q[j] - q[i]) * scale, t2 = t * t
                m[0] += 1; m[1] += t; m[2] += t2; m[3] += t2 * t; m[4] += t2 * t2
                r[0] += y[j]; r[1] += y[j] * t; r[2] += y[j] * t2
            }
            // Cramer's rule for the intercept of [[m0 m1 m2] [m1 m2 m3] [m2 m3 m4]] a = r.
            let det = m[0] * (m[2] * m[4] - m[3] * m[3]) - m[1] * (m[1] * m[4] - m[3] * m[2]) + m[2] * (m[1] * m[3] - m[2] * m[2])
            guard abs(det) > 1e-12 * max(1, m[0] * m[2] * m[4]) else { continue }
            let a0 = (r[0] * (m[2] * m[4] - m[3] * m[3]) - m[1] * (r[1] * m[4] - m[3] * r[2]) + m[2] * (r[1] * m[3] - m[2] * r[2])) / det
            residual[i] = y[i] - a0
        }
        let spread = residual.map(abs).sorted()[residual.count / 2] * 1.4826
        let range = (y.max() ?? 0) - (y.min() ?? 0)
        let noise = max(spread, 1e-3 * range, 1e-12)
        var flagged = residual.map { $0 > k * noise }
        // Widen each feature by a few points on both sides.
        let widened = flagged
        for i in q.indices where widened[i] { for j in max(0, i - 4) ... min(q.count - 1, i + 4) { flagged[j] = true } }
        return flagged
    }

    public static func analyse(q: [Double], s: [Double], baseline: Double = 1, excludeSharp: Bool = true, path: String) throws -> PeakAnalysis {
        let excluded = excludeSharp ? sharpFeatures(q: q, y: s) : [Bool](repeating: false, count: q.count)
        let usable = q.indices.filter { !excluded[$0] }
        guard usable.count > 20 else { throw BeamlineError(path: path, "too few points for a peak analysis") }
        // First maximum: the highest point between 1 and 6 Å⁻¹ (below, a DAC's small-angle
        // tail dominates; far above, noise divided by a small ⟨f⟩² can exceed it).
        guard let i1 = usable.filter({ q[$0] > 1.0 && q[$0] < 6.0 }).max(by: { s[$0] < s[$1] }) else {
            throw BeamlineError(path: path, "no data between Q = 1 and 6 Å⁻¹")
        }
        let first = try fitMaximum(q: q, y: s, usable: usable, near: q[i1], halfWindow: 0.35, path: path, label: "first")
        // Second maximum: the highest point between 1.5 and 2.1 × Q1.
        guard let i2 = usable.filter({ q[$0] > 1.5 * first.q && q[$0] < 2.1 * first.q }).max(by: { s[$0] < s[$1] }) else {
            throw BeamlineError(path: path, "the data end before the second maximum (Q > \(String(format: "%.2f", 1.5 * first.q)) Å⁻¹)")
        }
        let second = try fitMaximum(q: q, y: s, usable: usable, near: q[i2], halfWindow: 0.5, path: path, label: "second")
        let ratio = second.q / first.q
        let ratioSigma = ratio * ((first.qSigma / first.q) * (first.qSigma / first.q) + (second.qSigma / second.q) * (second.qSigma / second.q)).squareRoot()
        return PeakAnalysis(first: first, second: second,
                            halfHeightWidth: halfWidth(q: q, y: s, usable: usable, peak: first.q, baseline: baseline),
                            ratio: ratio, ratioSigma: ratioSigma)
    }

    static func fitMaximum(q: [Double], y: [Double], usable: [Int], near centre: Double, halfWindow: Double,
                           path: String, label: String) throws -> Maximum {
        let idx = usable.filter { abs(q[$0] - centre) <= halfWindow }
        guard idx.count >= 9 else { throw BeamlineError(path: path, "too few points around the \(label) maximum") }
        let xs = idx.map { q[$0] }, ys = idx.map { y[$0] }
        let base = min(ys.first!, ys.last!)
        let top = ys.max()!
        // centre, fwhm, amplitude, eta, b0, b1
        let initial = [centre, halfWindow, max(top - base, 1e-6), 0.5, base, 0]
        let lower = [centre - halfWindow / 2, halfWindow / 20, 0, 0, -Double.infinity, -Double.infinity]
        let upper = [centre + halfWindow / 2, 4 * halfWindow, Double.infinity, 1, Double.infinity, Double.infinity]
        func model(_ p: [Double], _ x: Double) -> Double {
            p[4] + p[5] * (x - centre) + p[2] * PeakProfile.pseudoVoigt(x, centre: p[0], fwhm: p[1], eta: p[3])
        }
        let fit = LevenbergMarquardt(maxIterations: 300, lower: lower, upper: upper).fit(initial) { p in
            xs.indices.map { ys[$0] - model(p, xs[$0]) }
        }
        let p = fit.parameters
        guard fit.converged, p.allSatisfy(\.isFinite), fit.uncertainties[0].isFinite, !fit.atBound[0] else {
            throw BeamlineError(path: path, "the fit of the \(label) maximum did not converge")
        }
        // The maximum of the fitted curve (the background's slope moves it off the centre): the
        // starting point of the fit to the top.
        var best = (p[0], -Double.infinity)
        var x = p[0] - p[1]
        while x <= p[0] + p[1] {
            let v = model(p, x)
            if v > best.1 { best = (x, v) }
            x += p[1] / 2000
        }
        guard let summit = fitTop(q: q, y: y, usable: usable, start: best.0, fwhm: p[1]) else {
            throw BeamlineError(path: path, "the top of the \(label) maximum could not be fitted (too few points or no maximum)")
        }
        return Maximum(q: summit.q, qSigma: summit.qSigma, height: summit.height, heightSigma: summit.heightSigma,
                       pseudoVoigtCentre: p[0], pseudoVoigtCentreSigma: fit.uncertainties[0],
                       fwhm: p[1], fwhmSigma: fit.uncertainties[1])
    }

    /// The maximum of a curve from its top alone. A cubic y = Σ cₖ·tᵏ (t = Q − Q₀) is fitted by
    /// least squares over Q₀ ± h, Q₀ moved to the cubic's maximum and the fit repeated until
    /// Q₀ stops moving. The window then shrinks towards the top (h = 0.2, 0.14, 0.1 × FWHM, at
    /// least 15 points) while the residuals shrink with it (by a quarter: they were misfit, not
    /// noise) and the maximum moves by more than its σ. A wide window averages noise but cannot
    /// follow a whole asymmetric peak, a narrow one follows it but amplifies noise. A symmetric profile's centre
    /// is not an asymmetric peak's maximum (tested on skewed and shouldered analytic peaks). σ of
    /// the position and the height come from the cubic's covariance scaled by the residual
    /// variance.
    static func fitTop(q: [Double], y: [Double], usable: [Int], start: Double, fwhm: Double)
        -> (q: Double, qSigma: Double, height: Double, heightSigma: Double)? {
        var accepted: (q: Double, qSigma: Double, height: Double, heightSigma: Double, rms: Double)?
        var centre = start
        for fraction in [0.2, 0.14, 0.1] {
            guard let next = fitTop(q: q, y: y, usable: usable, start: centre, half: fraction * fwhm, limit: 2 * fwhm) else {
                break
            }
            // A narrower window counts only where the wider one's residuals were misfit, not
            // noise (they shrink with the window), and it moved the maximum by more than its σ.
            if let previous = accepted, !(previous.rms > 1.25 * next.rms && abs(next.q - previous.q) > next.qSigma) { break }
            accepted = next
            centre = next.q
        }
        return accepted.map { ($0.q, $0.qSigma, $0.height, $0.heightSigma) }
    }

    /// One window of `fitTop`: half-width `half` (widened up to `limit` to hold 15 points).
    static func fitTop(q: [Double], y: [Double], usable: [Int], start: Double, half initialHalf: Double, limit: Double)
        -> (q: Double, qSigma: Double, height: Double, heightSigma: Double, rms: Double)? {
        let terms = 4
        func value(_ c: [Double], _ t: Double) -> Double { c.reversed().reduce(0) { $0 * t + $1 } }
        func slope(_ c: [Double], _ t: Double) -> Double { (1 ..< terms).reversed().reduce(0) { $0 * t + Double($1) * c[$1] } }
        func curvature(_ c: [Double], _ t: Double) -> Double {
            (2 ..< terms).reversed().reduce(0) { $0 * t + Double($1 * ($1 - 1)) * c[$1] }
        }
        /// The maximum nearest t = 0 by Newton's method on the slope (t in units of the window).
        func summit(_ c: [Double]) -> Double? {
            var t = 0.0
            for _ in 0 ..< 60 {
                let k = curvature(c, t)
                guard k < 0 else { return nil }
                let step = slope(c, t) / k
                t -= step
                guard abs(t) <= 1.5 else { return nil }
                if abs(step) < 1e-13 { break }
            }
            return curvature(c, t) < 0 ? t : nil
        }
        var centre = start
        for iteration in 0 ..< 12 {
            var half = initialHalf
            var idx = usable.filter { abs(q[$0] - centre) <= half }
            while idx.count < 15, half < limit {
                half *= 1.1
                idx = usable.filter { abs(q[$0] - centre) <= half }
            }
            guard idx.count >= 15 else { return nil }
            // A scaled abscissa keeps the normal equations well conditioned.
            let ts = idx.map { (q[$0] - centre) / half }
            let design = ts.flatMap { t -> [Double] in [1, t, t * t, t * t * t] }
            guard let (c, covariance) = LinearAlgebra.leastSquares(design, rows: ts.count, columns: terms, idx.map { y[$0] }),
                  let u = summit(c), abs(u) <= 1 else {
                return nil
            }
            let moved = centre + u * half
            // Recentred windows take or drop a point at their edges, so the summit may hop
            // between two nearly equal places: after a few rounds the last one stands.
            if abs(u * half) > 1e-7 * max(1, half), iteration < 11 {
                centre = moved
                continue
            }
            let residuals = idx.indices.map { y[idx[$0]] - value(c, ts[$0]) }
            let variance = residuals.reduce(0) { $0 + $1 * $1 } / Double(max(1, idx.count - terms))
            var gradQ = [Double](repeating: 0, count: terms), gradH = gradQ
            for k in 0 ..< terms {
                let h: Double = max(1e-9, 1e-6 * abs(c[k]))
                var up = c, down = c
                up[k] += h
                down[k] -= h
                guard let tu = summit(up), let td = summit(down) else { return nil }
                gradQ[k] = (tu - td) * half / (2 * h)
                gradH[k] = (value(up, tu) - value(down, td)) / (2 * h)
            }
            func propagate(_ g: [Double], _ variance: Double) -> Double {
                var sum = 0.0
                for i in 0 ..< terms { for j in 0 ..< terms { sum += g[i] * covariance[i * terms + j] * g[j] } }
                return (max(0, sum) * variance).squareRoot()
            }
            return (moved, propagate(gradQ, variance), value(c, u), propagate(gradH, variance), variance.squareRoot())
        }
        return nil
    }

    /// Width of the peak at half its height above `baseline`, by linear interpolation of the data.
    static func halfWidth(q: [Double], y: [Double], usable: [Int], peak: Double, baseline: Double) -> Double? {
        guard let top = usable.min(by: { abs(q[$0] - peak) < abs(q[$1] - peak) }) else { return nil }
        let half = baseline + (y[top] - baseline) / 2
        func crossing(_ direction: Int) -> Double? {
            var k = usable.firstIndex(of: top)!
            while k + direction >= 0 && k + direction < usable.count {
                let a = usable[k], b = usable[k + direction]
                if (y[a] - half) * (y[b] - half) <= 0 && y[a] != y[b] {
                    return q[a] + (half - y[a]) * (q[b] - q[a]) / (y[b] - y[a])
                }
                k += direction
            }
            return nil
        }
        guard let left = crossing(-1), let right = crossing(1) else { return nil }
        return right - left
    }
}
