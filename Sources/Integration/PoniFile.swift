import BeamlineSupport
import Foundation

/// pyFAI's .poni geometry files (versions 1, 2 and 2.1), read and written so that
/// geometries move freely between beamline, pyFAI and Dioptas.
///
/// Version 1 gives `PixelSize1`/`PixelSize2`; versions 2 and later give a detector
/// name and a JSON `Detector_config` (pixel1, pixel2, max_shape, orientation). All
/// lengths are metres, angles radians.
public enum PoniFile {
    /// Pixel sizes (m) and shapes (rows, columns) of detectors that .poni files name
    /// without a configuration (from the manufacturers' data sheets, as in pyFAI).
    static let namedDetectors: [String: (pixel: Double, rows: Int, columns: Int)] = [
        "pilatus100k": (172e-6, 195, 487), "pilatus200k": (172e-6, 407, 487), "pilatus300k": (172e-6, 619, 487),
        "pilatus300kw": (172e-6, 195, 1475), "pilatus1m": (172e-6, 1043, 981), "pilatus2m": (172e-6, 1679, 1475),
        "pilatus6m": (172e-6, 2527, 2463), "eiger500k": (75e-6, 514, 1030), "eiger1m": (75e-6, 1065, 1030),
        "eiger4m": (75e-6, 2167, 2070), "eiger9m": (75e-6, 3269, 3110), "eiger16m": (75e-6, 4371, 4150),
        "eiger2_4m": (75e-6, 2162, 2068), "eiger2_9m": (75e-6, 3262, 3108), "eiger2_16m": (75e-6, 4362, 4148),
        "perkin": (200e-6, 2048, 2048), "perkinelmer1621": (200e-6, 2048, 2048), "mar345": (100e-6, 3450, 3450),
        "mar3450": (100e-6, 3450, 3450), "mar2300": (150e-6, 2300, 2300), "mar165": (79e-6, 2048, 2048),
        "pilatus4_1m": (150e-6, 1080, 1033), "pilatus4_4m": (150e-6, 2180, 2073),
    ]

    public static func read(_ path: String) throws -> DetectorGeometry {
        try parse(try InputFile.text(of: path), path: path)
    }

    public static func parse(_ text: String, path: String? = nil) throws -> DetectorGeometry {
        var values: [String: String] = [:]
        for line in text.split(whereSeparator: \.isNewline) {
            let trimmed = line.trimmingCharacters(in: .whitespaces)
            if trimmed.isEmpty || trimmed.hasPrefix("#") { continue }
            guard let colon = trimmed.firstIndex(of: ":") else { continue }
            values[trimmed[..<colon].trimmingCharacters(in: .whitespaces).lowercased()] =
                trimmed[trimmed.index(after: colon)...].trimmingCharacters(in: .whitespaces)
        }
        func number(_ key: String, required: Bool = true, default value: Double = 0) throws -> Double {
            guard let text = values[key.lowercased()] else {
                if required { throw BeamlineError(path: path, "not a .poni file: no \"\(key):\" line") }
                return value
            }
            guard let v = Double(text), v.isFinite else {
                throw BeamlineError(path: path, "\(key) is not a number: \"\(text)\"")
            }
            return v
        }
        var pixel1 = 0.0, pixel2 = 0.0, rows = 0, columns = 0, orientation = 3
        if let config = values["detector_config"], config != "{}", !config.isEmpty {
            guard let json = try? JSONSerialization.jsonObject(with: Data(config.utf8)) as? [String: Any] else {
                throw BeamlineError(path: path, "Detector_config is not valid JSON: \(config)")
            }
            pixel1 = (json["pixel1"] as? NSNumber)?.doubleValue ?? 0
            pixel2 = (json["pixel2"] as? NSNumber)?.doubleValue ?? 0
            if let shape = json["max_shape"] as? [NSNumber], shape.count == 2 {
                rows = shape[0].intValue
                columns = shape[1].intValue
            }
            orientation = (json["orientation"] as? NSNumber)?.intValue ?? 3
            if orientation == 0 { orientation = 3 }
        }
        if pixel1 == 0 { pixel1 = try number("PixelSize1", required: false) }
        if pixel2 == 0 { pixel2 = try number("PixelSize2", required: false) }
        if let name = values["detector"]?.lowercased().replacingOccurrences(of: " ", with: ""),
           let known = namedDetectors[name] {
            if pixel1 == 0 { pixel1 = known.pixel }
            if pixel2 == 0 { pixel2 = known.pixel }
            if rows == 0 { rows = known.rows; columns = known.columns }
        }
        if let shape = values["maxshape"] ?? values["max_shape"] {
            let numbers = shape.split(whereSeparator: { !$0.isNumber }).compactMap { Int($0) }
            if numbers.count == 2 { rows = numbers[0]; columns = numbers[1] }
        }
        guard pixel1 > 0, pixel2 > 0 else {
            throw BeamlineError(path: path, "no pixel size: give Detector_config {\"pixel1\": …, \"pixel2\": …} or PixelSize1/PixelSize2")
        }
        let wavelength = try number("Wavelength", required: false, default: .nan)
        let geometry = DetectorGeometry(
            distance: try number("Distance"), poni1: try number("Poni1"), poni2: try number("Poni2"),
            rot1: try number("Rot1", required: false), rot2: try number("Rot2", required: false),
            rot3: try number("Rot3", required: false), pixel1: pixel1, pixel2: pixel2,
            height: rows, width: columns, wavelength: wavelength.isNaN ? nil : wavelength, orientation: orientation)
        guard geometry.distance > 0 else { throw BeamlineError(path: path, "Distance must be positive") }
        return geometry
    }

    /// The text of a version 2.1 .poni file, as pyFAI writes it.
    public static func text(_ g: DetectorGeometry, comments: [String] = []) -> String {
        var lines = comments.map { "# " + $0 }
        lines += [
            "# Nota: C-Order, 1 refers to the Y axis, 2 to the X axis",
            "poni_version: 2.1",
            "Detector: Detector",
            "Detector_config: {\"pixel1\": \(g.pixel1), \"pixel2\": \(g.pixel2), \"max_shape\": [\(g.height), \(g.width)], \"orientation\": \(g.orientation)}",
            "Distance: \(g.distance)",
            "Poni1: \(g.poni1)",
            "Poni2: \(g.poni2)",
            "Rot1: \(g.rot1)",
            "Rot2: \(g.rot2)",
            "Rot3: \(g.rot3)",
        ]
        if let w = g.wavelength { lines.append("Wavelength: \(w)") }
        return lines.joined(separator: "\n") + "\n"
    }

    public static func write(_ geometry: DetectorGeometry, to path: String, comments: [String] = []) throws {
        try AtomicFile.write(text(geometry, comments: comments), to: path)
    }
}
