/// Non-linear least squares by the Levenberg–Marquardt method (Marquardt, J. Soc.
/// Indust. Appl. Math. 11 (1963) 431; Press et al., Numerical Recipes §15.5), with box
/// bounds enforced by projection and a finite-difference Jacobian.
///
/// Minimises χ² = Σ rᵢ(p)², where the model returns the weighted residuals rᵢ.
/// Standard uncertainties come from the covariance (JᵀJ)⁻¹ at the minimum, scaled by
/// the reduced χ² (so that they do not depend on how well the weights were known).
public struct LevenbergMarquardt: Sendable {
    public var maxIterations = 200
    /// Stop when χ² improves by less than this fraction.
    public var relativeTolerance = 1e-9
    public var lower: [Double]?
    public var upper: [Double]?
    /// Parameters to hold fixed (true = fixed).
    public var fixed: [Bool]?

    public init(maxIterations: Int = 200, relativeTolerance: Double = 1e-9, lower: [Double]? = nil,
                upper: [Double]? = nil, fixed: [Bool]? = nil) {
        self.maxIterations = maxIterations
        self.relativeTolerance = relativeTolerance
        self.lower = lower
        self.upper = upper
        self.fixed = fixed
    }

    public struct Result: Sendable {
        public var parameters: [Double]
        /// Standard uncertainties (0 for fixed parameters; NaN when the covariance is singular).
        public var uncertainties: [Double]
        public var covariance: [Double]
        public var chiSquare: Double
        public var reducedChiSquare: Double
        public var iterations: Int
        /// The fit met its tolerance (false: it ran out of iterations or could not move).
        public var converged: Bool
        /// Parameters that ended on a bound.
        public var atBound: [Bool]
    }

    public func fit(_ initial: [Double], residuals: ([Double]) -> [Double]) -> Result {
        let n = initial.count
        let free = (0 ..< n).filter { !(fixed?[$0] ?? false) }
        func project(_ p: [Double]) -> [Double] {
            var q = p
            for i in 0 ..< n {
                if let lo = lower?[i] { q[i] = max(q[i], lo) }
                if let hi = upper?[i] { q[i] = min(q[i], hi) }
            }
            return q
        }
        func chi2(_ r: [Double]) -> Double {
            var s = 0.0
            for v in r { s += v * v }
            return s.isFinite ? s : .infinity
        }
        // Finite-difference steps relative to each parameter's size (its start value
        // when it sits at zero, else 1).
        let typical = initial.map { abs($0) > 0 ? abs($0) : 1 }
        func jacobian(_ p: [Double], _ r0: [Double]) -> [Double] {
            var jac = [Double](repeating: 0, count: r0.count * free.count)
            for (k, i) in free.enumerated() {
                var step = 1e-7 * max(abs(p[i]), typical[i])
                var q = p
                q[i] += step
                if let hi = upper?[i], q[i] > hi {
                    q[i] = p[i] - step
                    step = -step
                }
                let r1 = residuals(q)
                for m in 0 ..< r0.count { jac[m * free.count + k] = (r1[m] - r0[m]) / step }
            }
            return jac
        }
        var p = project(initial)
        var r = residuals(p)
        var current = chi2(r)
        var lambda = 1e-3
        var iterations = 0
        var converged = false
        let m = r.count
        let k = free.count
        var jac = jacobian(p, r)
        while iterations < maxIterations, k > 0 {
            iterations += 1
            var jtj = [Double](repeating: 0, count: k * k)
            var jtr = [Double](repeating: 0, count: k)
            for row in 0 ..< m {
                for a in 0 ..< k {
                    let ja = jac[row * k + a]
                    jtr[a] -= ja * r[row]
                    for b in 0 ... a { jtj[a * k + b] += ja * jac[row * k + b] }
                }
            }
            for a in 0 ..< k { for b in 0 ..< a { jtj[b * k + a] = jtj[a * k + b] } }
            var improved = false
            // Parameters on a bound that the descent direction pushes outward are held
            // for this iteration (an active set), so projection does not stall the fit.
            let active = free.enumerated().map { a, i -> Bool in
                if let lo = lower?[i], lo.isFinite, p[i] <= lo, jtr[a] < 0 { return true }
                if let hi = upper?[i], hi.isFinite, p[i] >= hi, jtr[a] > 0 { return true }
                return false
            }
            // Scale to unit diagonal so parameters of very different sizes (a peak's
            // position and its amplitude) do not make the system look singular.
            let scale = (0 ..< k).map { a in jtj[a * k + a] > 0 ? jtj[a * k + a].squareRoot() : 1 }
            while lambda < 1e12 {
                var damped = jtj
                var rhs = [Double](repeating: 0, count: k)
                for a in 0 ..< k {
                    for b in 0 ..< k {
                        damped[a * k + b] = active[a] || active[b] ? 0 : damped[a * k + b] / (scale[a] * scale[b])
                    }
                    damped[a * k + a] = active[a] ? 1 : damped[a * k + a] + lambda
                    rhs[a] = active[a] ? 0 : jtr[a] / scale[a]
                }
                guard let scaledStep = LinearAlgebra.solve(damped, rhs) else {
                    lambda *= 10
                    continue
                }
                let step = (0 ..< k).map { scaledStep[$0] / scale[$0] }
                var trial = p
                for (a, i) in free.enumerated() { trial[i] += step[a] }
                trial = project(trial)
                let rt = residuals(trial)
                let ct = chi2(rt)
                if ct < current {
                    let gain = (current - ct) / max(current, 1e-300)
                    // Converged too when no parameter moves by more than 10⁻¹⁰ of its size
                    // (a parameter pinned on a bound keeps χ² creeping down otherwise).
                    var moved = 0.0
                    for i in free { moved = max(moved, abs(trial[i] - p[i]) / max(abs(p[i]), typical[i])) }
                    if moved < 1e-10 { converged = true }
                    p = trial
                    r = rt
                    current = ct
                    lambda = max(lambda / 10, 1e-12)
                    improved = true
                    if gain < relativeTolerance { converged = true }
                    break
                }
                lambda *= 10
            }
            if !improved {
                // No step lowers χ²: we sit at the minimum (or cannot move from it).
                converged = lambda >= 1e12 && current.isFinite
                break
            }
            if converged { break }
            jac = jacobian(p, r)
        }
        if k == 0 { converged = true }
        // Covariance at the solution.
        jac = jacobian(p, r)
        var jtj = [Double](repeating: 0, count: k * k)
        for row in 0 ..< m {
            for a in 0 ..< k { for b in 0 ..< k { jtj[a * k + b] += jac[row * k + a] * jac[row * k + b] } }
        }
        let dof = max(1, m - k)
        let reduced = current / Double(dof)
        var covariance = [Double](repeating: 0, count: n * n)
        var sigma = [Double](repeating: 0, count: n)
        let scale = (0 ..< k).map { a in jtj[a * k + a] > 0 ? jtj[a * k + a].squareRoot() : 1 }
        var scaled = jtj
        for a in 0 ..< k { for b in 0 ..< k { scaled[a * k + b] /= scale[a] * scale[b] } }
        if let inverse = LinearAlgebra.inverse(scaled, size: k) {
            for (a, i) in free.enumerated() {
                for (b, j) in free.enumerated() { covariance[i * n + j] = inverse[a * k + b] / (scale[a] * scale[b]) * reduced }
                sigma[i] = max(0, covariance[i * n + i]).squareRoot()
            }
        } else {
            for i in free { sigma[i] = .nan }
        }
        func touches(_ bound: [Double]?, _ i: Int) -> Bool {
            guard let bound, bound[i].isFinite else { return false }
            return abs(p[i] - bound[i]) <= 1e-12 * max(1, abs(bound[i]))
        }
        let atBound = (0 ..< n).map { touches(lower, $0) || touches(upper, $0) }
        return Result(parameters: p, uncertainties: sigma, covariance: covariance, chiSquare: current,
                      reducedChiSquare: reduced, iterations: iterations, converged: converged && current.isFinite,
                      atBound: atBound)
    }
}
