import Analysis
import BeamlineSupport
import Foundation

/// `beamline series` as a job: a peak table in, the series report out. Per isotherm the
/// transitions of Q1, Q2, FWHM, Q2/Q1 and V; between neighbouring isotherms the thermal
/// expansion as bands and windows; for time series at one pressure, the relaxation.
public struct SeriesJob: Sendable {
    public var maxBreakpoints = 3
    public var stepWindow = 1.5
    public var threshold = 3.0
    /// Smallest pressure uncertainty assumed for a point (GPa).
    public var pressureSigma = 0.05
    /// Width of the thermal-expansion band in standard uncertainties.
    public var bandSigmas = 3.0
    public var stretched = false

    public init() {}

    typealias Transition = SeriesReport.Transition

    public func run(_ rows: [PeakRow]) -> SeriesReport {
        let options = TransitionAnalysis.Options(maxBreakpoints: maxBreakpoints, stepWindow: stepWindow,
                                                 threshold: threshold)
        let placed = rows.filter { $0.temperature != nil && $0.pressure != nil }
        let groups = Dictionary(grouping: placed, by: { $0.temperature! })
        var isotherms: [SeriesReport.Isotherm] = []
        var curves: [Double: [String: PressureCurve]] = [:]
        // Each isotherm's quantities, then every (isotherm, quantity) analysis at once on the cores:
        // the hinge searches are the whole cost of this step, and independent.
        typealias Quantity = (name: String, values: [Double], sigmas: [Double], direction: Double)
        var placedIsotherms: [(t: Double, rows: [PeakRow], p: [Double], pSigma: [Double], quantities: [Quantity])] = []
        for t in groups.keys.sorted() {
            // A time series at one pressure is not an isotherm: at least three pressures that differ
            // by more than twice their uncertainty.
            let g = groups[t]!.sorted { $0.pressure! < $1.pressure! }
            let distinct = g.map { $0.pressure! }.reduce(into: [Double]()) { kept, p in
                if let last = kept.last, p - last <= 2 * pressureSigma { return }
                kept.append(p)
            }
            guard distinct.count >= 3 else { continue }
            // Which way a step may go: Q1 and Q2 up, the volume down, widths and ratios either way.
            let quantities: [Quantity] = [
                ("Q1", g.map(\.q1), g.map(\.q1Sigma), 1), ("Q2", g.map(\.q2), g.map(\.q2Sigma), 1),
                ("FWHM", g.map(\.fwhm), g.map(\.fwhmSigma), 0), ("Q2/Q1", g.map(\.ratio), g.map(\.ratioSigma), 0),
                ("V", g.map { $0.volumeCubic ?? .nan },
                 g.map { ($0.volumeCubic ?? .nan) * 3 * $0.q1Sigma / $0.q1 }, -1),
            ]
            placedIsotherms.append((t, g, g.map { $0.pressure! }, g.map { max($0.pressureSigma ?? 0, pressureSigma) },
                                    quantities.filter { $0.values.allSatisfy(\.isFinite) }))
        }
        let jobs = placedIsotherms.indices.flatMap { i in placedIsotherms[i].quantities.indices.map { (i, $0) } }
        let results = Parallel.map(jobs.count) { k -> TransitionAnalysis in
            let isotherm = placedIsotherms[jobs[k].0], quantity = isotherm.quantities[jobs[k].1]
            var options = options
            options.stepDirection = quantity.direction
            return TransitionAnalysis.analyse(pressure: isotherm.p, value: quantity.values,
                                              valueSigma: quantity.sigmas, pressureSigma: isotherm.pSigma,
                                              options: options)
        }
        var next = 0
        for (t, g, _, _, quantities) in placedIsotherms {
            var transitions: [Transition] = []
            var fits: [String: SeriesReport.Fit] = [:]
            let exponent = VolumeChange.densityExponent(q1: g.map(\.q1), q1Sigma: g.map(\.q1Sigma),
                                                        density: g.map { $0.density ?? .nan },
                                                        densitySigma: g.map { $0.densitySigma ?? .nan })
            for quantity in quantities {
                let name = quantity.name
                let analysis = results[next]
                next += 1
                fits[name] = SeriesReport.Fit(
                    model: analysis.curve?.baseline.rawValue ?? "none",
                    segments: analysis.segments.map { [$0.from, $0.to, $0.intercept, $0.slope] },
                    chi_square: analysis.chiSquare, degrees_of_freedom: analysis.degreesOfFreedom)
                if let curve = analysis.curve { curves[t, default: [:]][name] = curve }
                for found in analysis.transitions {
                    var entry = Transition(quantity: name, kind: found.kind.rawValue, pressure_GPa: found.pressure,
                                           sigma_GPa: found.sigma, width_GPa: found.width,
                                           width_sigma_GPa: found.widthSigma, change: found.change,
                                           change_sigma: found.changeSigma, significance: found.significance)
                    if name == "Q1", found.kind == .discontinuous, let curve = analysis.curve,
                       let k = curve.steps.firstIndex(where: { abs($0 - found.pressure) < 1e-9 }) {
                        entry.volume_change = volumeChange(curve: curve, step: k, rows: g, exponent: exponent)
                    }
                    transitions.append(entry)
                }
            }
            isotherms.append(SeriesReport.Isotherm(temperature_K: t, points: g.count, transitions: transitions,
                                                   fits: fits))
        }
        var windows: [SeriesReport.Window] = [], bands: [SeriesReport.Band] = []
        let temperatures = isotherms.map(\.temperature_K)
        for (lowT, highT) in zip(temperatures, temperatures.dropFirst()) {
            guard let low = curves[lowT]?["Q1"], let high = curves[highT]?["Q1"],
                  let range = ThermalExpansion.commonRange(groups[lowT]!.map { $0.pressure! },
                                                           groups[highT]!.map { $0.pressure! })
            else { continue }
            func windowRecords(_ found: [ThermalExpansion.Window], _ quantity: String) -> [SeriesReport.Window] {
                found.map {
                    SeriesReport.Window(low_K: lowT, high_K: highT, quantity: quantity, from_GPa: $0.from,
                                        from_sigma_GPa: $0.fromSigma, from_is_data_limit: $0.fromIsDataLimit,
                                        to_GPa: $0.to, to_sigma_GPa: $0.toSigma, to_is_data_limit: $0.toIsDataLimit,
                                        thermal_expansion: $0.sign.rawValue, confidence_sigmas: bandSigmas)
                }
            }
            let q1Band = ThermalExpansion.band(low: low, high: high, over: range)
            let volume = ThermalExpansion.volumeBand(low: low, high: high, over: range)
            windows += windowRecords(ThermalExpansion.windows(q1Band, confidence: bandSigmas), "Q1")
            var q2Band: ThermalExpansion.Band?
            if let lowQ2 = curves[lowT]?["Q2"], let highQ2 = curves[highT]?["Q2"] {
                q2Band = ThermalExpansion.band(low: lowQ2, high: highQ2, over: range)
            }
            let q2Windows = q2Band.map { windowRecords(ThermalExpansion.windows($0, confidence: bandSigmas), "Q2") }
            bands.append(SeriesReport.Band(low_K: lowT, high_K: highT, pressure_GPa: q1Band.pressure,
                                           dQ1: q1Band.difference, dQ1_sigma: q1Band.sigma, dQ2: q2Band?.difference,
                                           dQ2_sigma: q2Band?.sigma, dV_over_V: volume.difference,
                                           dV_over_V_sigma: volume.sigma, q2_windows: q2Windows))
        }
        return SeriesReport(isotherms: isotherms, thermal_expansion: windows, thermal_expansion_bands: bands,
                            relaxation: relaxations(rows))
    }

    /// ΔV/V at step k of a Q1 curve: cubic, with the fitted exponent, and from the densities.
    func volumeChange(curve: PressureCurve, step k: Int, rows: [PeakRow],
                      exponent: (exponent: Double, sigma: Double)?) -> SeriesReport.VolumeChange {
        let cubic = VolumeChange.fromQ1(curve, step: k, exponent: 3)
        var record = SeriesReport.VolumeChange(percent_cubic: 100 * cubic.relative,
                                               sigma_percent_cubic: 100 * cubic.sigma)
        if let exponent {
            let fitted = VolumeChange.fromQ1(curve, step: k, exponent: exponent.exponent, exponentSigma: exponent.sigma)
            record.exponent = exponent.exponent
            record.exponent_sigma = exponent.sigma
            record.percent_exponent = 100 * fitted.relative
            record.sigma_percent_exponent = 100 * fitted.sigma
        }
        let withDensity = rows.filter { $0.density != nil && ($0.densitySigma ?? 0) > 0 }
        if let densityCurve = curve.refitted(pressure: withDensity.map { $0.pressure! },
                                             value: withDensity.map { $0.density! },
                                             sigma: withDensity.map { $0.densitySigma! }) {
            let fromDensity = VolumeChange.fromDensity(densityCurve, step: k)
            if fromDensity.relative.isFinite, fromDensity.sigma.isFinite {
                record.percent_density = 100 * fromDensity.relative
                record.sigma_percent_density = 100 * fromDensity.sigma
            }
        }
        return record
    }

    /// Time series: rows with times at one temperature and one pressure (within twice its
    /// uncertainty), Q1 against time.
    func relaxations(_ rows: [PeakRow]) -> [SeriesReport.Relaxation] {
        let timed = Dictionary(grouping: rows.filter { $0.time != nil }, by: { $0.temperature })
        var series: [[PeakRow]] = []
        for key in timed.keys.sorted(by: { ($0 ?? -1) < ($1 ?? -1) }) {
            for row in timed[key]!.sorted(by: { ($0.pressure ?? -1) < ($1.pressure ?? -1) }) {
                if let last = series.last?.last, last.temperature == row.temperature,
                   (last.pressure == nil && row.pressure == nil)
                    || abs((last.pressure ?? .nan) - (row.pressure ?? .nan)) <= 2 * pressureSigma {
                    series[series.count - 1].append(row)
                } else {
                    series.append([row])
                }
            }
        }
        var relaxations: [SeriesReport.Relaxation] = []
        for group in series where group.count >= 3 {
            let temperature = group[0].temperature ?? .nan
            let ordered = group.sorted { $0.time! < $1.time! }
            guard let fit = Relaxation.fit(time: ordered.map { $0.time! }, value: ordered.map(\.q1),
                                           sigma: ordered.map(\.q1Sigma), stretched: stretched) else { continue }
            let pressures = ordered.compactMap(\.pressure)
            let pressure = pressures.isEmpty ? nil : pressures.reduce(0, +) / Double(pressures.count)
            var entry = SeriesReport.Relaxation(temperature_K: temperature.isFinite ? temperature : nil,
                                                pressure_GPa: pressure, points: fit.points, model: fit.model.rawValue,
                                                q1_slope_per_min: fit.slope, q1_slope_sigma: fit.slopeSigma,
                                                start_min: fit.origin)
            if fit.model == .exponential {
                (entry.q1_limit, entry.q1_limit_sigma) = (fit.parameters[0], fit.uncertainties[0])
                (entry.q1_change, entry.q1_change_sigma) = (fit.parameters[1], fit.uncertainties[1])
                (entry.tau_min, entry.tau_sigma_min) = (fit.parameters[2], fit.uncertainties[2])
                (entry.beta, entry.beta_sigma) = (fit.parameters[3], fit.uncertainties[3])
            }
            relaxations.append(entry)
        }
        return relaxations
    }
}
