import BeamlineNumerics
import BeamlineSupport
import Foundation

/// Gas constant R, J mol⁻¹ K⁻¹ (CODATA 2018, exact by the 2019 SI) and Avogadro's number.
let gasConstant = 8.314462618
let avogadro = 6.02214076e23

/// The isothermal (static, 300 K) part of an equation of state.
public enum StaticEOS: String, Sendable {
    /// Third-order Birch–Murnaghan (Birch, Phys. Rev. 71 (1947) 809), x = V/V₀:
    /// P = 3/2 K₀ (x^−7/3 − x^−5/3) [1 + 3/4 (K₀′ − 4)(x^−2/3 − 1)]
    case bm3
    /// Vinet (Vinet et al., J. Phys. C 19 (1986) L467), f = (V/V₀)^1/3:
    /// P = 3 K₀ (1 − f) / f² · exp[3/2 (K₀′ − 1)(1 − f)]
    case vinet

    public func pressure(volume v: Double, v0: Double, k0: Double, k0p: Double) -> Double {
        let x = v / v0
        switch self {
        case .bm3:
            let x23 = pow(x, -2.0 / 3)
            return 1.5 * k0 * (pow(x, -7.0 / 3) - pow(x, -5.0 / 3)) * (1 + 0.75 * (k0p - 4) * (x23 - 1))
        case .vinet:
            let f = cbrt(x)
            return 3 * k0 * (1 - f) / (f * f) * exp(1.5 * (k0p - 1) * (1 - f))
        }
    }
}

/// The Debye energy function D₃(x) = 3/x³ ∫₀ˣ t³/(eᵗ − 1) dt, to about 10⁻¹⁴.
///
/// Below x = 2: the series 1 − 3x/8 + Σ 3 B₂ₖ x²ᵏ / ((2k + 3)(2k)!) (Abramowitz & Stegun
/// 27.1.1 with Bernoulli numbers); above: π⁴/15 − Σₖ e^−kx (x³/k + 3x²/k² + 6x/k³ + 6/k⁴),
/// divided by x³/3.
public func debyeFunction3(_ x: Double) -> Double {
    precondition(x >= 0, "D3 of a negative argument")
    if x == 0 { return 1 }
    if x < 2 {
        // 3 B₂ₖ / ((2k + 3)(2k)!) for k = 1 ... 10.
        let bernoulli: [Double] = [1.0 / 6, -1.0 / 30, 1.0 / 42, -1.0 / 30, 5.0 / 66, -691.0 / 2730, 7.0 / 6,
                                   -3617.0 / 510, 43867.0 / 798, -174611.0 / 330]
        var sum = 1 - 3 * x / 8
        var factorial = 1.0, power = 1.0
        for k in 1 ... bernoulli.count {
            factorial *= Double(2 * k - 1) * Double(2 * k)
            power *= x * x
            sum += 3 * bernoulli[k - 1] * power / (Double(2 * k + 3) * factorial)
        }
        return sum
    }
    var tail = 0.0
    for k in 1 ... 60 {
        let kd = Double(k)
        let term = exp(-kd * x) * (x * x * x / kd + 3 * x * x / (kd * kd) + 6 * x / (kd * kd * kd) + 6 / (kd * kd * kd * kd))
        tail += term
        if term < 1e-17 * tail { break }
    }
    return 3 / (x * x * x) * (pow(Double.pi, 4) / 15 - tail)
}

/// The thermal (and other temperature-dependent) pressure of an equation of state,
/// relative to the reference temperature T₀ (300 K), as implemented by pytheos
/// (Park, https://github.com/SHDShim/pytheos) for each published scale.
public enum ThermalModel: Sendable {
    /// No thermal pressure (300 K isotherm only).
    case none
    /// Mie–Grüneisen–Debye with γ = γ₀ x^q, θ = θ₀ exp[(γ₀ − γ)/q]:
    /// ΔP = γ/V · [E(T) − E(T₀)], E(T) = 3nR T D₃(θ/T).
    case constantQ(gamma0: Double, q: Double, theta0: Double)
    /// Altshuler form (Dorogokupets & Dewaele 2007): γ = γ∞ + (γ₀ − γ∞) x^β,
    /// θ = θ₀ x^−γ∞ exp[(γ₀ − γ∞)/β (1 − x^β)].
    case altshuler(gamma0: Double, gammaInfinity: Double, beta: Double, theta0: Double)
    /// Tange et al. (JGR 114 (2009) B03208): γ = γ₀ [1 + a (x^b − 1)],
    /// θ = θ₀ x^−(1−a)γ₀ exp[(γ₀ − γ)/b].
    case tange(gamma0: Double, a: Double, b: Double, theta0: Double)
    /// αK_T: ΔP = α₀ K₀ (T − T₀) (Holmes et al. 1989).
    case alphaKT(alpha0: Double, k0: Double)

    func gammaTheta(_ x: Double) -> (Double, Double)? {
        switch self {
        case .none, .alphaKT: return nil
        case let .constantQ(g0, q, t0):
            let g = g0 * pow(x, q)
            return (g, t0 * exp((g0 - g) / q))
        case let .altshuler(g0, gi, beta, t0):
            return (gi + (g0 - gi) * pow(x, beta), t0 * pow(x, -gi) * exp((g0 - gi) / beta * (1 - pow(x, beta))))
        case let .tange(g0, a, b, t0):
            let g = g0 * (1 + a * (pow(x, b) - 1))
            return (g, t0 * pow(x, -(1 - a) * g0) * exp((g0 - g) / b))
        }
    }
}

/// Anharmonic and electronic contributions (Zharkov form, Dorogokupets & Dewaele 2007:
/// P = 3nR/2 · a₀ xᵐ m T²/V; P = 3nR/2 · e₀ xᵍ g T²/V) or a polynomial in T
/// (Tsuchiya's electronic term, used by Yokoo et al. 2009).
public struct ExtraThermalTerms: Sendable {
    public var anharmonicA0 = 0.0, anharmonicM = 0.0
    public var electronicE0 = 0.0, electronicG = 0.0
    /// Electronic pressure a + bT + cT² + dT³ (GPa), relative to T₀.
    public var electronicPolynomial: [Double]?

    public init() {}
}

/// A pressure scale of a diffraction standard: P(V, T) = P_static(V) + ΔP_thermal(V, T) + …
public struct EquationOfState: Sendable {
    public var name: String
    public var reference: String
    /// Unit-cell volume at ambient conditions, Å³.
    public var v0: Double
    /// Formula units per cell, atoms per formula unit.
    public var z: Double
    public var n: Double
    public var staticForm: StaticEOS
    public var k0: Double
    public var k0p: Double
    public var thermal: ThermalModel
    public var extra: ExtraThermalTerms
    /// Multiplier of 3R in the thermal energy (pytheos uses 0.125/0.12664 for some scales).
    public var threeRFactor: Double
    public var referenceTemperature: Double = 300
    /// Temperatures the scale is meant for, K.
    public var validTemperatures: ClosedRange<Double>

    /// Pressure in GPa at volume `v` (Å³ per unit cell) and temperature `t` (K).
    public func pressure(volume v: Double, temperature t: Double) -> Double {
        let x = v / v0
        var p = staticForm.pressure(volume: v, v0: v0, k0: k0, k0p: k0p)
        let molarVolume = v * 1e-30 * avogadro / z  // m³ per mole of formula units
        let threeR = 3 * gasConstant * threeRFactor
        let t0 = referenceTemperature
        switch thermal {
        case .none: break
        case let .alphaKT(alpha0, kt): p += alpha0 * kt * (t - t0)
        default:
            let (gamma, theta) = thermal.gammaTheta(x)!
            func energy(_ temperature: Double) -> Double {
                temperature <= 0 ? 0 : threeR * n * temperature * debyeFunction3(theta / temperature)
            }
            p += gamma / molarVolume * (energy(t) - energy(t0)) * 1e-9
        }
        if extra.anharmonicA0 != 0 {
            let a = extra.anharmonicA0 * pow(x, extra.anharmonicM)
            p += threeR * n / 2 * a * extra.anharmonicM / molarVolume * (t * t - t0 * t0) * 1e-9
        }
        if extra.electronicE0 != 0 {
            p += threeR * n / 2 * extra.electronicE0 * pow(x, extra.electronicG) * extra.electronicG / molarVolume * (t * t - t0 * t0) * 1e-9
        }
        if let c = extra.electronicPolynomial, c.count == 4 {
            func f(_ temperature: Double) -> Double { c[0] + c[1] * temperature + c[2] * temperature * temperature + c[3] * pow(temperature, 3) }
            p += f(t) - f(t0)
        }
        return p
    }

    /// Volume (Å³) at pressure `p` (GPa) and temperature `t`: the inverse of `pressure`.
    public func volume(pressure p: Double, temperature t: Double) throws -> Double {
        guard let v = RootFinding.brent({ self.pressure(volume: $0, temperature: t) - p }, 0.3 * v0, 1.3 * v0, tolerance: 1e-12 * v0) else {
            throw BeamlineError("\(name): no volume gives \(p) GPa at \(t) K (outside the scale's range)")
        }
        return v
    }

    /// dP/dV at (V, T), GPa per Å³ (for propagating the volume's uncertainty).
    public func slope(volume v: Double, temperature t: Double) -> Double {
        let h = 1e-6 * v
        return (pressure(volume: v + h, temperature: t) - pressure(volume: v - h, temperature: t)) / (2 * h)
    }
}
