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
    @Test func straightLineHasNoBreakpoint() {
        let x = [0.5, 2, 4, 6, 9, 12, 16, 20.0]
        let fit = Segmented.fit(x: x, y: x.map { 2.3 + 0.012 * $0 })
        #expect(fit.breakpoints.isEmpty)
    }

    @Test func thermalExpansionWindows() {
        let low = (p: [0.5, 5, 10, 20, 40.0], q1: [2.33, 2.40, 2.46, 2.58, 2.76])
        let high = (p: [0.6, 6, 12, 30, 42.0], q1: [2.34, 2.42, 2.49, 2.65, 2.75])
        let windows = ThermalExpansion.windows(low: low, high: high)
        #expect(windows.first?.negative == true)
        #expect(windows.last?.negative == false)
    }
}
