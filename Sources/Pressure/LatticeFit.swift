import BeamlineNumerics
import BeamlineSupport
import Foundation
import PatternIO

/// The lattice parameter of a cubic standard refined from its reflections in an
/// integrated pattern, and the pressure that follows from an equation of state.
///
/// The standard's sharp peaks sit on the sample's broad scattering (the metallic
/// glass's humps), so every peak is fitted within a narrow window as a pseudo-Voigt on
/// a local quadratic background.
public struct LatticeFit: Sendable {
    public struct Peak: Sendable {
        public var h: Int, k: Int, l: Int
        /// Fitted position (Å⁻¹) and its standard uncertainty.
        public var q: Double, qSigma: Double
        public var fwhm: Double
        public var amplitude: Double
        /// Lattice parameter from this peak alone, Å.
        public var latticeParameter: Double
    }

    public var peaks: [Peak]
    public var latticeParameter: Double
    public var latticeSigma: Double
    public var volume: Double
    public var volumeSigma: Double

    /// Converts a pattern's abscissa to q in Å⁻¹.
    public static func qValues(_ pattern: Pattern, wavelength: Double?, path: String) throws -> [Double] {
        switch pattern.unit ?? "" {
        case "q_A^-1": return pattern.x
        case "q_nm^-1": return pattern.x.map { $0 / 10 }
        case "2th_deg", "2th_rad":
            guard let wavelength, wavelength > 0 else {
                throw BeamlineError(path: path, "the pattern is in 2θ: give the wavelength (--wavelength, Å)")
            }
            let scale = pattern.unit == "2th_deg" ? Double.pi / 180 : 1
            return pattern.x.map { 4 * .pi / wavelength * sin($0 * scale / 2) }
        default:
            throw BeamlineError(path: path, "unknown radial unit \(pattern.unit ?? "(none)"); patterns in q (Å⁻¹ or nm⁻¹) or 2θ are needed")
        }
    }

    /// Fits the reflections of `material` in the pattern.
    ///
    /// - Parameter latticeGuess: expected lattice parameter; by default the best match of
    ///   the reflection comb between 0.80 and 1.02 × the ambient value.
    public static func fit(q: [Double], intensity: [Double], material: StandardMaterial, v0: Double,
                           latticeGuess: Double? = nil, path: String) throws -> LatticeFit {
        guard q.count >= 20 else { throw BeamlineError(path: path, "pattern too short") }
        let reflections = material.reflections()
        let qMin = q.first!, qMax = q.last!
        let step = (qMax - qMin) / Double(q.count - 1)
        // Sharp features only: subtract a running median about 0.25 Å⁻¹ wide.
        let half = max(3, Int(0.125 / step))
        var sharp = [Double](repeating: 0, count: q.count)
        for i in q.indices {
            let window = intensity[max(0, i - half) ... min(q.count - 1, i + half)].sorted()
            sharp[i] = intensity[i] - window[window.count / 2]
        }
        let a0 = cbrt(v0)
        var guess = latticeGuess ?? 0
        if latticeGuess == nil {
            var best = -Double.infinity
            var a = 0.80 * a0
            while a <= 1.02 * a0 {
                var score = 0.0, used = 0
                for r in reflections.prefix(8) {
                    let qh = 2 * .pi * Double(r.m).squareRoot() / a
                    if let v = Interpolation.linear(q, sharp, at: qh) { score += v; used += 1 }
                }
                if used >= 2 && score > best {
                    best = score
                    guess = a
                }
                a += 0.0002 * a0
            }
            guard best > 0 else {
                throw BeamlineError(path: path, "no \(material.name) reflections found in the pattern (q \(String(format: "%.2f-%.2f", qMin, qMax)) Å⁻¹)")
            }
        }
        var peaks: [Peak] = []
        for r in reflections {
            let centre = 2 * .pi * Double(r.m).squareRoot() / guess
            let width = 0.06
            let lo = centre - width, hi = centre + width
            guard lo > qMin, hi < qMax else { continue }
            let idx = q.indices.filter { q[$0] >= lo && q[$0] <= hi }
            guard idx.count >= 9 else { continue }
            let xs = idx.map { q[$0] }, ys = idx.map { intensity[$0] }
            let base = min(ys.first!, ys.last!)
            let top = ys.max()!
            // centre, fwhm, amplitude, eta, b0, b1, b2
            let initial = [centre, 0.02, max(top - base, 0), 0.5, base, 0, 0]
            let lower = [centre - 0.03, step, 0, 0, -Double.infinity, -Double.infinity, -Double.infinity]
            let upper = [centre + 0.03, 0.08, .infinity, 1, Double.infinity, Double.infinity, Double.infinity]
            let result = LevenbergMarquardt(maxIterations: 200, lower: lower, upper: upper).fit(initial) { p in
                xs.indices.map { i in
                    let d = xs[i] - centre
                    return ys[i] - (p[4] + p[5] * d + p[6] * d * d + p[2] * PeakProfile.pseudoVoigt(xs[i], centre: p[0], fwhm: p[1], eta: p[3]))
                }
            }
            let p = result.parameters
            // Significant: well above the scatter of the data about the fit.
            let noise = result.reducedChiSquare.squareRoot()
            guard result.converged, p[2] > 5 * noise, p[2] > 3 * result.uncertainties[2],
                  !result.atBound[0], result.uncertainties[0].isFinite, result.uncertainties[0] > 0 else { continue }
            let a = 2 * .pi * Double(r.m).squareRoot() / p[0]
            peaks.append(Peak(h: r.h, k: r.k, l: r.l, q: p[0], qSigma: result.uncertainties[0], fwhm: p[1],
                              amplitude: p[2], latticeParameter: a))
        }
        guard peaks.count >= 2 else {
            throw BeamlineError(path: path, "found \(peaks.count) \(material.name) reflection\(peaks.count == 1 ? "" : "s") in the pattern; at least 2 are needed for a lattice parameter")
        }
        // Weighted least squares for a (each peak: a_i = 2π√m / q_i, σ_i = a_i σq/q).
        var sw = 0.0, swa = 0.0
        var weights: [Double] = []
        for peak in peaks {
            let sigma = peak.latticeParameter * peak.qSigma / peak.q
            let w = 1 / (sigma * sigma)
            weights.append(w)
            sw += w
            swa += w * peak.latticeParameter
        }
        let a = swa / sw
        var chi2 = 0.0
        for (peak, w) in zip(peaks, weights) { chi2 += w * (peak.latticeParameter - a) * (peak.latticeParameter - a) }
        let reduced = peaks.count > 1 ? chi2 / Double(peaks.count - 1) : 1
        let sigmaA = (1 / sw).squareRoot() * max(1, reduced).squareRoot()
        return LatticeFit(peaks: peaks, latticeParameter: a, latticeSigma: sigmaA, volume: a * a * a,
                          volumeSigma: 3 * a * a * sigmaA)
    }
}
