import BeamlineNumerics
import BeamlineSupport
import Foundation

/// A fluorescence spectrum: intensity against wavelength (nm).
public struct Spectrum: Sendable {
    public var path: String
    public var wavelength: [Double]
    public var counts: [Double]
    /// Temperature stated in the export's header, if any (K).
    public var headerTemperature: Double?

    /// Reads a spectrometer export: two columns (wavelength in nm, counts), separated by
    /// tabs, commas, semicolons or spaces, after any comment or header lines. A header line that
    /// names a temperature ("# Temperature of cell (K): 293") gives `headerTemperature`: the first
    /// word after its last ':' or '='.
    public init(path: String) throws {
        let data = try InputFile.contents(of: path)
        self.path = path
        var x: [Double] = [], y: [Double] = []
        var temperature: Double?
        // Bytes, not Characters: Foundation's trimming and case folding cost more than the
        // numbers on a spectrum of a few thousand lines.
        try data.withUnsafeBytes { (raw: UnsafeRawBufferPointer) in
            let bytes = raw.bindMemory(to: UInt8.self)
            for line in bytes.split(omittingEmptySubsequences: true, whereSeparator: Spectrum.isLineBreak) {
                let trimmed = Spectrum.trimmed(line)
                if Spectrum.mentionsTemperature(trimmed),
                   let value = trimmed.split(whereSeparator: { $0 == UInt8(ascii: ":") || $0 == UInt8(ascii: "=") })
                    .last.flatMap({ Spectrum.trimmed($0).split(separator: UInt8(ascii: " ")).first })
                    .flatMap(Spectrum.number) {
                    temperature = value
                }
                let fields = trimmed.split(whereSeparator: Spectrum.isFieldSeparator)
                guard fields.count >= 2, let a = Spectrum.number(fields[0]), let b = Spectrum.number(fields[1]) else {
                    continue
                }
                guard a.isFinite, b.isFinite else {
                    let text = String(decoding: trimmed, as: UTF8.self)
                    throw BeamlineError(path: path, "a data line is not finite: \"\(text)\"")
                }
                x.append(a)
                y.append(b)
            }
        }
        guard x.count >= 20 else {
            throw BeamlineError(path: path, "holds \(x.count) data points; a spectrum needs at least 20")
        }
        // Sort by wavelength (some exports run downwards).
        let order = x.indices.sorted { x[$0] < x[$1] }
        wavelength = order.map { x[$0] }
        counts = order.map { y[$0] }
        headerTemperature = temperature
        guard wavelength.first! > 200, wavelength.last! < 2000 else {
            throw BeamlineError(path: path, "the first column does not look like wavelengths in nm "
                                + "(\(wavelength.first!)…\(wavelength.last!))")
        }
    }

    private typealias Bytes = Slice<UnsafeBufferPointer<UInt8>>

    /// Line feed, carriage return, vertical tab, form feed.
    private static func isLineBreak(_ byte: UInt8) -> Bool { byte >= 0x0A && byte <= 0x0D }

    private static func isFieldSeparator(_ byte: UInt8) -> Bool {
        byte == UInt8(ascii: "\t") || byte == UInt8(ascii: ",") || byte == UInt8(ascii: ";")
            || byte == UInt8(ascii: " ")
    }

    /// Without leading and trailing spaces and tabs.
    private static func trimmed(_ bytes: Bytes) -> Bytes {
        let blank = { (byte: UInt8) in byte == UInt8(ascii: " ") || byte == UInt8(ascii: "\t") }
        guard let first = bytes.firstIndex(where: { !blank($0) }) else { return bytes[bytes.endIndex...] }
        let last = bytes.lastIndex(where: { !blank($0) })!
        return bytes[first...last]
    }

    /// Whether "temperature" appears in the line, in any ASCII case.
    private static func mentionsTemperature(_ line: Bytes) -> Bool {
        let word = Array("temperature".utf8)
        guard line.count >= word.count else { return false }
        var start = line.startIndex
        while start + word.count <= line.endIndex {
            var index = 0
            // ASCII letters fold to lower case with bit 5 set.
            while index < word.count, line[start + index] | 0x20 == word[index] { index += 1 }
            if index == word.count { return true }
            start += 1
        }
        return false
    }

    /// The field as a Double (Swift's parser: decimal, exponent, "inf", "nan"), nil when it is not one.
    private static func number(_ field: Bytes) -> Double? {
        guard !field.isEmpty else { return nil }
        return Double(String(decoding: field, as: UTF8.self))
    }

    public init(path: String, wavelength: [Double], counts: [Double], headerTemperature: Double? = nil) {
        self.path = path
        self.wavelength = wavelength
        self.counts = counts
        self.headerTemperature = headerTemperature
    }
}

/// The R1–R2 doublet fitted by least squares: two pseudo-Voigt peaks on a linear (or
/// quadratic) background, weighted by Poisson counting statistics.
public struct RubyFit: Sendable {
    public var r1: Double, r1Sigma: Double
    public var r2: Double, r2Sigma: Double
    public var r1FWHM: Double, r2FWHM: Double
    public var r1Amplitude: Double, r2Amplitude: Double
    public var eta: Double
    public var reducedChiSquare: Double
    public var converged: Bool
    /// R2 was found where it should be (about 1.4 nm below R1, weaker than R1).
    public var doubletFound: Bool
    /// Signal to noise of R1 (amplitude over the background's Poisson noise).
    public var signalToNoise: Double
    public var window: ClosedRange<Double>

    public static func fit(_ spectrum: Spectrum, quadraticBackground: Bool = false) throws -> RubyFit {
        let x = spectrum.wavelength, y = spectrum.counts
        guard let peak = y.indices.max(by: { y[$0] < y[$1] }) else { throw BeamlineError(path: spectrum.path, "empty spectrum") }
        // Background and noise from the lowest quarter of the counts.
        let sorted = y.sorted()
        let floor = sorted[sorted.count / 4]
        let noise = max(floor, 1).squareRoot()
        let height = y[peak] - floor
        let snr = height / noise
        guard snr > 8 else {
            throw BeamlineError(path: spectrum.path, String(format: "no ruby peak: the highest point is %.1f counts above a background of %.0f (signal/noise %.1f)", height, floor, snr))
        }
        let centre = x[peak]
        let lo = max(x.first!, centre - 4.5), hi = min(x.last!, centre + 3.5)
        let indices = x.indices.filter { x[$0] >= lo && x[$0] <= hi }
        guard indices.count >= 15 else { throw BeamlineError(path: spectrum.path, "too few points around the peak at \(centre) nm") }
        let xs = indices.map { x[$0] }, ys = indices.map { y[$0] }
        let weights = ys.map { 1 / max($0, 1).squareRoot() }
        // Half width from the points above half maximum.
        let half = floor + height / 2
        let above = xs.indices.filter { ys[$0] >= half }
        let width = max(0.05, min(2.0, (xs[above.last!] - xs[above.first!]) * 0.7))
        // R2: the highest point 0.9–2.2 nm below R1.
        let r2Candidates = xs.indices.filter { xs[$0] < centre - 0.9 && xs[$0] > centre - 2.2 }
        let r2Guess = r2Candidates.max(by: { ys[$0] < ys[$1] }).map { xs[$0] } ?? centre - 1.45
        let r2Height = r2Candidates.map { ys[$0] - floor }.max() ?? height / 2
        let xc = centre
        // Parameters: c1, w1, A1, c2, w2, A2, eta, b0, b1, (b2)
        var initial = [centre, width, height, r2Guess, width, max(r2Height, height * 0.1), 0.5, floor, 0]
        var lower: [Double] = [centre - 1, 0.01, 0, centre - 2.6, 0.01, 0, 0, -Double.infinity, -Double.infinity]
        var upper: [Double] = [centre + 1, 5, height * 3, centre - 0.6, 5, height * 3, 1, Double.infinity, Double.infinity]
        if quadraticBackground {
            initial.append(0)
            lower.append(-Double.infinity)
            upper.append(Double.infinity)
        }
        func model(_ p: [Double], _ t: Double) -> Double {
            let d = t - xc
            var background = p[7] + p[8] * d
            if p.count > 9 { background += p[9] * d * d }
            return background + p[2] * PeakProfile.pseudoVoigt(t, centre: p[0], fwhm: p[1], eta: p[6])
                + p[5] * PeakProfile.pseudoVoigt(t, centre: p[3], fwhm: p[4], eta: p[6])
        }
        let solver = LevenbergMarquardt(maxIterations: 300, lower: lower, upper: upper)
        let result = solver.fit(initial) { p in xs.indices.map { (ys[$0] - model(p, xs[$0])) * weights[$0] } }
        let p = result.parameters
        guard result.converged, p.allSatisfy(\.isFinite), result.uncertainties[0].isFinite else {
            throw BeamlineError(path: spectrum.path, "the R1-R2 fit did not converge (\(result.iterations) iterations, reduced chi-square \(result.reducedChiSquare))")
        }
        let doublet = p[5] > 5 * noise && p[5] < p[2] * 1.2 && p[0] - p[3] > 0.8 && p[0] - p[3] < 2.4
        return RubyFit(r1: p[0], r1Sigma: result.uncertainties[0], r2: p[3], r2Sigma: result.uncertainties[3],
                       r1FWHM: p[1], r2FWHM: p[4], r1Amplitude: p[2], r2Amplitude: p[5], eta: p[6],
                       reducedChiSquare: result.reducedChiSquare, converged: result.converged, doubletFound: doublet,
                       signalToNoise: snr, window: lo ... hi)
    }
}

/// A published ruby pressure scale with the Datchi et al. (2007) temperature correction.
public struct RubyScale: Sendable {
    public enum Form: String, Sendable {
        /// P = A/B [(λ/λ0)^B − 1]
        case power
        /// P = A (Δλ/λ0)(1 + B Δλ/λ0)
        case quadratic
    }

    public var name: String
    public var reference: String
    public var form: Form
    public var a: Double
    public var b: Double
    public var range: ClosedRange<Double>

    /// Pressure (GPa) for an R1 wavelength already brought back to 296 K.
    public func pressure(lambda: Double, lambda0: Double) -> Double {
        switch form {
        case .power: return a / b * (pow(lambda / lambda0, b) - 1)
        case .quadratic:
            let x = (lambda - lambda0) / lambda0
            return a * x * (1 + b * x)
        }
    }

    /// dP/dλ, GPa per nm.
    public func slope(lambda: Double, lambda0: Double) -> Double {
        switch form {
        case .power: return a / lambda0 * pow(lambda / lambda0, b - 1)
        case .quadratic:
            let x = (lambda - lambda0) / lambda0
            return a / lambda0 * (1 + 2 * b * x)
        }
    }
}

/// The R1 shift with temperature at ambient pressure (Datchi et al. 2007).
public struct RubyTemperatureShift: Sendable {
    public var coefficients: [Double]
    public var range: ClosedRange<Double>
    public var extrapolateBelow: Double
    public var reference: String

    /// λ0(T) − λ0(296 K), nm.
    public func shift(temperature t: Double) throws -> Double {
        guard t >= extrapolateBelow, t <= range.upperBound else {
            throw BeamlineError(String(format: "temperature %.1f K is outside the range of the ruby temperature correction (%.0f-%.0f K; Datchi et al. 2007)", t, extrapolateBelow, range.upperBound))
        }
        let d = t - 296
        return coefficients[0] * d + coefficients[1] * d * d + coefficients[2] * d * d * d
    }
}

/// The ruby tables of `calibration/ruby/scales.txt`.
public struct RubyCalibration: Sendable {
    public var lambda0: Double
    public var scales: [String: RubyScale]
    public var temperatureShift: RubyTemperatureShift

    public init(calibrationDirectory: String) throws {
        let path = calibrationDirectory + "/ruby/scales.txt"
        let table = try CalibrationTable(path: path)
        lambda0 = try table.section("defaults")?.number("lambda0_nm", path: path) ?? 694.25
        var scales: [String: RubyScale] = [:]
        for section in table.sections where section.string("form") != nil {
            guard let form = RubyScale.Form(rawValue: section.string("form")!) else {
                throw BeamlineError(path: path, "[\(section.name)] unknown form")
            }
            let range = (section.string("range_gpa") ?? "0, 1000").split(separator: ",").compactMap { Double($0.trimmingCharacters(in: .whitespaces)) }
            scales[section.name] = RubyScale(name: section.name, reference: section.string("reference") ?? "", form: form,
                                             a: try section.number("a", path: path), b: try section.number("b", path: path),
                                             range: range[0] ... range[1])
        }
        self.scales = scales
        guard let datchi = table.section("datchi2007") else { throw BeamlineError(path: path, "no [datchi2007] section") }
        let range = (datchi.string("range_k") ?? "296, 900").split(separator: ",").compactMap { Double($0.trimmingCharacters(in: .whitespaces)) }
        temperatureShift = RubyTemperatureShift(
            coefficients: [try datchi.number("c1", path: path), try datchi.number("c2", path: path), try datchi.number("c3", path: path)],
            range: range[0] ... range[1], extrapolateBelow: try datchi.optionalNumber("extrapolate_below_k", path: path) ?? range[0],
            reference: datchi.string("reference") ?? "")
    }

    public func scale(_ name: String) throws -> RubyScale {
        guard let s = scales[name.lowercased()] else {
            throw BeamlineError("unknown ruby scale \"\(name)\"; known: \(scales.keys.sorted().joined(separator: ", "))")
        }
        return s
    }

    public struct Pressure: Sendable {
        public var pressure: Double
        public var sigma: Double
        /// R1 brought back to 296 K.
        public var correctedLambda: Double
        public var temperatureShift: Double
    }

    /// Pressure from an R1 wavelength measured at temperature `t`.
    public func pressure(r1: Double, r1Sigma: Double, temperature t: Double, scale: RubyScale, lambda0: Double? = nil) throws -> Pressure {
        let l0 = lambda0 ?? self.lambda0
        let shift = try temperatureShift.shift(temperature: t)
        let corrected = r1 - shift
        let p = scale.pressure(lambda: corrected, lambda0: l0)
        guard p >= scale.range.lowerBound - 0.5, p <= scale.range.upperBound else {
            throw BeamlineError(String(format: "R1 = %.3f nm gives %.2f GPa, outside the %@ scale's range (%.0f-%.0f GPa)", r1, p, scale.name, scale.range.lowerBound, scale.range.upperBound))
        }
        return Pressure(pressure: p, sigma: abs(scale.slope(lambda: corrected, lambda0: l0)) * r1Sigma,
                        correctedLambda: corrected, temperatureShift: shift)
    }
}
