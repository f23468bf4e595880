import Analysis
import ArgumentParser
import BeamlineNumerics
import BeamlineSupport
import Foundation
import PatternIO
import Reduction

struct PeaksCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "peaks",
        abstract: "First and second maxima of S(Q) or I(Q): Q1, Q2, widths, Q2/Q1, volume from Q1, ΔS(Q).",
        discussion: """
            Q1 and Q2 are the maxima of the curve: a cubic fitted to the top of each maximum \
            (±0.2 FWHM, recentred until it stops moving), with σ; S1 and S2 are the curve's values \
            there. Each maximum is also fitted with a pseudo-Voigt on a local linear background \
            (columns Q1_pV, Q2_pV, FWHM_pV: the seed study's convention, off the maximum when the \
            peak is asymmetric). The density and background scale that `beamline sq` refined are \
            copied from each S(Q) file's header. The width of the first maximum is given both as the \
            pseudo-Voigt FWHM and as the full width at half its height above --baseline (1 for \
            S(Q)). Sharp crystalline peaks (a pressure standard's reflections) are excluded. \
            Pressures and temperatures come from NAME.pressure files in --pressures (written by \
            `beamline pressure`) or from a --conditions table (name, temperature_K, pressure_GPa, \
            time_min). Relative volume is (Q1_ref/Q1)^3 and (Q1_ref/Q1)^EXPONENT.
            """
    )

    @Argument(help: "S(Q) (.sq) or I(Q) (.xy, .chi) files.")
    var files: [String]

    @Option(help: "Directory with NAME.pressure files.")
    var pressures: String?

    @Option(help: "Table: name, temperature_K, pressure_GPa[, time_min] (tab or space separated).")
    var conditions: String?

    @Option(help: "Reference file name (default: the lowest pressure at the lowest temperature).")
    var reference: String?

    @Option(help: "Exponent of the volume from Q1 besides 3 (Ma et al. 2009: 2.31).")
    var exponent = 2.31

    @Option(help: "Baseline of the half-height width (1 for S(Q)).")
    var baseline = 1.0

    @Option(help: "Write ΔS(Q) = S(Q) - S_ref(Q) files into this directory.")
    var deltaS: String?

    @Option(name: [.short, .customLong("output")], help: "Output table (.tsv).")
    var output: String

    func run() throws {
        var conditionTable: [String: (Double?, Double?, Double?)] = [:]
        if let conditions {
            let data = try InputFile.contents(of: conditions)
            for line in String(decoding: data, as: UTF8.self).split(whereSeparator: \.isNewline) where !line.hasPrefix("#") {
                let f = line.split(whereSeparator: { $0 == "\t" || $0 == " " || $0 == "," }).map(String.init)
                // A header line has no numbers; "nan" leaves a value to the pressure files.
                guard f.count >= 3, let t = Double(f[1]), let p = Double(f[2]) else { continue }
                func finite(_ v: Double?) -> Double? { v.flatMap { $0.isFinite ? $0 : nil } }
                conditionTable[f[0]] = (finite(t), finite(p), f.count > 3 ? finite(Double(f[3])) : nil)
            }
        }
        var rows: [PeakRow] = []
        var curves: [String: Pattern] = [:]
        for path in files {
            let pattern = try PatternFile.read(path)
            let name = URL(fileURLWithPath: path).deletingPathExtension().lastPathComponent
            var q = pattern.x
            if let unit = pattern.unit, unit == "q_nm^-1" { q = q.map { $0 / 10 } }
            else if let unit = pattern.unit, unit.hasPrefix("2th") { throw BeamlineError(path: path, "peaks needs Q; integrate in q_A^-1") }
            let analysis = try PeakAnalysis.analyse(q: q, s: pattern.intensity, baseline: baseline, path: path)
            var t: Double?, p: Double?, ps: Double?, time: Double?
            if let c = conditionTable[name] { (t, p, time) = c }
            if let dir = pressures {
                let file = (dir as NSString).appendingPathComponent(name + ".pressure")
                if FileManager.default.fileExists(atPath: file) {
                    let record = try PressureRecord(contentsOf: file)
                    p = record.pressure
                    ps = record.pressureSigma.isNaN ? nil : record.pressureSigma
                    t = t ?? record.temperature
                } else if p == nil {
                    throw BeamlineError(path: file, "no pressure file for \(name), and --conditions gives no pressure")
                }
            }
            var row = PeakRow(name: name, temperature: t, pressure: p, pressureSigma: ps, time: time, analysis: analysis)
            if let refined = SQRefinementRecord(headerLines: pattern.header) {
                func known(_ v: Double) -> Double? { v.isNaN ? nil : v }
                row.backgroundScale = known(refined.backgroundScale)
                row.backgroundScaleSigma = known(refined.backgroundScaleSigma)
                row.density = known(refined.density)
                row.densitySigma = known(refined.densitySigma)
            }
            rows.append(row)
            curves[name] = Pattern(unit: "q_A^-1", x: q, intensity: pattern.intensity)
        }
        let ref = try reference.map { name in
            guard let r = rows.first(where: { $0.name == name }) else { throw ValidationError("reference \(name) is not among the files") }
            return r
        } ?? rows.min { ($0.temperature ?? 0, $0.pressure ?? 0) < ($1.temperature ?? 0, $1.pressure ?? 0) }!
        for i in rows.indices {
            rows[i].volumeCubic = pow(ref.q1 / rows[i].q1, 3)
            rows[i].volumeExponent = pow(ref.q1 / rows[i].q1, exponent)
        }
        if let deltaS {
            try FileManager.default.createDirectory(atPath: deltaS, withIntermediateDirectories: true)
            let refCurve = curves[ref.name]!
            for (name, curve) in curves where name != ref.name {
                var text = "# beamline \(Beamline.version) delta S: \(name) - \(ref.name)\n# columns: Q(1/A) dS\n"
                for (x, y) in zip(curve.x, curve.intensity) {
                    guard let r = Interpolation.linear(refCurve.x, refCurve.intensity, at: x) else { continue }
                    NumberColumns.appendRow(x, y - r, format: "%.6e", to: &text)
                }
                try AtomicFile.write(text, to: (deltaS as NSString).appendingPathComponent(name + ".ds"))
            }
        }
        // The table last: it is what make waits for, so its presence means every ΔS(Q) file exists.
        try AtomicFile.write(PeakTable.text(rows, header: [
            "beamline \(Beamline.version) peaks", "reference=\(ref.name) exponent=\(exponent) baseline=\(baseline)",
            "Q in 1/A; V_rel_cubic = (Q1_ref/Q1)^3, V_rel_exponent = (Q1_ref/Q1)^\(exponent)",
        ]), to: output)
        print("name\tT (K)\tP (GPa)\tQ1\t±\tQ2\tQ2/Q1\tFWHM(pV)\twidth@half")
        for r in rows {
            print(String(format: "%@\t%.0f\t%.2f\t%.4f\t%.4f\t%.4f\t%.4f\t%.4f\t%.4f", r.name, r.temperature ?? .nan, r.pressure ?? .nan,
                         r.q1, r.q1Sigma, r.q2, r.ratio, r.fwhm, r.halfHeightWidth ?? .nan))
        }
    }
}
