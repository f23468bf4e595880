import BeamlineSupport
import Foundation

/// What the pressure stage writes for one sample (`NAME.pressure`) and the peak stage reads:
/// the pressure with its standard uncertainty and the temperature it was measured at, plus
/// how it was found (the fit's own numbers, kept for whoever opens the file).
public struct PressureRecord: Sendable, Equatable {
    /// Bumped when a field changes meaning; absent in files of version 1.
    public static let formatVersion = 2

    /// "ruby" or "eos".
    public var method: String
    public var source: String
    public var pressure: Double
    public var pressureSigma: Double
    public var temperature: Double?
    /// The method's own numbers (R1 position, lattice parameter, χ², ...), in order.
    public var details: [(key: String, value: String)]
    /// Provenance lines (program, scale and its reference).
    public var comments: [String]

    public init(method: String, source: String, pressure: Double, pressureSigma: Double, temperature: Double?,
                details: [(key: String, value: String)] = [], comments: [String] = []) {
        self.method = method
        self.source = source
        self.pressure = pressure
        self.pressureSigma = pressureSigma
        self.temperature = temperature
        self.details = details
        self.comments = comments
    }

    public static func == (a: PressureRecord, b: PressureRecord) -> Bool {
        a.method == b.method && a.source == b.source && a.pressure == b.pressure && a.pressureSigma == b.pressureSigma
            && a.temperature == b.temperature && a.details.map(\.key) == b.details.map(\.key)
            && a.details.map(\.value) == b.details.map(\.value) && a.comments == b.comments
    }

    static let known: Set<String> = [
        "format", "method", "source", "temperature_K", "pressure_GPa", "pressure_sigma_GPa",
    ]

    public var keyValues: KeyValueText {
        func number(_ v: Double) -> String { String(format: "%.6g", v) }
        var entries: [(key: String, value: String)] = [
            ("format", "\(Self.formatVersion)"), ("method", method), ("source", source),
        ]
        if let temperature { entries.append(("temperature_K", number(temperature))) }
        entries += details
        entries += [("pressure_GPa", number(pressure)), ("pressure_sigma_GPa", number(pressureSigma))]
        return KeyValueText(entries: entries, comments: comments)
    }

    /// Writes the record atomically.
    public func write(to path: String) throws {
        try AtomicFile.write(keyValues.text, to: path)
    }

    /// Reads a record; a file without a pressure, or with one that is not a finite number, is an error.
    public init(contentsOf path: String) throws {
        let text = try KeyValueText(contentsOf: path)
        if let format = text["format"], let version = Int(format), version > Self.formatVersion {
            throw BeamlineError(path: path,
                                "pressure record format \(version) is newer than this program's (\(Self.formatVersion))")
        }
        guard let pressure = try text.number("pressure_GPa", path: path), pressure.isFinite else {
            throw BeamlineError(path: path, "no pressure_GPa in the pressure record")
        }
        self.init(method: text["method"] ?? "", source: text["source"] ?? "", pressure: pressure,
                  pressureSigma: try text.number("pressure_sigma_GPa", path: path) ?? .nan,
                  temperature: try text.number("temperature_K", path: path),
                  details: text.entries.filter { !Self.known.contains($0.key) }, comments: text.comments)
    }
}
