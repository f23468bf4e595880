import Foundation

/// A small SVG line plot for the HTML report: axes with ticks, polylines, markers, labels.
struct SVGPlot {
    var width = 560.0, height = 360.0
    var title: String
    var xLabel: String, yLabel: String
    var series: [(label: String, points: [(Double, Double)], color: String, markers: Bool)] = []
    var verticalLines: [(Double, String, String)] = []
    /// Fitted straight pieces (x₀, y₀, x₁, y₁, colour); a marker series of the same colour is then not joined up.
    var fitLines: [(Double, Double, Double, Double, String)] = []
    /// Join a marker series' points with a line (false: a scatter plot).
    var joinMarkers = true
    /// Filled areas between a lower and an upper curve, (x, lower, upper) per point: confidence bands.
    var areas: [(points: [(Double, Double, Double)], color: String)] = []
    /// Vertical stripes (x₀, x₁, colour) behind the data: windows along the x axis.
    var stripes: [(Double, Double, String)] = []

    static let palette = ["#1f77b4", "#d62728", "#2ca02c", "#9467bd", "#ff7f0e", "#8c564b", "#e377c2", "#17becf", "#7f7f7f", "#bcbd22"]

    func render() -> String {
        let all = (series.flatMap(\.points) + areas.flatMap { $0.points.flatMap { [($0.0, $0.1), ($0.0, $0.2)] } })
            .filter { $0.0.isFinite && $0.1.isFinite }
        guard !all.isEmpty else { return "<p>(no data for \(title))</p>" }
        var (x0, x1) = (all.map(\.0).min()!, all.map(\.0).max()!)
        var (y0, y1) = (all.map(\.1).min()!, all.map(\.1).max()!)
        if x1 == x0 { x1 += 1; x0 -= 1 }
        if y1 == y0 { y1 += 1; y0 -= 1 }
        let padY = (y1 - y0) * 0.05
        y0 -= padY; y1 += padY
        let left = 64.0, right = 16.0, top = 28.0, bottom = 44.0
        func px(_ x: Double) -> Double { left + (x - x0) / (x1 - x0) * (width - left - right) }
        func py(_ y: Double) -> Double { height - bottom - (y - y0) / (y1 - y0) * (height - top - bottom) }
        var s = "<svg xmlns=\"http://www.w3.org/2000/svg\" width=\"\(Int(width))\" height=\"\(Int(height))\" font-family=\"sans-serif\" font-size=\"11\">\n"
        s += "<text x=\"\(width / 2)\" y=\"16\" text-anchor=\"middle\" font-size=\"13\">\(title)</text>\n"
        s += "<rect x=\"\(left)\" y=\"\(top)\" width=\"\(width - left - right)\" height=\"\(height - top - bottom)\" fill=\"none\" stroke=\"#444\"/>\n"
        for k in 0 ... 5 {
            let x = x0 + (x1 - x0) * Double(k) / 5, y = y0 + (y1 - y0) * Double(k) / 5
            s += String(format: "<text x=\"%.1f\" y=\"%.1f\" text-anchor=\"middle\">%.3g</text>\n", px(x), height - bottom + 14, x)
            s += String(format: "<text x=\"%.1f\" y=\"%.1f\" text-anchor=\"end\">%.4g</text>\n", left - 4, py(y) + 4, y)
        }
        s += "<text x=\"\(width / 2)\" y=\"\(height - 8)\" text-anchor=\"middle\">\(xLabel)</text>\n"
        s += "<text x=\"14\" y=\"\(height / 2)\" text-anchor=\"middle\" transform=\"rotate(-90 14 \(height / 2))\">\(yLabel)</text>\n"
        for (xa, xb, color) in stripes where xa.isFinite && xb.isFinite {
            let a = px(min(max(xa, x0), x1)), b = px(min(max(xb, x0), x1))
            s += String(format: "<rect x=\"%.1f\" y=\"%.1f\" width=\"%.1f\" height=\"%.1f\" fill=\"%@\" fill-opacity=\"0.15\"/>\n",
                        min(a, b), top, abs(b - a), height - top - bottom, color)
        }
        for area in areas {
            let points = area.points.filter { $0.0.isFinite && $0.1.isFinite && $0.2.isFinite }
            guard points.count > 1 else { continue }
            let outline = (points.map { (px($0.0), py($0.2)) } + points.reversed().map { (px($0.0), py($0.1)) })
                .map { Self.oneDecimal($0.0) + "," + Self.oneDecimal($0.1) }.joined(separator: " ")
            s += "<polygon points=\"\(outline)\" fill=\"\(area.color)\" fill-opacity=\"0.3\" stroke=\"none\"/>\n"
        }
        for (index, (x, label, color)) in verticalLines.enumerated() where x >= x0 && x <= x1 {
            s += String(format: "<line x1=\"%.1f\" y1=\"%.1f\" x2=\"%.1f\" y2=\"%.1f\" stroke=\"%@\" stroke-dasharray=\"4 3\"/>\n", px(x), top, px(x), height - bottom, color)
            // Labels of neighbouring lines on different rows.
            s += String(format: "<text x=\"%.1f\" y=\"%.1f\" fill=\"%@\">%@</text>\n", px(x) + 3, top + 12 + 12 * Double(index % 3), color, label)
        }
        if !fitLines.isEmpty {
            // Fitted pieces may reach beyond the data's range: clipped to the frame.
            let clip = "clip-" + String(title.unicodeScalars.filter { CharacterSet.alphanumerics.contains($0) && $0.isASCII }.map(Character.init))
            s += "<clipPath id=\"\(clip)\"><rect x=\"\(left)\" y=\"\(top)\" width=\"\(width - left - right)\" height=\"\(height - top - bottom)\"/></clipPath>\n"
            s += "<g clip-path=\"url(#\(clip))\">\n"
            for (xa, ya, xb, yb, color) in fitLines where [xa, ya, xb, yb].allSatisfy(\.isFinite) {
                s += String(format: "<line x1=\"%.1f\" y1=\"%.1f\" x2=\"%.1f\" y2=\"%.1f\" stroke=\"%@\" stroke-width=\"1.2\"/>\n", px(xa), py(ya), px(xb), py(yb), color)
            }
            s += "</g>\n"
        }
        for (index, item) in series.enumerated() {
            let points = item.points.filter { $0.0.isFinite && $0.1.isFinite }
            guard !points.isEmpty else { continue }
            if points.count > 1, !(item.markers && (!joinMarkers || fitLines.contains { $0.4 == item.color })) {
                let path = points.map { Self.oneDecimal(px($0.0)) + "," + Self.oneDecimal(py($0.1)) }.joined(separator: " ")
                s += "<polyline points=\"\(path)\" fill=\"none\" stroke=\"\(item.color)\" stroke-width=\"1.2\"/>\n"
            }
            if item.markers {
                for (x, y) in points { s += "<circle cx=\"\(Self.oneDecimal(px(x)))\" cy=\"\(Self.oneDecimal(py(y)))\" r=\"3\" fill=\"\(item.color)\"/>\n" }
            }
            s += String(format: "<text x=\"%.1f\" y=\"%.1f\" fill=\"%@\">%@</text>\n", width - right - 4, top + 14 + 13 * Double(index), item.color, item.label)
                .replacingOccurrences(of: "<text x", with: "<text text-anchor=\"end\" x")
        }
        return s + "</svg>\n"
    }

    /// `value` with one decimal, as "%.1f" writes it, without the cost of String(format:)
    /// (a plot's paths hold thousands of coordinates).
    static func oneDecimal(_ value: Double) -> String {
        guard value.isFinite, abs(value) < 1e15 else { return String(format: "%.1f", value) }
        let tenths = Int((value * 10).rounded())
        let whole = abs(tenths) / 10, fraction = abs(tenths) % 10
        return (tenths < 0 ? "-" : "") + String(whole) + "." + String(fraction)
    }
}
