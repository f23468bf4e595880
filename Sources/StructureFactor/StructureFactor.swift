import BeamlineNumerics
import BeamlineSupport
import Foundation
import PatternIO

/// Compton wavelength h / (mₑc), Å (CODATA 2018).
let comptonWavelength = 0.02426310238

/// Settings of the reduction from integrated intensity to S(Q), F(Q) and G(r),
/// following PDFgetX2 (Qiu, Thompson & Billinge, J. Appl. Cryst. 37 (2004) 678) and
/// Eggert et al. (Phys. Rev. B 65 (2002) 174105).
public struct StructureFactorSettings: Sendable {
    public enum Definition: String, Sendable, CaseIterable {
        /// Faber–Ziman: S = 1 + (αI − ⟨f²⟩ − C) / ⟨f⟩²
        case faberZiman = "faber-ziman"
        /// Ashcroft–Langreth-type normalisation: S = (αI − C) / ⟨f²⟩
        case ashcroftLangreth = "ashcroft-langreth"
    }

    public enum Normalization: String, Sendable, CaseIterable {
        /// Scale so that αI follows ⟨f²⟩ + C over the top of the Q range.
        case highQ = "high-q"
        /// Krogh-Moe / Norman: ∫ Q² [S(Q) − 1] dQ = −2π²ρ₀ (needs the density).
        case kroghMoe = "krogh-moe"
    }

    /// How the background scale is chosen.
    public enum BackgroundScaling: Sendable, Equatable {
        /// As given.
        case fixed(Double)
        /// The largest scale that keeps the subtracted intensity non-negative everywhere in
        /// the Q range (times a safety factor, 0.98 by default).
        case nonNegative(safety: Double)
        /// Sample and scaled background integrate to the same over [from, to] Å⁻¹ (a region
        /// where the sample scatters little beyond the container's).
        case match(from: Double, to: Double)
        /// Refined with the density from the data (`selfConsistent`), starting from the
        /// non-negative scale.
        case refine
    }

    public var composition: Composition
    /// Wavelength in Å.
    public var wavelength: Double
    public var backgroundScale = 1.0
    public var backgroundScaling: BackgroundScaling?
    /// Anomalous dispersion f′ per element (electrons), added to f0.
    public var fPrime: [String: Double] = [:]
    public var qMin = 0.5
    public var qMax: Double?
    public var rMax = 20.0
    public var rStep = 0.01
    public var lorch = false
    /// Number density, atoms per Å³.
    public var density: Double?
    public var definition = Definition.faberZiman
    public var normalization = Normalization.highQ
    /// Lower edge of the high-Q normalisation window, as a fraction of Q_max.
    public var highQFraction = 0.6
    /// Breit–Dirac recoil factor exponent: Compton × [1 + (λc/λ)(1 − cos 2θ)]^−n.
    public var breitDiracExponent = 2.0
    public var formFactors = FormFactorSource.hubbell1979
    /// Optional attenuation of the Compton intensity at high Q, exp(−a Q) (monochromator or
    /// detector window discrimination, as PDFgetX2's Compton window parameter).
    public var comptonAttenuation = 0.0
    /// μ·t of a flat sample in transmission (0: no absorption correction).
    public var muT = 0.0
    /// Divide by ½(1 + cos²2θ) (for patterns not already corrected for polarization).
    public var correctPolarization = false
    /// Eggert's refinement of the scale: minimise G(r) + 4πρ₀r below this r (needs the density).
    public var eggertRMin: Double?
    /// Background scale and density refined together (Eggert/Kaplow): used with
    /// `backgroundScaling = .refine`, or alone to refine the density at a given scale.
    public var selfConsistent: SelfConsistentNormalization?

    public init(composition: Composition, wavelength: Double) {
        self.composition = composition
        self.wavelength = wavelength
    }
}

/// The reduced functions of one pattern.
public struct StructureFactorResult: Sendable {
    public var q: [Double]
    /// Corrected, normalised intensity αI (electron units per atom), ⟨f²⟩, ⟨f⟩² and Compton C.
    public var intensity: [Double]
    public var meanSquareF: [Double]
    public var squareMeanF: [Double]
    public var compton: [Double]
    public var s: [Double]
    public var f: [Double]
    public var r: [Double]
    public var g: [Double]
    /// g(r) = 1 + G/(4πρ₀r) when the density is known.
    public var pairDistribution: [Double]?
    /// The normalisation factor α, and the background scale used.
    public var alpha: Double
    public var backgroundScale: Double
    /// The refined scale and density with their uncertainties, when they were refined.
    public var refinement: SelfConsistentNormalization.Outcome?
}

public enum StructureFactor {
    /// Q in Å⁻¹ for each point of a pattern.
    public static func qValues(_ p: Pattern, wavelength: Double, path: String) throws -> [Double] {
        switch p.unit ?? "" {
        case "q_A^-1": return p.x
        case "q_nm^-1": return p.x.map { $0 / 10 }
        case "2th_deg": return p.x.map { 4 * .pi / wavelength * sin($0 * .pi / 360) }
        case "2th_rad": return p.x.map { 4 * .pi / wavelength * sin($0 / 2) }
        default:
            throw BeamlineError(path: path, "the pattern's x unit is unknown (\(p.unit ?? "none")); write it in q_A^-1, q_nm^-1 or 2th_deg")
        }
    }

    public static func reduce(sample: Pattern, samplePath: String, background: Pattern?, backgroundPath: String?,
                              settings: StructureFactorSettings, tables: ScatteringTables) throws -> StructureFactorResult {
        let qs = try qValues(sample, wavelength: settings.wavelength, path: samplePath)
        let qMax = settings.qMax ?? qs.last!
        guard settings.qMin >= qs.first! - 1e-9, qMax <= qs.last! + 1e-9, settings.qMin < qMax else {
            throw BeamlineError(path: samplePath, String(format: "the Q range %.3f-%.3f Å⁻¹ lies beyond the data (%.3f-%.3f Å⁻¹)", settings.qMin, qMax, qs.first!, qs.last!))
        }
        var bq: [Double] = [], bi: [Double] = []
        if let background {
            bq = try qValues(background, wavelength: settings.wavelength, path: backgroundPath ?? "background")
            bi = background.intensity
            guard bq.first! <= settings.qMin + 1e-9, bq.last! >= qMax - 1e-9 else {
                throw BeamlineError(path: backgroundPath, String(format: "the background covers %.3f-%.3f Å⁻¹, less than the Q range %.3f-%.3f Å⁻¹", bq.first!, bq.last!, settings.qMin, qMax))
            }
        }
        var backgroundScale = settings.backgroundScale
        if let scaling = settings.backgroundScaling, background != nil {
            let inRange = qs.indices.filter { qs[$0] >= settings.qMin && qs[$0] <= qMax }
            let pairs = inRange.map { (qs[$0], sample.intensity[$0], Interpolation.linear(bq, bi, at: qs[$0]) ?? 0) }
            // Matching may use any part of the data, also below Q_min.
            let everywhere = qs.indices.compactMap { i in Interpolation.linear(bq, bi, at: qs[i]).map { (qs[i], sample.intensity[i], $0) } }
            switch scaling {
            case let .fixed(value): backgroundScale = value
            case .refine, .nonNegative:
                let safety: Double
                if case let .nonNegative(given) = scaling { safety = given } else { safety = 0.98 }
                let ratios = pairs.filter { $0.2 > 0 }.map { $0.1 / $0.2 }
                guard let smallest = ratios.min(), smallest > 0 else {
                    throw BeamlineError(path: backgroundPath, "the background is larger than the sample somewhere at any positive scale")
                }
                backgroundScale = safety * smallest
            case let .match(from, to):
                let region = everywhere.filter { $0.0 >= from && $0.0 <= to }
                let b = region.reduce(0) { $0 + $1.2 }
                guard region.count >= 3, b > 0 else {
                    throw BeamlineError(path: backgroundPath, String(format: "no background intensity to match in %.2f-%.2f Å⁻¹", from, to))
                }
                backgroundScale = region.reduce(0) { $0 + $1.1 } / b
            }
        }
        var q: [Double] = [], correctedSample: [Double] = [], correctedBackground: [Double] = []
        for (i, x) in qs.enumerated() where x >= settings.qMin && x <= qMax {
            var factor = 1.0
            let twoTheta = 2 * asin(min(1, x * settings.wavelength / (4 * .pi)))
            if settings.correctPolarization { factor /= 0.5 * (1 + cos(twoTheta) * cos(twoTheta)) }
            if settings.muT > 0 {
                // Flat plate in transmission, normal incidence: A(2θ)/A(0).
                let m = settings.muT, k = 1 / cos(twoTheta)
                let a = abs(k - 1) < 1e-9 ? exp(-m) : (exp(-m) - exp(-m * k)) / (m * (k - 1))
                factor /= a / exp(-m)
            }
            q.append(x)
            correctedSample.append(factor * sample.intensity[i])
            correctedBackground.append(background != nil ? factor * (Interpolation.linear(bq, bi, at: x) ?? 0) : 0)
        }
        var corrected = q.indices.map { correctedSample[$0] - backgroundScale * correctedBackground[$0] }
        let positive = corrected.filter { $0 > 0 }.count
        guard q.count >= 10 else { throw BeamlineError(path: samplePath, "fewer than 10 points in the Q range") }
        if background != nil && positive == 0 {
            throw BeamlineError(path: backgroundPath, "the scaled background (×\(backgroundScale)) is larger than the sample everywhere; check --bg-scale")
        }
        // Form factors and Compton scattering of the composition.
        let c = settings.composition
        var meanF = [Double](repeating: 0, count: q.count), meanF2 = meanF, compton = meanF
        let zs = c.elements.map { tables.atomicNumber($0)! }
        for (i, x) in q.enumerated() {
            let twoTheta = 2 * asin(min(1, x * settings.wavelength / (4 * .pi)))
            let breitDirac = pow(1 + comptonWavelength / settings.wavelength * (1 - cos(twoTheta)), -settings.breitDiracExponent)
            for (k, element) in c.elements.enumerated() {
                let f = tables.formFactor(element, q: x, source: settings.formFactors) + (settings.fPrime[element] ?? 0)
                meanF[i] += c.fractions[k] * f
                meanF2[i] += c.fractions[k] * f * f
                compton[i] += c.fractions[k] * tables.incoherent(zs[k], q: x)
            }
            compton[i] *= breitDirac * exp(-settings.comptonAttenuation * x)
        }
        let squareMeanF = meanF.map { $0 * $0 }
        var refinement: SelfConsistentNormalization.Outcome?
        var settings = settings
        if let method = settings.selfConsistent {
            let problem = SelfConsistentNormalization.Problem(
                q: q, sample: correctedSample, background: correctedBackground, meanF2: meanF2,
                squareMeanF: squareMeanF, compton: compton, path: samplePath)
            var method = method
            if background == nil || settings.backgroundScaling != .refine { method.refineScale = false }
            if method.startDensity == nil { method.startDensity = settings.density }
            let outcome = try method.refine(problem, scale: background == nil ? 0 : backgroundScale)
            refinement = outcome
            backgroundScale = outcome.scale
            settings.density = outcome.density
            corrected = q.indices.map { correctedSample[$0] - backgroundScale * correctedBackground[$0] }
        }
        var alpha = try refinement.map { $0.alpha } ?? normalization(
            q: q, intensity: corrected, meanF2: meanF2, squareMeanF: squareMeanF, compton: compton,
            settings: settings, path: samplePath)
        func functions(_ alpha: Double) -> ([Double], [Double], [Double]) {
            let s = q.indices.map { i -> Double in
                switch settings.definition {
                case .faberZiman: return 1 + (alpha * corrected[i] - meanF2[i] - compton[i]) / squareMeanF[i]
                case .ashcroftLangreth: return (alpha * corrected[i] - compton[i]) / meanF2[i]
                }
            }
            let f = q.indices.map { q[$0] * (s[$0] - 1) }
            return (s, f, transform(q: q, f: f, rMax: settings.rMax, rStep: settings.rStep, lorch: settings.lorch))
        }
        let r = stride(from: settings.rStep, through: settings.rMax, by: settings.rStep).map { $0 }
        if let rMin = settings.eggertRMin {
            guard let rho = settings.density else {
                throw BeamlineError(path: samplePath, "Eggert's refinement (--eggert-rmin) needs the number density (--density)")
            }
            // Below r_min there are no atoms: G(r) = −4πρ₀r. Choose α to make it so.
            let low = r.indices.filter { r[$0] < rMin }
            func misfit(_ a: Double) -> Double {
                let g = functions(a).2
                return low.reduce(0) { $0 + pow(g[$1] + 4 * .pi * rho * r[$1], 2) }
            }
            var lo = 0.7 * alpha, hi = 1.3 * alpha
            let golden = (5.0.squareRoot() - 1) / 2
            var x1 = hi - golden * (hi - lo), x2 = lo + golden * (hi - lo)
            var f1 = misfit(x1), f2 = misfit(x2)
            for _ in 0 ..< 80 {
                if f1 < f2 { hi = x2; x2 = x1; f2 = f1; x1 = hi - golden * (hi - lo); f1 = misfit(x1) }
                else { lo = x1; x1 = x2; f1 = f2; x2 = lo + golden * (hi - lo); f2 = misfit(x2) }
            }
            alpha = (lo + hi) / 2
        }
        let s: [Double], f: [Double], g: [Double]
        if let refinement {
            // The S(Q) of the refinement, and what follows from it.
            s = refinement.s
            f = q.indices.map { q[$0] * (s[$0] - 1) }
            g = transform(q: q, f: f, rMax: settings.rMax, rStep: settings.rStep, lorch: settings.lorch)
        } else {
            (s, f, g) = functions(alpha)
        }
        let gr = settings.density.map { rho in r.indices.map { 1 + g[$0] / (4 * .pi * rho * r[$0]) } }
        return StructureFactorResult(q: q, intensity: corrected.map { $0 * alpha }, meanSquareF: meanF2, squareMeanF: squareMeanF,
                                     compton: compton, s: s, f: f, r: r, g: g, pairDistribution: gr, alpha: alpha,
                                     backgroundScale: backgroundScale, refinement: refinement)
    }

    static func normalization(q: [Double], intensity: [Double], meanF2: [Double], squareMeanF: [Double], compton: [Double],
                              settings: StructureFactorSettings, path: String) throws -> Double {
        func integrate(_ y: (Int) -> Double, from: Int = 0) -> Double {
            var sum = 0.0
            for i in max(1, from + 1) ..< q.count { sum += 0.5 * (y(i) + y(i - 1)) * (q[i] - q[i - 1]) }
            return sum
        }
        let alpha: Double
        switch settings.normalization {
        case .highQ:
            let start = q.firstIndex { $0 >= settings.highQFraction * q.last! } ?? 0
            alpha = integrate({ meanF2[$0] + compton[$0] }, from: start) / integrate({ intensity[$0] }, from: start)
        case .kroghMoe:
            guard let rho = settings.density else { throw BeamlineError(path: path, "Krogh-Moe normalisation needs the number density (--density)") }
            // S ≈ 0 below Q_min contributes −Q_min³/3 to ∫ Q²(S − 1) dQ.
            let target = -2 * .pi * .pi * rho + pow(q.first!, 3) / 3
            let top = integrate({ q[$0] * q[$0] * (meanF2[$0] + compton[$0]) / squareMeanF[$0] }) + target
            alpha = top / integrate({ q[$0] * q[$0] * intensity[$0] / squareMeanF[$0] })
        }
        guard alpha.isFinite, alpha > 0 else {
            throw BeamlineError(path: path, "the normalisation failed (α = \(alpha)); is the intensity positive at high Q?")
        }
        return alpha
    }

    /// G(r) = (2/π) ∫ F(Q) M(Q) sin(Qr) dQ by the trapezoid rule, M the Lorch function
    /// sin(πQ/Q_max)/(πQ/Q_max) when asked for (Lorch, J. Phys. C 2 (1969) 229).
    public static func transform(q: [Double], f: [Double], rMax: Double, rStep: Double, lorch: Bool) -> [Double] {
        transform(q: q, f: f, r: stride(from: rStep, through: rMax, by: rStep).map { $0 }, lorch: lorch)
    }

    /// G at the given r values.
    public static func transform(q: [Double], f: [Double], r: [Double], lorch: Bool) -> [Double] {
        let qMax = q.last!
        let weights = trapezoidWeights(q)
        let weighted = q.indices.map { i -> Double in
            let x = .pi * q[i] / qMax
            let m = lorch ? (x == 0 ? 1 : sin(x) / x) : 1
            return 2 / .pi * weights[i] * f[i] * m
        }
        return r.map { rv in
            var sum = 0.0
            forEachSine(q, r: rv) { i, sine in sum += weighted[i] * sine }
            return sum
        }
    }

    /// Trapezoid-rule weights of a (possibly non-uniform) grid.
    static func trapezoidWeights(_ x: [Double]) -> [Double] {
        var w = [Double](repeating: 0, count: x.count)
        for i in 1 ..< x.count {
            let h = 0.5 * (x[i] - x[i - 1])
            w[i] += h
            w[i - 1] += h
        }
        return w
    }

    /// Calls `body(i, sin(q[i]·r))` for every i. On an evenly spaced grid (what integration
    /// writes) the sines come from the angle-addition recurrence on the ideal grid points,
    /// re-anchored every 256 points so rounding cannot build up; otherwise from `sin`.
    @inline(__always)
    static func forEachSine(_ q: [Double], r: Double, _ body: (Int, Double) -> Void) {
        let n = q.count
        guard n > 2 else {
            for i in 0 ..< n { body(i, sin(q[i] * r)) }
            return
        }
        let step = (q[n - 1] - q[0]) / Double(n - 1)
        // Evenly spaced as far as a text file's digits tell (a grid written with 9 significant
        // digits is off its ideal points by ~10⁻⁵ of a step, a sine argument error ≤ 10⁻⁵ rad).
        var even = step > 0
        for i in stride(from: 1, to: n, by: max(1, n / 64)) where abs(q[i] - (q[0] + Double(i) * step)) > 1e-4 * step {
            even = false
        }
        guard even else {
            for i in 0 ..< n { body(i, sin(q[i] * r)) }
            return
        }
        let cosStep = cos(step * r), sinStep = sin(step * r)
        var i = 0
        while i < n {
            let angle = (q[0] + Double(i) * step) * r
            var sine = sin(angle), cosine = cos(angle)
            let end = min(n, i + 256)
            while i < end {
                body(i, sine)
                let next = sine * cosStep + cosine * sinStep
                cosine = cosine * cosStep - sine * sinStep
                sine = next
                i += 1
            }
        }
    }
}
