import BeamlineSupport
import DetectorImage
import Foundation
import Integration
import Testing
@testable import Calibration

enum Paths {
    static var root: URL {
        URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent()
    }
    static var shared: String? {
        let path = root.deletingLastPathComponent().appendingPathComponent("shared").path
        return FileManager.default.fileExists(atPath: path + "/README.md") ? path : nil
    }
}

struct CalibrantTests {
    /// The files in calibration/calibrants/ are exactly what the generator gives.
    @Test(arguments: Calibrant.known.map(\.name))
    func tablesMatchGenerator(name: String) throws {
        let path = Paths.root.appendingPathComponent("calibration/calibrants/\(name).txt").path
        let file = try String(contentsOfFile: path, encoding: .utf8)
        #expect(file == (try Calibrant.named(name)).tableText())
    }

    @Test func knownRings() throws {
        let ceo2 = try Calibrant.named("CeO2").reflections()
        #expect(abs(ceo2[0].d - 5.411651 / 3.0.squareRoot()) < 1e-9 && ceo2[0].multiplicity == 8)
        #expect(ceo2.prefix(5).map { $0.h * $0.h + $0.k * $0.k + $0.l * $0.l } == [3, 4, 8, 11, 12])
        let si = try Calibrant.named("Si").reflections()
        #expect(si.prefix(5).map { $0.h * $0.h + $0.k * $0.k + $0.l * $0.l } == [3, 8, 11, 16, 19])  // no 200, 222
        let lab6 = try Calibrant.named("LaB6").reflections()
        #expect(abs(lab6[0].d - 4.156826) < 1e-9 && lab6[0].multiplicity == 6)
        let corundum = try Calibrant.named("Al2O3").reflections()
        // The strongest lines of corundum: 012, 104, 110, 006, 113.
        #expect(corundum.prefix(5).map { ($0.d * 1000).rounded() / 1000 } == [3.48, 2.551, 2.38, 2.165, 2.085])
        let agbh = try Calibrant.named("AgBh").reflections(minimumD: 5)
        #expect(abs(agbh[1].d - 58.38 / 2) < 1e-9)
    }
}

struct CalibrateTests {
    struct Case: Sendable, CustomStringConvertible {
        var name: String, calibrant: String
        var rows: Int, columns: Int, pixel: Double, lambda: Double
        var distance: Double, centerX: Double, centerY: Double, tilt: Double, rotation: Double
        var description: String { name }
    }

    /// Geometries the shared data do not cover: other distances, tilts, centres off the
    /// middle, detectors, wavelengths and calibrants.
    static let cases = [
        Case(name: "MAR-like, tilted, centre off the middle", calibrant: "CeO2", rows: 2000, columns: 2000, pixel: 100e-6,
             lambda: 0.4066, distance: 300, centerX: 820.3, centerY: 1230.7, tilt: 1.2, rotation: 40),
        Case(name: "Pilatus-like, LaB6, short distance, centre near an edge", calibrant: "LaB6", rows: 1043, columns: 981, pixel: 172e-6,
             lambda: 0.7, distance: 160, centerX: 150.2, centerY: 620.4, tilt: 2.0, rotation: -110),
        Case(name: "Perkin-Elmer-like, Si, long distance, hard X-rays", calibrant: "Si", rows: 2048, columns: 2048, pixel: 200e-6,
             lambda: 0.1839, distance: 900, centerX: 1010.5, centerY: 1049.2, tilt: 0.5, rotation: 170),
    ]

    @Test(arguments: cases)
    func recoversGeometry(c: Case) throws {
        let truth = try DetectorGeometry(fit2d: FIT2DGeometry(directDistance: c.distance, centerX: c.centerX, centerY: c.centerY,
                                                              tilt: c.tilt, tiltPlaneRotation: c.rotation, pixelX: c.pixel * 1e6,
                                                              pixelY: c.pixel * 1e6, wavelength: c.lambda),
                                         height: c.rows, width: c.columns)
        let frame = try RingSimulator.image(geometry: truth, calibrant: try Calibrant.named(c.calibrant), seed: UInt64(c.distance))
        var options = Calibrator.Options(calibrant: try Calibrant.named(c.calibrant), wavelength: c.lambda, pixel1: c.pixel, pixel2: c.pixel)
        options.roughDistance = c.distance * 1e-3 * 1.15  // a rough hint, 15 % off
        let result = try Calibrator(frame: frame, options: options).run()
        let ours = result.geometry.fit2d, expected = truth.fit2d
        print("\(c.name): Δd \(ours.directDistance - expected.directDistance) mm, Δcentre (\(ours.centerX - expected.centerX), \(ours.centerY - expected.centerY)) px, Δtilt \(ours.tilt - expected.tilt)°, RMS \(result.rmsResidualDegrees)°")
        #expect(abs(result.geometry.distance / truth.distance - 1) < 5e-4)
        #expect(abs(ours.centerX - expected.centerX) < 0.3 && abs(ours.centerY - expected.centerY) < 0.3)
        #expect(abs(result.geometry.rot1 - truth.rot1) * 180 / .pi < 0.03)
        #expect(abs(result.geometry.rot2 - truth.rot2) * 180 / .pi < 0.03)
        #expect(result.rings.count >= 5)
    }

    /// The dev-run CeO2 image and the gold set's HDF5 calibrant against their true geometries.
    @Test(arguments: ["images/CeO2.mar2300", "gold/CeO2.h5"])
    func sharedCalibrants(file: String) throws {
        guard let shared = Paths.shared else {
            print("skipped: ../shared is not present (\(file))")
            return
        }
        let run = shared + "/data/dev-run/"
        let truth = try PoniFile.read(run + (file.hasPrefix("gold") ? "gold/geometry.poni" : "geometry.poni"))
        let frame = try DetectorImageFile.readFrame(run + file)
        let options = Calibrator.Options(calibrant: try Calibrant.named("CeO2"), wavelength: frame.metadata.wavelength!,
                                         pixel1: frame.metadata.pixelSizeY!, pixel2: frame.metadata.pixelSizeX!)
        let start = Date()
        let result = try Calibrator(frame: frame, options: options).run()
        let seconds = Date().timeIntervalSince(start)
        let ours = result.geometry.fit2d, expected = truth.fit2d
        print("\(file): Δd \(result.geometry.distance - truth.distance) m, Δcentre (\(ours.centerX - expected.centerX), \(ours.centerY - expected.centerY)) px, Δrot1 \((result.geometry.rot1 - truth.rot1) * 180 / .pi)°, Δrot2 \((result.geometry.rot2 - truth.rot2) * 180 / .pi)°, \(seconds) s")
        #expect(abs(result.geometry.distance / truth.distance - 1) < 5e-4)
        #expect(abs(ours.centerX - expected.centerX) < 0.3 && abs(ours.centerY - expected.centerY) < 0.3)
        #expect(abs(result.geometry.rot1 - truth.rot1) * 180 / .pi < 0.03)
        #expect(abs(result.geometry.rot2 - truth.rot2) * 180 / .pi < 0.03)
        #expect(seconds < 10)
    }

    @Test func refusesWrongCalibrantOrWavelength() throws {
        let truth = try DetectorGeometry(fit2d: FIT2DGeometry(directDistance: 250, centerX: 500, centerY: 480, tilt: 0.5, tiltPlaneRotation: 20,
                                                              pixelX: 172, pixelY: 172, wavelength: 0.5), height: 1000, width: 1000)
        let frame = try RingSimulator.image(geometry: truth, calibrant: try Calibrant.named("CeO2"))
        let wrongCalibrant = Calibrator.Options(calibrant: try Calibrant.named("Si"), wavelength: 0.5, pixel1: 172e-6, pixel2: 172e-6)
        #expect(throws: BeamlineError.self) { try Calibrator(frame: frame, options: wrongCalibrant).run() }
        let noise = Frame(id: frame.id, width: 1000, height: 1000, pixels: (0 ..< 1_000_000).map { Float($0 % 7) }, pixelType: .uint32)
        let options = Calibrator.Options(calibrant: try Calibrant.named("CeO2"), wavelength: 0.5, pixel1: 172e-6, pixel2: 172e-6)
        #expect(throws: BeamlineError.self) { try Calibrator(frame: noise, options: options).run() }
    }
}

struct MaskTests {
    @Test func shapes() {
        let c = MaskBuilder.circle(width: 100, height: 80, cx: 50, cy: 40, radius: 10)
        #expect(abs(Double(c.maskedCount) - Double.pi * 100) < 12)
        #expect(c.isMasked(x: 50, y: 40) && !c.isMasked(x: 62, y: 40))
        let r = MaskBuilder.rectangle(width: 100, height: 80, x0: 10, y0: 20, x1: 30, y1: 25)
        #expect(r.maskedCount == 20 * 5)
        let triangle = MaskBuilder.polygon(width: 100, height: 100, vertices: [(0, 0), (100, 0), (0, 100)])
        #expect(abs(Double(triangle.maskedCount) - 5000) < 110)
        let lines = MaskBuilder.lines(width: 10, height: 10, rows: [2 ... 3], columns: [7 ... 7])
        #expect(lines.maskedCount == 20 + 10 - 2)
        var dot = Mask(width: 20, height: 20)
        dot.values[10 * 20 + 10] = 1
        #expect(MaskBuilder.grow(dot, by: 2).maskedCount == 13)
    }

    /// Growing a sparse mask (spots at edges and corners, widths that are not multiples of eight,
    /// so that the eight-pixel skipping meets row ends) against the definition: every pixel within
    /// the radius of a masked one.
    @Test(arguments: [(13, 7), (16, 9), (33, 21), (1, 5), (64, 3)])
    func growIsTheDiscAroundEachMaskedPixel(width: Int, height: Int) {
        var state: UInt64 = UInt64(width * 1000 + height)
        for radius in [1, 2, 3] {
            var mask = Mask(width: width, height: height)
            for i in 0 ..< width * height {
                state = state &* 6364136223846793005 &+ 1442695040888963407
                if state >> 58 == 0 || i == 0 || i == width * height - 1 {
                    mask.values[i] = UInt8(1 + (state >> 56) % 3)
                }
            }
            let grown = MaskBuilder.grow(mask, by: radius)
            var mismatches = 0
            for y in 0 ..< height {
                for x in 0 ..< width {
                    var near = mask.values[y * width + x] != 0
                    for dy in -radius ... radius {
                        for dx in -radius ... radius where dx * dx + dy * dy <= radius * radius {
                            let nx = x + dx, ny = y + dy
                            let inside = nx >= 0 && ny >= 0 && nx < width && ny < height
                            if inside && mask.values[ny * width + nx] != 0 { near = true }
                        }
                    }
                    if (grown.values[y * width + x] != 0) != near { mismatches += 1 }
                }
            }
            #expect(mismatches == 0, "radius \(radius)")
        }
    }

    /// Spots planted on a ring image are all found, and few ring pixels are lost.
    @Test func diamondSpots() throws {
        let geometry = try DetectorGeometry(fit2d: FIT2DGeometry(directDistance: 200, centerX: 400, centerY: 380, pixelX: 150, pixelY: 150,
                                                                 wavelength: 0.4), height: 800, width: 800)
        var frame = try RingSimulator.image(geometry: geometry, calibrant: try Calibrant.named("CeO2"), ringWidthDegrees: 0.6, seed: 3)
        var rng = SplitMix(seed: 8)
        var spots: [(Int, Int)] = []
        for _ in 0 ..< 12 {
            let x = Int.random(in: 20 ..< 780, using: &rng), y = Int.random(in: 20 ..< 780, using: &rng)
            spots.append((x, y))
            for dy in -4 ... 4 { for dx in -4 ... 4 {
                frame.pixels[(y + dy) * 800 + x + dx] += Float(20000 * exp(-Double(dx * dx + dy * dy) / (2 * 1.6 * 1.6)))
            } }
        }
        let maps = try GeometryMaps(geometry: geometry, unit: .twoThetaDegrees, chi: false, solidAngle: false, polarizationFactor: nil, corners: false)
        let mask = MaskBuilder.spots(frame, radial: maps.radial, k: 6, grow: 2)
        for (x, y) in spots { #expect(mask.isMasked(x: x, y: y), "spot at (\(x), \(y)) missed") }
        #expect(Double(mask.maskedCount) / 640_000 < 0.01)
    }

    /// Every diamond spot listed in the dev-run truth is masked, and under 1 % of the rest.
    @Test func devRunSpots() throws {
        guard let shared = Paths.shared else {
            print("skipped: ../shared is not present (dev-run diamond spots)")
            return
        }
        let run = shared + "/data/dev-run/"
        let data = try Data(contentsOf: URL(fileURLWithPath: run + "truth.json"))
        let json = try JSONSerialization.jsonObject(with: data) as! [String: Any]
        let geometry = try PoniFile.read(run + "geometry.poni")
        let beamstop = try Mask(contentsOf: run + "beamstop_mask.tif")
        let maps = try GeometryMaps(geometry: geometry, unit: .twoThetaDegrees, chi: false, solidAngle: false, polarizationFactor: nil, corners: false)
        var entries = (json["samples"] as! [[String: Any]]).map { ($0["image"] as! String, $0["diamond_spots"] as! [[String: Double]]) }
        let background = json["background"] as! [String: Any]
        entries.append((background["file"] as! String, background["diamond_spots"] as! [[String: Double]]))
        for (image, truthSpots) in entries {
            let frame = try DetectorImageFile.readFrame(run + image)
            let mask = MaskBuilder.spots(frame, radial: maps.radial, k: 6, grow: 2, exclude: beamstop)
            for spot in truthSpots {
                #expect(mask.isMasked(x: Int(spot["col"]!), y: Int(spot["row"]!)), "\(image): spot at row \(spot["row"]!), col \(spot["col"]!) missed")
            }
            let open = beamstop.values.filter { $0 == 0 }.count
            #expect(Double(mask.maskedCount) / Double(open) < 0.01, "\(image): \(mask.maskedCount) pixels masked")
        }
    }
}
