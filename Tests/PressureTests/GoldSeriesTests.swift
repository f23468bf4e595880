import Analysis
import DetectorImage
import Foundation
import Integration
import PatternIO
import Testing
@testable import Pressure

/// The gold time series of ../shared: integrate frames, fit the Au lattice, pressure
/// within 0.1 GPa of the truth (Fei et al. 2007 BM3 at 390 K).
struct GoldSeriesTests {
    /// The truth of each frame, an engine for the series' geometry, and the frames; nil
    /// (after saying so) without ../shared.
    static func goldSeries() throws -> ([[String: Double]], IntegrationEngine, any ImageSource)? {
        guard let shared = Paths.shared else {
            print("skipped: ../shared is not present (gold time series)")
            return nil
        }
        let gold = shared + "/data/dev-run/gold"
        let data = try Data(contentsOf: URL(fileURLWithPath: shared + "/data/dev-run/truth.json"))
        let truth = ((try JSONSerialization.jsonObject(with: data) as! [String: Any])["gold"] as! [String: Any])["frames"] as! [[String: Double]]
        var settings = IntegrationSettings()
        settings.bins = 3000
        settings.polarizationFactor = 0.99
        let engine = try IntegrationEngine(geometry: try PoniFile.read(gold + "/geometry.poni"), settings: settings)
        return (truth, engine, try DetectorImageFile.open(gold + "/relaxation_390K.h5"))
    }

    @Test func pressuresFromAuRings() throws {
        guard let (truth, engine, source) = try Self.goldSeries() else { return }
        let material = try StandardMaterial.load("Au", calibrationDirectory: Paths.calibration)
        let eos = try material.scale("fei2007bm3")
        for index in [0, source.frameCount - 1] {
            let result = try engine.integrate(try source.frame(at: index).pixels)
            let fit = try LatticeFit.fit(q: result.radial, intensity: result.intensity, material: material, v0: eos.v0, path: "frame \(index)")
            let p = eos.pressure(volume: fit.volume, temperature: 390)
            #expect(abs(p - truth[index]["pressure_GPa"]!) < 0.1, "frame \(index): \(p) vs \(truth[index]["pressure_GPa"]!)")
            #expect(abs(fit.latticeParameter - truth[index]["au_a_A"]!) < 2e-4)
        }
    }

    /// Q1 of the glass against time in the gold series follows the true trend: its changes
    /// from the first frame match truth.json's to 0.0003 Å⁻¹ (the level differs: Q1 here is
    /// the maximum of I(Q), the truth's of S(Q)).
    @Test func relaxationTrend() throws {
        guard let (truth, engine, source) = try Self.goldSeries() else { return }
        var q1: [Double] = []
        for index in 0 ..< source.frameCount {
            let result = try engine.integrate(try source.frame(at: index).pixels)
            q1.append(try PeakAnalysis.analyse(q: result.radial, s: result.intensity, path: "frame \(index)").first.q)
        }
        for index in 1 ..< q1.count {
            let ours = q1[index] - q1[0], expected = truth[index]["Q1"]! - truth[0]["Q1"]!
            #expect(abs(ours - expected) < 3e-4, "frame \(index): ΔQ1 \(ours) vs \(expected)")
        }
        // The drift slows down: an exponential approach, of the true size.
        let times = truth.map { $0["time_min"]! }
        let fit = try #require(Relaxation.fit(time: times, value: q1, sigma: q1.map { _ in 1e-4 }))
        let reference = try #require(Relaxation.fit(time: times, value: truth.map { $0["Q1"]! }, sigma: q1.map { _ in 1e-4 }))
        #expect(fit.model == .exponential && reference.model == .exponential)
        #expect(abs(fit.parameters[1] - reference.parameters[1]) < 3e-4, "change \(fit.parameters[1]) vs \(reference.parameters[1])")
        print("gold relaxation: τ \(fit.parameters[2]) ± \(fit.uncertainties[2]) min, truth's \(reference.parameters[2]) min")
    }
}
