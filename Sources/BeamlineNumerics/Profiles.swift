import Foundation

/// Peak shapes used for fitting.
public enum PeakProfile {
    /// Pseudo-Voigt of unit height: η·L + (1 − η)·G with the same FWHM `w`
    /// (Wertheim et al., J. Electron Spectrosc. 4 (1974) 311):
    ///
    ///     L = 1 / (1 + 4(x − x₀)²/w²),   G = exp(−4 ln 2 (x − x₀)²/w²)
    @inline(__always)
    public static func pseudoVoigt(_ x: Double, centre: Double, fwhm: Double, eta: Double) -> Double {
        let u = (x - centre) / fwhm
        let u2 = 4 * u * u
        return eta / (1 + u2) + (1 - eta) * exp(-log(2) * u2)
    }

    /// Area of a unit-height pseudo-Voigt: w·(η·π/2 + (1 − η)·√(π / 4 ln 2)).
    public static func pseudoVoigtArea(fwhm: Double, eta: Double) -> Double {
        fwhm * (eta * .pi / 2 + (1 - eta) * (Double.pi / (4 * log(2))).squareRoot())
    }
}

/// One-dimensional helpers.
public enum Interpolation {
    /// Linear interpolation of (x, y) at `t` (x increasing); nil outside [x₀, xₙ].
    public static func linear(_ x: [Double], _ y: [Double], at t: Double) -> Double? {
        guard let first = x.first, let last = x.last, t >= first, t <= last, x.count == y.count else { return nil }
        var lo = 0, hi = x.count - 1
        while hi - lo > 1 {
            let mid = (lo + hi) / 2
            if x[mid] <= t { lo = mid } else { hi = mid }
        }
        let span = x[hi] - x[lo]
        return span == 0 ? y[lo] : y[lo] + (y[hi] - y[lo]) * (t - x[lo]) / span
    }
}

/// Root finding.
public enum RootFinding {
    /// A root of `f` in [a, b] where f(a) and f(b) differ in sign (Brent's method, 1973).
    public static func brent(_ f: (Double) -> Double, _ a: Double, _ b: Double, tolerance: Double = 1e-12,
                             maxIterations: Int = 200) -> Double? {
        var a = a, b = b
        var fa = f(a), fb = f(b)
        guard fa.isFinite, fb.isFinite, fa * fb <= 0 else { return nil }
        if fa == 0 { return a }
        if fb == 0 { return b }
        var c = a, fc = fa, d = b - a, e = d
        for _ in 0 ..< maxIterations {
            if fb * fc > 0 { c = a; fc = fa; d = b - a; e = d }
            if abs(fc) < abs(fb) { a = b; b = c; c = a; fa = fb; fb = fc; fc = fa }
            let tol = 2 * Double.ulpOfOne * abs(b) + 0.5 * tolerance
            let m = 0.5 * (c - b)
            if abs(m) <= tol || fb == 0 { return b }
            if abs(e) >= tol && abs(fa) > abs(fb) {
                let s = fb / fa
                var p: Double, q: Double
                if a == c {
                    p = 2 * m * s
                    q = 1 - s
                } else {
                    let qa = fa / fc, r = fb / fc
                    p = s * (2 * m * qa * (qa - r) - (b - a) * (r - 1))
                    q = (qa - 1) * (r - 1) * (s - 1)
                }
                if p > 0 { q = -q } else { p = -p }
                if 2 * p < min(3 * m * q - abs(tol * q), abs(e * q)) {
                    e = d
                    d = p / q
                } else {
                    d = m
                    e = d
                }
            } else {
                d = m
                e = d
            }
            a = b
            fa = fb
            b += abs(d) > tol ? d : (m > 0 ? tol : -tol)
            fb = f(b)
            guard fb.isFinite else { return nil }
        }
        return nil
    }
}
