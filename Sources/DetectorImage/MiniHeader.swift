import Foundation

/// The Dectris "mini-header" of Pilatus/Eiger CBF and TIFF files:
/// lines like `# Pixel_size 172e-6 m x 172e-6 m`, `# Wavelength 0.6199 A`.
enum MiniHeader {
    static func apply(_ text: String, to meta: inout ImageMetadata) {
        for rawLine in text.split(whereSeparator: \.isNewline) {
            var line = rawLine.trimmingCharacters(in: .whitespaces)
            guard line.hasPrefix("#") else { continue }
            line = line.dropFirst().trimmingCharacters(in: .whitespaces)
            let parts = line.split(separator: " ", maxSplits: 1).map(String.init)
            guard let key = parts.first else { continue }
            let rest = parts.count > 1 ? parts[1] : ""
            let numbers = rest.replacingOccurrences(of: "(", with: " ").replacingOccurrences(of: ")", with: " ")
                .replacingOccurrences(of: ",", with: " ").split(separator: " ").compactMap { Double($0) }
            meta.header.append(HeaderEntry(key, rest))
            switch key.lowercased() {
            case "pixel_size":
                if numbers.count >= 1 { meta.pixelSizeX = numbers[0] }
                if numbers.count >= 2 { meta.pixelSizeY = numbers[1] } else { meta.pixelSizeY = meta.pixelSizeX }
            case "wavelength": meta.wavelength = numbers.first
            case "detector_distance": meta.distance = numbers.first
            case "exposure_time": meta.exposureTime = numbers.first
            case "beam_xy":
                if numbers.count >= 2 {
                    meta.beamCenterX = numbers[0]
                    meta.beamCenterY = numbers[1]
                }
            default:
                // The date line has no key: "# 2011-02-10T10:10:10.123".
                if key.count >= 10, key.first?.isNumber == true, key.contains("-") { meta.date = line }
            }
        }
    }
}
