/// Small dense linear algebra for least-squares fits (a few dozen parameters at most).
public enum LinearAlgebra {
    /// Solves A x = b for a square matrix (row-major) by Gaussian elimination with
    /// partial pivoting; nil when A is singular to working precision.
    public static func solve(_ a: [Double], _ b: [Double]) -> [Double]? {
        precondition(a.count == b.count * b.count, "matrix is not n × n")
        return solve(a, columns: [b])?[0]
    }

    /// Solves A X = B for every column of B at once (the elimination, which depends on A
    /// alone, is done once; each column gets exactly the operations `solve` would apply).
    static func solve(_ a: [Double], columns: [[Double]]) -> [[Double]]? {
        let n = Int(Double(a.count).squareRoot().rounded())
        precondition(n * n == a.count, "matrix is not n × n")
        var m = a, flat = columns.flatMap { $0 }
        precondition(flat.count == n * columns.count, "a column's length differs from the matrix's")
        let solved = m.withUnsafeMutableBufferPointer { m in
            flat.withUnsafeMutableBufferPointer { x in
                solveInPlace(m.baseAddress!, size: n, columns: x.baseAddress!, count: columns.count)
            }
        }
        guard solved else { return nil }
        return (0 ..< columns.count).map { Array(flat[$0 * n ..< ($0 + 1) * n]) }
    }

    /// Gaussian elimination with partial pivoting on `m` (n × n, row-major, overwritten) for
    /// `count` right-hand sides stored one after the other from `x` (n values each), which
    /// become the solutions; false when the matrix is singular (a pivot below 10⁻¹⁵ of the
    /// largest element). No allocation: for callers that solve millions of small systems.
    public static func solveInPlace(_ m: UnsafeMutablePointer<Double>, size n: Int,
                                    columns x: UnsafeMutablePointer<Double>, count: Int) -> Bool {
        for column in 0 ..< n {
            var pivot = column
            for row in column + 1 ..< n where abs(m[row * n + column]) > abs(m[pivot * n + column]) { pivot = row }
            var scale = 0.0
            for k in 0 ..< n * n { scale = max(scale, abs(m[k])) }
            guard abs(m[pivot * n + column]) > 1e-300, abs(m[pivot * n + column]) > scale * 1e-15 else { return false }
            if pivot != column {
                for k in 0 ..< n { swap(&m[column * n + k], &m[pivot * n + k]) }
                for c in 0 ..< count { swap(&x[c * n + column], &x[c * n + pivot]) }
            }
            let diagonal = m[column * n + column]
            for row in column + 1 ..< n {
                let f = m[row * n + column] / diagonal
                if f == 0 { continue }
                for k in column ..< n { m[row * n + k] -= f * m[column * n + k] }
                for c in 0 ..< count { x[c * n + row] -= f * x[c * n + column] }
            }
        }
        for c in 0 ..< count {
            for row in stride(from: n - 1, through: 0, by: -1) {
                var s = x[c * n + row]
                for k in row + 1 ..< n { s -= m[row * n + k] * x[c * n + k] }
                x[c * n + row] = s / m[row * n + row]
            }
        }
        return true
    }

    /// The inverse of a square matrix, or nil if singular.
    public static func inverse(_ a: [Double], size n: Int) -> [Double]? {
        let identity = (0 ..< n).map { column in (0 ..< n).map { $0 == column ? 1.0 : 0.0 } }
        guard let xs = solve(a, columns: identity) else { return nil }
        var result = [Double](repeating: 0, count: n * n)
        for column in 0 ..< n { for row in 0 ..< n { result[row * n + column] = xs[column][row] } }
        return result
    }

    /// Linear least squares: minimises |A x − b|² (A is rows × columns, row-major),
    /// optionally weighted; returns the solution and its covariance (AᵀWA)⁻¹.
    public static func leastSquares(_ a: [Double], rows: Int, columns: Int, _ b: [Double],
                                    weights: [Double]? = nil) -> (x: [Double], covariance: [Double])? {
        var normal = [Double](repeating: 0, count: columns * columns)
        var rhs = [Double](repeating: 0, count: columns)
        for r in 0 ..< rows {
            let w = weights?[r] ?? 1
            for i in 0 ..< columns {
                let ai = a[r * columns + i] * w
                rhs[i] += ai * b[r]
                for j in 0 ... i { normal[i * columns + j] += ai * a[r * columns + j] }
            }
        }
        for i in 0 ..< columns { for j in 0 ..< i { normal[j * columns + i] = normal[i * columns + j] } }
        guard let covariance = inverse(normal, size: columns) else { return nil }
        var x = [Double](repeating: 0, count: columns)
        for i in 0 ..< columns { for j in 0 ..< columns { x[i] += covariance[i * columns + j] * rhs[j] } }
        return (x, covariance)
    }
}
