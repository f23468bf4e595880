import BeamlineSupport
import DetectorImage
import Foundation
import Integration

/// Synthetic calibrant images: Debye rings of a calibrant on a sloping background with
/// Poisson noise, for a given geometry. Used to test calibration on geometries the
/// real data do not cover, and by `beamline simulate`.
public enum RingSimulator {
    public static func image(geometry: DetectorGeometry, calibrant: Calibrant, ringWidthDegrees: Double = 0.04,
                             peakCounts: Double = 3000, background: Double = 200, seed: UInt64 = 1) throws -> Frame {
        let maps = try GeometryMaps(geometry: geometry, unit: .twoThetaRadians, chi: false, solidAngle: true,
                                    polarizationFactor: 0.99, corners: false)
        let lambda = geometry.wavelengthAngstrom!
        let rings = calibrant.reflections().filter { lambda / (2 * $0.d) < 1 }.map { (2 * asin(lambda / (2 * $0.d)), Double($0.multiplicity)) }
        let sigma = ringWidthDegrees * .pi / 180 / 2.3548
        var rng = SplitMix(seed: seed)
        var pixels = [Float](repeating: 0, count: maps.radial.count)
        for i in pixels.indices {
            let t = maps.radial[i]
            var v = background * (1 + 0.5 * exp(-t / 0.2))
            for (t0, m) in rings where abs(t - t0) < 6 * sigma {
                let d = (t - t0) / sigma
                v += peakCounts * min(m, 24) / 12 * exp(-0.5 * d * d) * exp(-t / 0.8)
            }
            v *= Double(maps.solidAngle![i] * maps.polarization![i])
            pixels[i] = Float(rng.poisson(v))
        }
        return Frame(id: FrameID(path: "simulated", index: 0), width: geometry.width, height: geometry.height, pixels: pixels,
                     pixelType: .uint32, metadata: ImageMetadata(wavelength: lambda, distance: geometry.distance,
                                                                  pixelSizeX: geometry.pixel2, pixelSizeY: geometry.pixel1))
    }
}

