import BeamlineNumerics
import BeamlineSupport
import Foundation
import PatternIO
import Testing
@testable import StructureFactor

/// The background scale and the density refined from the data alone, on liquids whose S(Q)
/// and density are known exactly: Percus–Yevick hard spheres (Wertheim, Phys. Rev. Lett. 10
/// (1963) 321; Thiele, J. Chem. Phys. 39 (1963) 474), for which g(r) = 0 below the diameter.
struct SelfConsistentTests {
    static let tables = ScatteringTableTests.tables

    /// S(Q) = 1 / (1 − ρ ĉ(Q)) with the Percus–Yevick direct correlation function
    /// c(r) = −λ₁ − 6ηλ₂ (r/σ) − ½ηλ₁ (r/σ)³ inside the sphere, λ₁ = (1 + 2η)²/(1 − η)⁴,
    /// λ₂ = −(1 + η/2)²/(1 − η)⁴; ĉ(Q) = 4π∫₀^σ c(r) r² sin(Qr)/(Qr) dr by Simpson's rule.
    static func percusYevick(q: [Double], diameter sigma: Double, packing eta: Double) -> (s: [Double], density: Double) {
        let density = 6 * eta / (.pi * pow(sigma, 3))
        let l1 = pow(1 + 2 * eta, 2) / pow(1 - eta, 4), l2 = -pow(1 + eta / 2, 2) / pow(1 - eta, 4)
        let steps = 400
        let h = sigma / Double(steps)
        let s = q.map { x -> Double in
            var sum = 0.0
            for k in 0 ... steps {
                let r = Double(k) * h, t = r / sigma
                let c = -l1 - 6 * eta * l2 * t - 0.5 * eta * l1 * t * t * t
                let sinc = x * r == 0 ? 1 : sin(x * r) / (x * r)
                let weight = k == 0 || k == steps ? 1.0 : (k % 2 == 1 ? 4.0 : 2.0)
                sum += weight * c * r * r * sinc
            }
            let cq = 4 * .pi * sum * h / 3
            return 1 / (1 - density * cq)
        }
        return (s, density)
    }

    struct Synthetic {
        var q: [Double]
        var trueS: [Double]
        var density: Double
        var sample: Pattern
        var background: Pattern
    }

    /// A DAC-like pattern: K·(⟨f²⟩ + ⟨f⟩²(S − 1) + Compton·BD) + s·B(Q), with B the diamonds'
    /// Compton-like background, and seeded Gaussian noise of relative size `noise`.
    static func synthetic(composition: Composition, lambda: Double, qMax: Double, scale: Double,
                          diameter: Double, packing: Double, noise: Double, seed: UInt64) -> Synthetic {
        let q = stride(from: 0.2, through: qMax, by: 0.004).map { $0 }
        let (trueS, density) = percusYevick(q: q, diameter: diameter, packing: packing)
        var rng = SplitMix(seed: seed)
        func gauss() -> Double {
            let u = max(Double.random(in: 0 ..< 1, using: &rng), 1e-300), v = Double.random(in: 0 ..< 1, using: &rng)
            return (-2 * log(u)).squareRoot() * cos(2 * .pi * v)
        }
        var sample: [Double] = [], background: [Double] = []
        for (i, x) in q.enumerated() {
            let (f, f2, c, bd) = ReductionTests.sampleTerms(composition, q: x, lambda: lambda)
            let b = 1500 * exp(-pow((x - 2.5) / 3, 2)) + 900 * exp(-x / 6) + 200
            background.append(b * (1 + noise * gauss()))
            let clean = 2.5 * (f2 + f * f * (trueS[i] - 1) + c * bd) + scale * b
            sample.append(clean * (1 + noise * gauss()))
        }
        return Synthetic(q: q, trueS: trueS, density: density, sample: Pattern(unit: "q_A^-1", x: q, intensity: sample),
                         background: Pattern(unit: "q_A^-1", x: q, intensity: background))
    }

    @Test(arguments: [(0.88, 2.9, 0.47, UInt64(1)), (0.93, 3.1, 0.42, 2), (0.75, 2.6, 0.5, 3)])
    func scaleAndDensityFromTheDataAlone(scale: Double, diameter: Double, packing: Double, seed: UInt64) throws {
        let composition = try Composition("Ce65Co25Al10") { Self.tables.atomicNumber($0) != nil }
        let data = Self.synthetic(composition: composition, lambda: 0.3738, qMax: 14, scale: scale,
                                  diameter: diameter, packing: packing, noise: 0.001, seed: seed)
        var settings = StructureFactorSettings(composition: composition, wavelength: 0.3738)
        settings.qMin = 0.5
        settings.backgroundScaling = .refine
        settings.selfConsistent = SelfConsistentNormalization()
        let clock = ContinuousClock()
        let start = clock.now
        let result = try StructureFactor.reduce(sample: data.sample, samplePath: "py", background: data.background,
                                                backgroundPath: "bg", settings: settings, tables: Self.tables)
        let elapsed = clock.now - start
        let outcome = try #require(result.refinement)
        var squares = 0.0, n = 0
        for (i, x) in result.q.enumerated() where x >= 1 && x <= 10 {
            let k = data.q.firstIndex { abs($0 - x) < 1e-9 }!
            squares += pow(result.s[i] - data.trueS[k], 2)
            n += 1
        }
        let rms = (squares / Double(n)).squareRoot()
        print(String(format: "PY σ=%.2f η=%.2f: scale %.4f ± %.4f (true %.3f), density %.5f ± %.5f (true %.5f), r_min %.2f, "
                     + "S(Q) rms %.4f, %@", diameter, packing, outcome.scale, outcome.scaleSigma, scale, outcome.density,
                     outcome.densitySigma, data.density, outcome.rMin, rms, "\(elapsed)"))
        #expect(abs(outcome.scale / scale - 1) < 0.01)
        #expect(abs(outcome.density / data.density - 1) < 0.01)
        #expect(rms < 0.005)
        #expect(outcome.scaleSigma > 0 && outcome.densitySigma > 0)
    }

    /// An S(Q) built from peaks (no pair distribution behind it, as our own simulator's) has no
    /// density for which G(r) = −4πρ₀r below the first peak: refused, not a wrong S(Q).
    @Test func peakModelWithoutADensityIsRefused() throws {
        let composition = try Composition("Ce65Co25Al10") { Self.tables.atomicNumber($0) != nil }
        let lambda = 0.3738
        let q = stride(from: 0.2, through: 13.5, by: 0.005).map { $0 }
        func peak(_ x: Double, _ c: Double, _ w: Double) -> Double { PeakProfile.pseudoVoigt(x, centre: c, fwhm: w, eta: 0.5) }
        let q1 = 2.33
        var sample: [Double] = [], background: [Double] = []
        for x in q {
            let model = (1 - exp(-pow(x / (0.62 * q1), 6))) * (1 + 1.55 * peak(x, q1, 0.38) + 0.45 * peak(x, 1.83 * q1, 0.65)
                + 0.25 * peak(x, 2.65 * q1, 0.9) - 0.35 * peak(x, 1.4 * q1, 0.5) - 0.2 * peak(x, 2.25 * q1, 0.6)
                + 0.1 * exp(-0.15 * x) * sin(x * 7.7 / q1))
            let (f, f2, c, bd) = ReductionTests.sampleTerms(composition, q: x, lambda: lambda)
            let b = 300 + 900 * exp(-x / 2.5) + 150 * exp(-pow((x - 3.1) / 0.8, 2))
            background.append(b)
            sample.append(2.5 * (f2 + f * f * (model - 1) + c * bd) + 0.93 * b)
        }
        var settings = StructureFactorSettings(composition: composition, wavelength: lambda)
        settings.backgroundScaling = .refine
        settings.selfConsistent = SelfConsistentNormalization()
        #expect {
            _ = try StructureFactor.reduce(sample: Pattern(unit: "q_A^-1", x: q, intensity: sample), samplePath: "peaks",
                                           background: Pattern(unit: "q_A^-1", x: q, intensity: background),
                                           backgroundPath: "bg", settings: settings, tables: Self.tables)
        } throws: { error in
            let e = error as? BeamlineError
            return e?.path == "peaks" && e!.message.contains("does not follow")
        }
    }

    /// g/cm³ to atoms/Å³ with the IUPAC 2021 atomic weights: glassure 3.0 gives 0.0868909 for
    /// Mg2SiO4 at 2.9 g/cm³ (its own weights differ in the fifth figure).
    @Test func massDensityToNumberDensity() throws {
        let composition = try Composition("Mg2SiO4") { Self.tables.atomicNumber($0) != nil }
        let rho = try Self.tables.numberDensity(gramsPerCubicCentimetre: 2.9, of: composition)
        #expect(abs(rho / 0.0868909 - 1) < 5e-5, "\(rho)")
        #expect(abs(try Self.tables.meanAtomicMass(composition) - (2 * 24.305 + 28.085 + 4 * 15.999) / 7) < 1e-9)
    }
}
