import BeamlineSupport
import Foundation

/// What `series` writes (`series.json`) and `report` reads: per isotherm the transitions found
/// and the fitted curve of every quantity, the thermal expansion between neighbouring isotherms
/// as windows and bands, and the relaxation fits. Keys keep the file's spelling (units in their
/// names); every number comes with its standard uncertainty. The README documents the schema.
public struct SeriesReport: Codable, Sendable, Equatable {
    /// Version of this layout; `report` refuses another.
    public static let currentFormat = 2

    public var format: Int
    public var isotherms: [Isotherm]
    public var thermal_expansion: [Window]
    public var thermal_expansion_bands: [Band]
    public var relaxation: [Relaxation]

    public init(isotherms: [Isotherm], thermal_expansion: [Window], thermal_expansion_bands: [Band],
                relaxation: [Relaxation]) {
        format = Self.currentFormat
        self.isotherms = isotherms
        self.thermal_expansion = thermal_expansion
        self.thermal_expansion_bands = thermal_expansion_bands
        self.relaxation = relaxation
    }

    /// ΔV/V across a discontinuity in percent (negative: a collapse), three ways.
    public struct VolumeChange: Codable, Sendable, Equatable {
        /// V ∝ Q1⁻³.
        public var percent_cubic: Double
        public var sigma_percent_cubic: Double
        /// V ∝ Q1^(−e), e fitted from the densities the S(Q) stage refined (absent without them).
        public var exponent: Double?
        public var exponent_sigma: Double?
        public var percent_exponent: Double?
        public var sigma_percent_exponent: Double?
        /// From the jump of the refined density ρ₀ itself (absent without densities on both sides).
        public var percent_density: Double?
        public var sigma_percent_density: Double?

        public init(percent_cubic: Double, sigma_percent_cubic: Double) {
            self.percent_cubic = percent_cubic
            self.sigma_percent_cubic = sigma_percent_cubic
        }
    }

    public struct Transition: Codable, Sendable, Equatable {
        public var quantity: String
        /// "smooth" or "discontinuous".
        public var kind: String
        /// Centre of a smooth change, middle of the gap of a discontinuity.
        public var pressure_GPa: Double
        public var sigma_GPa: Double
        /// 10–90 % range of a smooth change's slope change; 0 for a discontinuity (narrower than
        /// its gap, whose half is then the uncertainty).
        public var width_GPa: Double
        public var width_sigma_GPa: Double
        /// Jump (discontinuous) or change of slope per GPa (smooth).
        public var change: Double
        public var change_sigma: Double
        /// Discontinuous: the jump's excess over the neighbouring slopes in standard uncertainties.
        /// Smooth: BIC without this change minus BIC with it.
        public var significance: Double
        /// Discontinuities of Q1 only.
        public var volume_change: VolumeChange?

        public init(quantity: String, kind: String, pressure_GPa: Double, sigma_GPa: Double, width_GPa: Double,
                    width_sigma_GPa: Double, change: Double, change_sigma: Double, significance: Double,
                    volume_change: VolumeChange? = nil) {
            self.quantity = quantity
            self.kind = kind
            self.pressure_GPa = pressure_GPa
            self.sigma_GPa = sigma_GPa
            self.width_GPa = width_GPa
            self.width_sigma_GPa = width_sigma_GPa
            self.change = change
            self.change_sigma = change_sigma
            self.significance = significance
            self.volume_change = volume_change
        }
    }

    public struct Fit: Codable, Sendable, Equatable {
        /// "line", "curved" or "compression": the baseline of the description chosen.
        public var model: String
        /// [from_GPa, to_GPa, intercept, slope] per straight piece of the fitted curve.
        public var segments: [[Double]]
        public var chi_square: Double
        public var degrees_of_freedom: Int

        public init(model: String, segments: [[Double]], chi_square: Double, degrees_of_freedom: Int) {
            self.model = model
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

    /// A pressure window of one sign of the thermal expansion between two isotherms.
    public struct Window: Codable, Sendable, Equatable {
        public var low_K: Double
        public var high_K: Double
        /// The quantity compared ("Q1").
        public var quantity: String
        public var from_GPa: Double
        public var from_sigma_GPa: Double
        /// True where the window starts at the lowest pressure both isotherms cover (not a change).
        public var from_is_data_limit: Bool
        public var to_GPa: Double
        public var to_sigma_GPa: Double
        public var to_is_data_limit: Bool
        /// "negative", "positive" or "indistinguishable".
        public var thermal_expansion: String
        /// Width of the band, in standard uncertainties, that decided the sign.
        public var confidence_sigmas: Double

        public init(low_K: Double, high_K: Double, quantity: String, from_GPa: Double, from_sigma_GPa: Double,
                    from_is_data_limit: Bool, to_GPa: Double, to_sigma_GPa: Double, to_is_data_limit: Bool,
                    thermal_expansion: String, confidence_sigmas: Double) {
            self.low_K = low_K
            self.high_K = high_K
            self.quantity = quantity
            self.from_GPa = from_GPa
            self.from_sigma_GPa = from_sigma_GPa
            self.from_is_data_limit = from_is_data_limit
            self.to_GPa = to_GPa
            self.to_sigma_GPa = to_sigma_GPa
            self.to_is_data_limit = to_is_data_limit
            self.thermal_expansion = thermal_expansion
            self.confidence_sigmas = confidence_sigmas
        }
    }

    /// The differences between two isotherms (high − low) on a grid of common pressures.
    public struct Band: Codable, Sendable, Equatable {
        public var low_K: Double
        public var high_K: Double
        public var pressure_GPa: [Double]
        public var dQ1: [Double]
        public var dQ1_sigma: [Double]
        public var dQ2: [Double]?
        public var dQ2_sigma: [Double]?
        /// V_high/V_low − 1 from Q1 (V ∝ Q1⁻³).
        public var dV_over_V: [Double]
        public var dV_over_V_sigma: [Double]
        /// The windows of ΔQ2, as those of ΔQ1 in `thermal_expansion`.
        public var q2_windows: [Window]?

        public init(low_K: Double, high_K: Double, pressure_GPa: [Double], dQ1: [Double], dQ1_sigma: [Double],
                    dQ2: [Double]?, dQ2_sigma: [Double]?, dV_over_V: [Double], dV_over_V_sigma: [Double],
                    q2_windows: [Window]?) {
            self.low_K = low_K
            self.high_K = high_K
            self.pressure_GPa = pressure_GPa
            self.dQ1 = dQ1
            self.dQ1_sigma = dQ1_sigma
            self.dQ2 = dQ2
            self.dQ2_sigma = dQ2_sigma
            self.dV_over_V = dV_over_V
            self.dV_over_V_sigma = dV_over_V_sigma
            self.q2_windows = q2_windows
        }
    }

    public struct Relaxation: Codable, Sendable, Equatable {
        public var temperature_K: Double?
        public var pressure_GPa: Double?
        public var points: Int
        /// "linear" or "exponential".
        public var model: String
        public var q1_slope_per_min: Double
        public var q1_slope_sigma: Double
        public var q1_limit: Double?
        public var q1_limit_sigma: Double?
        public var q1_change: Double?
        public var q1_change_sigma: Double?
        public var tau_min: Double?
        public var tau_sigma_min: Double?
        public var beta: Double?
        /// 0 when β was held at 1 (not `--stretched`).
        public var beta_sigma: Double?
        public var start_min: Double

        public init(temperature_K: Double?, pressure_GPa: Double?, points: Int, model: String, q1_slope_per_min: Double,
                    q1_slope_sigma: Double, start_min: Double) {
            self.temperature_K = temperature_K
            self.pressure_GPa = pressure_GPa
            self.points = points
            self.model = model
            self.q1_slope_per_min = q1_slope_per_min
            self.q1_slope_sigma = q1_slope_sigma
            self.start_min = start_min
        }
    }

    /// Writes pretty-printed JSON with sorted keys (outputs diff cleanly), atomically.
    public func write(to path: String) throws {
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.prettyPrinted, .sortedKeys]
        try AtomicFile.write(try encoder.encode(self), to: path)
    }

    /// Reads a report; a file that is not one, or of another format, is an error naming it.
    public init(contentsOf path: String) throws {
        let data = try InputFile.contents(of: path)
        struct Version: Decodable { var format: Int? }
        let version = (try? JSONDecoder().decode(Version.self, from: data))?.format
        guard version == Self.currentFormat else {
            throw BeamlineError(path: path, version == nil
                ? "not a series report of format \(Self.currentFormat)"
                    + " (written by an older `beamline series`? run it again)"
                : "series report format \(version!), this program reads \(Self.currentFormat)")
        }
        do {
            self = try JSONDecoder().decode(SeriesReport.self, from: data)
        } catch {
            throw BeamlineError(path: path, "not a series report (\(error))")
        }
    }
}
