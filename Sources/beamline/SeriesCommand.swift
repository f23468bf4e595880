import Analysis
import ArgumentParser
import BeamlineSupport
import Foundation
import Reduction

struct SeriesCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "series",
        abstract: "Transitions, thermal expansion and relaxation from a peak table.",
        discussion: """
            For each isotherm and each of Q1, Q2, FWHM, Q2/Q1 and V: the transitions with their \
            uncertainties. A discontinuous transition is a rise across one gap between neighbouring \
            pressures that neither neighbouring segment explains, by more than --threshold standard \
            uncertainties; it is only called where the two pressures are at most --step-window apart, \
            and sits in the middle of that gap. A smooth transition is a change of slope with a centre \
            and a width (a smooth hinge on a line or on a compression curve; 0 to --max-breakpoints \
            of them, each kept only when the Bayesian information criterion drops by more than 2), \
            and is reported only when it beats a plain compression curve. Each point's uncertainty \
            joins the peak fit's with the pressure's (the table's, at least --pressure-sigma). The \
            volume change at a discontinuity of Q1 is given for V ∝ Q1⁻³, for the exponent fitted to \
            the densities that `sq` refined, and from those densities.
            Between each two neighbouring isotherms: ΔQ1(P), ΔQ2(P) and ΔV/V(P) from the fitted \
            curves, with a band of --band-sigmas standard uncertainties, and the windows where that \
            band is above zero (negative thermal expansion), below it (positive) or contains it \
            (indistinguishable), each edge with its uncertainty, within the pressures both cover.
            Rows with times at one temperature and pressure: Q1 against time, a line or an \
            exponential approach to a limit, whichever the information criterion prefers.
            The README documents series.json.
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

    @Option(help: "Width of the thermal-expansion band, in standard uncertainties.")
    var bandSigmas = 3.0

    @Flag(help: "Relaxation: fit a stretched exponential (free exponent β) instead of a simple one.")
    var stretched = false

    func validate() throws {
        guard maxBreakpoints >= 0, stepWindow > 0, threshold > 0, pressureSigma >= 0, bandSigmas > 0 else {
            throw ValidationError("--max-breakpoints, --step-window, --threshold, --pressure-sigma and --band-sigmas must be positive")
        }
    }

    func run() throws {
        var job = SeriesJob()
        job.maxBreakpoints = maxBreakpoints
        job.stepWindow = stepWindow
        job.threshold = threshold
        job.pressureSigma = pressureSigma
        job.bandSigmas = bandSigmas
        job.stretched = stretched
        let result = job.run(try PeakTable.read(table))
        try result.write(to: output)
        for iso in result.isotherms {
            print(String(format: "%.0f K (%d points):", iso.temperature_K, iso.points))
            for t in iso.transitions where t.quantity == "Q1" || t.quantity == "V" {
                var detail = t.kind == "discontinuous"
                    ? String(format: "jump %.4g ± %.2g, %.1fσ", t.change, t.change_sigma, t.significance)
                    : String(format: "width %.2g ± %.2g GPa, slope change %.3g ± %.2g per GPa", t.width_GPa, t.width_sigma_GPa,
                             t.change, t.change_sigma)
                if let v = t.volume_change {
                    detail += String(format: ", ΔV/V %.2f ± %.2f %%", v.percent_cubic, v.sigma_percent_cubic)
                }
                print(String(format: "  %@ %@ transition at %.2f ± %.2f GPa (%@)", t.quantity, t.kind, t.pressure_GPa,
                             t.sigma_GPa, detail))
            }
        }
        for w in result.thermal_expansion {
            func edge(_ p: Double, _ sigma: Double, _ limit: Bool) -> String {
                limit ? String(format: "%.1f (data limit)", p) : String(format: "%.1f ± %.1f", p, sigma)
            }
            print(String(format: "thermal expansion %.0f–%.0f K %@ from %@ to %@ GPa", w.low_K, w.high_K, w.thermal_expansion,
                         edge(w.from_GPa, w.from_sigma_GPa, w.from_is_data_limit), edge(w.to_GPa, w.to_sigma_GPa, w.to_is_data_limit)))
        }
        for r in result.relaxation {
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
