import BeamlineSupport
import DetectorImage
import Foundation
import Integration
import Testing
@testable import Reduction

/// The Reduction layer: an engine prepared once and read back by another job, and the typed
/// records the stages exchange.
struct ReductionTests {
    static func scratch(_ name: String) throws -> String {
        let dir = NSTemporaryDirectory() + "reduction-\(getpid())-\(name)"
        try? FileManager.default.removeItem(atPath: dir)
        try FileManager.default.createDirectory(atPath: dir, withIntermediateDirectories: true)
        return dir
    }

    static let geometry = DetectorGeometry(distance: 0.1, poni1: 0.011, poni2: 0.0135, rot1: 0.01, rot2: 0.02,
                                           pixel1: 100e-6, pixel2: 100e-6, height: 200, width: 250, wavelength: 0.5e-10)

    /// Rings, noise and a few very bright 3×3 spots, as a TIFF file.
    static func image(at path: String, seed: UInt64) throws {
        var rng = SplitMix(seed: seed)
        var pixels = (0 ..< 200 * 250).map { i -> Float in
            let x = Double(i % 250) - 135, y = Double(i / 250) - 110
            let r = (x * x + y * y).squareRoot()
            return Float(500 + 2000 * exp(-pow((r.truncatingRemainder(dividingBy: 35) - 17) / 3, 2))
                         + Double.random(in: -20 ... 20, using: &rng))
        }
        for _ in 0 ..< 8 {
            let x = Int.random(in: 2 ..< 248, using: &rng), y = Int.random(in: 2 ..< 198, using: &rng)
            for dy in -1 ... 1 { for dx in -1 ... 1 { pixels[(y + dy) * 250 + x + dx] = 60000 } }
        }
        try TIFFWriter.write(pixels, width: 250, height: 200, to: path)
    }

    /// `prepare` then `integrate --engine`: the engine is read, not built, and every pattern and
    /// mask equals what a job that builds its own engine writes.
    @Test func preparedEngineIsReusedWithSameResults() throws {
        let dir = try Self.scratch("reuse")
        try Self.image(at: dir + "/a.tif", seed: 1)
        var settings = IntegrationSettings()
        settings.bins = 150
        settings.polarizationFactor = 0.99
        var setup = IntegrationSetup(geometry: Self.geometry, settings: settings)
        setup.spotSearch = SpotSearch(threshold: 6)
        let source = try DetectorImageFile.open(dir + "/a.tif")
        let built = try PreparedIntegration(setup, validity: source.validity)
        #expect(built.origin == "built")
        try built.write(to: dir + "/run.engine")
        var notes: [String] = []
        let read = try PreparedIntegration(setup, validity: source.validity, cache: dir + "/run.engine") { notes.append($0) }
        #expect(read.origin.hasPrefix("read from") && notes.isEmpty)
        for (prepared, out) in [(built, "/built"), (read, "/read")] {
            var job = IntegrationJob(prepared: prepared, outputDirectory: dir + out, program: "test")
            job.sigmaClip = SigmaClip(threshold: 3)
            job.maskOutput = dir + out + ".mask.tif"
            let reports = try job.run([source])
            #expect(reports.count == 1 && reports[0].spotPixels >= 8 * 9)
        }
        let a = try PatternFileTestReader.columns(dir + "/built/a.xy"), b = try PatternFileTestReader.columns(dir + "/read/a.xy")
        #expect(a == b && !a.isEmpty)
        #expect(try Data(contentsOf: URL(fileURLWithPath: dir + "/built.mask.tif"))
                == Data(contentsOf: URL(fileURLWithPath: dir + "/read.mask.tif")))
        // A damaged spot-ring table (the file's last array): refused, named, and the engine built anew,
        // never a spot search indexing past its rings.
        var damaged = try Data(contentsOf: URL(fileURLWithPath: dir + "/run.engine"))
        damaged[damaged.count - 2] = 0x00
        damaged[damaged.count - 1] = 0x70
        try damaged.write(to: URL(fileURLWithPath: dir + "/damaged.engine"))
        var damageNotes: [String] = []
        let repaired = try PreparedIntegration(setup, validity: source.validity, cache: dir + "/damaged.engine") {
            damageNotes.append($0)
        }
        #expect(repaired.origin == "built")
        #expect(damageNotes.count == 1 && damageNotes[0].contains("damaged.engine: damaged engine file (ring index"),
                "\(damageNotes)")
        // Another mask file: another key, so the stored engine is not used (and the caller hears why).
        var other = setup
        let maskPath = dir + "/beamstop.tif"
        try TIFFWriter.write([Float](repeating: 0, count: 250 * 200).enumerated().map { $0.offset < 250 * 10 ? 1 : 0 },
                             width: 250, height: 200, to: maskPath, as: .uint8)
        other.maskPaths = [maskPath]
        let rebuilt = try PreparedIntegration(other, validity: source.validity, cache: dir + "/run.engine") { notes.append($0) }
        #expect(rebuilt.origin == "built" && rebuilt.key != read.key && notes.count == 1)
    }

    @Test func pressureRecordRoundTripAndErrors() throws {
        let dir = try Self.scratch("pressure")
        let record = PressureRecord(method: "ruby", source: "r.txt", pressure: 4.25, pressureSigma: 0.03, temperature: 293,
                                    details: [("r1_nm", "695.1")], comments: ["beamline test"])
        try record.write(to: dir + "/s.pressure")
        #expect(try PressureRecord(contentsOf: dir + "/s.pressure") == record)
        // Files of the first format (no format key) still read.
        try "method=ruby\nsource=x\ntemperature_K=300\npressure_GPa=1.5\npressure_sigma_GPa=0.01\n"
            .write(toFile: dir + "/old.pressure", atomically: true, encoding: .utf8)
        #expect(try PressureRecord(contentsOf: dir + "/old.pressure").pressure == 1.5)
        for (text, message) in [("pressure_GPa=abc\n", "is not a number"), ("method=ruby\n", "no pressure_GPa"),
                                ("pressure GPa 3\n", "line 1"), ("format=9\npressure_GPa=1\n", "newer")] {
            try text.write(toFile: dir + "/bad.pressure", atomically: true, encoding: .utf8)
            #expect { try PressureRecord(contentsOf: dir + "/bad.pressure") } throws: { error in
                "\(error)".contains(message) && "\(error)".contains("bad.pressure")
            }
        }
    }

    @Test func refinementLineRoundTrip() throws {
        let record = SQRefinementRecord(backgroundScale: 0.93, backgroundScaleSigma: 0.002, density: 0.0412,
                                        densitySigma: 0.0003, rMin: 2.1, iterations: 7, kaplowIterations: 0,
                                        misfit: 0.01, relativeMisfit: 0.02)
        let line = record.headerLine
        #expect(line.hasPrefix("refined: bg_scale=0.93 bg_scale_sigma=0.002 density=0.0412"))
        #expect(SQRefinementRecord(headerLines: ["other", line]) == record)
        #expect(SQRefinementRecord(headerLines: ["bg_scale=0.9"]) == nil)
    }

    @Test func seriesReportRoundTrip() throws {
        let dir = try Self.scratch("series")
        var transition = SeriesReport.Transition(quantity: "Q1", kind: "discontinuous", pressure_GPa: 6.3, sigma_GPa: 0.3,
                                                 width_GPa: 0, width_sigma_GPa: 0.3, change: 0.01, change_sigma: 0.001,
                                                 significance: 12)
        transition.volume_change = .init(percent_cubic: -1.2, sigma_percent_cubic: 0.1)
        let window = SeriesReport.Window(low_K: 293, high_K: 390, quantity: "Q1", from_GPa: 0.5, from_sigma_GPa: 0,
                                         from_is_data_limit: true, to_GPa: 17, to_sigma_GPa: 0.8, to_is_data_limit: false,
                                         thermal_expansion: "negative", confidence_sigmas: 3)
        let report = SeriesReport(
            isotherms: [.init(temperature_K: 390, points: 16, transitions: [transition],
                              fits: ["Q1": .init(model: "line", segments: [[0.5, 6.3, 2.3, 0.01]], chi_square: 14,
                                                 degrees_of_freedom: 12)])],
            thermal_expansion: [window],
            thermal_expansion_bands: [.init(low_K: 293, high_K: 390, pressure_GPa: [0.5, 1], dQ1: [0.003, 0.003],
                                            dQ1_sigma: [0.0005, 0.0005], dQ2: nil, dQ2_sigma: nil, dV_over_V: [-0.004, -0.004],
                                            dV_over_V_sigma: [0.0006, 0.0006], q2_windows: nil)],
            relaxation: [])
        try report.write(to: dir + "/series.json")
        #expect(try SeriesReport(contentsOf: dir + "/series.json") == report)
        try "{\"isotherms\": 3}".write(toFile: dir + "/bad.json", atomically: true, encoding: .utf8)
        #expect(throws: BeamlineError.self) { try SeriesReport(contentsOf: dir + "/bad.json") }
        try "{\"format\": 1, \"isotherms\": []}".write(toFile: dir + "/old.json", atomically: true, encoding: .utf8)
        #expect(throws: BeamlineError.self) { try SeriesReport(contentsOf: dir + "/old.json") }
    }
}

/// The numeric columns of a pattern file, for comparing two files.
enum PatternFileTestReader {
    static func columns(_ path: String) throws -> [[Double]] {
        try String(contentsOfFile: path, encoding: .utf8).split(separator: "\n")
            .filter { !$0.hasPrefix("#") }
            .map { $0.split(separator: " ").compactMap { Double($0) } }
    }
}
