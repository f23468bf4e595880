import Foundation
import Testing
@testable import Report

@Suite struct AxisTickTests {
    @Test func ticksAreOneTwoOrFiveTimesAPowerOfTen() {
        var generator = SystemRandomNumberGenerator()
        for _ in 0..<2000 {
            // Data a few spans to a thousand spans from zero, as plotted quantities are.
            let span = pow(10, Double.random(in: -5...6, using: &generator))
            let centre = span * Double.random(in: -1000...1000, using: &generator)
            let ticks = AxisTicks(from: centre - span / 2, to: centre + span / 2, maximumCount: Int.random(in: 3...9))
            let mantissa = ticks.step / pow(10, floor(log10(ticks.step)))
            #expect([1.0, 2, 5].contains { abs(mantissa - $0) < 1e-9 }, "step \(ticks.step)")
            #expect(ticks.values.count >= 2 || span / ticks.step < 2, "\(ticks.values) for \(centre) ± \(span / 2)")
            #expect(
                ticks.values.allSatisfy {
                    $0 >= centre - span / 2 - 1e-9 * span && $0 <= centre + span / 2 + 1e-9 * span
                })
            // Every label distinct: enough decimals for the step.
            let labels = ticks.values.map(ticks.label)
            #expect(Set(labels).count == labels.count, "\(labels)")
        }
    }

    @Test func labelsReadAsAPersonWouldWriteThem() {
        let q = AxisTicks(from: 0.499, to: 12.3)
        #expect(q.values == [0, 2, 4, 6, 8, 10, 12].map(Double.init).filter { $0 >= 0.499 })
        #expect(q.values.map(q.label) == ["2", "4", "6", "8", "10", "12"])
        let intensity = AxisTicks(from: 0, to: 18_670)
        #expect(intensity.values.map(intensity.label) == ["0", "5000", "10000", "15000"])
        let fine = AxisTicks(from: 2.31, to: 2.39, maximumCount: 5)
        #expect(fine.values.map(fine.label) == ["2.32", "2.34", "2.36", "2.38"])
        let negative = AxisTicks(from: -0.0031, to: 0.0012, maximumCount: 6)
        #expect(
            negative.values.map(negative.label).contains("0.000")
                && negative.values.map(negative.label).contains("−0.002"))
        let large = AxisTicks(from: 0, to: 3.2e6)
        #expect(large.exponent == 6 && large.values.map(large.label) == ["0", "1", "2", "3"])
        #expect(large.axisLabel("I") == "I (×10⁶)")
    }
}

@Suite struct PlotLayoutTests {
    /// Plots like the report's, crowded on purpose: many curves with end labels, transitions a
    /// fraction of a GPa apart, long legends; no two texts may overlap, and all stay in the picture.
    @Test func noTwoTextsOverlap() {
        var generator = SystemRandomNumberGenerator()
        for trial in 0..<300 {
            var plot = SVGPlot(
                title: "Q1 (Å⁻¹) against pressure, trial \(trial)", xLabel: "P (GPa)", yLabel: "Q1 (Å⁻¹)",
                identifier: "t\(trial)")
            let curves = Int.random(in: 1...40, using: &generator)
            let scale = pow(10, Double.random(in: -4...5, using: &generator))
            for k in 0..<curves {
                let points = (0..<30).map { i in
                    (x: Double(i), y: scale * (Double(k) * 0.01 + Double.random(in: 0...1, using: &generator)))
                }
                plot.series.append(
                    .init(
                        label: k % 3 == 0 ? "\(k * 10 + 293) K isotherm" : "", points: points,
                        color: SVGPlot.palette[k % 10], markers: k % 2 == 0,
                        yErrors: points.map { _ in scale * 0.05 },
                        endLabel: trial % 2 == 0 ? String(format: "%.1f GPa", Double(k) * 1.7) : nil))
            }
            for _ in 0..<Int.random(in: 0...8, using: &generator) {
                plot.verticalLines.append(
                    (Double.random(in: 0...29, using: &generator), "390 K discontinuous 12.3 GPa", "#d62728"))
            }
            guard let layout = plot.layout() else { Issue.record("no layout"); continue }
            let texts = layout.texts
            for i in texts.indices {
                let b = texts[i].box
                #expect(
                    b.x0 >= 0 && b.y0 >= 0 && b.x1 <= layout.width && b.y1 <= layout.height,
                    "trial \(trial): '\(texts[i].text)' outside the picture \(b)")
                for j in texts.indices where j > i {
                    #expect(
                        !texts[i].overlaps(texts[j]), "trial \(trial): '\(texts[i].text)' overlaps '\(texts[j].text)'")
                }
            }
        }
    }

    @Test func errorBarsAndClippedCurvesAreDrawn() {
        var plot = SVGPlot(title: "Q1", xLabel: "P (GPa)", yLabel: "Q1 (Å⁻¹)", identifier: "q1")
        plot.series.append(
            .init(
                label: "293 K", points: [(x: 1, y: 2.5), (x: 5, y: 2.6), (x: 9, y: 2.7)], color: "#1f77b4",
                markers: true, joined: false, yErrors: [0.01, 0.01, 0.01], xErrors: [0.1, 0.1, 0.1]))
        // A fitted line reaching far outside the data: clipped, and the axes do not follow it.
        plot.curves.append(.init(points: [(x: -100, y: 0), (x: 100, y: 10)], color: "#1f77b4"))
        let svg = plot.render()
        #expect(svg.contains("clip-path=\"url(#q1-frame)\""))
        #expect(svg.components(separatedBy: "<circle").count - 1 == 3 + 1, "three points and one legend marker")
        let layout = plot.layout()!
        #expect(layout.xRange.0 > 0 && layout.xRange.1 < 10)
        // One error-bar path with a vertical and a horizontal bar per point.
        #expect(svg.contains("<path d=\"M") && svg.components(separatedBy: "V").count - 1 >= 3)
    }
}
