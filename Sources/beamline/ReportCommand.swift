import Analysis
import ArgumentParser
import BeamlineSupport
import Foundation
import Reduction
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
        html += failedSamples(dir)
        // The calibration of each setup: OUT/ for a run of one, OUT/setups/NAME/ for several.
        let setups = ((try? fm.contentsOfDirectory(atPath: dir + "/setups")) ?? []).sorted()
            .filter { fm.fileExists(atPath: "\(dir)/setups/\($0)/geometry.poni") }
        let calibrations = [("Calibration", dir)] + setups.map { ("Calibration of setup \($0)", "\(dir)/setups/\($0)") }
        for (title, folder) in calibrations {
            guard fm.fileExists(atPath: folder + "/geometry.poni") else { continue }
            html += "<h2>\(title)</h2>"
            if let svg = fm.contents(atPath: folder + "/geometry.svg") {
                html += "<figure>\(String(decoding: svg, as: UTF8.self))</figure>\n"
            }
            if let points = fm.contents(atPath: folder + "/geometry.points.tsv") {
                html += "<figure>\(residualPlot(String(decoding: points, as: UTF8.self)))</figure>\n"
            }
            if let poni = fm.contents(atPath: folder + "/geometry.poni") {
                html += "<pre>\(String(decoding: poni, as: UTF8.self).replacingOccurrences(of: "<", with: "&lt;"))</pre>\n"
            }
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
        // Peaks against pressure per isotherm, with the fitted pieces and the transitions.
        var series: SeriesReport?
        if fm.fileExists(atPath: dir + "/series.json") {
            series = try SeriesReport(contentsOf: dir + "/series.json")
        }
        let isotherms = series?.isotherms ?? []
        html += "<h2>Peaks against pressure</h2>\n"
        let groups = Dictionary(grouping: rows, by: { $0.temperature ?? 0 })
        let temperatures = groups.keys.sorted()
        for (quantity, label, value) in [("Q1", "Q1 (1/Å)", { (r: PeakRow) in r.q1 }), ("Q2", "Q2 (1/Å)", { $0.q2 }), ("FWHM", "FWHM (1/Å)", { $0.fwhm }),
                                         ("V", "V/V0 from Q1", { $0.volumeCubic ?? .nan }), ("Q2/Q1", "Q2/Q1", { $0.ratio })] as [(String, String, (PeakRow) -> Double)] {
            var plot = SVGPlot(title: "\(label) against pressure", xLabel: "P (GPa)", yLabel: label)
            for (k, t) in temperatures.enumerated() {
                plot.series.append(("\(Int(t)) K", groups[t]!.map { ($0.pressure ?? .nan, value($0)) }, SVGPlot.palette[k % 10], true))
            }
            for iso in isotherms {
                let t = iso.temperature_K
                guard let k = temperatures.firstIndex(of: t) else { continue }
                let color = SVGPlot.palette[k % 10]
                for piece in iso.fits[quantity]?.segments ?? [] where piece.count == 4 {
                    plot.fitLines.append((piece[0], piece[2] + piece[3] * piece[0], piece[1], piece[2] + piece[3] * piece[1], color))
                }
                // Transitions marked where they mean most: the peak positions and the volume.
                for tr in iso.transitions where tr.quantity == quantity && ["Q1", "Q2", "V"].contains(quantity) {
                    plot.verticalLines.append((tr.pressure_GPa, "\(Int(t)) K \(tr.kind)", color))
                }
            }
            html += "<figure>\(plot.render())</figure>\n"
        }
        html += densityPlots(rows, temperatures: temperatures, groups: groups)
        html += transitionTable(isotherms)
        if let series { html += thermalExpansion(series) }
        html += "<h2>Table</h2><table><tr><th>name</th><th>T (K)</th><th>P (GPa)</th><th>±</th><th>Q1</th><th>Q2</th><th>Q2/Q1</th><th>FWHM</th><th>width at half height</th><th>V/V0</th><th>ρ₀ (atoms/Å³)</th><th>±</th><th>bg scale</th></tr>\n"
        for r in rows {
            html += String(format: "<tr><td>%@</td><td>%.0f</td><td>%.2f</td><td>%.2f</td><td>%.4f</td><td>%.4f</td><td>%.4f</td><td>%.4f</td>"
                           + "<td>%.4f</td><td>%.4f</td><td>%.5f</td><td>%.5f</td><td>%.4f</td></tr>\n",
                           r.name, r.temperature ?? .nan, r.pressure ?? .nan, r.pressureSigma ?? .nan, r.q1, r.q2, r.ratio, r.fwhm,
                           r.halfHeightWidth ?? .nan, r.volumeCubic ?? .nan, r.density ?? .nan, r.densitySigma ?? .nan,
                           r.backgroundScale ?? .nan)
        }
        html += "</table></body></html>\n"
        try AtomicFile.write(html, to: output)
        print(output)
    }

    /// The number density that `sq` refined from each pattern against pressure, and the volume
    /// it implies (ρ₀ of the reference point over ρ₀) beside the volume from Q1: a compression
    /// curve of the glass from its own scattering. Empty when no density was refined.
    func densityPlots(_ rows: [PeakRow], temperatures: [Double], groups: [Double: [PeakRow]]) -> String {
        guard rows.contains(where: { $0.density != nil }) else { return "" }
        var density = SVGPlot(title: "ρ₀ refined from S(Q) against pressure", xLabel: "P (GPa)", yLabel: "ρ₀ (atoms/Å³)")
        var volume = SVGPlot(title: "V/V0 from ρ₀ (markers) and from Q1 (lines)", xLabel: "P (GPa)", yLabel: "V/V0")
        // The reference of V/V0 from Q1 is the row where it is 1; the same row for ρ₀.
        let reference = rows.first { abs(($0.volumeCubic ?? 0) - 1) < 1e-12 }?.density
        for (k, t) in temperatures.enumerated() {
            let colour = SVGPlot.palette[k % 10]
            let isotherm = groups[t]!.filter { $0.density != nil }.sorted { ($0.pressure ?? 0) < ($1.pressure ?? 0) }
            density.series.append(("\(Int(t)) K", isotherm.map { ($0.pressure ?? .nan, $0.density!) }, colour, true))
            if let reference {
                volume.series.append(("\(Int(t)) K from ρ₀", isotherm.map { ($0.pressure ?? .nan, reference / $0.density!) }, colour, true))
                volume.series.append(("\(Int(t)) K from Q1", isotherm.map { ($0.pressure ?? .nan, $0.volumeCubic ?? .nan) }, colour, false))
            }
        }
        return "<h2>Density from the scattering</h2><figure>\(density.render())</figure>"
            + (reference != nil ? "<figure>\(volume.render())</figure>" : "") + "\n"
    }

    /// The transitions of Q1 and V as a table: pressure, width, change, volume change, each with its uncertainty.
    func transitionTable(_ isotherms: [SeriesReport.Isotherm]) -> String {
        var html = "<h2>Transitions</h2><table><tr><th>T (K)</th><th>quantity</th><th>kind</th><th>P (GPa)</th><th>±</th>"
            + "<th>width (GPa)</th><th>±</th><th>jump or slope change</th><th>±</th><th>significance</th>"
            + "<th>ΔV/V (%), Q1⁻³</th><th>ΔV/V (%), fitted exponent</th><th>ΔV/V (%), ρ₀</th></tr>\n"
        func percent(_ value: Double?, _ sigma: Double?) -> String {
            guard let value, let sigma else { return "" }
            return String(format: "%.2f ± %.2f", value, sigma)
        }
        for iso in isotherms {
            for tr in iso.transitions where tr.quantity == "Q1" || tr.quantity == "V" {
                let v = tr.volume_change
                html += String(format: "<tr><td>%.0f</td><td>%@</td><td>%@</td><td>%.2f</td><td>%.2f</td><td>%.2f</td><td>%.2f</td>"
                               + "<td>%.3g</td><td>%.2g</td><td>%.1f</td>",
                               iso.temperature_K, tr.quantity, tr.kind, tr.pressure_GPa, tr.sigma_GPa, tr.width_GPa,
                               tr.width_sigma_GPa, tr.change, tr.change_sigma, tr.significance)
                html += "<td>\(percent(v?.percent_cubic, v?.sigma_percent_cubic))</td>"
                    + "<td>\(percent(v?.percent_exponent, v?.sigma_percent_exponent))</td>"
                    + "<td>\(percent(v?.percent_density, v?.sigma_percent_density))</td></tr>\n"
            }
        }
        return html + "</table>\n"
    }

    /// ΔQ1 between neighbouring isotherms with its band and the windows shaded: red where the
    /// thermal expansion is negative, blue where positive, none where indistinguishable.
    func thermalExpansion(_ series: SeriesReport) -> String {
        guard !series.thermal_expansion_bands.isEmpty else { return "" }
        var html = "<h2>Thermal expansion between isotherms</h2>\n"
        for band in series.thermal_expansion_bands {
            let windows = series.thermal_expansion.filter { $0.low_K == band.low_K && $0.high_K == band.high_K }
            let k = windows.first?.confidence_sigmas ?? 3
            var plot = SVGPlot(title: String(format: "ΔQ1 = Q1(%.0f K) − Q1(%.0f K), band ±%gσ", band.high_K, band.low_K, k),
                               xLabel: "P (GPa)", yLabel: "ΔQ1 (1/Å)")
            plot.areas.append((zip(band.pressure_GPa, zip(band.dQ1, band.dQ1_sigma)).map { ($0, $1.0 - k * $1.1, $1.0 + k * $1.1) },
                               "#1f77b4"))
            plot.series.append(("ΔQ1", zip(band.pressure_GPa, band.dQ1).map { ($0, $1) }, "#1f77b4", false))
            plot.series.append(("zero", [(band.pressure_GPa.first ?? 0, 0), (band.pressure_GPa.last ?? 0, 0)], "#444", false))
            for w in windows where w.thermal_expansion != "indistinguishable" {
                plot.stripes.append((w.from_GPa, w.to_GPa, w.thermal_expansion == "negative" ? "#d62728" : "#1f77b4"))
            }
            html += "<figure>\(plot.render())</figure>\n"
            html += "<table><tr><th>thermal expansion</th><th>from (GPa)</th><th>±</th><th>to (GPa)</th><th>±</th></tr>\n"
            for w in windows {
                let from = w.from_is_data_limit ? "data limit" : String(format: "%.2f", w.from_sigma_GPa)
                let to = w.to_is_data_limit ? "data limit" : String(format: "%.2f", w.to_sigma_GPa)
                html += String(format: "<tr><td>%@</td><td>%.2f</td><td>%@</td><td>%.2f</td><td>%@</td></tr>\n",
                               w.thermal_expansion, w.from_GPa, from, w.to_GPa, to)
            }
            html += "</table>\n"
        }
        return html
    }

    /// The samples whose reduction failed (OUT/failed/NAME.txt, written by pipelines/dac.mk), in
    /// red with their messages: they are left out of everything below.
    func failedSamples(_ dir: String) -> String {
        let files = ((try? FileManager.default.contentsOfDirectory(atPath: dir + "/failed")) ?? [])
            .filter { $0.hasSuffix(".txt") }.sorted()
        guard !files.isEmpty else { return "" }
        var html = "<h2 style=\"color:#c00\">Failed samples (\(files.count)): left out of the tables and plots</h2>\n"
        for file in files {
            let text = (try? String(contentsOfFile: "\(dir)/failed/\(file)", encoding: .utf8)) ?? ""
            let escaped = text.replacingOccurrences(of: "&", with: "&amp;").replacingOccurrences(of: "<", with: "&lt;")
            html += "<div class=\"failed\" style=\"color:#c00\"><b>\(file.dropLast(4))</b><pre>\(escaped)</pre></div>\n"
        }
        return html
    }

    /// The calibration's 2θ residuals against azimuth, one colour per ring.
    func residualPlot(_ table: String) -> String {
        var byRing: [Int: [(Double, Double)]] = [:]
        for line in table.split(separator: "\n") where !line.hasPrefix("#") {
            let f = line.split(separator: "\t")
            guard f.count == 6, let ring = Int(f[0]), let chi = Double(f[3]), let residual = Double(f[5]) else { continue }
            byRing[ring, default: []].append((chi, residual * 1000))
        }
        var plot = SVGPlot(title: "Calibration: 2θ residual of the control points", xLabel: "χ (°)", yLabel: "residual (m°)")
        plot.joinMarkers = false
        for (k, ring) in byRing.keys.sorted().enumerated() {
            // A legend for the first few rings; the colours repeat after ten.
            plot.series.append((k < 6 ? "ring \(ring + 1)" : "", byRing[ring]!, SVGPlot.palette[k % SVGPlot.palette.count], true))
        }
        return plot.render()
    }
}
