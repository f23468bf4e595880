import BeamlineSupport
import DetectorImage
import Foundation
import PatternIO

/// Provenance written at the top of every integrated pattern, as `key=value` words
/// that later stages (and people) read back.
public struct IntegrationProvenance: Sendable {
    public var program: String
    public var source: FrameID
    public var frameCount: Int
    public var poniPath: String?
    public var maskDescription: String
    public var darkPath: String?
    public var flatPath: String?
    public var normalization: Double
    public var dummy: Float?
    public var sigmaClip: SigmaClip?

    public init(program: String, source: FrameID, frameCount: Int, poniPath: String?, maskDescription: String,
                darkPath: String?, flatPath: String?, normalization: Double, dummy: Float?, sigmaClip: SigmaClip?) {
        self.program = program
        self.source = source
        self.frameCount = frameCount
        self.poniPath = poniPath
        self.maskDescription = maskDescription
        self.darkPath = darkPath
        self.flatPath = flatPath
        self.normalization = normalization
        self.dummy = dummy
        self.sigmaClip = sigmaClip
    }

    /// Header lines (without `#`).
    public func headerLines(engine: IntegrationEngine) -> [String] {
        let g = engine.geometry, s = engine.settings
        let f = g.fit2d
        func number(_ v: Double) -> String { String(format: "%.10g", v) }
        let range = s.radialRange.map { "\(number($0.lowerBound)),\(number($0.upperBound))" } ?? "auto"
        let azimuth = s.azimuthRange.map { "\(number($0.lowerBound)),\(number($0.upperBound))" } ?? "all"
        return [
            "\(program) integrate",
            "source=\(source.path) frame=\(source.index) frames_in_file=\(frameCount)",
            "geometry: poni=\(poniPath ?? "given") distance_m=\(number(g.distance)) poni1_m=\(number(g.poni1)) poni2_m=\(number(g.poni2)) rot1_rad=\(number(g.rot1)) rot2_rad=\(number(g.rot2)) rot3_rad=\(number(g.rot3)) pixel1_m=\(number(g.pixel1)) pixel2_m=\(number(g.pixel2)) shape=\(g.height)x\(g.width) wavelength_A=\(g.wavelengthAngstrom.map(number) ?? "unknown")",
            "fit2d: direct_distance_mm=\(number(f.directDistance)) center_x_px=\(number(f.centerX)) center_y_px=\(number(f.centerY)) tilt_deg=\(number(f.tilt)) tilt_plane_rotation_deg=\(number(f.tiltPlaneRotation))",
            "corrections: solid_angle=\(s.solidAngle) polarization_factor=\(s.polarizationFactor.map(number) ?? "none") polarization_offset_rad=\(number(s.polarizationAxisOffset)) dark=\(darkPath ?? "none") flat=\(flatPath ?? "none") mask=\(maskDescription) dummy=\(dummy.map { "\($0)" } ?? "none") normalization=\(number(normalization))",
            "method: split=\(s.method.rawValue) bins=\(s.bins) unit=\(s.unit.rawValue) radial_range=\(range) azimuth_range_deg=\(azimuth) error_model=\(s.errorModel.rawValue) sigma_clip=\(sigmaClip.map { "\(number($0.threshold)),iterations=\($0.maxIterations)" } ?? "none")",
            "bins with no unmasked pixel are omitted",
        ]
    }
}

/// Writes integration results in the formats beamline scientists read.
public enum IntegrationOutput {
    /// The 1D pattern of a result, without empty bins.
    public static func pattern(_ result: IntegrationResult, header: [String]) -> Pattern {
        var x: [Double] = [], y: [Double] = [], s: [Double] = []
        for i in 0 ..< result.radial.count where result.count[i] > 0 {
            x.append(result.radial[i])
            y.append(result.intensity[i])
            s.append(result.sigma[i])
        }
        return Pattern(unit: result.unit.rawValue, x: x, intensity: y, sigma: s, header: header)
    }

    public static func writeXY(_ result: IntegrationResult, header: [String], to path: String) throws {
        try PatternFile.writeXY(pattern(result, header: header), to: path, columns: "\(result.unit.rawValue) I sigma")
    }

    public static func writeCHI(_ result: IntegrationResult, header: [String], to path: String) throws {
        let title = header.joined(separator: "; ")
        try PatternFile.writeCHI(pattern(result, header: header), to: path, title: title, xTitle: result.unit.fit2dTitle)
    }

    public enum CakeFormat: String, Sendable, CaseIterable {
        case edf, tiff
    }

    /// Writes a 2D cake (rows = azimuth, columns = radial) as float32 EDF or TIFF, plus a
    /// sidecar `<path>.axes.txt` with the radial centres then the azimuth centres.
    public static func writeCake(_ result: IntegrationResult, header: [String], to path: String, format: CakeFormat) throws {
        let width = result.radial.count, height = result.azimuth.count
        let pixels = (0 ..< width * height).map { result.count[$0] > 0 ? Float(result.intensity[$0]) : 0 }
        let unit = result.unit.rawValue
        let radialStep = width > 1 ? result.radial[1] - result.radial[0] : 0
        let azimuthStep = height > 1 ? result.azimuth[1] - result.azimuth[0] : 0
        switch format {
        case .edf:
            try EDFWriter.write(pixels, width: width, height: height, to: path, extraHeader: [
                HeaderEntry("radial_unit", unit),
                HeaderEntry("radial_first", String(format: "%.10g", result.radial.first ?? 0)),
                HeaderEntry("radial_step", String(format: "%.10g", radialStep)),
                HeaderEntry("azimuth_first_deg", String(format: "%.10g", result.azimuth.first ?? 0)),
                HeaderEntry("azimuth_step_deg", String(format: "%.10g", azimuthStep)),
                HeaderEntry("provenance", header.joined(separator: " | ")),
            ])
        case .tiff:
            try TIFFWriter.write(pixels, width: width, height: height, to: path, as: .float32,
                                 description: header.joined(separator: "\n"))
        }
        var axes = "# \(header.first ?? "cake"): first \(width) values radial centres (\(unit)), then \(height) azimuth centres (deg)\n"
        for r in result.radial { axes += String(format: "%.9e\n", r) }
        for a in result.azimuth { axes += String(format: "%.9e\n", a) }
        try AtomicFile.write(axes, to: path + ".axes.txt")
    }
}
