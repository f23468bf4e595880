import Analysis
import ArgumentParser
import BeamlineNumerics
import BeamlineSupport
import Foundation

struct SeriesCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "series",
        abstract: "Transitions, thermal expansion and relaxation from a peak table.",
        discussion: """
            For each isotherm: piecewise-linear fits of Q1, Q2, FWHM, Q2/Q1 and volume against \
            pressure with 0-3 breakpoints chosen by the Bayesian information criterion; each \
            breakpoint is a transition pressure with its uncertainty, called discontinuous when \
            the fitted lines jump by more than three times the scatter. Between the lowest and \
            highest isotherm, the sign of the thermal expansion in each pressure window (Q1 higher \
            at the higher temperature: negative). With times, the drift of Q1 in time.
            Preliminary: the choice between a smooth and a discontinuous transition is not yet             validated against known runs; check the fitted segments before quoting them.
            """
    )

    @Argument(help: "Peak table written by `beamline peaks`.")
    var table: String

    @Option(name: [.short, .customLong("output")], help: "Output JSON.")
    var output: String

    @Option(help: "Most breakpoints per curve.")
    var maxBreakpoints = 3

    struct Transition: Codable {
        var quantity: String
        var pressure_GPa: Double
        var sigma_GPa: Double
        var jump: Double
        var kind: String
    }

    struct Isotherm: Codable {
        var temperature_K: Double
        var points: Int
        var transitions: [Transition]
        var segments: [String: [[Double]]]
    }

    struct Window: Codable {
        var from_GPa: Double
        var to_GPa: Double
        var thermal_expansion: String
    }

    struct Relaxation: Codable {
        var q1_slope_per_min: Double
        var q1_slope_sigma: Double
        var points: Int
    }

    struct Output: Codable {
        var isotherms: [Isotherm]
        var thermal_expansion: [Window]
        var relaxation: Relaxation?
    }

    func run() throws {
        let rows = try PeakTable.read(table)
        let groups = Dictionary(grouping: rows.filter { $0.temperature != nil }, by: { $0.temperature! })
        var isotherms: [Isotherm] = []
        for t in groups.keys.sorted() {
            let g = groups[t]!.filter { $0.pressure != nil }
            guard g.count >= 3 else { continue }
            let p = g.map { $0.pressure! }
            var transitions: [Transition] = []
            var segments: [String: [[Double]]] = [:]
            let quantities: [(String, [Double])] = [("Q1", g.map(\.q1)), ("Q2", g.map(\.q2)), ("FWHM", g.map(\.fwhm)),
                                                    ("Q2/Q1", g.map(\.ratio)), ("V", g.map { $0.volumeCubic ?? .nan })]
            for (name, values) in quantities where values.allSatisfy(\.isFinite) {
                // Point uncertainty: the fits' σ, but not below the scatter such data show (10⁻³ of the value).
                let sigma = max(g.map(\.q1Sigma).max() ?? 0, 1e-3 * (values.map(abs).max() ?? 1))
                let found = TransitionFinder.find(pressure: p, value: values, sigma: sigma)
                let fit = Segmented.fit(x: p, y: values, maxBreakpoints: maxBreakpoints)
                segments[name] = zip(fit.starts, fit.lines).map { [$0.0, $0.1.0, $0.1.1] }
                for b in found {
                    transitions.append(Transition(quantity: name, pressure_GPa: b.position, sigma_GPa: b.sigma, jump: b.jump,
                                                  kind: b.discontinuous ? "discontinuous" : "smooth"))
                }
            }
            isotherms.append(Isotherm(temperature_K: t, points: g.count, transitions: transitions, segments: segments))
        }
        var windows: [Window] = []
        let temperatures = groups.keys.sorted()
        if temperatures.count >= 2 {
            let low = groups[temperatures.first!]!.filter { $0.pressure != nil }, high = groups[temperatures.last!]!.filter { $0.pressure != nil }
            windows = ThermalExpansion.windows(low: (low.map { $0.pressure! }, low.map(\.q1)), high: (high.map { $0.pressure! }, high.map(\.q1)))
                .map { Window(from_GPa: $0.from, to_GPa: $0.to, thermal_expansion: $0.negative ? "negative" : "positive") }
        }
        var relaxation: Relaxation?
        let timed = rows.filter { $0.time != nil }
        if timed.count >= 3 {
            let a: [Double] = timed.flatMap { [1.0, $0.time!] }
            if let (x, cov) = LinearAlgebra.leastSquares(a, rows: timed.count, columns: 2, timed.map(\.q1)) {
                var rss = 0.0
                for r in timed { rss += pow(r.q1 - x[0] - x[1] * r.time!, 2) }
                let s2 = rss / Double(max(1, timed.count - 2))
                relaxation = Relaxation(q1_slope_per_min: x[1], q1_slope_sigma: (cov[3] * s2).squareRoot(), points: timed.count)
            }
        }
        let result = Output(isotherms: isotherms, thermal_expansion: windows, relaxation: relaxation)
        try AtomicFile.write(try JSONOutput.data(result), to: output)
        for iso in isotherms {
            print(String(format: "%.0f K (%d points):", iso.temperature_K, iso.points))
            for t in iso.transitions where t.quantity == "Q1" || t.quantity == "V" {
                print(String(format: "  %@ transition at %.2f ± %.2f GPa (%@, jump %.4g)", t.quantity, t.pressure_GPa, t.sigma_GPa, t.kind, t.jump))
            }
        }
        for w in windows { print(String(format: "thermal expansion %@ from %.1f to %.1f GPa", w.thermal_expansion, w.from_GPa, w.to_GPa)) }
        if let r = relaxation { print(String(format: "relaxation: dQ1/dt = %.3g ± %.2g 1/(Å·min) over %d frames", r.q1_slope_per_min, r.q1_slope_sigma, r.points)) }
    }
}
