import BeamlineSupport
import DetectorImage
import Foundation
import PatternIO
import Testing
@testable import Integration

/// A small synthetic image integrated by pyFAI (Fixtures/make_reference.py): runs
/// everywhere, without ../shared.
struct SmallReferenceTests {
    static func fixture(_ name: String) -> String {
        Bundle.module.url(forResource: "Fixtures", withExtension: nil)!.path + "/" + name
    }

    static func engine(_ configure: (inout IntegrationSettings) -> Void, dark: Bool = false) throws -> (IntegrationEngine, [Float]) {
        let geometry = try PoniFile.read(fixture("small.poni"))
        var settings = IntegrationSettings()
        settings.polarizationFactor = 0.99
        configure(&settings)
        let mask = try Mask(contentsOf: fixture("small_mask.tif"))
        let darkPixels = dark ? try DetectorImageFile.readFrame(fixture("small_dark.tif")).pixels : nil
        let flatPixels = dark ? try DetectorImageFile.readFrame(fixture("small_flat.tif")).pixels : nil
        let engine = try IntegrationEngine(geometry: geometry, settings: settings, mask: mask, dark: darkPixels, flat: flatPixels)
        return (engine, try DetectorImageFile.readFrame(fixture("small.tif")).pixels)
    }

    /// Worst relative differences over bins whose raw counts exceed 100.
    static func check(_ result: IntegrationResult, against name: String, engine: IntegrationEngine,
                      intensity: Double, sigma: Double, axis: Double = 1e-6, sourceLocation: SourceLocation = #_sourceLocation) throws {
        let reference = try PatternFile.read(fixture(name))
        #expect(reference.count == result.radial.count, sourceLocation: sourceLocation)
        var worstI = 0.0, worstS = 0.0, worstX = 0.0, compared = 0
        for i in 0 ..< min(reference.count, result.radial.count) {
            worstX = max(worstX, abs(result.radial[i] - reference.x[i]) / max(abs(reference.x[i]), 1e-12))
            guard result.intensity[i] * engine.binNorm[i] > 100, reference.intensity[i] != 0 else { continue }
            compared += 1
            worstI = max(worstI, abs(result.intensity[i] - reference.intensity[i]) / abs(reference.intensity[i]))
            if reference.sigma[i] > 0 { worstS = max(worstS, abs(result.sigma[i] - reference.sigma[i]) / reference.sigma[i]) }
        }
        #expect(compared > reference.count / 2, "\(name): only \(compared) bins compared", sourceLocation: sourceLocation)
        #expect(worstX < axis, "\(name): axis differs by \(worstX)", sourceLocation: sourceLocation)
        #expect(worstI < intensity, "\(name): intensity differs by \(worstI)", sourceLocation: sourceLocation)
        #expect(worstS < sigma, "\(name): sigma differs by \(worstS)", sourceLocation: sourceLocation)
    }

    @Test(arguments: [(SplitMethod.none, "small.no.q.xy"), (.bbox, "small.bbox.q.xy")])
    func qPatterns(method: SplitMethod, reference: String) throws {
        let (engine, pixels) = try Self.engine { $0.bins = 400; $0.method = method }
        try Self.check(try engine.integrate(pixels), against: reference, engine: engine, intensity: 1e-4, sigma: 1e-3)
    }

    /// Full splitting shares pixels by exact area; pyFAI's implementation integrates the
    /// pixel edges, so small differences remain at the bin level.
    @Test func fullSplitting() throws {
        let (engine, pixels) = try Self.engine { $0.bins = 400; $0.method = .full }
        try Self.check(try engine.integrate(pixels), against: "small.full.q.xy", engine: engine, intensity: 1e-3, sigma: 2e-2, axis: 1e-3)
    }

    @Test func twoThetaDegrees() throws {
        let (engine, pixels) = try Self.engine { $0.bins = 300; $0.method = .bbox; $0.unit = .twoThetaDegrees }
        try Self.check(try engine.integrate(pixels), against: "small.bbox.2th.xy", engine: engine, intensity: 1e-4, sigma: 1e-3)
    }

    @Test func radiusMillimetres() throws {
        let (engine, pixels) = try Self.engine { $0.bins = 300; $0.method = .none; $0.unit = .radiusMillimetres }
        try Self.check(try engine.integrate(pixels), against: "small.no.r.xy", engine: engine, intensity: 1e-4, sigma: 1e-3)
    }

    @Test func darkFlatAndNormalization() throws {
        let (engine, pixels) = try Self.engine({ $0.bins = 400; $0.method = .none }, dark: true)
        try Self.check(try engine.integrate(pixels, normalization: 2.5), against: "small.no.dark_flat_norm.q.xy",
                       engine: engine, intensity: 1e-4, sigma: 1e-3)
    }

    @Test func perPixelGeometry() throws {
        let geometry = try PoniFile.read(Self.fixture("small.poni"))
        let data = try Data(contentsOf: URL(fileURLWithPath: Self.fixture("small_geometry.json")))
        let json = try JSONSerialization.jsonObject(with: data) as! [String: Any]
        for pixel in json["pixels"] as! [[String: Any]] {
            let row = Double(pixel["row"] as! Int) + 0.5, col = Double(pixel["col"] as! Int) + 0.5
            // pyFAI works with single-precision pixel positions.
            #expect(abs(geometry.twoTheta(row: row, column: col) - (pixel["tth_rad"] as! Double)) < 1e-7)
            #expect(abs(geometry.chi(row: row, column: col) - (pixel["chi_rad"] as! Double)) < 1e-5)
            #expect(abs(geometry.solidAngle(row: row, column: col) - (pixel["solid_angle"] as! Double)) < 1e-7)
            let p = DetectorGeometry.polarization(twoTheta: geometry.twoTheta(row: row, column: col),
                                                  chi: geometry.chi(row: row, column: col), factor: 0.99)
            #expect(abs(p - (pixel["polarization_0.99"] as! Double)) < 1e-6)  // pyFAI stores float32
        }
        let f2d = json["fit2d"] as! [String: Double]
        let ours = geometry.fit2d
        #expect(abs(ours.directDistance - f2d["directDist"]!) < 1e-9)
        #expect(abs(ours.centerX - f2d["centerX"]!) < 1e-9)
        #expect(abs(ours.centerY - f2d["centerY"]!) < 1e-9)
        #expect(abs(ours.tilt - f2d["tilt"]!) < 1e-9)
        #expect(abs(ours.tiltPlaneRotation - f2d["tiltPlanRotation"]!) < 1e-9)
    }

    /// The per-pixel maps (used by the engine) agree with the single-pixel formulas.
    @Test func mapsAgreeWithFormulas() throws {
        let geometry = try PoniFile.read(Self.fixture("small.poni"))
        let maps = try GeometryMaps(geometry: geometry, unit: .twoThetaRadians, chi: true, solidAngle: true,
                                    polarizationFactor: 0.5, polarizationAxisOffset: 0.3, corners: true)
        for (i, j) in [(0, 0), (17, 300), (299, 319), (150, 160)] {
            let r = Double(i) + 0.5, c = Double(j) + 0.5, p = i * geometry.width + j
            #expect(abs(maps.radial[p] - geometry.twoTheta(row: r, column: c)) < 1e-12)
            #expect(abs(Double(maps.chi![p]) - geometry.chi(row: r, column: c) * 180 / .pi) < 1e-4)
            #expect(abs(Double(maps.solidAngle![p]) - geometry.solidAngle(row: r, column: c)) < 1e-6)
            let pol = DetectorGeometry.polarization(twoTheta: geometry.twoTheta(row: r, column: c),
                                                    chi: geometry.chi(row: r, column: c), factor: 0.5, axisOffset: 0.3)
            #expect(abs(Double(maps.polarization![p]) - pol) < 1e-6)
        }
    }
}
