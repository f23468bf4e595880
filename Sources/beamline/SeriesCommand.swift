import Analysis
import ArgumentParser
import BeamlineNumerics
import BeamlineSupport
import Foundation
import Reduction

struct SeriesCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "series",
        abstract: "Transitions, thermal expansion and relaxation from a peak table.",
        discussion: """
            For each isotherm and each of Q1, Q2, FWHM, Q2/Q1 and V: transition pressures with \
            their uncertainties. A discontinuous transition is a rise across one gap between \
            neighbouring pressures that neither neighbouring segment explains, by more than \
            --threshold standard uncertainties; it is only called where the two pressures are at \
            most --step-window apart, and sits in the middle of that gap. Smooth transitions are \
            the breakpoints (0 to --max-breakpoints) of continuous piecewise-linear fits, their \
            number chosen by the Bayesian information criterion. Each point's uncertainty joins \
            the peak fit's with the pressure's (the table's, at least --pressure-sigma).
            Between each two neighbouring isotherms: the sign of the thermal expansion in each \
            pressure window (Q1 higher at the higher temperature: negative).
            Rows with times at one temperature and pressure: Q1 against time, a line or an exponential approach \
            to a limit, whichever the information criterion prefers.
            """
    )

    @Argument(help: "Peak table written by `beamline peaks`.")
    var table: String

    @Option(name: [.short, .customLong("output")], help: "Output JSON.")
    var output: String

    @Option(help: "Most breakpoints per curve.")
    var maxBreakpoints = 3

    @Option(help: "Widest gap between neighbouring pressures (GPa) in which a jump is called discontinuous.")
    var stepWindow = 1.5

    @Option(help: "Significance (standard uncertainties) a jump needs to be called discontinuous.")
    var threshold = 3.0

    @Option(help: "Smallest pressure uncertainty assumed for a point (GPa).")
    var pressureSigma = 0.05

    @Flag(help: "Relaxation: fit a stretched exponential (free exponent β) instead of a simple one.")
    var stretched = false

    typealias Transition = SeriesReport.Transition
    typealias Fit = SeriesReport.Fit
    typealias Isotherm = SeriesReport.Isotherm
    typealias Window = SeriesReport.Window
    typealias RelaxationOutput = SeriesReport.Relaxation

    func validate() throws {
        guard maxBreakpoints >= 0, stepWindow > 0, threshold > 0, pressureSigma >= 0 else {
            throw ValidationError("--max-breakpoints, --step-window, --threshold and --pressure-sigma must be positive")
        }
    }

    func run() throws {
        let rows = try PeakTable.read(table)
        let options = TransitionAnalysis.Options(maxBreakpoints: maxBreakpoints, stepWindow: stepWindow, threshold: threshold)
        let groups = Dictionary(grouping: rows.filter { $0.temperature != nil && $0.pressure != nil }, by: { $0.temperature! })
        var isotherms: [Isotherm] = []
        for t in groups.keys.sorted() {
            // A time series at one pressure is not an isotherm: at least three pressures that differ
            // by more than twice their uncertainty.
            let g = groups[t]!
            let distinct = g.map { $0.pressure! }.sorted().reduce(into: [Double]()) { kept, p in
                if let last = kept.last, p - last <= 2 * pressureSigma { return }
                kept.append(p)
            }
            guard distinct.count >= 3 else { continue }
            let p = g.map { $0.pressure! }
            let pSigma = g.map { max($0.pressureSigma ?? 0, pressureSigma) }
            var transitions: [Transition] = []
            var fits: [String: Fit] = [:]
            // Which way a step may go: Q1 and Q2 up, the volume down, widths and ratios either way.
            let quantities: [(String, [Double], [Double], Double)] = [
                ("Q1", g.map(\.q1), g.map(\.q1Sigma), 1), ("Q2", g.map(\.q2), g.map(\.q2Sigma), 1), ("FWHM", g.map(\.fwhm), g.map(\.fwhmSigma), 0),
                ("Q2/Q1", g.map(\.ratio), g.map(\.ratioSigma), 0),
                ("V", g.map { $0.volumeCubic ?? .nan }, g.map { ($0.volumeCubic ?? .nan) * 3 * $0.q1Sigma / $0.q1 }, -1),
            ]
            for (name, values, sigmas, direction) in quantities where values.allSatisfy(\.isFinite) {
                var options = options
                options.stepDirection = direction
                let analysis = TransitionAnalysis.analyse(pressure: p, value: values, valueSigma: sigmas, pressureSigma: pSigma, options: options)
                fits[name] = Fit(segments: analysis.segments.map { [$0.from, $0.to, $0.intercept, $0.slope] },
                                 chi_square: analysis.chiSquare, degrees_of_freedom: analysis.degreesOfFreedom)
                transitions += analysis.transitions.map {
                    Transition(quantity: name, pressure_GPa: $0.pressure, sigma_GPa: $0.sigma, kind: $0.kind.rawValue,
                               change: $0.change, significance: $0.significance)
                }
            }
            isotherms.append(Isotherm(temperature_K: t, points: g.count, transitions: transitions, fits: fits))
        }
        // Each pair of neighbouring isotherms.
        var windows: [Window] = []
        let temperatures = isotherms.map(\.temperature_K)
        for (lowT, highT) in zip(temperatures, temperatures.dropFirst()) {
            let low = groups[lowT]!, high = groups[highT]!
            windows += ThermalExpansion.windows(low: (low.map { $0.pressure! }, low.map(\.q1)), high: (high.map { $0.pressure! }, high.map(\.q1)))
                .map { Window(low_K: lowT, high_K: highT, from_GPa: $0.from, to_GPa: $0.to, thermal_expansion: $0.negative ? "negative" : "positive") }
        }
        var relaxations: [RelaxationOutput] = []
        // Time series: rows with times at one temperature and one pressure (within twice its uncertainty).
        let timed = Dictionary(grouping: rows.filter { $0.time != nil }, by: { $0.temperature })
        var series: [[PeakRow]] = []
        for key in timed.keys.sorted(by: { ($0 ?? -1) < ($1 ?? -1) }) {
            for row in timed[key]!.sorted(by: { ($0.pressure ?? -1) < ($1.pressure ?? -1) }) {
                if let last = series.last?.last, last.temperature == row.temperature,
                   (last.pressure == nil && row.pressure == nil) || abs((last.pressure ?? .nan) - (row.pressure ?? .nan)) <= 2 * pressureSigma {
                    series[series.count - 1].append(row)
                } else {
                    series.append([row])
                }
            }
        }
        for group in series where group.count >= 3 {
            let temperature = group[0].temperature ?? .nan
            let ordered = group.sorted { $0.time! < $1.time! }
            guard let fit = Relaxation.fit(time: ordered.map { $0.time! }, value: ordered.map(\.q1), sigma: ordered.map(\.q1Sigma),
                                           stretched: stretched) else { continue }
            let pressures = ordered.compactMap(\.pressure)
            var entry = RelaxationOutput(temperature_K: temperature.isFinite ? temperature : nil,
                                         pressure_GPa: pressures.isEmpty ? nil : pressures.reduce(0, +) / Double(pressures.count),
                                         points: fit.points, model: fit.model.rawValue, q1_slope_per_min: fit.slope, q1_slope_sigma: fit.slopeSigma,
                                         start_min: fit.origin)
            if fit.model == .exponential {
                entry.q1_limit = fit.parameters[0]
                entry.q1_change = fit.parameters[1]
                entry.tau_min = fit.parameters[2]
                entry.tau_sigma_min = fit.uncertainties[2]
                entry.beta = fit.parameters[3]
            }
            relaxations.append(entry)
        }
        let result = SeriesReport(isotherms: isotherms, thermal_expansion: windows, relaxation: relaxations)
        try result.write(to: output)
        for iso in isotherms {
            print(String(format: "%.0f K (%d points):", iso.temperature_K, iso.points))
            for t in iso.transitions where t.quantity == "Q1" || t.quantity == "V" {
                let detail = t.kind == "discontinuous" ? String(format: "jump %.4g, %.1fσ", t.change, t.significance)
                    : String(format: "slope change %.3g per GPa", t.change)
                print(String(format: "  %@ %@ transition at %.2f ± %.2f GPa (%@)", t.quantity, t.kind, t.pressure_GPa, t.sigma_GPa, detail))
            }
        }
        for w in windows {
            print(String(format: "thermal expansion %.0f–%.0f K %@ from %.1f to %.1f GPa", w.low_K, w.high_K, w.thermal_expansion, w.from_GPa, w.to_GPa))
        }
        for r in relaxations {
            if let tau = r.tau_min, let change = r.q1_change, let limit = r.q1_limit {
                print(String(format: "relaxation at %.0f K: Q1 → %.5f 1/Å, change %.3g, τ = %.3g ± %.2g min (%d frames)",
                             r.temperature_K ?? .nan, limit, change, tau, r.tau_sigma_min ?? .nan, r.points))
            } else {
                print(String(format: "relaxation at %.0f K: dQ1/dt = %.3g ± %.2g 1/(Å·min) over %d frames",
                             r.temperature_K ?? .nan, r.q1_slope_per_min, r.q1_slope_sigma, r.points))
            }
        }
    }
}
