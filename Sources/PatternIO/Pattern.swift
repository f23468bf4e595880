import BeamlineSupport
import Foundation

/// A one-dimensional diffraction pattern: intensity against a radial coordinate,
/// with standard uncertainties, as written by `beamline integrate`, pyFAI or FIT2D.
public struct Pattern: Sendable, Equatable {
    /// The radial coordinate's unit name (`q_A^-1`, `q_nm^-1`, `2th_deg`, `r_mm`) when known.
    public var unit: String?
    public var x: [Double]
    public var intensity: [Double]
    /// Standard uncertainty of each intensity (NaN where the file gives none).
    public var sigma: [Double]
    /// Header lines (without the comment marker), in file order.
    public var header: [String]

    public init(unit: String?, x: [Double], intensity: [Double], sigma: [Double]? = nil, header: [String] = []) {
        precondition(x.count == intensity.count, "x and intensity differ in length")
        self.unit = unit
        self.x = x
        self.intensity = intensity
        self.sigma = sigma ?? [Double](repeating: .nan, count: x.count)
        self.header = header
    }

    public var count: Int { x.count }

    /// The value of a `key=value` or `key: value` header entry.
    public func headerValue(_ key: String) -> String? {
        for line in header {
            for separator in ["=", ":"] {
                for part in line.split(separator: " ") where part.hasPrefix(key + separator) {
                    return String(part.dropFirst(key.count + 1))
                }
                if line.hasPrefix(key + separator) {
                    return line.dropFirst(key.count + 1).trimmingCharacters(in: .whitespaces)
                }
            }
        }
        return nil
    }
}

/// Reads and writes pattern files: `.xy`/`.dat` (commented header, columns x I [σ])
/// and FIT2D's `.chi` (four header lines: title, x label, y label, point count).
public enum PatternFile {
    public static func read(_ path: String) throws -> Pattern {
        // Lines as byte ranges of the file, trimmed of spaces and tabs: a pattern of a few
        // thousand points is read in well under a millisecond this way, where Swift's
        // Character-by-Character splitting took a tenth of a second.
        var bytes = try InputFile.bytes(of: path)
        bytes.append(0)  // strtod stops here at the latest
        var ranges: [Range<Int>] = []
        var lineStart = 0
        for i in 0 ..< bytes.count where bytes[i] == 0x0A || bytes[i] == 0x0D || i == bytes.count - 1 {
            var a = lineStart, b = i
            while a < b && (bytes[a] == 0x20 || bytes[a] == 0x09) { a += 1 }
            while b > a && (bytes[b - 1] == 0x20 || bytes[b - 1] == 0x09) { b -= 1 }
            if a < b { ranges.append(a ..< b) }
            lineStart = i + 1
        }
        func text(_ r: Range<Int>) -> String { String(decoding: bytes[r], as: UTF8.self) }
        var lines = ranges
        var header: [String] = []
        var unit: String?
        // FIT2D .chi: four header lines, the fourth a bare point count.
        if path.lowercased().hasSuffix(".chi"), lines.count >= 4, Int(text(lines[3])) != nil,
           text(lines[0]).first.map({ !$0.isNumber && $0 != "-" }) ?? false {
            header = lines[0 ..< 3].map(text)
            let axis = text(lines[1]).lowercased()
            if axis.contains("2-theta") || axis.contains("2theta") { unit = axis.contains("rad") ? "2th_rad" : "2th_deg" }
            else if axis.hasPrefix("q") { unit = axis.contains("nm") ? "q_nm^-1" : "q_A^-1" }
            else if axis.contains("mm") { unit = "r_mm" }
            lines.removeFirst(4)
        }
        var x: [Double] = [], y: [Double] = [], s: [Double] = []
        var hasSigma = true
        var fields: [Double?] = []
        for (number, range) in lines.enumerated() {
            let first = bytes[range.lowerBound]
            if first == UInt8(ascii: "#") || first == UInt8(ascii: "!") || first == UInt8(ascii: "%") {
                header.append(text(range).drop { $0 == "#" || $0 == "!" || $0 == "%" || $0 == " " }.description)
                continue
            }
            fields.removeAll(keepingCapacity: true)
            bytes.withUnsafeBufferPointer { buffer in
                let base = buffer.baseAddress!
                var i = range.lowerBound
                while i < range.upperBound {
                    let c = buffer[i]
                    if c == 0x20 || c == 0x09 || c == UInt8(ascii: ",") { i += 1; continue }
                    var j = i
                    while j < range.upperBound && buffer[j] != 0x20 && buffer[j] != 0x09 && buffer[j] != UInt8(ascii: ",") { j += 1 }
                    fields.append(Self.number(base + i, length: j - i))
                    i = j
                }
            }
            guard fields.count >= 2, let xv = fields[0], let yv = fields[1] else {
                let line = text(range)
                if x.isEmpty { header.append(line); continue }  // a text header without '#'
                throw BeamlineError(path: path, "line \(number + 1) is not numbers: \"\(line.prefix(60))\"")
            }
            x.append(xv)
            y.append(yv)
            if fields.count >= 3, let sv = fields[2] { s.append(sv) } else { hasSigma = false }
        }
        guard x.count >= 2 else { throw BeamlineError(path: path, "holds \(x.count) data point\(x.count == 1 ? "" : "s"); a pattern needs at least 2") }
        if let bad = x.indices.first(where: { !x[$0].isFinite || !y[$0].isFinite }) {
            throw BeamlineError(path: path, "data point \(bad + 1) is not finite (x = \(x[bad]), I = \(y[bad]))")
        }
        if unit == nil {
            for line in header {
                for candidate in ["q_A^-1", "q_nm^-1", "2th_deg", "2th_rad", "r_mm"] where line.contains(candidate) {
                    unit = candidate
                    break
                }
                if unit != nil { break }
                let lower = line.lowercased()
                if lower.contains("columns:") || lower.contains("column") {
                    if lower.contains("q (1/a)") || lower.contains("q(1/a)") || lower.contains("q (å") { unit = "q_A^-1" }
                    else if lower.contains("2theta") || lower.contains("2th") { unit = "2th_deg" }
                }
            }
        }
        return Pattern(unit: unit, x: x, intensity: y, sigma: hasSigma ? s : nil, header: header)
    }

    /// The number spelled by the `length` bytes at `start` (as `Double(String)` reads it:
    /// decimal or exponent notation, inf, nan), or nil when they are not exactly a number.
    static func number(_ start: UnsafePointer<UInt8>, length: Int) -> Double? {
        guard length > 0, length < 64 else { return nil }
        let first = start[0]
        // strtod would also skip leading white space and read hexadecimal; Double(String) does neither.
        guard first == UInt8(ascii: "-") || first == UInt8(ascii: "+") || first == UInt8(ascii: ".")
                || (first >= 0x30 && first <= 0x39) || first | 0x20 == UInt8(ascii: "i") || first | 0x20 == UInt8(ascii: "n")
        else { return nil }
        for k in 0 ..< length where start[k] | 0x20 == UInt8(ascii: "x") { return nil }
        return start.withMemoryRebound(to: CChar.self, capacity: length) { text -> Double? in
            var end: UnsafeMutablePointer<CChar>?
            let value = strtod(text, &end)
            guard let end, UnsafePointer(end) == text + length else { return nil }
            return value
        }
    }

    /// Writes `.xy`: `# ` header lines, then `x I σ` columns (numpy.loadtxt, gnuplot, Dioptas, PDFgui).
    public static func writeXY(_ p: Pattern, to path: String, columns: String) throws {
        var text = p.header.map { "# " + $0 }.joined(separator: "\n")
        text += (text.isEmpty ? "" : "\n") + "# columns: \(columns)\n"
        text.reserveCapacity(text.utf8.count + p.count * 48)
        for i in 0 ..< p.count {
            NumberColumns.appendRow(p.x[i], p.intensity[i], p.sigma[i], format: "%.9e", to: &text)
        }
        try AtomicFile.write(text, to: path)
    }

    /// Writes FIT2D `.chi`: a title line (which carries the provenance), the x and y
    /// axis titles, the number of points, then `x I σ` rows.
    public static func writeCHI(_ p: Pattern, to path: String, title: String, xTitle: String) throws {
        var text = title.replacingOccurrences(of: "\n", with: "; ") + "\n" + xTitle + "\nIntensity\n" + String(format: "%8d\n", p.count)
        for i in 0 ..< p.count {
            NumberColumns.appendRow(p.x[i], p.intensity[i], p.sigma[i], format: "%15.8e", to: &text)
        }
        try AtomicFile.write(text, to: path)
    }
}
