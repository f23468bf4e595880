import BeamlineNumerics
import BeamlineSupport
import Calibration
import DetectorImage
import Foundation
import Integration
import Pressure
import StructureFactor

/// A forward model of a diamond-anvil-cell run on a metallic glass, for demonstrations and
/// end-to-end tests with known answers: a calibrant image, an empty-cell image, sample images
/// on two isotherms at several pressures, and a ruby spectrum for each.
///
/// Sample intensity per pixel: K [⟨f²⟩ + ⟨f⟩²(S − 1) + C·BD⁻²] + b·B(Q), times polarization
/// and solid angle, with Poisson noise, a beam stop (2 % transmission) and a few diamond
/// Bragg spots. S(Q) is a model glass whose first maximum follows a Murnaghan compression,
/// Q1 = Q1₀ (V/V₀)^(−1/3) with V from a Murnaghan equation (K = 60 GPa, K′ = 4); on the lowest
/// isotherm the glass stiffens smoothly (K jumps, V stays continuous) at `smoothPressure`, on the
/// others Q1 steps up at `stepPressure`.
public struct DACSimulator {
    public struct Point: Sendable, Codable {
        public var name: String
        public var temperature: Double
        public var pressure: Double
        public var q1: Double
        public var rubyR1: Double
        /// Lattice parameter of the gold pressure standard in the cell (Å), when there is one.
        public var goldLattice: Double?
    }

    public var geometry: DetectorGeometry
    public var composition = "Ce65Co25Al10"
    public var backgroundScale = 0.93
    public var temperatures: [Double] = [293, 390]
    public var pressures: [Double] = [0.5, 2, 4, 6.7, 7.3, 12, 20]
    /// Transition at the higher temperature: a step of Q1 (fractional) at this pressure.
    public var stepPressure = 7.0
    public var stepSize = 0.006
    /// Transition at the lowest temperature: the bulk modulus rises by `stiffening` at this pressure.
    public var smoothPressure = 4.5
    public var stiffening = 1.6
    public var seed: UInt64 = 2026
    /// Gold powder in the cell: its rings (Fei et al. 2007 BM3 with thermal pressure, at each
    /// point's P and T) appear on every sample image as a pressure standard.
    public var gold = false

    public init(size: Int = 640, pixel: Double = 300e-6, distance: Double = 0.2, wavelength: Double = 0.2) {
        geometry = DetectorGeometry(distance: distance, poni1: Double(size) / 2 * pixel + 0.0013, poni2: Double(size) / 2 * pixel - 0.0009,
                                    rot1: 0.004, rot2: -0.003, pixel1: pixel, pixel2: pixel, height: size, width: size,
                                    wavelength: wavelength * 1e-10)
    }

    /// First sharp maximum of the model glass at pressure p (GPa) and temperature t (K).
    public func q1(pressure p: Double, temperature t: Double) -> Double {
        let k = 60.0, kp = 4.0
        func murnaghan(_ p: Double, _ k: Double) -> Double { pow(1 + kp * p / k, -1 / kp) }
        let lowest = t <= temperatures.min()!
        let volume = lowest && p > smoothPressure
            ? murnaghan(smoothPressure, k) * murnaghan(p - smoothPressure, stiffening * (k + kp * smoothPressure))
            : murnaghan(p, k)
        var q = 2.33 * (1 + 1.5e-5 * (t - 293)) * pow(volume, -1.0 / 3)
        if !lowest && p >= stepPressure { q *= 1 + stepSize }
        return q
    }

    /// The model S(Q).
    public func structureFactor(_ q: Double, q1: Double) -> Double {
        func peak(_ centre: Double, _ width: Double) -> Double { PeakProfile.pseudoVoigt(q, centre: centre, fwhm: width, eta: 0.5) }
        let oscillation = 1.55 * peak(q1, 0.38) + 0.45 * peak(1.83 * q1, 0.65) + 0.25 * peak(2.65 * q1, 0.9)
            - 0.35 * peak(1.4 * q1, 0.5) - 0.2 * peak(2.25 * q1, 0.6) + 0.1 * exp(-0.15 * q) * sin(q * 7.7 / q1 * 1.0)
        let onset = 1 - exp(-pow(q / (0.62 * q1), 6))
        return onset * (1 + oscillation)
    }

    /// Writes the run into `directory`: images/, ruby/, geometry.poni, truth.json. Returns the points.
    @discardableResult
    public func write(to directory: String, calibrationDirectory: String, hdf5: Bool = false) throws -> [Point] {
        let fm = FileManager.default
        for sub in ["images", "ruby"] { try fm.createDirectory(atPath: directory + "/" + sub, withIntermediateDirectories: true) }
        let tables = try ScatteringTables(calibrationDirectory: calibrationDirectory)
        let comp = try Composition(composition) { tables.atomicNumber($0) != nil }
        let maps = try GeometryMaps(geometry: geometry, unit: .qInverseAngstrom, chi: false, solidAngle: true,
                                    polarizationFactor: 0.99, corners: false)
        let lambda = geometry.wavelengthAngstrom!
        // Scattering per Q on a fine grid, interpolated per pixel.
        let grid = stride(from: 0.0, through: (maps.radial.max() ?? 20) + 0.05, by: 0.005).map { $0 }
        var f = [Double](repeating: 0, count: grid.count), f2 = f, compton = f
        for (i, q) in grid.enumerated() {
            let twoTheta = 2 * asin(min(1, q * lambda / (4 * .pi)))
            let bd = pow(1 + 0.02426310238 / lambda * (1 - cos(twoTheta)), -2)
            for (k, e) in comp.elements.enumerated() {
                let v = tables.formFactor(e, q: q, source: .hubbell1979)
                f[i] += comp.fractions[k] * v
                f2[i] += comp.fractions[k] * v * v
                compton[i] += comp.fractions[k] * tables.incoherent(tables.atomicNumber(e)!, q: q) * bd
            }
        }
        func background(_ q: Double) -> Double { 300 + 900 * exp(-q / 2.5) + 150 * exp(-pow((q - 3.1) / 0.8, 2)) }
        var rng = SplitMix(seed: seed)
        let centre = geometry.fit2d
        let n = geometry.width * geometry.height
        /// `sharp` is evaluated at each pixel's own Q (narrow rings); `intensity` on the grid.
        func image(intensity: (Double) -> Double, sharp: ((Double) -> Double)? = nil, spots: Int) -> [Float] {
            var pixels = [Float](repeating: 0, count: n)
            for i in 0 ..< n {
                let q = maps.radial[i]
                let k = min(grid.count - 2, Int(q / 0.005))
                let mean = (intensity(grid[k]) + (sharp?(q) ?? 0)) * Double(maps.solidAngle![i] * maps.polarization![i])
                let x = Double(i % geometry.width) + 0.5 - centre.centerX, y = Double(i / geometry.width) + 0.5 - centre.centerY
                let shaded = (x * x + y * y < 100 || (abs(y) < 3 && x > 0)) ? 0.02 : 1.0  // beam stop and arm
                pixels[i] = Float(rng.poisson(mean * shaded))
            }
            for _ in 0 ..< spots {
                let sx = Int.random(in: 10 ..< geometry.width - 10, using: &rng), sy = Int.random(in: 10 ..< geometry.height - 10, using: &rng)
                for dy in -4 ... 4 { for dx in -4 ... 4 {
                    pixels[(sy + dy) * geometry.width + sx + dx] += Float(40000 * exp(-Double(dx * dx + dy * dy) / 4))
                } }
            }
            return pixels
        }
        func save(_ name: String, _ pixels: [Float]) throws {
            let frame = Frame(id: FrameID(path: name, index: 0), width: geometry.width, height: geometry.height, pixels: pixels,
                              pixelType: .uint32, metadata: ImageMetadata(wavelength: lambda, distance: geometry.distance,
                                                                          pixelSizeX: geometry.pixel2, pixelSizeY: geometry.pixel1, exposureTime: 60))
            if hdf5 {
                try HDF5Writer.write(frames: [pixels], width: geometry.width, height: geometry.height, to: directory + "/images/\(name).h5", metadata: frame.metadata)
            } else {
                try MAR345Writer.write(frame, to: directory + "/images/\(name).mar\(geometry.width)")
            }
        }
        let calibrant = try RingSimulator.image(geometry: geometry, calibrant: try Calibrant.named("CeO2"), ringWidthDegrees: 0.05, seed: seed)
        try save("CeO2", calibrant.pixels)
        try save("empty_cell", image(intensity: background, spots: 6))
        let ruby = try RubyCalibration(calibrationDirectory: calibrationDirectory)
        let shen = try ruby.scale("shen2020")
        let goldScale = try gold ? StandardMaterial.load("Au", calibrationDirectory: calibrationDirectory).scale("fei2007bm3") : nil
        let goldReflections = try gold ? StandardMaterial.load("Au", calibrationDirectory: calibrationDirectory).reflections() : []
        var points: [Point] = []
        for t in temperatures {
            for (k, p) in pressures.enumerated() {
                let name = String(format: "glass_%.0fK_%02d", t, k)
                let q1 = self.q1(pressure: p, temperature: t)
                // Gold rings: Gaussian in Q, as narrow as the pixels allow (FWHM 0.012 Å⁻¹ or 1.2 pixels),
                // the same area whatever the width, strength by multiplicity, fading with Q.
                let goldLattice = try goldScale.map { cbrt(try $0.volume(pressure: p, temperature: t)) }
                let rings = goldLattice.map { a in goldReflections.map { reflection -> (Double, Double, Double) in
                    let q = 2 * .pi * Double(reflection.m).squareRoot() / a
                    let twoTheta = 2 * asin(min(1, q * lambda / (4 * .pi)))
                    let perPixel = 2 * .pi / lambda * cos(twoTheta / 2) * pow(cos(twoTheta), 2) * geometry.pixel1 / geometry.distance
                    return (q, Double(Self.multiplicity(reflection.h, reflection.k, reflection.l)), max(0.012, 1.2 * perPixel) / 2.3548)
                } } ?? []
                let pixels = image(intensity: { q in
                    let i = min(grid.count - 1, Int(q / 0.005))
                    return 2.5 * (f2[i] + f[i] * f[i] * (self.structureFactor(q, q1: q1) - 1) + compton[i]) + self.backgroundScale * background(q)
                }, sharp: rings.isEmpty ? nil : { q in
                    var v = 0.0
                    for (centre, m, width) in rings where abs(q - centre) < 6 * width {
                        v += 60 * m * 0.0051 / width * exp(-0.5 * pow((q - centre) / width, 2)) * exp(-q / 6)
                    }
                    return v
                }, spots: 8)
                try save(name, pixels)
                // Ruby R1: invert the scale at 296 K, add the temperature shift.
                let r1 = try RootFinding.brent({ shen.pressure(lambda: $0, lambda0: ruby.lambda0) - p }, 690, 760).map { $0 + (try ruby.temperatureShift.shift(temperature: t)) } ?? 0
                var text = "# Spectrometer export (simulated by beamline)\n# Temperature of cell (K): \(Int(t))\nWavelength (nm)\tIntensity (counts)\n"
                var x = r1 - 10
                while x < r1 + 8 {
                    let v = 300 + 20000 * PeakProfile.pseudoVoigt(x, centre: r1, fwhm: 0.4, eta: 0.6)
                        + 11000 * PeakProfile.pseudoVoigt(x, centre: r1 - 1.47, fwhm: 0.4, eta: 0.6)
                    text += String(format: "%.4f\t%d\n", x, rng.poisson(v))
                    x += 0.022
                }
                try AtomicFile.write(text, to: directory + "/ruby/\(name).txt")
                points.append(Point(name: name, temperature: t, pressure: p, q1: q1, rubyR1: r1, goldLattice: goldLattice))
            }
        }
        try PoniFile.write(geometry, to: directory + "/geometry.poni", comments: ["true geometry of the simulated run"])
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.prettyPrinted, .sortedKeys]
        struct Truth: Codable {
            var composition: String
            var background_scale: Double
            var wavelength_A: Double
            var step_pressure_GPa: Double
            var smooth_pressure_GPa: Double
            var points: [Point]
        }
        try AtomicFile.write(try encoder.encode(Truth(composition: composition, background_scale: backgroundScale, wavelength_A: lambda,
                                                      step_pressure_GPa: stepPressure, smooth_pressure_GPa: smoothPressure, points: points)), to: directory + "/truth.json")
        return points
    }

    /// Number of cubic reflections equivalent to (h k l): its distinct signed permutations.
    static func multiplicity(_ h: Int, _ k: Int, _ l: Int) -> Int {
        var seen = Set<[Int]>()
        for p in [[h, k, l], [h, l, k], [k, h, l], [k, l, h], [l, h, k], [l, k, h]] {
            for signs in 0 ..< 8 {
                seen.insert([p[0] * (signs & 1 == 0 ? 1 : -1), p[1] * (signs & 2 == 0 ? 1 : -1), p[2] * (signs & 4 == 0 ? 1 : -1)])
            }
        }
        return seen.count
    }
}
