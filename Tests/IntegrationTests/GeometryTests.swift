import BeamlineSupport
import Foundation
import Testing
@testable import Integration

struct GeometryTests {
    /// pyFAI's per-pixel values and FIT2D conversions for four geometries (../shared).
    ///
    /// pyFAI takes pixel positions in single precision, so its angles carry errors of
    /// about 10⁻⁷ of the position (more in χ right at the beam, where positions are tiny).
    @Test func geometryVectorsFromPyFAI() throws {
        guard let shared = PyFAIReferenceTests.shared else {
            print("skipped: ../shared is not present (geometry_vectors.json)")
            return
        }
        let data = try Data(contentsOf: URL(fileURLWithPath: shared + "/data/reference/geometry_vectors.json"))
        let json = try JSONSerialization.jsonObject(with: data) as! [String: Any]
        for case_ in json["cases"] as! [[String: Any]] {
            let p = case_["poni"] as! [String: Any]
            let shape = p["shape"] as! [Int]
            let g = DetectorGeometry(distance: p["dist"] as! Double, poni1: p["poni1"] as! Double, poni2: p["poni2"] as! Double,
                                     rot1: p["rot1"] as! Double, rot2: p["rot2"] as! Double, rot3: p["rot3"] as! Double,
                                     pixel1: p["pixel1"] as! Double, pixel2: p["pixel2"] as! Double,
                                     height: shape[0], width: shape[1], wavelength: p["wavelength"] as? Double)
            for pixel in case_["pixels"] as! [[String: Any]] {
                let r = Double(pixel["row"] as! Int) + 0.5, c = Double(pixel["col"] as! Int) + 0.5
                #expect(abs(g.twoTheta(row: r, column: c) - (pixel["tth_rad"] as! Double)) < 1e-7)
                #expect(abs(g.chi(row: r, column: c) - (pixel["chi_rad"] as! Double)) < 1e-5)
                #expect(abs(g.solidAngle(row: r, column: c) - (pixel["solid_angle"] as! Double)) < 1e-7)
                let pol = DetectorGeometry.polarization(twoTheta: g.twoTheta(row: r, column: c), chi: g.chi(row: r, column: c), factor: 0.99)
                #expect(abs(pol - (pixel["polarization_0.99"] as! Double)) < 1e-6)
            }
            let f = case_["fit2d"] as! [String: Double]
            let ours = g.fit2d
            #expect(abs(ours.directDistance - f["directDist"]!) < 1e-8)
            #expect(abs(ours.centerX - f["centerX"]!) < 1e-8)
            #expect(abs(ours.centerY - f["centerY"]!) < 1e-8)
            #expect(abs(ours.tilt - f["tilt"]!) < 1e-8)
            #expect(abs(ours.tiltPlaneRotation - f["tiltPlanRotation"]!) < 1e-8)
            // And back: FIT2D → PONI gives the geometry again (rot3 is 0 in these cases).
            let back = try DetectorGeometry(fit2d: ours, height: shape[0], width: shape[1])
            #expect(abs(back.distance - g.distance) < 1e-12)
            #expect(abs(back.poni1 - g.poni1) < 1e-12)
            #expect(abs(back.poni2 - g.poni2) < 1e-12)
            #expect(abs(back.rot1 - g.rot1) < 1e-12)
            #expect(abs(back.rot2 - g.rot2) < 1e-12)
        }
    }

    @Test func poniRoundTripAndVersion1() throws {
        let g = DetectorGeometry(distance: 0.2, poni1: 0.17255, poni2: 0.17244, rot1: 0.005, rot2: -0.0035, rot3: 0.001,
                                 pixel1: 150e-6, pixel2: 150e-6, height: 2300, width: 2300, wavelength: 3.738e-11)
        let back = try PoniFile.parse(PoniFile.text(g))
        #expect(back == g)
        let v1 = """
            # Calibration done at Mon Jan 1 00:00:00 2018
            PixelSize1: 0.000172
            PixelSize2: 0.000172
            Distance: 0.18
            Poni1: 0.087
            Poni2: 0.0855
            Rot1: 0.0035
            Rot2: 0.0017
            Rot3: 0.0
            Wavelength: 6.199e-11
            """
        let old = try PoniFile.parse(v1)
        #expect(old.pixel1 == 172e-6 && old.distance == 0.18 && old.wavelength == 6.199e-11)
        #expect(old.height == 0)  // shape taken from the image later
        let named = try PoniFile.parse("poni_version: 2\nDetector: Pilatus1M\nDetector_config: {}\nDistance: 0.3\nPoni1: 0.08\nPoni2: 0.08\nRot1: 0\nRot2: 0\nRot3: 0\n")
        #expect(named.height == 1043 && named.width == 981 && named.pixel1 == 172e-6)
        #expect(throws: BeamlineError.self) { try PoniFile.parse("Distance: 0.2\nPoni1: 0.1\n") }
        #expect(throws: BeamlineError.self) { try PoniFile.parse("Detector_config: {\"pixel1\": 1e-4, \"pixel2\": 1e-4}\nDistance: abc\nPoni1: 0.1\nPoni2: 0.1\n") }
    }

    /// FIT2D → PONI → FIT2D keeps every parameter (tilted, centre off the middle).
    @Test(arguments: [(0.0, 0.0), (0.7, 35.0), (1.4, -120.0), (2.5, 170.0)])
    func fit2dRoundTrip(tilt: Double, rotation: Double) throws {
        let f = FIT2DGeometry(directDistance: 312.5, centerX: 1012.3, centerY: 1433.9, tilt: tilt, tiltPlaneRotation: rotation,
                              pixelX: 100, pixelY: 100, wavelength: 0.3738)
        let g = try DetectorGeometry(fit2d: f, height: 3450, width: 3450)
        let back = g.fit2d
        #expect(abs(back.directDistance - f.directDistance) < 1e-9)
        #expect(abs(back.centerX - f.centerX) < 1e-6)
        #expect(abs(back.centerY - f.centerY) < 1e-6)
        #expect(abs(back.tilt - f.tilt) < 1e-9)
        if tilt > 0 { #expect(abs(back.tiltPlaneRotation - f.tiltPlaneRotation) < 1e-7) }
        // The beam centre is where 2θ = 0.
        #expect(g.twoTheta(row: f.centerY, column: f.centerX) < 1e-9)
    }
}
