import BeamlineSupport
import DetectorImage
import Foundation
import Testing
@testable import Integration

/// Properties that hold whatever the geometry: checked against exact expectations.
struct EngineBehaviourTests {
    static let geometry = DetectorGeometry(distance: 0.1, poni1: 0.011, poni2: 0.0135, rot1: 0.01, rot2: 0.02,
                                           pixel1: 100e-6, pixel2: 100e-6, height: 200, width: 250, wavelength: 0.5e-10)

    /// A flat image of 1000 counts, divided by solid angle × polarization, gives 1000 in every bin.
    @Test(arguments: SplitMethod.allCases)
    func uniformIntensityIsRecovered(method: SplitMethod) throws {
        var settings = IntegrationSettings()
        settings.method = method
        settings.bins = 120
        settings.polarizationFactor = 0.95
        let maps = try GeometryMaps(geometry: Self.geometry, unit: .qInverseAngstrom, chi: false, solidAngle: true,
                                    polarizationFactor: 0.95, corners: false)
        let pixels = (0 ..< 200 * 250).map { Float(1000 * Double(maps.solidAngle![$0]) * Double(maps.polarization![$0])) }
        let result = try IntegrationEngine(geometry: Self.geometry, settings: settings).integrate(pixels)
        for b in 0 ..< 120 where result.count[b] > 0 {
            #expect(abs(result.intensity[b] - 1000) < 1e-3, "bin \(b): \(result.intensity[b])")
        }
        // Every pixel is shared out entirely: the counts add up to the pixel count.
        #expect(abs(result.count.reduce(0, +) - 50000) < 1e-2)
    }

    /// The cake's bins, added over the azimuth, give the 1D pattern.
    @Test(arguments: [SplitMethod.none, .bbox, .full])
    func cakeSumsToPattern(method: SplitMethod) throws {
        var settings = IntegrationSettings()
        settings.method = method
        settings.bins = 80
        settings.radialRange = 0.2 ... 3.0
        var rng = SeededGenerator(seed: 5)
        let pixels = (0 ..< 200 * 250).map { _ in Float(Int.random(in: 100 ... 200, using: &rng)) }
        let engine1D = try IntegrationEngine(geometry: Self.geometry, settings: settings)
        settings.azimuthBins = 36
        let engine2D = try IntegrationEngine(geometry: Self.geometry, settings: settings)
        let one = try engine1D.integrate(pixels), two = try engine2D.integrate(pixels)
        #expect(two.azimuth.count == 36 && two.intensity.count == 36 * 80)
        for b in 0 ..< 80 where one.count[b] > 0 {
            var signal = 0.0, norm = 0.0
            for a in 0 ..< 36 {
                let k = a * 80 + b
                signal += two.intensity[k] * engine2D.binNorm[k]
                norm += engine2D.binNorm[k]
            }
            #expect(abs(signal / norm - one.intensity[b]) < 1e-5 * one.intensity[b])
        }
    }

    /// Masked, NaN and dummy pixels are all left out, and give the same result (to the
    /// single-precision rounding of the accumulators).
    @Test func maskNaNAndDummyAgree() throws {
        var settings = IntegrationSettings()
        settings.bins = 100
        var rng = SeededGenerator(seed: 9)
        let pixels = (0 ..< 200 * 250).map { _ in Float(Int.random(in: 50 ... 500, using: &rng)) }
        var mask = Mask(width: 250, height: 200)
        for y in 50 ..< 90 { for x in 100 ..< 180 { mask.values[y * 250 + x] = 1 } }
        let masked = try IntegrationEngine(geometry: Self.geometry, settings: settings, mask: mask).integrate(pixels)
        var withNaN = pixels, withDummy = pixels
        for (i, m) in mask.values.enumerated() where m != 0 {
            withNaN[i] = .nan
            withDummy[i] = -1
        }
        let engine = try IntegrationEngine(geometry: Self.geometry, settings: settings)
        let nan = try engine.integrate(withNaN)
        let dummy = try engine.integrate(withDummy, dummy: -1, deltaDummy: 0.5)
        for b in 0 ..< 100 where masked.count[b] > 0 {
            #expect(abs(nan.intensity[b] - masked.intensity[b]) < 1e-6 * masked.intensity[b])
            #expect(abs(dummy.intensity[b] - masked.intensity[b]) < 1e-6 * masked.intensity[b])
            #expect(abs(nan.sigma[b] - masked.sigma[b]) < 1e-6 * masked.sigma[b])
            #expect(abs(nan.count[b] - masked.count[b]) < 1e-4)
        }
    }

    /// Sigma clipping removes single-crystal spots; without it they bias the mean.
    @Test func sigmaClippingRejectsSpots() throws {
        var settings = IntegrationSettings()
        settings.bins = 60
        settings.method = .none
        var rng = SeededGenerator(seed: 12)
        var pixels = (0 ..< 200 * 250).map { _ in Float(1000 + Double(Int.random(in: -30 ... 30, using: &rng))) }
        for _ in 0 ..< 40 {  // bright spots of 3x3 pixels
            let x = Int.random(in: 1 ..< 249, using: &rng), y = Int.random(in: 1 ..< 199, using: &rng)
            for dy in -1 ... 1 { for dx in -1 ... 1 { pixels[(y + dy) * 250 + x + dx] = 60000 } }
        }
        settings.solidAngle = false
        let engine = try IntegrationEngine(geometry: Self.geometry, settings: settings)
        let plain = try engine.integrate(pixels)
        let clipped = try engine.integrate(pixels, sigmaClip: SigmaClip(threshold: 3))
        var biased = 0
        for b in 0 ..< 60 where clipped.count[b] > 20 {
            #expect(abs(clipped.intensity[b] - 1000) < 5, "bin \(b): \(clipped.intensity[b])")
            if plain.intensity[b] > 1010 { biased += 1 }
        }
        #expect(biased > 5)
    }

    @Test func azimuthalErrorModel() throws {
        var settings = IntegrationSettings()
        settings.bins = 50
        settings.errorModel = .azimuthal
        settings.solidAngle = false
        var rng = SeededGenerator(seed: 3)
        // Gaussian-ish noise of standard deviation 10 around 500: σ of the mean ≈ 10/√N.
        let pixels = (0 ..< 200 * 250).map { _ -> Float in
            let u = (0 ..< 12).map { _ in Double.random(in: 0 ..< 1, using: &rng) }.reduce(0, +) - 6
            return Float(500 + 10 * u)
        }
        let result = try IntegrationEngine(geometry: Self.geometry, settings: settings).integrate(pixels)
        for b in 0 ..< 50 where result.count[b] > 200 {
            let expected = 10 / result.count[b].squareRoot()
            #expect(abs(result.sigma[b] / expected - 1) < 0.25, "bin \(b): \(result.sigma[b]) vs \(expected)")
        }
    }

    @Test func badInputIsRefused() throws {
        var settings = IntegrationSettings()
        settings.bins = 0
        #expect(throws: BeamlineError.self) { try IntegrationEngine(geometry: Self.geometry, settings: settings) }
        settings.bins = 10
        var noWavelength = Self.geometry
        noWavelength.wavelength = nil
        #expect(throws: BeamlineError.self) { try IntegrationEngine(geometry: noWavelength, settings: settings) }
        #expect(throws: BeamlineError.self) { try IntegrationEngine(geometry: Self.geometry, settings: settings, mask: Mask(width: 10, height: 10)) }
        let everything = Mask(width: 250, height: 200, values: [UInt8](repeating: 1, count: 50000))
        #expect(throws: BeamlineError.self) { try IntegrationEngine(geometry: Self.geometry, settings: settings, mask: everything) }
        let engine = try IntegrationEngine(geometry: Self.geometry, settings: settings)
        #expect(throws: BeamlineError.self) { try engine.integrate([1, 2, 3]) }
    }
}

typealias SeededGenerator = SplitMix

/// The geometry maps go four pixels at a time where they can and pixel by pixel at the end of a row:
/// both must give the same bits, the beam's own pixel (ρ = 0) included.
struct GeometryMapLanesTests {
    /// The last columns of a 13-, 14- or 15-wide map come from the pixel-by-pixel tail, of a 16-wide
    /// map from lanes.
    @Test(arguments: [RadialUnit.qInverseAngstrom, .qInverseNanometre, .radiusMillimetres, .twoThetaDegrees])
    func lanesAndTailAgree(unit: RadialUnit) throws {
        let rows = 60
        for (poni2Pixels, rot1) in [(12.5, 0.0), (6.5, 0.0), (4.25, 0.03)] {
            func maps(width: Int) throws -> GeometryMaps {
                let geometry = DetectorGeometry(distance: 0.002, poni1: 2.5 * 100e-6, poni2: poni2Pixels * 100e-6,
                                                rot1: rot1, rot2: rot1 / 2, pixel1: 100e-6, pixel2: 100e-6,
                                                height: rows, width: width, wavelength: 0.3e-10)
                return try GeometryMaps(geometry: geometry, unit: unit, chi: true, solidAngle: true,
                                        polarizationFactor: 0.97, polarizationAxisOffset: 0.2, corners: true)
            }
            let wide = try maps(width: 16)
            for width in 13 ... 15 {
                let narrow = try maps(width: width)
                for row in 0 ..< rows {
                    for column in 0 ..< width {
                        let (n, w) = (row * width + column, row * 16 + column)
                        #expect(narrow.radial[n].bitPattern == wide.radial[w].bitPattern, "\(unit) \(row) \(column)")
                        #expect(narrow.chi![n].bitPattern == wide.chi![w].bitPattern)
                        #expect(narrow.solidAngle![n].bitPattern == wide.solidAngle![w].bitPattern)
                        #expect(narrow.polarization![n].bitPattern == wide.polarization![w].bitPattern)
                        #expect(narrow.polarization![n].isFinite && narrow.radial[n].isFinite)
                    }
                    for column in 0 ... width {
                        let (n, w) = (row * (width + 1) + column, row * 17 + column)
                        #expect(narrow.cornerRadial![n].bitPattern == wide.cornerRadial![w].bitPattern)
                        #expect(narrow.cornerChi![n].bitPattern == wide.cornerChi![w].bitPattern)
                    }
                }
                // The engine's product of the two, one map instead of two.
                let combined = try GeometryMaps(geometry: narrow.geometry, unit: unit, chi: false, solidAngle: true,
                                                polarizationFactor: 0.97, polarizationAxisOffset: 0.2,
                                                corners: false, combined: true)
                #expect(combined.solidAngle == nil && combined.polarization == nil)
                let correction = try #require(combined.correction)
                for p in 0 ..< rows * width {
                    var expected: Float = 1
                    expected *= narrow.solidAngle![p]
                    expected *= narrow.polarization![p]
                    #expect(correction[p].bitPattern == expected.bitPattern)
                    #expect(combined.radial[p].bitPattern == narrow.radial[p].bitPattern)
                }
                if rot1 == 0 {
                    // The pixel whose centre is the PONI, on the beam.
                    #expect(narrow.radial[2 * width + Int(poni2Pixels)] == 0)
                }
            }
        }
    }
}
