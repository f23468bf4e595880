import Foundation

/// A line and scatter plot as standalone SVG: ticks at 1, 2, 5 × 10ⁿ, error bars, fitted curves
/// clipped to the frame, and every text placed where it overlaps no other text.
///
/// The layout keeps each kind of text in a band of its own: the title on top, the labels of vertical
/// lines (transitions) in rows above the frame, tick labels beside the axes, the labels of curve ends
/// in a gutter right of the frame (pushed apart vertically), the legend in rows below the x-axis
/// label. Text widths are estimated from character classes of a sans-serif face, generously, so that
/// a browser's real text stays inside the estimated boxes; `layout().texts` gives those boxes.
public struct SVGPlot {
    public struct Series {
        /// The legend entry; empty for none.
        public var label: String
        public var points: [(x: Double, y: Double)]
        public var color: String
        /// Circles at the points (otherwise a line through them).
        public var markers: Bool
        /// A line through the points; with markers, false gives a scatter plot.
        public var joined: Bool
        /// Standard uncertainties of y (and of x), drawn as bars of ±1σ.
        public var yErrors: [Double]?
        public var xErrors: [Double]?
        /// A label at the right end of the curve, in the gutter beside the frame.
        public var endLabel: String?

        public init(
            label: String, points: [(x: Double, y: Double)], color: String, markers: Bool = false,
            joined: Bool = true, yErrors: [Double]? = nil, xErrors: [Double]? = nil, endLabel: String? = nil
        ) {
            self.label = label
            self.points = points
            self.color = color
            self.markers = markers
            self.joined = joined
            self.yErrors = yErrors
            self.xErrors = xErrors
            self.endLabel = endLabel
        }
    }

    /// A fitted curve: drawn inside the frame only, never widening the axes.
    public struct Curve {
        public var points: [(x: Double, y: Double)]
        public var color: String
        public var dashed: Bool
        public init(points: [(x: Double, y: Double)], color: String, dashed: Bool = false) {
            self.points = points
            self.color = color
            self.dashed = dashed
        }
    }

    /// One text of the plot and the box it is estimated to fill (SVG user units, y down).
    public struct PlacedText {
        public var text: String
        public var x: Double, y: Double
        public var anchor: String
        public var fontSize: Double
        public var rotated: Bool
        public var color: String
        public var box: (x0: Double, y0: Double, x1: Double, y1: Double)

        public func overlaps(_ other: PlacedText) -> Bool {
            box.x0 < other.box.x1 && other.box.x0 < box.x1 && box.y0 < other.box.y1 && other.box.y0 < box.y1
        }
    }

    public struct Layout {
        public var width: Double, height: Double
        public var frame: (left: Double, top: Double, right: Double, bottom: Double)
        public var xTicks: AxisTicks, yTicks: AxisTicks
        public var xRange: (Double, Double), yRange: (Double, Double)
        public var texts: [PlacedText]
        /// Curve ends and where their labels went: (series index, curve end y, label y).
        var endLabels: [(index: Int, curveY: Double, labelY: Double)]
        /// Legend entries: (series index, x and baseline of the label).
        var legend: [(index: Int, x: Double, y: Double)]
    }

    public var title: String
    public var xLabel: String, yLabel: String
    /// The frame's size; the whole picture grows around it to hold the texts.
    public var frameWidth = 440.0, frameHeight = 260.0
    /// Unique within one HTML page (clip paths are looked up by id).
    public var identifier: String
    public var series: [Series] = []
    public var curves: [Curve] = []
    /// Dashed vertical lines (x, label, colour): transitions.
    public var verticalLines: [(x: Double, label: String, color: String)] = []
    /// Filled bands (x, lower, upper), drawn behind the data: confidence bands.
    public var areas: [(points: [(x: Double, lower: Double, upper: Double)], color: String)] = []
    /// Vertical stripes (x₀, x₁, colour) behind the data: windows along the x axis.
    public var stripes: [(from: Double, to: Double, color: String)] = []
    /// A horizontal line at y = 0 when zero is inside the range.
    public var zeroLine = false

    /// Ten colours that stay apart for the colour-blind (matplotlib's "tab10").
    public static let palette = [
        "#1f77b4", "#d62728", "#2ca02c", "#9467bd", "#ff7f0e", "#8c564b", "#e377c2",
        "#17becf", "#7f7f7f", "#bcbd22",
    ]

    public init(title: String, xLabel: String, yLabel: String, identifier: String) {
        self.title = title
        self.xLabel = xLabel
        self.yLabel = yLabel
        self.identifier = identifier
    }

    static let fontSize = 11.0, titleSize = 13.0, rowHeight = 14.0

    /// The width of `text` in a sans-serif face at `size`, over-estimated a little: capitals and
    /// wide letters count more, narrow ones less (DejaVu Sans and Liberation Sans metrics).
    public static func textWidth(_ text: String, size: Double) -> Double {
        var em = 0.0
        for c in text {
            switch c {
            case "i", "l", "j", "I", ".", ",", ":", ";", "|", "!", "'", " ", "(", ")", "[", "]", "f", "t", "r":
                em += 0.36
            case "m", "w", "M", "W", "%", "@", "—", "Δ", "Å", "ρ":
                em += 0.92
            case _ where c.isUppercase:
                em += 0.72
            case "⁰", "¹", "²", "³", "⁴", "⁵", "⁶", "⁷", "⁸", "⁹", "⁻", "₀", "₁", "₂":
                em += 0.45
            default:
                em += 0.62
            }
        }
        return em * size
    }

    static func placed(
        _ text: String, x: Double, y: Double, anchor: String = "start", size: Double = fontSize,
        rotated: Bool = false, color: String = "#000"
    ) -> PlacedText {
        let w = textWidth(text, size: size)
        let start = anchor == "middle" ? -w / 2 : anchor == "end" ? -w : 0
        // Baseline at y: ascent about 0.8 em above, descent 0.25 below.
        var box = (x0: x + start, y0: y - 0.85 * size, x1: x + start + w, y1: y + 0.25 * size)
        if rotated {
            // Rotated by −90° about (x, y): the run goes up the page, the ascent to the left.
            box = (x0: x - 0.85 * size, y0: y - start - w, x1: x + 0.25 * size, y1: y - start)
        }
        return PlacedText(
            text: text, x: x, y: y, anchor: anchor, fontSize: size, rotated: rotated, color: color, box: box)
    }

    /// The data's range with 4 % padding; fitted curves do not widen it.
    func ranges() -> (x: (Double, Double), y: (Double, Double))? {
        var xs: [Double] = [], ys: [Double] = []
        for item in series {
            for (k, p) in item.points.enumerated() where p.x.isFinite && p.y.isFinite {
                let dy = item.yErrors.map { k < $0.count && $0[k].isFinite ? $0[k] : 0 } ?? 0
                let dx = item.xErrors.map { k < $0.count && $0[k].isFinite ? $0[k] : 0 } ?? 0
                xs += [p.x - dx, p.x + dx]
                ys += [p.y - dy, p.y + dy]
            }
        }
        for area in areas {
            for p in area.points where p.x.isFinite && p.lower.isFinite && p.upper.isFinite {
                xs.append(p.x)
                ys += [p.lower, p.upper]
            }
        }
        guard var x0 = xs.min(), var x1 = xs.max(), var y0 = ys.min(), var y1 = ys.max() else { return nil }
        if x1 - x0 <= 1e-12 * max(1, abs(x0)) { x0 -= max(1, abs(x0) * 0.1); x1 += max(1, abs(x1) * 0.1) }
        if y1 - y0 <= 1e-12 * max(1, abs(y0)) { y0 -= max(1, abs(y0) * 0.1); y1 += max(1, abs(y1) * 0.1) }
        let padX = (x1 - x0) * 0.03, padY = (y1 - y0) * 0.05
        return ((x0 - padX, x1 + padX), (y0 - padY, y1 + padY))
    }

    public func layout() -> Layout? {
        guard let (xRange, yRange) = ranges() else { return nil }
        let size = Self.fontSize, row = Self.rowHeight
        var texts: [PlacedText] = []
        let xAxisLabel0 = xLabel, yAxisLabel0 = yLabel
        // Y ticks: about one per 45 points of frame height.
        let yTicks = AxisTicks(from: yRange.0, to: yRange.1, maximumCount: max(3, Int(frameHeight / 45)))
        let yTickWidth = yTicks.values.map { Self.textWidth(yTicks.label($0), size: size) }.max() ?? 0
        let left = 8 + size + 10 + yTickWidth + 6
        // The gutter for curve-end labels.
        let endTexts = series.compactMap(\.endLabel)
        let gutter = endTexts.isEmpty ? 0 : (endTexts.map { Self.textWidth($0, size: size) }.max() ?? 0) + 16
        // X ticks: as many as fit with room between neighbouring labels.
        var xTicks = AxisTicks(from: xRange.0, to: xRange.1, maximumCount: 9)
        for count in stride(from: 9, through: 2, by: -1) {
            xTicks = AxisTicks(from: xRange.0, to: xRange.1, maximumCount: count)
            let widths = xTicks.values.map { Self.textWidth(xTicks.label($0), size: size) }
            let spacing = frameWidth * xTicks.step / (xRange.1 - xRange.0)
            if (widths.max() ?? 0) + 10 < spacing { break }
        }
        // Rows of vertical-line labels above the frame, each label in the first row where it fits.
        let titleBaseline = 18.0
        var rows: [[(Double, Double)]] = []
        var lineLabels: [(index: Int, row: Int, x: Double, anchor: String)] = []
        let order = verticalLines.indices.filter { verticalLines[$0].x >= xRange.0 && verticalLines[$0].x <= xRange.1 }
            .sorted { verticalLines[$0].x < verticalLines[$1].x }
        for index in order where !verticalLines[index].label.isEmpty {
            let x = left + (verticalLines[index].x - xRange.0) / (xRange.1 - xRange.0) * frameWidth
            let w = Self.textWidth(verticalLines[index].label, size: size)
            // Right of the line, or left of it near the frame's right edge.
            let startsLeft = x + 3 + w > left + frameWidth + gutter
            let span = startsLeft ? (x - 3 - w, x - 3) : (x + 3, x + 3 + w)
            let chosen = rows.firstIndex { $0.allSatisfy { span.1 + 6 < $0.0 || $0.1 + 6 < span.0 } } ?? rows.count
            if chosen == rows.count { rows.append([]) }
            rows[chosen].append(span)
            lineLabels.append((index, chosen, startsLeft ? x - 3 : x + 3, startsLeft ? "end" : "start"))
        }
        var frameHeight = self.frameHeight
        // End labels need a row each inside the frame's height.
        frameHeight = max(frameHeight, Double(endTexts.count) * row + 4)
        let top = titleBaseline + 8 + Double(rows.count) * row + (rows.isEmpty ? 0 : 4)
        let right = left + frameWidth
        let bottom = top + frameHeight
        func px(_ x: Double) -> Double { left + (x - xRange.0) / (xRange.1 - xRange.0) * frameWidth }
        func py(_ y: Double) -> Double { bottom - (y - yRange.0) / (yRange.1 - yRange.0) * frameHeight }
        for item in lineLabels {
            let line = verticalLines[item.index]
            texts.append(
                Self.placed(
                    line.label, x: item.x, y: titleBaseline + 8 + Double(item.row + 1) * row - 3,
                    anchor: item.anchor, color: line.color))
        }
        for value in xTicks.values {
            texts.append(Self.placed(xTicks.label(value), x: px(value), y: bottom + 4 + size, anchor: "middle"))
        }
        for value in yTicks.values {
            texts.append(Self.placed(yTicks.label(value), x: left - 6, y: py(value) + size * 0.35, anchor: "end"))
        }
        let xAxisY = bottom + 4 + size + 6 + size
        texts.append(Self.placed(xTicks.axisLabel(xAxisLabel0), x: left + frameWidth / 2, y: xAxisY, anchor: "middle"))
        texts.append(
            Self.placed(
                yTicks.axisLabel(yAxisLabel0), x: 8 + size * 0.85, y: top + frameHeight / 2,
                anchor: "middle", rotated: true))
        // Curve-end labels: at their curve's last point, pushed apart by a row, kept inside the frame's height.
        var ends: [(index: Int, curveY: Double, labelY: Double)] = []
        for (index, item) in series.enumerated() where item.endLabel != nil {
            guard let last = item.points.last(where: { $0.x.isFinite && $0.y.isFinite }) else { continue }
            let y = min(max(py(last.y), top), bottom)
            ends.append((index, y, y))
        }
        ends.sort { $0.curveY < $1.curveY }
        for k in ends.indices {
            ends[k].labelY = max(ends[k].labelY, top + row / 2)
            if k > 0 { ends[k].labelY = max(ends[k].labelY, ends[k - 1].labelY + row) }
        }
        for k in ends.indices.reversed() {
            ends[k].labelY = min(ends[k].labelY, k == ends.count - 1 ? bottom - row / 2 : ends[k + 1].labelY - row)
        }
        for end in ends {
            texts.append(
                Self.placed(
                    series[end.index].endLabel!, x: right + 14, y: end.labelY + size * 0.35,
                    color: series[end.index].color))
        }
        // The legend in rows below the x-axis label.
        let totalWidth = right + gutter + 12
        var legendY = xAxisY + 8 + size, legendX = left
        var legend: [(index: Int, x: Double, y: Double)] = []
        for (index, item) in series.enumerated() where !item.label.isEmpty {
            let w = 22 + Self.textWidth(item.label, size: size)
            if legendX + w > totalWidth - 4, legendX > left {
                legendX = left
                legendY += row
            }
            texts.append(Self.placed(item.label, x: legendX + 22, y: legendY, color: item.color))
            legend.append((index, legendX + 22, legendY))
            legendX += w + 14
        }
        let hasLegend = series.contains { !$0.label.isEmpty }
        texts.append(Self.placed(title, x: totalWidth / 2, y: titleBaseline, anchor: "middle", size: Self.titleSize))
        let height = (hasLegend ? legendY : xAxisY) + 8
        return Layout(
            width: totalWidth, height: height, frame: (left, top, right, bottom), xTicks: xTicks, yTicks: yTicks,
            xRange: xRange, yRange: yRange, texts: texts, endLabels: ends, legend: legend)
    }

    /// The plot as a standalone SVG document (it also goes inline into HTML as it is).
    public func render() -> String {
        guard let layout = layout() else {
            return "<svg xmlns=\"http://www.w3.org/2000/svg\" width=\"400\" height=\"40\" font-family=\"sans-serif\">"
                + "<text x=\"8\" y=\"24\" font-size=\"12\">(no data for \(Self.escaped(title)))</text></svg>\n"
        }
        let (left, top, right, bottom) = layout.frame
        let (x0, x1) = layout.xRange, (y0, y1) = layout.yRange
        func px(_ x: Double) -> Double { left + (x - x0) / (x1 - x0) * (right - left) }
        func py(_ y: Double) -> Double { bottom - (y - y0) / (y1 - y0) * (bottom - top) }
        func f(_ v: Double) -> String { Self.oneDecimal(v) }
        let clip = identifier + "-frame"
        var s =
            "<svg xmlns=\"http://www.w3.org/2000/svg\" width=\"\(f(layout.width))\" height=\"\(f(layout.height))\" "
            + "viewBox=\"0 0 \(f(layout.width)) \(f(layout.height))\" "
            + "font-family=\"DejaVu Sans, Liberation Sans, Arial, sans-serif\" "
            + "font-size=\"\(Int(Self.fontSize))\">\n"
        s += "<rect width=\"100%\" height=\"100%\" fill=\"#fff\"/>\n"
        s +=
            "<clipPath id=\"\(clip)\"><rect x=\"\(f(left))\" y=\"\(f(top))\" width=\"\(f(right - left))\" "
            + "height=\"\(f(bottom - top))\"/></clipPath>\n"
        // Ticks, inward, on all four sides as in most journals' figures.
        for value in layout.xTicks.values {
            let x = f(px(value))
            s += "<path d=\"M\(x),\(f(bottom))v-5M\(x),\(f(top))v5\" stroke=\"#444\"/>\n"
        }
        for value in layout.yTicks.values {
            let y = f(py(value))
            s += "<path d=\"M\(f(left)),\(y)h5M\(f(right)),\(y)h-5\" stroke=\"#444\"/>\n"
        }
        s += "<g clip-path=\"url(#\(clip))\">\n"
        for stripe in stripes where stripe.from.isFinite && stripe.to.isFinite {
            let a = px(min(max(stripe.from, x0), x1)), b = px(min(max(stripe.to, x0), x1))
            s +=
                "<rect x=\"\(f(min(a, b)))\" y=\"\(f(top))\" width=\"\(f(abs(b - a)))\" height=\"\(f(bottom - top))\" "
                + "fill=\"\(stripe.color)\" fill-opacity=\"0.15\"/>\n"
        }
        for area in areas {
            let points = area.points.filter { $0.x.isFinite && $0.lower.isFinite && $0.upper.isFinite }
            guard points.count > 1 else { continue }
            let outline =
                (points.map { (px($0.x), py($0.upper)) } + points.reversed().map { (px($0.x), py($0.lower)) })
                .map { f($0.0) + "," + f($0.1) }.joined(separator: " ")
            s += "<polygon points=\"\(outline)\" fill=\"\(area.color)\" fill-opacity=\"0.3\" stroke=\"none\"/>\n"
        }
        if zeroLine, y0 < 0, y1 > 0 {
            s += "<line x1=\"\(f(left))\" y1=\"\(f(py(0)))\" x2=\"\(f(right))\" y2=\"\(f(py(0)))\" stroke=\"#999\"/>\n"
        }
        for line in verticalLines where line.x >= x0 && line.x <= x1 {
            s +=
                "<line x1=\"\(f(px(line.x)))\" y1=\"\(f(top))\" x2=\"\(f(px(line.x)))\" y2=\"\(f(bottom))\" "
                + "stroke=\"\(line.color)\" stroke-dasharray=\"4 3\"/>\n"
        }
        for curve in curves {
            let points = curve.points.filter { $0.x.isFinite && $0.y.isFinite }
            guard points.count > 1 else { continue }
            let path = points.map { f(px($0.x)) + "," + f(py($0.y)) }.joined(separator: " ")
            s +=
                "<polyline points=\"\(path)\" fill=\"none\" stroke=\"\(curve.color)\" stroke-width=\"1.3\""
                + (curve.dashed ? " stroke-dasharray=\"5 3\"" : "") + "/>\n"
        }
        for item in series {
            let indexed = item.points.enumerated().filter { $0.element.x.isFinite && $0.element.y.isFinite }
            guard !indexed.isEmpty else { continue }
            if item.joined, indexed.count > 1 {
                let path = indexed.map { f(px($0.element.x)) + "," + f(py($0.element.y)) }.joined(separator: " ")
                s += "<polyline points=\"\(path)\" fill=\"none\" stroke=\"\(item.color)\" stroke-width=\"1.2\"/>\n"
            }
            var bars = ""
            for (k, p) in indexed {
                let x = px(p.x), y = py(p.y)
                if let e = item.yErrors, k < e.count, e[k].isFinite, e[k] > 0 {
                    let a = py(p.y - e[k]), b = py(p.y + e[k])
                    if a - b >= 1 {
                        bars += "M\(f(x)),\(f(a))V\(f(b))M\(f(x - 2.5)),\(f(a))h5M\(f(x - 2.5)),\(f(b))h5"
                    }
                }
                if let e = item.xErrors, k < e.count, e[k].isFinite, e[k] > 0 {
                    let a = px(p.x - e[k]), b = px(p.x + e[k])
                    if b - a >= 1 {
                        bars += "M\(f(a)),\(f(y))H\(f(b))M\(f(a)),\(f(y - 2.5))v5M\(f(b)),\(f(y - 2.5))v5"
                    }
                }
            }
            if !bars.isEmpty {
                s += "<path d=\"\(bars)\" stroke=\"\(item.color)\" stroke-width=\"0.9\" fill=\"none\"/>\n"
            }
            if item.markers {
                for (_, p) in indexed {
                    s += "<circle cx=\"\(f(px(p.x)))\" cy=\"\(f(py(p.y)))\" r=\"2.8\" fill=\"\(item.color)\"/>\n"
                }
            }
        }
        s += "</g>\n"
        s +=
            "<rect x=\"\(f(left))\" y=\"\(f(top))\" width=\"\(f(right - left))\" height=\"\(f(bottom - top))\" "
            + "fill=\"none\" stroke=\"#444\"/>\n"
        // Leaders from the curves' ends to their labels.
        for end in layout.endLabels {
            s +=
                "<line x1=\"\(f(right + 2))\" y1=\"\(f(end.curveY))\" x2=\"\(f(right + 12))\" y2=\"\(f(end.labelY))\" "
                + "stroke=\"\(series[end.index].color)\" stroke-width=\"0.8\"/>\n"
        }
        // Legend swatches: a line, a marker, or both, as the series is drawn.
        for entry in layout.legend {
            let item = series[entry.index], y = f(entry.y - Self.fontSize * 0.35)
            if item.joined {
                s +=
                    "<line x1=\"\(f(entry.x - 20))\" y1=\"\(y)\" x2=\"\(f(entry.x - 4))\" y2=\"\(y)\" "
                    + "stroke=\"\(item.color)\" stroke-width=\"1.5\"/>\n"
            }
            if item.markers {
                s += "<circle cx=\"\(f(entry.x - 12))\" cy=\"\(y)\" r=\"2.8\" fill=\"\(item.color)\"/>\n"
            }
        }
        for text in layout.texts {
            var attributes = "x=\"\(f(text.x))\" y=\"\(f(text.y))\""
            if text.anchor != "start" { attributes += " text-anchor=\"\(text.anchor)\"" }
            if text.fontSize != Self.fontSize { attributes += " font-size=\"\(Int(text.fontSize))\"" }
            if text.color != "#000" { attributes += " fill=\"\(text.color)\"" }
            if text.rotated { attributes += " transform=\"rotate(-90 \(f(text.x)) \(f(text.y)))\"" }
            s += "<text \(attributes)>\(Self.escaped(text.text))</text>\n"
        }
        return s + "</svg>\n"
    }

    static func escaped(_ text: String) -> String {
        text.replacingOccurrences(of: "&", with: "&amp;").replacingOccurrences(of: "<", with: "&lt;")
            .replacingOccurrences(of: ">", with: "&gt;")
    }

    /// `value` with one decimal, as "%.1f" writes it, without the cost of String(format:)
    /// (a plot's paths hold thousands of coordinates).
    public static func oneDecimal(_ value: Double) -> String {
        guard value.isFinite, abs(value) < 1e15 else { return String(format: "%.1f", value) }
        let tenths = Int((value * 10).rounded())
        let whole = abs(tenths) / 10, fraction = abs(tenths) % 10
        return (tenths < 0 ? "-" : "") + String(whole) + "." + String(fraction)
    }
}
