import ArgumentParser
import BeamlineSupport
import Calibration
import DetectorImage
import Foundation
import Integration

struct CalibrateCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "calibrate",
        abstract: "Refine the detector geometry from a calibrant image (FIT2D CALIBRANT-like) and write a .poni file.",
        discussion: """
            Automatic from the image: finds the beam centre and distance, picks control points on \
            the calibrant's rings, and refines distance, PONI and tilts by Levenberg-Marquardt on \
            the 2θ residuals, adding rings outward. Wavelength and pixel size come from the \
            header unless given. Writes the .poni, prints PONI and FIT2D parameters with \
            uncertainties and the residual, and draws OUTPUT.svg (control points and fitted rings \
            on the image). Refuses (non-zero exit) when rings cannot be assigned or the residual \
            is too large.
            """
    )

    @Argument(help: "Calibrant image.")
    var image: String

    @Option(help: "Calibrant: \(Calibrant.known.map(\.name).joined(separator: ", ")).")
    var calibrant: String

    @Option(help: "Wavelength in Å (default: from the header).")
    var wavelength: Double?

    @Option(help: "Pixel size in µm (default: from the header).")
    var pixel: Double?

    @Option(help: "Rough sample-detector distance in mm (default: searched; the header's value is used as a hint).")
    var distance: Double?

    @Option(help: "Beam centre x,y in pixels (default: found).")
    var center: String?

    @Option(help: "Mask file (non-zero = masked).")
    var mask: String?

    @Option(help: "Parameters to hold fixed, comma-separated: distance, poni1, poni2, rot1, rot2, rot3, wavelength (default rot3,wavelength).")
    var fix = "rot3,wavelength"

    @Option(help: "Largest acceptable RMS 2θ residual, degrees.")
    var maxRms = 0.02

    @OptionGroup var hdf5: DatasetOption

    @Option(name: [.short, .customLong("output")], help: "Output .poni file.")
    var output: String

    func run() throws {
        let frame = try DetectorImageFile.readFrame(image, dataset: hdf5.dataset)
        guard let lambda = wavelength ?? frame.metadata.wavelength else {
            throw BeamlineError(path: image, "no wavelength: give --wavelength (Å); the header states none")
        }
        guard let pixelSize = pixel.map({ $0 * 1e-6 }) ?? frame.metadata.pixelSizeX else {
            throw BeamlineError(path: image, "no pixel size: give --pixel (µm); the header states none")
        }
        var options = Calibrator.Options(calibrant: try Calibrant.named(calibrant), wavelength: lambda,
                                         pixel1: frame.metadata.pixelSizeY ?? pixelSize, pixel2: pixelSize)
        if pixel != nil { options.pixel1 = pixelSize }
        options.roughDistance = distance.map { $0 * 1e-3 } ?? frame.metadata.distance
        if let center {
            let v = center.split(separator: ",").compactMap { Double($0) }
            guard v.count == 2 else { throw ValidationError("--center takes x,y") }
            options.center = (v[0], v[1])
        }
        if let mask { options.mask = try Mask(contentsOf: mask) }
        options.fixed = Set(try fix.split(separator: ",").filter { !$0.isEmpty }.map { name in
            guard let p = Calibrator.Parameter(rawValue: String(name)) else { throw ValidationError("unknown parameter \(name)") }
            return p
        })
        options.maximumRMS = maxRms
        let result: Calibrator.Result
        do {
            result = try Calibrator(frame: frame, options: options).run()
        } catch let error as BeamlineError {
            throw error.attributed(to: image)
        }
        let g = result.geometry, f = g.fit2d
        func sigma(_ p: Calibrator.Parameter, _ scale: Double) -> String {
            result.uncertainties[p].map { String(format: " ± %.2g", $0 * scale) } ?? " (fixed)"
        }
        print("\(output): \(options.calibrant.name), \(result.rings.count) rings, \(result.points.count) control points")
        print(String(format: "  RMS 2θ residual  %.5f°", result.rmsResidualDegrees))
        print(String(format: "  distance  %.4f mm%@", g.distance * 1e3, sigma(.distance, 1e3)))
        print(String(format: "  poni1     %.4f mm%@", g.poni1 * 1e3, sigma(.poni1, 1e3)))
        print(String(format: "  poni2     %.4f mm%@", g.poni2 * 1e3, sigma(.poni2, 1e3)))
        print(String(format: "  rot1      %.5f°%@", g.rot1 * 180 / .pi, sigma(.rot1, 180 / .pi)))
        print(String(format: "  rot2      %.5f°%@", g.rot2 * 180 / .pi, sigma(.rot2, 180 / .pi)))
        print(String(format: "  rot3      %.5f°%@", g.rot3 * 180 / .pi, sigma(.rot3, 180 / .pi)))
        print(String(format: "  wavelength %.6f Å%@", (g.wavelength ?? 0) * 1e10, sigma(.wavelength, 1e10)))
        print(String(format: "  FIT2D: direct distance %.4f mm, beam centre (%.3f, %.3f) px, tilt %.4f°, tilt plane rotation %.3f°",
                     f.directDistance, f.centerX, f.centerY, f.tilt, f.tiltPlaneRotation))
        let stem = URL(fileURLWithPath: output).deletingPathExtension().path
        try AtomicFile.write(picture(frame: frame, result: result), to: stem + ".svg")
        try AtomicFile.write(pointTable(result), to: stem + ".points.tsv")
        // The .poni last: it is what make waits for, so its presence means the picture and the
        // control points exist too.
        try PoniFile.write(g, to: output, comments: [
            "beamline \(Beamline.version) calibrate \(image) with \(calibrant) (\(options.calibrant.source))",
            String(format: "RMS 2theta residual %.5f deg on %d points of %d rings", result.rmsResidualDegrees, result.points.count, result.rings.count),
        ])
    }

    /// Every control point with its ring, azimuth and 2θ residual under the refined geometry.
    func pointTable(_ result: Calibrator.Result) -> String {
        let g = result.geometry
        var text = "# beamline \(Beamline.version) calibrate: control points, residual = 2θ(point) − 2θ(ring)\n"
        text += "reflection\trow\tcolumn\tchi_deg\ttwo_theta_ring_deg\tresidual_deg\n"
        for p in result.points where result.twoThetaOfRing.indices.contains(p.ring) {
            let ring = result.twoThetaOfRing[p.ring]
            text += String(format: "%d\t%.3f\t%.3f\t%.3f\t%.6f\t%.6f\n", p.ring, p.row, p.column,
                           g.chi(row: p.row, column: p.column) * 180 / .pi, ring * 180 / .pi,
                           (g.twoTheta(row: p.row, column: p.column) - ring) * 180 / .pi)
        }
        return text
    }

    /// The image (log scale) with the control points and the fitted rings.
    func picture(frame: Frame, result: Calibrator.Result) -> String {
        let preview = PNG.preview(frame.pixels, width: frame.width, height: frame.height)
        let scale = Double(preview.width) / Double(frame.width)
        let g = result.geometry, f = g.fit2d
        var svg = "<svg xmlns=\"http://www.w3.org/2000/svg\" width=\"\(preview.width)\" height=\"\(preview.height)\" viewBox=\"0 0 \(preview.width) \(preview.height)\">\n"
        svg += "<image width=\"\(preview.width)\" height=\"\(preview.height)\" href=\"data:image/png;base64,\(Data(preview.png).base64EncodedString())\"/>\n"
        for ring in result.rings {
            let target = result.twoThetaOfRing[ring]
            var path = ""
            for k in 0 ... 180 {
                let phi = 2 * .pi * Double(k) / 180
                var r = g.distance * tan(target) / g.pixel1
                for _ in 0 ..< 8 {
                    let t = g.twoTheta(row: f.centerY + r * sin(phi), column: f.centerX + r * cos(phi))
                    let t2 = g.twoTheta(row: f.centerY + (r + 1) * sin(phi), column: f.centerX + (r + 1) * cos(phi))
                    if t2 == t { break }
                    r += (target - t) / (t2 - t)
                }
                path += String(format: "%@%.1f,%.1f ", k == 0 ? "M" : "L", (f.centerX + r * cos(phi)) * scale, (f.centerY + r * sin(phi)) * scale)
            }
            svg += "<path d=\"\(path)\" fill=\"none\" stroke=\"#ff3030\" stroke-width=\"0.8\"/>\n"
        }
        for p in result.points.enumerated() where p.offset % 3 == 0 {
            svg += String(format: "<circle cx=\"%.1f\" cy=\"%.1f\" r=\"1.2\" fill=\"#30c0ff\"/>\n", p.element.column * scale, p.element.row * scale)
        }
        svg += String(format: "<text x=\"8\" y=\"18\" fill=\"#ffff60\" font-family=\"sans-serif\" font-size=\"13\">%@: %d rings, %d points, RMS %.4f°</text>\n",
                      calibrant, result.rings.count, result.points.count, result.rmsResidualDegrees)
        return svg + "</svg>\n"
    }
}
