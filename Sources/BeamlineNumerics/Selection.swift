import Foundation

/// Order statistics without sorting.
public enum Selection {
    /// Rearranges `values` so that `values[k]` is the element a full sort would put there,
    /// with no larger element before it and no smaller one after it; returns that element.
    ///
    /// Floyd and Rivest's SELECT (R. W. Floyd, R. L. Rivest, "Algorithm 489: The algorithm
    /// SELECT", Commun. ACM 18, 173 (1975)): a large range is first narrowed by selecting
    /// within a sample around where element k is expected, so that the partition around the
    /// pivot leaves k in a small part; about n + min(k, n − k) comparisons on average, against
    /// about 3n for Hoare's FIND with a median-of-three pivot. The spot search of every frame
    /// takes two order statistics per ring.
    @inlinable @discardableResult
    public static func select<T: Comparable>(_ values: inout [T], _ k: Int) -> T {
        precondition(k >= 0 && k < values.count, "selection index out of range")
        return values.withUnsafeMutableBufferPointer { buffer in select(buffer, k) }
    }

    /// `select` on a buffer.
    @inlinable @discardableResult
    public static func select<T: Comparable>(_ a: UnsafeMutableBufferPointer<T>, _ k: Int) -> T {
        precondition(k >= 0 && k < a.count, "selection index out of range")
        select(a, k, left: 0, right: a.count - 1)
        return a[k]
    }

    /// SELECT on `a[left...right]`.
    @inlinable
    static func select<T: Comparable>(_ a: UnsafeMutableBufferPointer<T>, _ k: Int, left: Int, right: Int) {
        var left = left, right = right
        while right > left {
            if right - left > 600 {
                // A sample of about n^(2/3) elements around k's expected place, selected first:
                // its k-th element is a pivot close to the answer.
                let n = Double(right - left + 1), i = Double(k - left + 1)
                let z = log(n), s = 0.5 * exp(2 * z / 3)
                let sd = 0.5 * (z * s * (n - s) / n).squareRoot() * (i - n / 2 < 0 ? -1 : 1)
                let newLeft = max(left, Int(Double(k) - i * s / n + sd))
                let newRight = min(right, Int(Double(k) + (n - i) * s / n + sd))
                select(a, k, left: newLeft, right: newRight)
            }
            let pivot = a[k]
            var i = left, j = right
            a.swapAt(left, k)
            if pivot < a[right] { a.swapAt(right, left) }
            while i < j {
                a.swapAt(i, j)
                i += 1
                j -= 1
                while a[i] < pivot { i += 1 }
                while pivot < a[j] { j -= 1 }
            }
            if a[left] == pivot {
                a.swapAt(left, j)
            } else {
                j += 1
                a.swapAt(j, right)
            }
            if j <= k { left = j + 1 }
            if k <= j { right = j - 1 }
        }
    }

    /// The upper median m of `values` (element count / 2 of a sort) and the same order
    /// statistic of the deviations |x − m|: what the spot search takes of every ring.
    ///
    /// Detector counts are integers: when every value is one (and exactly representable), both
    /// come from one histogram of a window of about 2n values around the median, in two passes
    /// and with nothing moved; when the window does not hold them, or the values are not
    /// integers, from `select` (which rearranges `values`). Both ways give the same numbers.
    /// `histogram` is scratch space, kept by the caller between calls.
    public static func medianAndDeviation(_ values: UnsafeMutableBufferPointer<Float>,
                                          histogram: inout [Int32]) -> (median: Float, deviation: Float) {
        precondition(!values.isEmpty, "the median of nothing")
        let n = values.count, k = n / 2
        if let counted = countedMedianAndDeviation(values, k: k, histogram: &histogram) { return counted }
        let median = select(values, k)
        for j in values.indices { values[j] = abs(values[j] - median) }
        return (median, select(values, k))
    }

    /// The smallest and largest of `values` and whether all are integers, eight values at a time
    /// (the scalar loop called `truncf` for every value). An integer test without rounding calls:
    /// below 2²³ in magnitude, adding and taking away 2²³ rounds a value to an integer, which
    /// leaves integers unchanged; from 2²³ up every Float is an integer. NaN is not an integer.
    static func extentAndIntegrality(_ values: UnsafeMutableBufferPointer<Float>)
        -> (lowest: Float, highest: Float, integral: Bool) {
        let n = values.count
        guard let base = values.baseAddress else { return (.infinity, -.infinity, true) }
        let shift = SIMD8<Float>(repeating: 8_388_608)
        var low = SIMD8<Float>(repeating: .infinity), high = SIMD8<Float>(repeating: -.infinity)
        var fractional = SIMDMask<SIMD8<Int32>>()
        var i = 0
        while i &+ 8 <= n {
            let v = UnsafeRawPointer(base + i).loadUnaligned(as: SIMD8<Float>.self)
            low.replace(with: v, where: v .< low)
            high.replace(with: v, where: v .> high)
            let magnitude = v.replacing(with: -v, where: v .< 0)
            fractional .|= (magnitude .< shift) .& ((magnitude + shift) - shift .!= magnitude)
            fractional .|= v .!= v  // NaN: not an integer, as in the scalar test
            i &+= 8
        }
        var lowest = low.min(), highest = high.max(), integral = !any(fractional)
        while i < n {
            let v = base[i]
            lowest = min(lowest, v)
            highest = max(highest, v)
            integral = integral && v == v.rounded(.towardZero)
            i &+= 1
        }
        return (lowest, highest, integral)
    }

    static func countedMedianAndDeviation(_ values: UnsafeMutableBufferPointer<Float>, k: Int,
                                          histogram: inout [Int32]) -> (median: Float, deviation: Float)? {
        let n = values.count
        let (lowest, highest, integral) = extentAndIntegrality(values)
        // Integers below 2²⁴ in magnitude: their differences are exact in Float too.
        guard integral, lowest >= -16_777_216, highest <= 16_777_216, n >= 64 else { return nil }
        let width = 2 * n + 1024
        var low = Int(lowest)
        if Int(highest) - low >= width {
            // The window around a sample's median (the median of 64 evenly spaced values).
            var sample = (0 ..< 64).map { values[$0 * (n / 64)] }
            low = Int(select(&sample, 32)) - width / 2
        }
        if histogram.count < width { histogram = [Int32](repeating: 0, count: width) }
        return histogram.withUnsafeMutableBufferPointer { counts -> (median: Float, deviation: Float)? in
            counts.baseAddress!.update(repeating: 0, count: width)
            var below = 0, above = 0
            for v in values {
                let b = Int(v) &- low
                if b < 0 {
                    below &+= 1
                } else if b >= width {
                    above &+= 1
                } else {
                    counts[b] &+= 1
                }
            }
            guard k >= below, k < n - above else { return nil }
            var cumulative = below, medianBin = 0
            while true {
                cumulative += Int(counts[medianBin])
                if cumulative > k { break }
                medianBin += 1
            }
            // The smallest d with at least k + 1 values within m ± d, while m ± d stays in the window.
            var within = Int(counts[medianBin]), d = 0
            while within <= k {
                d += 1
                guard medianBin - d >= 0, medianBin + d < width else { return nil }
                within += Int(counts[medianBin - d]) + Int(counts[medianBin + d])
            }
            return (Float(low + medianBin), Float(d))
        }
    }
}
