import BeamlineNumerics
import BeamlineSupport
import Foundation

/// The first and second maxima of a structure factor (or intensity) curve.
public struct PeakAnalysis: Sendable {
    public struct Maximum: Sendable {
        /// Position of the maximum of the fitted profile, and its standard uncertainty.
        public var q: Double, qSigma: Double
        /// Pseudo-Voigt FWHM and height above the local background.
        public var fwhm: Double, fwhmSigma: Double
        public var height: Double
    }

    public var first: Maximum
    public var second: Maximum
    /// Full width of the first maximum at half its height above S = 1 (interpolated on the data).
    public var halfHeightWidth: Double?
    public var ratio: Double, ratioSigma: Double

    /// Points where a narrow feature (a crystalline standard's reflection) stands out of
    /// the curve: more than `k` noise levels above the running median over ±0.03 Å⁻¹, a
    /// window that follows a glass's broad maxima but not a Bragg peak. The noise level is
    /// the robust spread of point-to-point differences.
    public static func sharpFeatures(q: [Double], y: [Double], k: Double = 6) -> [Bool] {
        guard q.count > 10 else { return [Bool](repeating: false, count: q.count) }
        let step = (q.last! - q.first!) / Double(q.count - 1)
        let half = max(2, Int(0.03 / step))
        var residual = [Double](repeating: 0, count: q.count)
        for i in q.indices {
            let window = y[max(0, i - half) ... min(q.count - 1, i + half)].sorted()
            residual[i] = y[i] - window[window.count / 2]
        }
        let differences = (1 ..< q.count).map { abs(y[$0] - y[$0 - 1]) }.sorted()
        let noise = max(1e-12, 1.4826 * differences[differences.count / 2] / 2.0.squareRoot())
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
        // The maximum of the fitted curve (the background's slope moves it off the centre).
        var best = (p[0], -Double.infinity)
        var x = p[0] - p[1]
        while x <= p[0] + p[1] {
            let v = model(p, x)
            if v > best.1 { best = (x, v) }
            x += p[1] / 2000
        }
        return Maximum(q: best.0, qSigma: fit.uncertainties[0], fwhm: p[1], fwhmSigma: fit.uncertainties[1], height: p[2])
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
