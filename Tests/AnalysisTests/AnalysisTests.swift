import BeamlineNumerics
import BeamlineSupport
import Foundation
import PatternIO
import Testing
@testable import Analysis

struct PeakAnalysisTests {
    /// A synthetic S(Q) with known maxima, plus sharp crystalline peaks on the first one.
    @Test func synthetic() throws {
        let q = stride(from: 0.5, through: 12, by: 0.004).map { $0 }
        var rng = SplitMix(seed: 4)
        func s(_ x: Double) -> Double {
            1 + 1.5 * PeakProfile.pseudoVoigt(x, centre: 2.40, fwhm: 0.38, eta: 0.5)
                + 0.45 * PeakProfile.pseudoVoigt(x, centre: 4.35, fwhm: 0.7, eta: 0.5)
                - 0.4 * PeakProfile.pseudoVoigt(x, centre: 3.3, fwhm: 0.6, eta: 0.5)
        }
        var y = q.map { s($0) + 0.003 * (Double.random(in: 0 ..< 1, using: &rng) - 0.5) }
        // Au 111 and 200 reflections sitting on the glass's first maximum.
        for (i, x) in q.enumerated() {
            y[i] += 0.8 * PeakProfile.pseudoVoigt(x, centre: 2.69, fwhm: 0.015, eta: 0.3)
            y[i] += 0.5 * PeakProfile.pseudoVoigt(x, centre: 2.26, fwhm: 0.015, eta: 0.3)
        }
        let result = try PeakAnalysis.analyse(q: q, s: y, path: "synthetic")
        // The true maximum of the first peak (the second curve's tail moves it slightly).
        let fine = stride(from: 2.2, through: 2.6, by: 1e-5).map { $0 }
        let trueQ1 = fine.max { s($0) < s($1) }!
        #expect(abs(result.first.q - trueQ1) < 0.002, "Q1 \(result.first.q) vs \(trueQ1)")
        let trueQ2 = stride(from: 4.0, through: 4.7, by: 1e-5).max { s($0) < s($1) }!
        #expect(abs(result.second.q - trueQ2) < 0.005, "Q2 \(result.second.q) vs \(trueQ2)")
        // Width at half height above 1, from the noise-free curve.
        let half = 1 + (s(trueQ1) - 1) / 2
        let left = stride(from: trueQ1, through: 1.5, by: -1e-5).first { s($0) < half }!
        let right = stride(from: trueQ1, through: 3.5, by: 1e-5).first { s($0) < half }!
        #expect(abs(result.halfHeightWidth! / (right - left) - 1) < 0.03)
        #expect(abs(result.ratio - trueQ2 / trueQ1) < 0.003)
    }

    /// Smooth asymmetric maxima, as a glass's are: each maximum is a pseudo-Voigt with a weaker
    /// one overlapping its high-Q side (`shoulder` of its height), or a skew-normal profile
    /// φ(u)·[1 + erf(αu/√2)]. Q1 and Q2 must be the maxima, where a symmetric profile's centre
    /// is biased towards the tail.
    @Test(arguments: [(0.35, 0.0, false), (0.5, 0.0, false), (0.0, 0.0, true), (0.35, 0.002, false), (0.0, 0.002, true)])
    func asymmetricMaxima(shoulder: Double, noise: Double, skewNormal: Bool) throws {
        let q = stride(from: 0.5, through: 12, by: 0.005).map { $0 }
        func peak(_ x: Double, _ c: Double, _ w: Double) -> Double {
            if skewNormal {
                let u = (x - c) / (w / 2.355)
                return exp(-u * u / 2) * (1 + erf(2.5 * u / 2.0.squareRoot())) / 1.6
            }
            return PeakProfile.pseudoVoigt(x, centre: c, fwhm: w, eta: 0.4)
                + shoulder * PeakProfile.pseudoVoigt(x, centre: c + 0.6 * w, fwhm: 1.2 * w, eta: 0.4)
        }
        func s(_ x: Double) -> Double {
            1 + 1.6 * peak(x, 2.4, 0.36) + 0.5 * peak(x, 4.4, 0.7) - 0.35 * PeakProfile.pseudoVoigt(x, centre: 3.3, fwhm: 0.5, eta: 0.5)
        }
        var rng = SplitMix(seed: 12)
        let y = q.map { s($0) + noise * (Double.random(in: 0 ..< 1, using: &rng) - 0.5) * 3.46 }
        let result = try PeakAnalysis.analyse(q: q, s: y, path: "asymmetric")
        let trueQ1 = stride(from: 2.2, through: 2.8, by: 1e-6).max { s($0) < s($1) }!
        let trueQ2 = stride(from: 4.1, through: 5.0, by: 1e-6).max { s($0) < s($1) }!
        if noise == 0 {
            #expect(abs(result.first.q - trueQ1) < 3e-4, "Q1 \(result.first.q) vs \(trueQ1)")
            #expect(abs(result.second.q - trueQ2) < 5e-4, "Q2 \(result.second.q) vs \(trueQ2)")
            #expect(abs(result.first.height - s(trueQ1)) < 1e-3)
        } else {
            #expect(abs(result.first.q - trueQ1) < 3 * result.first.qSigma, "Q1 \(result.first.q) vs \(trueQ1) ± \(result.first.qSigma)")
            #expect(abs(result.second.q - trueQ2) < 3 * result.second.qSigma, "Q2 \(result.second.q) vs \(trueQ2) ± \(result.second.qSigma)")
            #expect(result.first.qSigma < 0.003)
        }
        // The pseudo-Voigt centre of such a peak lies off its maximum, towards the tail, by more
        // than the 0.0005 Å⁻¹ a maximum must be found within.
        #expect(result.first.pseudoVoigtCentre - trueQ1 > 0.001)
    }

    /// The true S(Q) of every dev-run image (../shared): its maxima and width as truth.json states.
    @Test func devRunTruth() throws {
        let root = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent()
        let shared = root.deletingLastPathComponent().appendingPathComponent("shared/data/dev-run").path
        guard FileManager.default.fileExists(atPath: shared + "/truth.json") else {
            print("skipped: ../shared is not present (dev-run truth)")
            return
        }
        let data = try Data(contentsOf: URL(fileURLWithPath: shared + "/truth.json"))
        let samples = (try JSONSerialization.jsonObject(with: data) as! [String: Any])["samples"] as! [[String: Any]]
        for sample in samples {
            let name = sample["name"] as! String
            let pattern = try PatternFile.read(shared + "/truth/\(name).sq")
            let result = try PeakAnalysis.analyse(q: pattern.x, s: pattern.intensity, path: name)
            #expect(abs(result.first.q - (sample["Q1"] as! Double)) < 0.005, "\(name) Q1")
            #expect(abs(result.second.q - (sample["Q2"] as! Double)) < 0.01, "\(name) Q2")
            #expect(abs(result.halfHeightWidth! / (sample["fwhm_half_height"] as! Double) - 1) < 0.03, "\(name) width")
        }
    }
}

struct SeriesTests {
    /// Q1 of a glass compressed along a Murnaghan curve (K0 = 45 GPa, K′ = 4) whose bulk modulus
    /// doubles at `kink` (V stays continuous), optionally with a jump `step` in Q1 at `stepAt`.
    static func q1(_ p: Double, kink: Double, stepAt: Double? = nil, step: Double = 0) -> Double {
        func murnaghan(_ p: Double, _ k0: Double) -> Double { pow(1 + 4 * p / k0, -0.25) }
        let v = p < kink ? murnaghan(p, 45) : murnaghan(kink, 45) * murnaghan(p - kink, 90)
        return 2.336 * pow(v, -1.0 / 3) + (stepAt.map { p > $0 ? step : 0 } ?? 0)
    }

    static func gaussian(_ rng: inout SplitMix) -> Double {
        let u1 = Double.random(in: Double.ulpOfOne ..< 1, using: &rng), u2 = Double.random(in: 0 ..< 1, using: &rng)
        return (-2 * log(u1)).squareRoot() * cos(2 * .pi * u2)
    }

    @Test func straightLineHasNoTransition() {
        let p = [0.5, 2, 4, 6, 9, 12, 16, 20.0]
        let analysis = TransitionAnalysis.analyse(pressure: p, value: p.map { 2.3 + 0.012 * $0 }, valueSigma: p.map { _ in 1e-4 },
                                                  pressureSigma: p.map { _ in 0.05 })
        #expect(analysis.transitions.isEmpty)
        #expect(analysis.segments.count == 1)
    }

    /// Seeded random runs, seven pressures per isotherm as in a DAC run: a change of
    /// compressibility is never called a discontinuity, and a jump bracketed within ±0.3 GPa is
    /// found there; in nine runs out of ten a smooth change is found within its stated uncertainty;
    /// a plain compression curve (Murnaghan, random K0 and K′) is hardly ever given a transition.
    @Test func randomRuns() {
        var rng = SplitMix(seed: 11)
        var falseSteps = 0, missedSteps = 0, smoothFound = 0, spurious = 0
        let runs = 200
        for _ in 0 ..< runs {
            let kink = Double.random(in: 3.5 ... 6, using: &rng)
            var p = [0.6, Double.random(in: 1.5 ... 3.2, using: &rng), Double.random(in: 3.7 ... 5.8, using: &rng),
                     Double.random(in: 6.5 ... 9, using: &rng), Double.random(in: 9 ... 15, using: &rng),
                     Double.random(in: 18 ... 28, using: &rng), Double.random(in: 35 ... 50, using: &rng)]
            var measured = p.map { $0 + 0.03 * Self.gaussian(&rng) }
            var q = p.map { Self.q1($0, kink: kink) + 1.5e-4 * Self.gaussian(&rng) }
            let smooth = TransitionAnalysis.analyse(pressure: measured, value: q, valueSigma: q.map { _ in 1.5e-4 },
                                                    pressureSigma: q.map { _ in 0.05 })
            if smooth.transitions.contains(where: { $0.kind == .discontinuous }) { falseSteps += 1 }
            if smooth.transitions.contains(where: { $0.kind == .smooth && abs($0.pressure - kink) <= $0.sigma }) { smoothFound += 1 }

            // Ordinary compression, no transition: Murnaghan with random K0 and K′.
            let k0 = Double.random(in: 40 ... 80, using: &rng), kPrime = Double.random(in: 3 ... 6, using: &rng)
            q = p.map { 2.336 * pow(1 + kPrime * $0 / k0, 1 / (3 * kPrime)) + 1.5e-4 * Self.gaussian(&rng) }
            let plain = TransitionAnalysis.analyse(pressure: measured, value: q, valueSigma: q.map { _ in 1.5e-4 },
                                                   pressureSigma: q.map { _ in 0.05 })
            if !plain.transitions.isEmpty { spurious += 1 }

            let stepAt = Double.random(in: 4 ... 8, using: &rng), jump = Double.random(in: 0.005 ... 0.01, using: &rng)
            p = [0.6, Double.random(in: 1.5 ... 3.5, using: &rng), stepAt - Double.random(in: 0.05 ... 0.3, using: &rng),
                 stepAt + Double.random(in: 0.05 ... 0.3, using: &rng), Double.random(in: 9 ... 15, using: &rng),
                 Double.random(in: 18 ... 28, using: &rng), Double.random(in: 35 ... 50, using: &rng)]
            measured = p.map { $0 + 0.03 * Self.gaussian(&rng) }
            let secondKink = Double.random(in: 3.5 ... 6, using: &rng)
            q = p.map { Self.q1($0, kink: secondKink, stepAt: stepAt, step: jump) + 1.5e-4 * Self.gaussian(&rng) }
            let stepped = TransitionAnalysis.analyse(pressure: measured, value: q, valueSigma: q.map { _ in 1.5e-4 },
                                                     pressureSigma: q.map { _ in 0.05 })
            if !stepped.transitions.contains(where: { $0.kind == .discontinuous && abs($0.pressure - stepAt) <= 0.3 }) { missedSteps += 1 }
        }
        print("random isotherms: \(falseSteps) false steps, \(missedSteps) missed steps, \(smoothFound) smooth changes found, \(spurious) transitions on plain compression curves, of \(runs)")
        #expect(falseSteps == 0, "\(falseSteps) of \(runs) smooth isotherms given a discontinuity")
        #expect(missedSteps <= runs / 50, "\(missedSteps) of \(runs) steps missed")
        #expect(smoothFound >= runs * 9 / 10, "smooth change found in \(smoothFound) of \(runs)")
        #expect(spurious <= runs / 20, "\(spurious) of \(runs) plain compression curves given a transition")
    }

    /// Thirty precise points on a plain compression curve: its curvature is not a transition.
    @Test func denseCompressionCurveHasNoTransition() {
        var rng = SplitMix(seed: 5)
        let p = (0 ..< 30).map { 0.5 + 1.5 * Double($0) }
        let q = p.map { 2.33 * pow(1 + 4 * $0 / 60, 1.0 / 12) + 1.5e-4 * Self.gaussian(&rng) }
        let analysis = TransitionAnalysis.analyse(pressure: p, value: q, valueSigma: q.map { _ in 1.5e-4 }, pressureSigma: q.map { _ in 0.05 })
        #expect(analysis.transitions.isEmpty, "\(analysis.transitions)")
        // The curve drawn follows the points.
        for (x, y) in zip(p, q) {
            let piece = analysis.segments.first { x >= $0.from && x <= $0.to }!
            #expect(abs(piece.intercept + piece.slope * x - y) < 1e-3)
        }
    }

    /// A rise across a wide gap is not called a discontinuity: it cannot be told from a steep
    /// continuous change, nor located.
    @Test func jumpAcrossAWideGapIsNotDiscontinuous() {
        let p = [0.6, 2.5, 4.0, 5.5, 12.0, 24.0, 45.0]
        let q = p.map { Self.q1($0, kink: 30, stepAt: 8, step: 0.01) }
        let analysis = TransitionAnalysis.analyse(pressure: p, value: q, valueSigma: q.map { _ in 1.5e-4 }, pressureSigma: q.map { _ in 0.05 })
        #expect(!analysis.transitions.contains { $0.kind == .discontinuous })
    }

    /// The dev-run of ../shared reduced by this pipeline (Tests/AnalysisTests/Fixtures): truth.json
    /// has a smooth change at 4.4 GPa at 293 K and a step at 5.5 GPa at 390 K.
    @Test func devRunTransitions() throws {
        let rows = try PeakTable.read(Bundle.module.url(forResource: "Fixtures", withExtension: nil)!.path + "/devrun-peaks.tsv")
        for (temperature, quantity) in [(293.0, "Q1"), (293, "V"), (390, "Q1"), (390, "V")] {
            let g = rows.filter { $0.temperature == temperature }
            let values = quantity == "Q1" ? g.map(\.q1) : g.map { $0.volumeCubic! }
            let sigmas = quantity == "Q1" ? g.map(\.q1Sigma) : g.map { 3 * $0.volumeCubic! * $0.q1Sigma / $0.q1 }
            let analysis = TransitionAnalysis.analyse(pressure: g.map { $0.pressure! }, value: values, valueSigma: sigmas,
                                                      pressureSigma: g.map { _ in 0.05 })
            let steps = analysis.transitions.filter { $0.kind == .discontinuous }
            if temperature == 293 {
                #expect(steps.isEmpty, "\(quantity) at 293 K: \(steps)")
                #expect(analysis.transitions.contains { abs($0.pressure - 4.4) < 0.7 }, "\(quantity) at 293 K: \(analysis.transitions)")
            } else {
                #expect(steps.count == 1 && abs(steps[0].pressure - 5.5) <= 0.3, "\(quantity) at 390 K: \(steps)")
            }
        }
    }

    /// An exponential approach to a limit is recognised and its time constant recovered.
    @Test func relaxation() throws {
        var rng = SplitMix(seed: 3)
        let t = stride(from: 0.0, through: 120, by: 15).map { $0 }
        let q = t.map { 2.433 - 0.0015 * exp(-$0 / 36) + 5e-5 * Self.gaussian(&rng) }
        let fit = try #require(Relaxation.fit(time: t, value: q, sigma: q.map { _ in 5e-5 }))
        #expect(fit.model == .exponential)
        #expect(abs(fit.parameters[2] - 36) < 3 * fit.uncertainties[2], "τ \(fit.parameters[2]) ± \(fit.uncertainties[2])")
        #expect(abs(fit.parameters[1] - 0.0015) < 3 * fit.uncertainties[1])
        let line = try #require(Relaxation.fit(time: t, value: t.map { 2.43 + 1e-5 * $0 + 5e-5 * Self.gaussian(&rng) }, sigma: t.map { _ in 5e-5 }))
        #expect(line.model == .linear)
        #expect(abs(line.slope - 1e-5) < 3 * line.slopeSigma)
    }

    /// Two isotherms measured at different pressures whose Q1 differ as in the hidden run of
    /// issue 15: higher at the higher temperature by 0.13 % up to 11 GPa, shrinking linearly to 0 at
    /// 20 GPa, lower by 0.005 % per GPa above (σ(Q1) = 1.5·10⁻⁴ Å⁻¹, σ(P) = 0.05 GPa, 16 pressures
    /// each, offset by 0.7 GPa). In ten seeded runs the first window is negative from the data's
    /// limit, and of the edges of the windows the true difference gives within the same band, eight
    /// in ten are reported between the same signs within max(1 GPa, 2σ of the edge), and at most one
    /// run in five has a window of 2 GPa or more that the truth does not.
    @Test func thermalExpansionBand() throws {
        func relative(_ p: Double) -> Double { p <= 11 ? 0.0013 : p <= 20 ? 0.0013 * (20 - p) / 9 : -0.00005 * (p - 20) }
        func low(_ p: Double) -> Double { ChangeWidthTests.q1(p, changes: [(3.9, 1, -0.002)], k0: 60, kPrime: 4) }
        var truthEdges = 0, edgesFound = 0, extraEdges = 0
        let runs = 10
        for seed in 1 ... UInt64(runs) {
            var rng = SplitMix(seed: seed)
            let lowP = ChangeWidthTests.pressures(&rng), highP = ChangeWidthTests.pressures(&rng).map { $0 + 0.7 }
            let sigma = 1.5e-4
            func analyse(_ p: [Double], _ q: (Double) -> Double) -> PressureCurve? {
                let measured = p.map { $0 + 0.05 * Self.gaussian(&rng) }
                let values = p.map { q($0) + sigma * Self.gaussian(&rng) }
                return TransitionAnalysis.analyse(pressure: measured, value: values, valueSigma: values.map { _ in sigma },
                                                  pressureSigma: values.map { _ in 0.05 }).curve
            }
            let lowCurve = try #require(analyse(lowP, low)), highCurve = try #require(analyse(highP) { low($0) * (1 + relative($0)) })
            let range = try #require(ThermalExpansion.commonRange(lowP, highP))
            let band = ThermalExpansion.band(low: lowCurve, high: highCurve, over: range)
            let windows = ThermalExpansion.windows(band, confidence: 3)
            // The windows the true difference gives with the same band: each of their edges must
            // have a reported edge between the same signs within 1 GPa (or 2σ of a shallow one).
            let truth = ThermalExpansion.windows(ThermalExpansion.Band(pressure: band.pressure,
                                                                       difference: band.pressure.map { low($0) * relative($0) },
                                                                       sigma: band.sigma), confidence: 3)
            let summary = windows.map { String(format: "%@ %.1f±%.1f–%.1f±%.1f", $0.sign.rawValue, $0.from, $0.fromSigma, $0.to, $0.toSigma) }
            print("seed \(seed): \(summary); truth: \(truth.map { String(format: "%@ %.1f–%.1f", $0.sign.rawValue, $0.from, $0.to) })")
            #expect(windows.first?.sign == .negative && windows.first?.fromIsDataLimit == true, "\(summary)")
            #expect(windows.last?.toIsDataLimit == true, "\(summary)")
            for (before, after) in zip(truth, truth.dropFirst()) {
                truthEdges += 1
                if zip(windows, windows.dropFirst()).contains(where: { pair in
                    pair.0.sign == before.sign && pair.1.sign == after.sign
                        && abs(pair.0.to - before.to) <= max(1, 2 * pair.0.toSigma)
                }) { edgesFound += 1 }
            }
            // A short window (under 2 GPa) where one isotherm's change widens the band is allowed.
            extraEdges += max(0, windows.filter { $0.to - $0.from >= 2 }.count - truth.count)
        }
        print("thermal-expansion edges: \(edgesFound) of \(truthEdges) found, \(extraEdges) extra windows in \(runs) runs")
        #expect(edgesFound * 10 >= truthEdges * 8)
        #expect(extraEdges * 5 <= runs)
    }
}
