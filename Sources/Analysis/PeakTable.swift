import BeamlineSupport
import Foundation

/// One row of the peak table that `beamline peaks` writes and `beamline series` reads.
public struct PeakRow: Sendable, Codable {
    public var name: String
    public var temperature: Double?
    public var pressure: Double?
    public var pressureSigma: Double?
    public var time: Double?
    public var q1: Double, q1Sigma: Double
    public var q2: Double, q2Sigma: Double
    public var fwhm: Double, fwhmSigma: Double
    public var halfHeightWidth: Double?
    public var ratio: Double, ratioSigma: Double
    public var volumeCubic: Double?
    public var volumeExponent: Double?
    /// S (or I) at the maxima, and the pseudo-Voigt centres (the seed paper's Q₁, Q₂).
    public var s1: Double, s1Sigma: Double, q1PseudoVoigt: Double, q1PseudoVoigtSigma: Double
    public var s2: Double, s2Sigma: Double, q2PseudoVoigt: Double, q2PseudoVoigtSigma: Double
    /// Refined by `beamline sq` (from the S(Q) file's header), when it refined them.
    public var backgroundScale: Double?, backgroundScaleSigma: Double?
    /// Number density, atoms/Å³.
    public var density: Double?, densitySigma: Double?

    public init(name: String, temperature: Double?, pressure: Double?, pressureSigma: Double?, time: Double?, analysis: PeakAnalysis) {
        self.name = name
        self.temperature = temperature
        self.pressure = pressure
        self.pressureSigma = pressureSigma
        self.time = time
        q1 = analysis.first.q
        q1Sigma = analysis.first.qSigma
        q2 = analysis.second.q
        q2Sigma = analysis.second.qSigma
        fwhm = analysis.first.fwhm
        fwhmSigma = analysis.first.fwhmSigma
        halfHeightWidth = analysis.halfHeightWidth
        ratio = analysis.ratio
        ratioSigma = analysis.ratioSigma
        s1 = analysis.first.height
        s1Sigma = analysis.first.heightSigma
        q1PseudoVoigt = analysis.first.pseudoVoigtCentre
        q1PseudoVoigtSigma = analysis.first.pseudoVoigtCentreSigma
        s2 = analysis.second.height
        s2Sigma = analysis.second.heightSigma
        q2PseudoVoigt = analysis.second.pseudoVoigtCentre
        q2PseudoVoigtSigma = analysis.second.pseudoVoigtCentreSigma
    }

    static let columns = ["name", "temperature_K", "pressure_GPa", "pressure_sigma_GPa", "time_min", "Q1", "Q1_sigma", "Q2", "Q2_sigma",
                          "FWHM_pV", "FWHM_pV_sigma", "width_half_height", "Q2_over_Q1", "Q2_over_Q1_sigma", "V_rel_cubic", "V_rel_exponent",
                          "S1", "S1_sigma", "Q1_pV", "Q1_pV_sigma", "S2", "S2_sigma", "Q2_pV", "Q2_pV_sigma",
                          "bg_scale", "bg_scale_sigma", "density", "density_sigma"]
}

public enum PeakTable {
    public static func text(_ rows: [PeakRow], header: [String]) -> String {
        func f(_ v: Double?) -> String { v.map { String(format: "%.6g", $0) } ?? "nan" }
        var lines = header.map { "# " + $0 }
        lines.append(PeakRow.columns.joined(separator: "\t"))
        for r in rows {
            lines.append([r.name, f(r.temperature), f(r.pressure), f(r.pressureSigma), f(r.time), f(r.q1), f(r.q1Sigma), f(r.q2), f(r.q2Sigma),
                          f(r.fwhm), f(r.fwhmSigma), f(r.halfHeightWidth), f(r.ratio), f(r.ratioSigma), f(r.volumeCubic), f(r.volumeExponent),
                          f(r.s1), f(r.s1Sigma), f(r.q1PseudoVoigt), f(r.q1PseudoVoigtSigma),
                          f(r.s2), f(r.s2Sigma), f(r.q2PseudoVoigt), f(r.q2PseudoVoigtSigma),
                          f(r.backgroundScale), f(r.backgroundScaleSigma), f(r.density), f(r.densitySigma)]
                .joined(separator: "\t"))
        }
        return lines.joined(separator: "\n") + "\n"
    }

    public static func read(_ path: String) throws -> [PeakRow] {
        let data = try InputFile.contents(of: path)
        var columns: [String] = []
        var rows: [PeakRow] = []
        for line in String(decoding: data, as: UTF8.self).split(whereSeparator: \.isNewline) where !line.hasPrefix("#") {
            let fields = line.split(separator: "\t").map(String.init)
            if columns.isEmpty { columns = fields; continue }
            guard fields.count == columns.count else { throw BeamlineError(path: path, "a row has \(fields.count) fields for \(columns.count) columns") }
            func v(_ key: String) -> Double? {
                guard let i = columns.firstIndex(of: key), let x = Double(fields[i]), x.isFinite else { return nil }
                return x
            }
            guard let q1 = v("Q1"), let q2 = v("Q2") else { throw BeamlineError(path: path, "row \(fields[0]) lacks Q1 or Q2") }
            var row = PeakRow(name: fields[0], temperature: v("temperature_K"), pressure: v("pressure_GPa"), pressureSigma: v("pressure_sigma_GPa"),
                              time: v("time_min"), analysis: PeakAnalysis(
                                first: .init(q: q1, qSigma: v("Q1_sigma") ?? 0, height: v("S1") ?? .nan, heightSigma: v("S1_sigma") ?? .nan,
                                             pseudoVoigtCentre: v("Q1_pV") ?? .nan, pseudoVoigtCentreSigma: v("Q1_pV_sigma") ?? .nan,
                                             fwhm: v("FWHM_pV") ?? .nan, fwhmSigma: v("FWHM_pV_sigma") ?? 0),
                                second: .init(q: q2, qSigma: v("Q2_sigma") ?? 0, height: v("S2") ?? .nan, heightSigma: v("S2_sigma") ?? .nan,
                                              pseudoVoigtCentre: v("Q2_pV") ?? .nan, pseudoVoigtCentreSigma: v("Q2_pV_sigma") ?? .nan,
                                              fwhm: .nan, fwhmSigma: 0),
                                halfHeightWidth: v("width_half_height"), ratio: v("Q2_over_Q1") ?? q2 / q1, ratioSigma: v("Q2_over_Q1_sigma") ?? 0))
            row.volumeCubic = v("V_rel_cubic")
            row.volumeExponent = v("V_rel_exponent")
            row.backgroundScale = v("bg_scale")
            row.backgroundScaleSigma = v("bg_scale_sigma")
            row.density = v("density")
            row.densitySigma = v("density_sigma")
            rows.append(row)
        }
        guard !rows.isEmpty else { throw BeamlineError(path: path, "the table has no rows") }
        return rows
    }
}
