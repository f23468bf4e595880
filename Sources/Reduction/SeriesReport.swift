import BeamlineSupport
import Foundation

/// What `series` writes (`series.json`) and `report` reads: per isotherm the transitions found
/// and the fitted pieces of every quantity, the thermal-expansion windows between isotherms and
/// the relaxation fits. Keys keep the file's spelling (units in their names).
public struct SeriesReport: Codable, Sendable, Equatable {
    public var isotherms: [Isotherm]
    public var thermal_expansion: [Window]
    public var relaxation: [Relaxation]

    public init(isotherms: [Isotherm], thermal_expansion: [Window], relaxation: [Relaxation]) {
        self.isotherms = isotherms
        self.thermal_expansion = thermal_expansion
        self.relaxation = relaxation
    }

    public struct Transition: Codable, Sendable, Equatable {
        public var quantity: String
        public var pressure_GPa: Double
        public var sigma_GPa: Double
        public var kind: String
        /// Jump (discontinuous) or change of slope per GPa (smooth).
        public var change: Double
        public var significance: Double

        public init(quantity: String, pressure_GPa: Double, sigma_GPa: Double, kind: String, change: Double,
                    significance: Double) {
            self.quantity = quantity
            self.pressure_GPa = pressure_GPa
            self.sigma_GPa = sigma_GPa
            self.kind = kind
            self.change = change
            self.significance = significance
        }
    }

    public struct Fit: Codable, Sendable, Equatable {
        /// [from_GPa, to_GPa, intercept, slope] per straight piece.
        public var segments: [[Double]]
        public var chi_square: Double
        public var degrees_of_freedom: Int

        public init(segments: [[Double]], chi_square: Double, degrees_of_freedom: Int) {
            self.segments = segments
            self.chi_square = chi_square
            self.degrees_of_freedom = degrees_of_freedom
        }
    }

    public struct Isotherm: Codable, Sendable, Equatable {
        public var temperature_K: Double
        public var points: Int
        public var transitions: [Transition]
        public var fits: [String: Fit]

        public init(temperature_K: Double, points: Int, transitions: [Transition], fits: [String: Fit]) {
            self.temperature_K = temperature_K
            self.points = points
            self.transitions = transitions
            self.fits = fits
        }
    }

    public struct Window: Codable, Sendable, Equatable {
        public var low_K: Double
        public var high_K: Double
        public var from_GPa: Double
        public var to_GPa: Double
        public var thermal_expansion: String

        public init(low_K: Double, high_K: Double, from_GPa: Double, to_GPa: Double, thermal_expansion: String) {
            self.low_K = low_K
            self.high_K = high_K
            self.from_GPa = from_GPa
            self.to_GPa = to_GPa
            self.thermal_expansion = thermal_expansion
        }
    }

    public struct Relaxation: Codable, Sendable, Equatable {
        public var temperature_K: Double?
        public var pressure_GPa: Double?
        public var points: Int
        public var model: String
        public var q1_slope_per_min: Double
        public var q1_slope_sigma: Double
        public var q1_limit: Double?
        public var q1_change: Double?
        public var tau_min: Double?
        public var tau_sigma_min: Double?
        public var beta: Double?
        public var start_min: Double

        public init(temperature_K: Double?, pressure_GPa: Double?, points: Int, model: String, q1_slope_per_min: Double,
                    q1_slope_sigma: Double, q1_limit: Double? = nil, q1_change: Double? = nil, tau_min: Double? = nil,
                    tau_sigma_min: Double? = nil, beta: Double? = nil, start_min: Double) {
            self.temperature_K = temperature_K
            self.pressure_GPa = pressure_GPa
            self.points = points
            self.model = model
            self.q1_slope_per_min = q1_slope_per_min
            self.q1_slope_sigma = q1_slope_sigma
            self.q1_limit = q1_limit
            self.q1_change = q1_change
            self.tau_min = tau_min
            self.tau_sigma_min = tau_sigma_min
            self.beta = beta
            self.start_min = start_min
        }
    }

    /// Writes pretty-printed JSON with sorted keys (outputs diff cleanly), atomically.
    public func write(to path: String) throws {
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.prettyPrinted, .sortedKeys]
        try AtomicFile.write(try encoder.encode(self), to: path)
    }

    /// Reads a report; a file that is not one is an error naming it.
    public init(contentsOf path: String) throws {
        do {
            self = try JSONDecoder().decode(SeriesReport.self, from: try InputFile.contents(of: path))
        } catch let error as BeamlineError {
            throw error
        } catch {
            throw BeamlineError(path: path, "not a series report (\(error))")
        }
    }
}
