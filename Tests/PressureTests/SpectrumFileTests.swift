import Foundation
import Pressure
import Testing

/// The spectrometer-export reader on the layouts people's exports have: comment and header lines,
/// tabs, commas, semicolons or spaces, CRLF, a descending wavelength axis, a temperature in the header.
@Suite struct SpectrumFileTests {
    private func write(_ text: String, _ name: String) throws -> String {
        let path = NSTemporaryDirectory() + "spectrum-\(getpid())-\(name).txt"
        try text.write(toFile: path, atomically: true, encoding: .utf8)
        return path
    }

    private func rows(_ separator: String, descending: Bool = false) -> (lines: [String], x: [Double], y: [Double]) {
        var x = (0..<40).map { 690.0 + 0.025 * Double($0) }
        if descending { x.reverse() }
        let y = x.map { 300 + 5000 * exp(-pow(($0 - 690.5) / 0.2, 2)) }.map { $0.rounded() }
        return (zip(x, y).map { "\($0)\(separator)\(Int($1))" }, x, y)
    }

    @Test(arguments: ["\t", ",", ";", " ", "  \t "])
    func readsEverySeparator(_ separator: String) throws {
        let (lines, x, y) = rows(separator)
        let header = ["# Spectrometer export", "# Integration time (ms): 200", "# Temperature of cell (K): 293",
                      "Wavelength (nm)\(separator)Intensity (counts)"]
        let path = try write((header + lines).joined(separator: "\r\n") + "\r\n", "sep\(separator.utf8.first!)")
        defer { try? FileManager.default.removeItem(atPath: path) }
        let spectrum = try Spectrum(path: path)
        #expect(spectrum.wavelength == x)
        #expect(spectrum.counts == y)
        #expect(spectrum.headerTemperature == 293)
    }

    @Test func sortsDescendingExportsAndReadsTemperatureForms() throws {
        let (lines, x, y) = rows("\t", descending: true)
        let headers: [(String, Double?)] = [("  TEMPERATURE = 390.5 K", 390.5), ("temperature: 12 K:", 12.0),
                                             ("# Sample temperature (K)=  77", 77.0), ("# no such line", nil)]
        for (header, expected) in headers {
            let path = try write(([header] + lines).joined(separator: "\n"), "temperature")
            defer { try? FileManager.default.removeItem(atPath: path) }
            let spectrum = try Spectrum(path: path)
            #expect(spectrum.wavelength == x.reversed())
            #expect(spectrum.counts == y.reversed())
            #expect(spectrum.headerTemperature == expected, "\(header)")
        }
    }

    @Test func refusesNonFiniteShortAndNonWavelengthFiles() throws {
        let (lines, _, _) = rows("\t")
        let cases: [(String, String)] = [
            ((lines + ["691.5\tnan"]).joined(separator: "\n"), "not finite"),
            ((lines + ["inf\t300"]).joined(separator: "\n"), "not finite"),
            (lines.prefix(19).joined(separator: "\n"), "holds 19 data points"),
            ((0..<30).map { "\($0)\t100" }.joined(separator: "\n"), "does not look like wavelengths"),
            ("", "holds 0 data points"),
        ]
        for (index, (text, message)) in cases.enumerated() {
            let path = try write(text, "bad\(index)")
            defer { try? FileManager.default.removeItem(atPath: path) }
            let error = #expect(throws: (any Error).self) { try Spectrum(path: path) }
            #expect("\(error.map { "\($0)" } ?? "")".contains(message), "case \(index)")
            #expect("\(error.map { "\($0)" } ?? "")".contains(path), "case \(index) names the file")
        }
    }
}
