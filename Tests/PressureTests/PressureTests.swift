import BeamlineNumerics
import BeamlineSupport
import Foundation
import PatternIO
import Testing
@testable import Pressure

enum Paths {
    static var root: URL {
        URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent()
    }
    static var calibration: String { root.appendingPathComponent("calibration").path }
    static var shared: String? {
        let path = root.deletingLastPathComponent().appendingPathComponent("shared").path
        return FileManager.default.fileExists(atPath: path + "/README.md") ? path : nil
    }
}

struct EquationOfStateTests {
    /// pytheos 0.0.2 values (../shared/data/reference/pressure_vectors.json): within 0.01 GPa.
    @Test func agreesWithPytheos() throws {
        guard let shared = Paths.shared else {
            print("skipped: ../shared is not present (pressure_vectors.json)")
            return
        }
        let data = try Data(contentsOf: URL(fileURLWithPath: shared + "/data/reference/pressure_vectors.json"))
        let json = try JSONSerialization.jsonObject(with: data) as! [String: Any]
        var checked = 0, worst = 0.0
        for (materialKey, file) in [("gold", "Au"), ("platinum", "Pt")] {
            let material = try StandardMaterial.load(file, calibrationDirectory: Paths.calibration)
            for (scaleName, value) in json[materialKey] as! [String: Any] {
                let entry = value as! [String: Any]
                let eos = try material.scale(scaleName)
                #expect(abs(eos.v0 - (entry["v0"] as! Double)) < 1e-9)
                for row in entry["rows"] as! [[String: Double]] {
                    let p = eos.pressure(volume: row["V"]!, temperature: row["T"]!)
                    worst = max(worst, abs(p - row["P"]!))
                    #expect(abs(p - row["P"]!) < 0.01, "\(file) \(scaleName) V=\(row["V"]!) T=\(row["T"]!): \(p) vs \(row["P"]!)")
                    checked += 1
                }
            }
        }
        print("pytheos: \(checked) values, worst difference \(worst) GPa")
        #expect(checked > 50)
    }

    @Test func staticFormsAndInverse() throws {
        let material = try StandardMaterial.load("Au", calibrationDirectory: Paths.calibration)
        for name in material.scales.keys {
            let eos = try material.scale(name)
            #expect(abs(eos.pressure(volume: eos.v0, temperature: 300)) < 1e-9, "\(name) is not 0 GPa at V0, 300 K")
            for p in [0.5, 6.0, 30.0, 100.0] {
                for t in [300.0, 390.0, 1500.0] {
                    let v = try eos.volume(pressure: p, temperature: t)
                    #expect(abs(eos.pressure(volume: v, temperature: t) - p) < 1e-8)
                }
            }
            // Bulk modulus at V0: −V dP/dV = K0.
            let k = -eos.v0 * eos.slope(volume: eos.v0, temperature: 300)
            if case .none = eos.thermal { #expect(abs(k - eos.k0) < 1e-4) }
            #expect(abs(k - eos.k0) < 1.0, "\(name): K(V0, 300 K) = \(k)")
        }
    }

    /// D₃ against direct numerical integration.
    @Test func debyeFunction() {
        for x in [0.01, 0.3, 1.0, 1.99, 2.01, 3.5, 7.0, 20.0] {
            let n = 20000
            var s = 0.0
            for i in 0 ..< n {
                let t = (Double(i) + 0.5) * x / Double(n)
                s += t * t * t / (exp(t) - 1)
            }
            let direct = 3 / (x * x * x) * s * x / Double(n)
            #expect(abs(debyeFunction3(x) - direct) < 1e-8, "x = \(x)")
        }
    }

    @Test func everyTableLoads() throws {
        for name in ["Au", "Pt", "NaCl-B1", "NaCl-B2", "MgO", "Ne"] {
            let m = try StandardMaterial.load(name, calibrationDirectory: Paths.calibration)
            for (scale, eos) in m.scales {
                #expect(!eos.reference.isEmpty, "\(name) \(scale) has no reference")
                let p = eos.pressure(volume: eos.v0 * 0.9, temperature: 300)
                #expect(p > 0 && p.isFinite, "\(name) \(scale)")
            }
        }
        #expect(throws: BeamlineError.self) { try StandardMaterial.load("Unobtainium", calibrationDirectory: Paths.calibration) }
    }
}

struct RubyTests {
    static func calibration() throws -> RubyCalibration { try RubyCalibration(calibrationDirectory: Paths.calibration) }

    /// The published formulas (pressure_vectors.json) at λ0 = 694.25 nm and 296 K.
    @Test func scalesMatchPublishedFormulas() throws {
        let ruby = try Self.calibration()
        let names = ["mao1986_hydrostatic": "mao1986-hydrostatic", "mao1986_nonhydrostatic": "mao1986-nonhydrostatic",
                     "dewaele2008": "dewaele2008", "jacobsen2008": "jacobsen2008", "shen2020": "shen2020"]
        if let shared = Paths.shared {
            let data = try Data(contentsOf: URL(fileURLWithPath: shared + "/data/reference/pressure_vectors.json"))
            let json = try JSONSerialization.jsonObject(with: data) as! [String: Any]
            let rubyRows = (json["ruby"] as! [String: Any])["rows"] as! [[String: Double]]
            for row in rubyRows {
                for (key, name) in names {
                    let p = try ruby.pressure(r1: row["lambda_R1_nm"]!, r1Sigma: 0, temperature: 296, scale: try ruby.scale(name))
                    #expect(abs(p.pressure - row[key]!) < 0.01, "\(name) at \(row["lambda_R1_nm"]!) nm")
                }
            }
        }
        // Independent spot values from the formulas themselves.
        let shen = try ruby.scale("shen2020")
        let x = (700.0 - 694.25) / 694.25
        #expect(abs(shen.pressure(lambda: 700, lambda0: 694.25) - 1870 * x * (1 + 5.63 * x)) < 1e-12)
        let mao = try ruby.scale("mao1986-hydrostatic")
        #expect(abs(mao.pressure(lambda: 700, lambda0: 694.25) - 1904 / 7.665 * (pow(700 / 694.25, 7.665) - 1)) < 1e-12)
    }

    /// A synthetic doublet with known R1 (pseudo-Voigt lines, Poisson noise) is recovered.
    @Test(arguments: [(694.6, 296.0), (699.3, 390.0), (712.0, 296.0)])
    func fitRecoversR1(r1: Double, temperature: Double) throws {
        var rng = SeededGenerator(seed: UInt64(r1 * 10))
        let x = stride(from: r1 - 12, through: r1 + 10, by: 0.022).map { $0 }
        let y = x.map { t -> Double in
            let mean = 300 + 2 * (t - r1) + 20000 * PeakProfile.pseudoVoigt(t, centre: r1, fwhm: 0.45, eta: 0.7)
                + 11000 * PeakProfile.pseudoVoigt(t, centre: r1 - 1.47, fwhm: 0.45, eta: 0.7)
            return Double(poisson(mean, &rng))
        }
        let fit = try RubyFit.fit(Spectrum(path: "synthetic", wavelength: x, counts: y))
        #expect(abs(fit.r1 - r1) < 0.003, "R1 \(fit.r1) vs \(r1)")
        #expect(fit.doubletFound)
        #expect(fit.r1Sigma > 0 && fit.r1Sigma < 0.003)
        #expect(abs(fit.r1 - r1) < 5 * fit.r1Sigma + 1e-4)
    }

    /// The dev-run spectra (../shared): within 0.03 GPa of the truth at 293 K and 390 K.
    @Test func devRunPressures() throws {
        guard let shared = Paths.shared else {
            print("skipped: ../shared is not present (dev-run ruby spectra)")
            return
        }
        let ruby = try Self.calibration()
        let data = try Data(contentsOf: URL(fileURLWithPath: shared + "/data/dev-run/truth.json"))
        let json = try JSONSerialization.jsonObject(with: data) as! [String: Any]
        var worst = 0.0
        for sample in json["samples"] as! [[String: Any]] {
            let spectrum = try Spectrum(path: shared + "/data/dev-run/" + (sample["ruby"] as! String))
            let t = sample["temperature_K"] as! Double
            #expect(spectrum.headerTemperature == t)
            let fit = try RubyFit.fit(spectrum)
            let p = try ruby.pressure(r1: fit.r1, r1Sigma: fit.r1Sigma, temperature: t, scale: try ruby.scale("shen2020"))
            let truth = sample["pressure_GPa"] as! Double
            worst = max(worst, abs(p.pressure - truth))
            #expect(abs(p.pressure - truth) < 0.03, "\(sample["name"]!): \(p.pressure) vs \(truth)")
        }
        print("dev-run ruby: worst |ΔP| = \(worst) GPa")
    }

    @Test func badSpectraAreRefused() throws {
        var rng = SeededGenerator(seed: 1)
        let x = stride(from: 680.0, through: 720, by: 0.02).map { $0 }
        let flat = Spectrum(path: "flat.txt", wavelength: x, counts: x.map { _ in Double(poisson(300, &rng)) })
        #expect {
            try RubyFit.fit(flat)
        } throws: { ($0 as? BeamlineError)?.message.contains("no ruby peak") == true }
        let ruby = try Self.calibration()
        #expect(throws: BeamlineError.self) { try ruby.pressure(r1: 694.3, r1Sigma: 0, temperature: 1200, scale: try ruby.scale("shen2020")) }
        #expect(throws: BeamlineError.self) { try ruby.pressure(r1: 694.3, r1Sigma: 0, temperature: 100, scale: try ruby.scale("shen2020")) }
        #expect(throws: BeamlineError.self) { try ruby.pressure(r1: 760, r1Sigma: 0, temperature: 296, scale: try ruby.scale("mao1986-hydrostatic")) }
        #expect(throws: BeamlineError.self) { try ruby.scale("nosuchscale") }
    }
}

struct LatticeFitTests {
    /// A synthetic pattern: Au reflections at a known lattice parameter on a metallic glass's broad humps.
    static func pattern(a: Double, seed: UInt64, gold: Bool = true) -> (q: [Double], intensity: [Double]) {
        var rng = SeededGenerator(seed: seed)
        let q = stride(from: 0.5, through: 7.0, by: 0.002).map { $0 }
        let y = q.map { x -> Double in
            var v = 3000 + 8000 * exp(-pow((x - 2.5) / 0.25, 2)) + 3000 * exp(-pow((x - 4.5) / 0.4, 2))
            if gold {
                for (m, amp) in [(3, 6000.0), (4, 3000.0), (8, 2000.0), (11, 2000.0), (12, 700.0), (16, 400.0), (19, 600.0)] {
                    v += amp * PeakProfile.pseudoVoigt(x, centre: 2 * .pi * Double(m).squareRoot() / a, fwhm: 0.014, eta: 0.4)
                }
            }
            return Double(poisson(v, &rng))
        }
        return (q, y)
    }

    @Test(arguments: [4.0786, 4.0385, 3.95])
    func recoversLatticeParameter(a: Double) throws {
        let material = try StandardMaterial.load("Au", calibrationDirectory: Paths.calibration)
        let (q, y) = Self.pattern(a: a, seed: UInt64(a * 1000))
        let fit = try LatticeFit.fit(q: q, intensity: y, material: material, v0: try material.scale("fei2007bm3").v0, path: "synthetic")
        #expect(abs(fit.latticeParameter - a) < 2e-4, "a = \(fit.latticeParameter) vs \(a)")
        #expect(fit.peaks.count >= 4)
        #expect(abs(fit.latticeParameter - a) < 5 * fit.latticeSigma + 5e-5)
    }

    @Test func refusesPatternWithoutTheStandard() throws {
        let material = try StandardMaterial.load("Au", calibrationDirectory: Paths.calibration)
        let (q, y) = Self.pattern(a: 4.05, seed: 3, gold: false)
        #expect(throws: BeamlineError.self) {
            try LatticeFit.fit(q: q, intensity: y, material: material, v0: 67.85, path: "glass-only.xy")
        }
    }

    @Test func reflectionConditions() throws {
        let au = try StandardMaterial.load("Au", calibrationDirectory: Paths.calibration)
        #expect(au.reflections().prefix(6).map(\.m) == [3, 4, 8, 11, 12, 16])
        let b2 = try StandardMaterial.load("NaCl-B2", calibrationDirectory: Paths.calibration)
        #expect(b2.reflections().prefix(4).map(\.m) == [1, 2, 3, 4])
    }
}

func poisson(_ mean: Double, _ rng: inout SeededGenerator) -> Int { rng.poisson(mean) }

typealias SeededGenerator = SplitMix
