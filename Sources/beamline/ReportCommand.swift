import Analysis
import ArgumentParser
import BeamlineSupport
import Foundation
import PatternIO

struct ReportCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "report",
        abstract: "One self-contained HTML page for a reduced run: calibration, I(Q), S(Q), G(r), peaks against pressure, pressures.",
        discussion: "Reads the files a pipeline run wrote into RUN-DIR (geometry.svg, integrated/, sq/, peaks.tsv, series.json)."
    )

    @Argument(help: "Output directory of a pipeline run.")
    var runDirectory: String

    @Option(name: [.short, .customLong("output")], help: "Output HTML file.")
    var output: String

    func run() throws {
        let dir = runDirectory
        let fm = FileManager.default
        let rows = try PeakTable.read(dir + "/peaks.tsv").sorted { ($0.temperature ?? 0, $0.pressure ?? 0) < ($1.temperature ?? 0, $1.pressure ?? 0) }
        var html = """
            <!DOCTYPE html><html><head><meta charset="utf-8"><title>DAC run report</title>
            <style>body{font-family:sans-serif;margin:24px;max-width:1200px} table{border-collapse:collapse} td,th{border:1px solid #bbb;padding:3px 8px;text-align:right} th{background:#eee} figure{display:inline-block;margin:8px}</style>
            </head><body><h1>DAC run report</h1><p>\(dir) — beamline \(Beamline.version)</p>

            """
        if let svg = fm.contents(atPath: dir + "/geometry.svg") {
            html += "<h2>Calibration</h2><figure>\(String(decoding: svg, as: UTF8.self))</figure>\n"
        }
        if let poni = fm.contents(atPath: dir + "/geometry.poni") {
            html += "<pre>\(String(decoding: poni, as: UTF8.self).replacingOccurrences(of: "<", with: "&lt;"))</pre>\n"
        }
        func waterfall(_ folder: String, _ ext: String, title: String, xLabel: String, yLabel: String, offset: Double) -> String {
            var plot = SVGPlot(title: title, xLabel: xLabel, yLabel: yLabel)
            for (k, row) in rows.enumerated() {
                guard let pattern = try? PatternFile.read("\(dir)/\(folder)/\(row.name).\(ext)") else { continue }
                let step = max(1, pattern.count / 800)
                let points = stride(from: 0, to: pattern.count, by: step).map { (pattern.x[$0], pattern.intensity[$0] + offset * Double(k)) }
                plot.series.append((String(format: "%.1f GPa, %.0f K", row.pressure ?? .nan, row.temperature ?? .nan), points,
                                    SVGPlot.palette[k % SVGPlot.palette.count], false))
            }
            return "<figure>\(plot.render())</figure>\n"
        }
        html += "<h2>Patterns</h2>\n"
        let intensityOffset = rows.compactMap { try? PatternFile.read("\(dir)/integrated/\($0.name).xy") }.map { $0.intensity.max() ?? 0 }.max().map { $0 * 0.15 } ?? 1
        html += waterfall("integrated", "xy", title: "I(Q), offset by pressure", xLabel: "Q (1/Å)", yLabel: "I", offset: intensityOffset)
        html += waterfall("sq", "sq", title: "S(Q), offset 0.5", xLabel: "Q (1/Å)", yLabel: "S(Q)", offset: 0.5)
        html += waterfall("sq", "gr", title: "G(r), offset 2", xLabel: "r (Å)", yLabel: "G(r)", offset: 2)
        // Peaks against pressure per isotherm, with transitions.
        var transitions: [(Double, String, String)] = []
        if let data = fm.contents(atPath: dir + "/series.json"),
           let json = try? JSONSerialization.jsonObject(with: data) as? [String: Any],
           let isotherms = json["isotherms"] as? [[String: Any]] {
            for (k, iso) in isotherms.enumerated() {
                for t in (iso["transitions"] as? [[String: Any]]) ?? [] where (t["quantity"] as? String) == "Q1" {
                    transitions.append((t["pressure_GPa"] as? Double ?? .nan, "\(Int(iso["temperature_K"] as? Double ?? 0)) K \(t["kind"] as? String ?? "")", SVGPlot.palette[k % 10]))
                }
            }
        }
        html += "<h2>Peaks against pressure</h2>\n"
        let groups = Dictionary(grouping: rows, by: { $0.temperature ?? 0 })
        for (label, value) in [("Q1 (1/Å)", { (r: PeakRow) in r.q1 }), ("Q2 (1/Å)", { $0.q2 }), ("FWHM (1/Å)", { $0.fwhm }),
                               ("V/V0 from Q1", { $0.volumeCubic ?? .nan }), ("Q2/Q1", { $0.ratio })] as [(String, (PeakRow) -> Double)] {
            var plot = SVGPlot(title: "\(label) against pressure", xLabel: "P (GPa)", yLabel: label)
            for (k, t) in groups.keys.sorted().enumerated() {
                plot.series.append(("\(Int(t)) K", groups[t]!.map { ($0.pressure ?? .nan, value($0)) }, SVGPlot.palette[k % 10], true))
            }
            if label.hasPrefix("Q1") { plot.verticalLines = transitions }
            html += "<figure>\(plot.render())</figure>\n"
        }
        html += "<h2>Table</h2><table><tr><th>name</th><th>T (K)</th><th>P (GPa)</th><th>±</th><th>Q1</th><th>Q2</th><th>Q2/Q1</th><th>FWHM</th><th>width at half height</th><th>V/V0</th></tr>\n"
        for r in rows {
            html += String(format: "<tr><td>%@</td><td>%.0f</td><td>%.2f</td><td>%.2f</td><td>%.4f</td><td>%.4f</td><td>%.4f</td><td>%.4f</td><td>%.4f</td><td>%.4f</td></tr>\n",
                           r.name, r.temperature ?? .nan, r.pressure ?? .nan, r.pressureSigma ?? .nan, r.q1, r.q2, r.ratio, r.fwhm, r.halfHeightWidth ?? .nan, r.volumeCubic ?? .nan)
        }
        html += "</table></body></html>\n"
        try AtomicFile.write(html, to: output)
        print(output)
    }
}
