import Analysis
import BeamlineSupport
import Foundation
import PatternIO
import Reduction

/// The HTML report of a reduced run, one self-contained page that works offline, and each of its
/// plots as a standalone SVG in `plots/` beside it (for a paper or a talk).
///
/// Reads what a pipeline run wrote into its output directory: each setup's geometry.poni, .svg and
/// control points, integrated/, sq/, delta_s/, thumbnails/, peaks.tsv, series.json and failed/.
public struct RunReport {
    public var runDirectory: String
    public var output: String
    public var program: String

    public init(runDirectory: String, output: String, program: String) {
        self.runDirectory = runDirectory
        self.output = output
        self.program = program
    }

    /// The plots' directory: `plots/` beside the report.
    public var plotDirectory: String {
        ((output as NSString).deletingLastPathComponent as NSString).appendingPathComponent("plots")
    }

    /// Colours by isotherm, the same in every plot: the palette in order of temperature.
    struct Colours {
        var temperatures: [Double]
        func of(_ temperature: Double?) -> String {
            let k = temperatures.firstIndex(of: temperature ?? 0) ?? 0
            return SVGPlot.palette[k % SVGPlot.palette.count]
        }
    }

    /// Writes the report and its plots; returns the report's path.
    @discardableResult
    public func write() throws -> String {
        let dir = runDirectory
        let fm = FileManager.default
        let rows = try PeakTable.read(dir + "/peaks.tsv")
            .sorted { ($0.temperature ?? 0, $0.pressure ?? 0) < ($1.temperature ?? 0, $1.pressure ?? 0) }
        var series: SeriesReport?
        if fm.fileExists(atPath: dir + "/series.json") {
            series = try SeriesReport(contentsOf: dir + "/series.json")
        }
        let temperatures = Set(rows.map { $0.temperature ?? 0 }).sorted()
        let colours = Colours(temperatures: temperatures)
        var plots: [(name: String, svg: String)] = []
        var html = """
            <!DOCTYPE html><html><head><meta charset="utf-8"><title>DAC run report</title>
            <style>body{font-family:sans-serif;margin:24px;max-width:1250px} table{border-collapse:collapse} \
            td,th{border:1px solid #bbb;padding:3px 8px;text-align:right} th{background:#eee} \
            figure{display:inline-block;margin:8px;vertical-align:top} figcaption{font-size:12px;text-align:center} \
            .thumbs figure{margin:4px}</style>
            </head><body><h1>DAC run report</h1><p>\(Self.escaped(dir)) — \(Self.escaped(program))</p>

            """
        func figure(_ name: String, _ plot: SVGPlot) -> String {
            let svg = plot.render()
            plots.append((name, svg))
            return "<figure>\(svg)</figure>\n"
        }
        html += failedSamples()
        let (calibrationHTML, calibrationPlots) = calibrations()
        html += calibrationHTML
        plots += calibrationPlots
        html += thumbnails(rows)

        html += "<h2>Patterns</h2>\n"
        let patterns = rows.map { row in (row, try? PatternFile.read("\(dir)/integrated/\(row.name).xy")) }
        let intensityOffset = (patterns.compactMap { $0.1?.intensity.max() }.max() ?? 1) * 0.15
        html += figure(
            "intensity",
            waterfall(
                patterns, colours, title: "I(Q), offset by pressure",
                xLabel: "Q (Å⁻¹)", yLabel: "I (counts)", offset: intensityOffset, id: "iq"))
        let sq = rows.map { row in (row, try? PatternFile.read("\(dir)/sq/\(row.name).sq")) }
        html += figure(
            "sq",
            waterfall(
                sq, colours, title: "S(Q), offset 0.5", xLabel: "Q (Å⁻¹)", yLabel: "S(Q)",
                offset: 0.5, id: "sq"))
        let gr = rows.map { row in (row, try? PatternFile.read("\(dir)/sq/\(row.name).gr")) }
        html += figure(
            "gr",
            waterfall(
                gr, colours, title: "G(r), offset 2", xLabel: "r (Å)", yLabel: "G(r) (Å⁻²)",
                offset: 2, id: "gr"))
        let deltas = rows.map { row in (row, try? PatternFile.read("\(dir)/delta_s/\(row.name).ds")) }
        if deltas.contains(where: { $0.1 != nil }) {
            let range = deltas.compactMap { $0.1 }.flatMap(\.intensity).map(abs).max() ?? 0.1
            html += figure(
                "delta-sq",
                waterfall(
                    deltas, colours, title: "ΔS(Q) from each isotherm's first point, offset by pressure",
                    xLabel: "Q (Å⁻¹)", yLabel: "ΔS(Q)", offset: max(range, 0.01), id: "dsq"))
        }

        html += "<h2>Peaks against pressure</h2>\n"
        let isotherms = series?.isotherms ?? []
        for quantity in PeakQuantity.all {
            html += figure(quantity.fileName, peakPlot(quantity, rows: rows, isotherms: isotherms, colours: colours))
        }
        if let density = densityPlot(rows, colours) {
            html += "<h2>Density from the scattering</h2>" + figure("density", density)
        }
        if let volume = volumePlot(rows, colours) { html += figure("volume-density", volume) }
        html += transitionTable(isotherms)
        if let series {
            for (k, band) in series.thermal_expansion_bands.enumerated() {
                if k == 0 { html += "<h2>Thermal expansion between isotherms</h2>\n" }
                let (plot, table) = thermalExpansion(band, windows: series.thermal_expansion, id: "te\(k)")
                html += figure(String(format: "thermal-expansion-%.0fK-%.0fK", band.low_K, band.high_K), plot) + table
            }
        }
        html += pointTable(rows)
        html += "</body></html>\n"
        // The plots first: the report is the file make waits for.
        try FileManager.default.createDirectory(atPath: plotDirectory, withIntermediateDirectories: true)
        var written = Set<String>()
        for (k, plot) in plots.enumerated() {
            let standalone = "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n" + plot.svg
            let name = String(format: "%02d-%@.svg", k + 1, plot.name)
            try AtomicFile.write(standalone, to: plotDirectory + "/" + name)
            written.insert(name)
        }
        // Plots of an earlier report that this one no longer has (numbered otherwise, or gone).
        for stale in (try? FileManager.default.contentsOfDirectory(atPath: plotDirectory)) ?? []
        where stale.hasSuffix(".svg") && !written.contains(stale) {
            try? FileManager.default.removeItem(atPath: plotDirectory + "/" + stale)
        }
        try AtomicFile.write(html, to: output)
        return output
    }

    // MARK: Sections

    /// Each setup's calibration: the calibrant image with the fitted rings and control points, the
    /// residuals, the .poni. OUT/ for a run of one setup, OUT/setups/NAME/ for several.
    func calibrations() -> (html: String, plots: [(name: String, svg: String)]) {
        let fm = FileManager.default
        let dir = runDirectory
        let setups = ((try? fm.contentsOfDirectory(atPath: dir + "/setups")) ?? []).sorted()
            .filter { fm.fileExists(atPath: "\(dir)/setups/\($0)/geometry.poni") }
        var html = ""
        var plots: [(name: String, svg: String)] = []
        for (title, folder) in [("Calibration", dir)]
            + setups.map({ ("Calibration of setup \($0)", "\(dir)/setups/\($0)") })
        {
            guard fm.fileExists(atPath: folder + "/geometry.poni") else { continue }
            html += "<h2>\(Self.escaped(title))</h2>"
            if let svg = fm.contents(atPath: folder + "/geometry.svg") {
                html +=
                    "<figure>\(String(decoding: svg, as: UTF8.self))"
                    + "<figcaption>calibrant image (log scale), fitted rings (red), control points (blue)"
                    + "</figcaption></figure>\n"
            }
            if let points = fm.contents(atPath: folder + "/geometry.points.tsv") {
                let setup = folder == dir ? "" : "-" + (folder as NSString).lastPathComponent
                let svg = residualPlot(String(decoding: points, as: UTF8.self), id: "residuals" + setup).render()
                plots.append(("calibration-residuals" + setup, svg))
                html += "<figure>\(svg)</figure>\n"
            }
            if let poni = fm.contents(atPath: folder + "/geometry.poni") {
                html += "<pre>\(Self.escaped(String(decoding: poni, as: UTF8.self)))</pre>\n"
            }
        }
        return (html, plots)
    }

    /// A thumbnail of every image with its masks (written by `integrate --thumbnail-output`).
    func thumbnails(_ rows: [PeakRow]) -> String {
        let fm = FileManager.default
        let folder = runDirectory + "/thumbnails"
        let names = ((try? fm.contentsOfDirectory(atPath: folder)) ?? []).filter { $0.hasSuffix(".png") }.sorted()
        guard !names.isEmpty else { return "" }
        // In the order of the points table, then the others (the empty cell, failed samples).
        let ordered =
            rows.map { $0.name + ".png" }.filter(names.contains)
            + names.filter { n in !rows.contains { $0.name + ".png" == n } }
        var html =
            "<h2>Images and masks</h2><p>Log scale; masked pixels coloured: "
            + "<span style=\"color:#3060ff\">■</span> shared masks (beam stop, gaps, shapes, a plate's circular edge), "
            + "<span style=\"color:#e0c000\">■</span> invalid pixels, "
            + "<span style=\"color:#ff2020\">■</span> diamond spots and zingers.</p><div class=\"thumbs\">\n"
        for name in ordered {
            guard let data = fm.contents(atPath: "\(folder)/\(name)") else { continue }
            let caption = Self.escaped(String(name.dropLast(4)))
            let row = rows.first { $0.name + ".png" == name }
            let conditions =
                row.map { String(format: " · %.1f GPa · %.0f K", $0.pressure ?? .nan, $0.temperature ?? .nan) } ?? ""
            html +=
                "<figure><img src=\"data:image/png;base64,\(data.base64EncodedString())\" alt=\"\(caption)\" "
                + "style=\"width:180px;image-rendering:pixelated\">"
                + "<figcaption>\(caption)\(conditions)</figcaption></figure>\n"
        }
        return html + "</div>\n"
    }

    /// Patterns offset in the order of the table (by isotherm, then pressure), coloured by isotherm,
    /// each labelled with its pressure at its right end.
    func waterfall(
        _ patterns: [(PeakRow, Pattern?)], _ colours: Colours, title: String, xLabel: String, yLabel: String,
        offset: Double, id: String
    ) -> SVGPlot {
        var plot = SVGPlot(title: title, xLabel: xLabel, yLabel: yLabel, identifier: id)
        var labelled = Set<Double>()
        var k = 0
        for (row, pattern) in patterns {
            guard let pattern, pattern.count > 0 else { continue }
            let step = max(1, pattern.count / 700)
            let shift = offset * Double(k)
            k += 1
            let points = stride(from: 0, to: pattern.count, by: step).map {
                (x: pattern.x[$0], y: pattern.intensity[$0] + shift)
            }
            let t = row.temperature ?? 0
            let legend = labelled.insert(t).inserted ? String(format: "%.0f K", t) : ""
            plot.series.append(
                .init(
                    label: legend, points: points, color: colours.of(row.temperature),
                    endLabel: String(format: "%.1f GPa", row.pressure ?? .nan)))
        }
        if plot.series.count > 14 {
            // Pressure labels on every curve would crowd: every other one.
            for k in plot.series.indices where k % 2 == 1 { plot.series[k].endLabel = nil }
        }
        return plot
    }

    /// A peak quantity of the points table with its σ and its fitted curve per isotherm.
    struct PeakQuantity {
        var key: String
        var label: String
        var fileName: String
        var value: (PeakRow) -> Double
        var sigma: (PeakRow) -> Double

        static let all = [
            PeakQuantity(key: "Q1", label: "Q1 (Å⁻¹)", fileName: "q1", value: { $0.q1 }, sigma: { $0.q1Sigma }),
            PeakQuantity(key: "Q2", label: "Q2 (Å⁻¹)", fileName: "q2", value: { $0.q2 }, sigma: { $0.q2Sigma }),
            PeakQuantity(
                key: "FWHM", label: "FWHM of the first peak (Å⁻¹)", fileName: "fwhm", value: { $0.fwhm },
                sigma: { $0.fwhmSigma }),
            // V ∝ Q1⁻³: σ(V/V0) = 3 (V/V0) σ(Q1)/Q1.
            PeakQuantity(
                key: "V", label: "V/V0 from Q1", fileName: "volume", value: { $0.volumeCubic ?? .nan },
                sigma: { 3 * ($0.volumeCubic ?? .nan) * $0.q1Sigma / $0.q1 }),
            PeakQuantity(
                key: "Q2/Q1", label: "Q2/Q1", fileName: "q2-over-q1", value: { $0.ratio }, sigma: { $0.ratioSigma }),
        ]
    }

    func peakPlot(
        _ quantity: PeakQuantity, rows: [PeakRow], isotherms: [SeriesReport.Isotherm],
        colours: Colours
    ) -> SVGPlot {
        var plot = SVGPlot(
            title: "\(quantity.label) against pressure", xLabel: "P (GPa)", yLabel: quantity.label,
            identifier: "peaks-" + quantity.fileName)
        for t in colours.temperatures {
            let isotherm = rows.filter { ($0.temperature ?? 0) == t }
            plot.series.append(
                .init(
                    label: String(format: "%.0f K", t),
                    points: isotherm.map { (x: $0.pressure ?? .nan, y: quantity.value($0)) },
                    color: colours.of(t), markers: true, joined: false,
                    yErrors: isotherm.map(quantity.sigma), xErrors: isotherm.map { $0.pressureSigma ?? 0 }))
        }
        for iso in isotherms {
            let colour = colours.of(iso.temperature_K)
            // The fitted curve as it is written, straight pieces end to end; a gap starts a new curve.
            var curve: [(x: Double, y: Double)] = []
            for piece in iso.fits[quantity.key]?.segments ?? [] where piece.count == 4 {
                let start = (x: piece[0], y: piece[2] + piece[3] * piece[0])
                if let last = curve.last, abs(last.x - start.x) > 1e-9 {
                    plot.curves.append(.init(points: curve, color: colour))
                    curve = []
                }
                // A step is drawn as the vertical join of its two pieces.
                curve.append(start)
                curve.append((x: piece[1], y: piece[2] + piece[3] * piece[1]))
            }
            if curve.count > 1 { plot.curves.append(.init(points: curve, color: colour)) }
            // Transitions marked where they mean most: the peak positions and the volume.
            if ["Q1", "Q2", "V"].contains(quantity.key) {
                for tr in iso.transitions where tr.quantity == quantity.key {
                    plot.verticalLines.append(
                        (
                            tr.pressure_GPa,
                            String(
                                format: "%.0f K %@ %.1f GPa", iso.temperature_K, tr.kind,
                                tr.pressure_GPa), colour
                        ))
                }
            }
        }
        return plot
    }

    /// The number density that `sq` refined from each pattern against pressure; nil when none was refined.
    func densityPlot(_ rows: [PeakRow], _ colours: Colours) -> SVGPlot? {
        guard rows.contains(where: { $0.density != nil }) else { return nil }
        var plot = SVGPlot(
            title: "ρ₀ refined from S(Q) against pressure", xLabel: "P (GPa)", yLabel: "ρ₀ (atoms/Å³)",
            identifier: "density")
        for t in colours.temperatures {
            let isotherm = rows.filter { ($0.temperature ?? 0) == t && $0.density != nil }
            plot.series.append(
                .init(
                    label: String(format: "%.0f K", t),
                    points: isotherm.map { (x: $0.pressure ?? .nan, y: $0.density!) },
                    color: colours.of(t), markers: true, joined: false,
                    yErrors: isotherm.map { $0.densitySigma ?? 0 }, xErrors: isotherm.map { $0.pressureSigma ?? 0 }))
        }
        return plot
    }

    /// V/V0 from the refined density (ρ₀ of the reference point over ρ₀) beside V/V0 from Q1.
    func volumePlot(_ rows: [PeakRow], _ colours: Colours) -> SVGPlot? {
        // The reference of V/V0 from Q1 is the row where it is 1; the same row for ρ₀.
        guard let reference = rows.first(where: { abs(($0.volumeCubic ?? 0) - 1) < 1e-12 })?.density else {
            return nil
        }
        var plot = SVGPlot(
            title: "V/V0 from ρ₀ (markers) and from Q1 (lines)", xLabel: "P (GPa)", yLabel: "V/V0",
            identifier: "volume-density")
        for t in colours.temperatures {
            let isotherm = rows.filter { ($0.temperature ?? 0) == t && $0.density != nil }
            plot.series.append(
                .init(
                    label: String(format: "%.0f K from ρ₀", t),
                    points: isotherm.map { (x: $0.pressure ?? .nan, y: reference / $0.density!) },
                    color: colours.of(t), markers: true, joined: false,
                    yErrors: isotherm.map { reference / $0.density! * ($0.densitySigma ?? 0) / $0.density! }))
            plot.series.append(
                .init(
                    label: String(format: "%.0f K from Q1", t),
                    points: isotherm.map { (x: $0.pressure ?? .nan, y: $0.volumeCubic ?? .nan) },
                    color: colours.of(t)))
        }
        return plot
    }

    /// The transitions of Q1 and V as a table: pressure, width, change, volume change, each with its uncertainty.
    func transitionTable(_ isotherms: [SeriesReport.Isotherm]) -> String {
        var html =
            "<h2>Transitions</h2><table><tr><th>T (K)</th><th>quantity</th><th>kind</th><th>P (GPa)</th><th>±</th>"
            + "<th>width (GPa)</th><th>±</th><th>jump or slope change</th><th>±</th><th>significance</th>"
            + "<th>ΔV/V (%), Q1⁻³</th><th>ΔV/V (%), fitted exponent</th><th>ΔV/V (%), ρ₀</th></tr>\n"
        func percent(_ value: Double?, _ sigma: Double?) -> String {
            guard let value, let sigma else { return "" }
            return String(format: "%.2f ± %.2f", value, sigma)
        }
        for iso in isotherms {
            for tr in iso.transitions where tr.quantity == "Q1" || tr.quantity == "V" {
                let v = tr.volume_change
                html += String(
                    format:
                        "<tr><td>%.0f</td><td>%@</td><td>%@</td><td>%.2f</td><td>%.2f</td><td>%.2f</td><td>%.2f</td>"
                        + "<td>%.3g</td><td>%.2g</td><td>%.1f</td>",
                    iso.temperature_K, tr.quantity, tr.kind, tr.pressure_GPa, tr.sigma_GPa, tr.width_GPa,
                    tr.width_sigma_GPa, tr.change, tr.change_sigma, tr.significance)
                html +=
                    "<td>\(percent(v?.percent_cubic, v?.sigma_percent_cubic))</td>"
                    + "<td>\(percent(v?.percent_exponent, v?.sigma_percent_exponent))</td>"
                    + "<td>\(percent(v?.percent_density, v?.sigma_percent_density))</td></tr>\n"
            }
        }
        return html + "</table>\n"
    }

    /// ΔQ1 between neighbouring isotherms with its band and the windows shaded: red where the
    /// thermal expansion is negative, blue where positive, none where indistinguishable.
    func thermalExpansion(
        _ band: SeriesReport.Band, windows all: [SeriesReport.Window], id: String
    ) -> (SVGPlot, String) {
        let windows = all.filter { $0.low_K == band.low_K && $0.high_K == band.high_K && $0.quantity == "Q1" }
        let k = windows.first?.confidence_sigmas ?? 3
        var plot = SVGPlot(
            title: String(format: "ΔQ1 = Q1(%.0f K) − Q1(%.0f K), band ±%gσ", band.high_K, band.low_K, k),
            xLabel: "P (GPa)", yLabel: "ΔQ1 (Å⁻¹)", identifier: id)
        plot.areas.append(
            (
                zip(band.pressure_GPa, zip(band.dQ1, band.dQ1_sigma)).map {
                    (x: $0, lower: $1.0 - k * $1.1, upper: $1.0 + k * $1.1)
                },
                "#1f77b4"
            ))
        plot.series.append(
            .init(label: "ΔQ1", points: zip(band.pressure_GPa, band.dQ1).map { (x: $0, y: $1) }, color: "#1f77b4"))
        plot.zeroLine = true
        for w in windows where w.thermal_expansion != "indistinguishable" {
            plot.stripes.append((w.from_GPa, w.to_GPa, w.thermal_expansion == "negative" ? "#d62728" : "#1f77b4"))
        }
        var table =
            "<table><tr><th>thermal expansion</th><th>from (GPa)</th><th>±</th><th>to (GPa)</th><th>±</th></tr>\n"
        for w in windows {
            let from = w.from_is_data_limit ? "data limit" : String(format: "%.2f", w.from_sigma_GPa)
            let to = w.to_is_data_limit ? "data limit" : String(format: "%.2f", w.to_sigma_GPa)
            table += String(
                format: "<tr><td>%@</td><td>%.2f</td><td>%@</td><td>%.2f</td><td>%@</td></tr>\n",
                w.thermal_expansion, w.from_GPa, from, w.to_GPa, to)
        }
        return (plot, table + "</table>\n")
    }

    func pointTable(_ rows: [PeakRow]) -> String {
        var html =
            "<h2>Table</h2><table><tr><th>name</th><th>T (K)</th><th>P (GPa)</th><th>±</th>"
            + "<th>Q1 (Å⁻¹)</th><th>±</th><th>Q2 (Å⁻¹)</th><th>±</th><th>Q2/Q1</th><th>FWHM (Å⁻¹)</th>"
            + "<th>width at half height</th><th>V/V0</th>"
            + "<th>ρ₀ (atoms/Å³)</th><th>±</th><th>bg scale</th></tr>\n"
        for r in rows {
            html += String(
                format: "<tr><td>%@</td><td>%.0f</td><td>%.2f</td><td>%.2f</td><td>%.4f</td><td>%.4f</td><td>%.4f</td>"
                    + "<td>%.4f</td><td>%.4f</td><td>%.4f</td><td>%.4f</td><td>%.4f</td><td>%.5f</td><td>%.5f</td>"
                    + "<td>%.4f</td></tr>\n",
                Self.escaped(r.name), r.temperature ?? .nan, r.pressure ?? .nan, r.pressureSigma ?? .nan, r.q1,
                r.q1Sigma,
                r.q2, r.q2Sigma, r.ratio, r.fwhm, r.halfHeightWidth ?? .nan, r.volumeCubic ?? .nan, r.density ?? .nan,
                r.densitySigma ?? .nan, r.backgroundScale ?? .nan)
        }
        // A quantity not measured for a point reads as a dash, not as "nan".
        return html.replacingOccurrences(of: "<td>nan</td>", with: "<td>–</td>") + "</table>\n"
    }

    /// The samples whose reduction failed (OUT/failed/NAME.txt, written by pipelines/dac.mk), in
    /// red with their messages: they are left out of everything below.
    func failedSamples() -> String {
        let dir = runDirectory
        let files = ((try? FileManager.default.contentsOfDirectory(atPath: dir + "/failed")) ?? [])
            .filter { $0.hasSuffix(".txt") }.sorted()
        guard !files.isEmpty else { return "" }
        var html = "<h2 style=\"color:#c00\">Failed samples (\(files.count)): left out of the tables and plots</h2>\n"
        for file in files {
            let text = (try? String(contentsOfFile: "\(dir)/failed/\(file)", encoding: .utf8)) ?? ""
            html +=
                "<div class=\"failed\" style=\"color:#c00\"><b>\(Self.escaped(String(file.dropLast(4))))</b>"
                + "<pre>\(Self.escaped(text))</pre></div>\n"
        }
        return html
    }

    /// The calibration's 2θ residuals against azimuth, one colour per ring.
    func residualPlot(_ table: String, id: String) -> SVGPlot {
        var byRing: [Int: [(x: Double, y: Double)]] = [:]
        for line in table.split(separator: "\n") where !line.hasPrefix("#") {
            let f = line.split(separator: "\t")
            guard f.count == 6, let ring = Int(f[0]), let chi = Double(f[3]), let residual = Double(f[5]) else {
                continue
            }
            byRing[ring, default: []].append((chi, residual * 1000))
        }
        var plot = SVGPlot(
            title: "Calibration: 2θ residual of the control points", xLabel: "χ (°)",
            yLabel: "residual (m°)", identifier: id)
        plot.zeroLine = true
        for (k, ring) in byRing.keys.sorted().enumerated() {
            // A legend for the first few rings; the colours repeat after ten.
            plot.series.append(
                .init(
                    label: k < 6 ? "ring \(ring + 1)" : "", points: byRing[ring]!,
                    color: SVGPlot.palette[k % SVGPlot.palette.count], markers: true, joined: false))
        }
        return plot
    }

    static func escaped(_ text: String) -> String { SVGPlot.escaped(text) }
}
