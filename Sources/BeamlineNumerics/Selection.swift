/// Order statistics without sorting.
public enum Selection {
    /// Rearranges `values` so that `values[k]` is the element a full sort would put there,
    /// with no larger element before it and no smaller one after it (Hoare's FIND, C. A. R.
    /// Hoare, Commun. ACM 4, 321 (1961)), in expected linear time; returns that element.
    ///
    /// The pivot is the median of the first, middle and last elements, so sorted and
    /// reversed input take linear time too.
    @inlinable @discardableResult
    public static func select<T: Comparable>(_ values: inout [T], _ k: Int) -> T {
        precondition(k >= 0 && k < values.count, "selection index out of range")
        return values.withUnsafeMutableBufferPointer { buffer in select(buffer, k) }
    }

    /// `select` on a buffer.
    @inlinable @discardableResult
    public static func select<T: Comparable>(_ a: UnsafeMutableBufferPointer<T>, _ k: Int) -> T {
        var low = 0, high = a.count - 1
        while high > low {
            let middle = low + (high - low) / 2
            if a[middle] < a[low] { a.swapAt(middle, low) }
            if a[high] < a[low] { a.swapAt(high, low) }
            if a[high] < a[middle] { a.swapAt(high, middle) }
            let pivot = a[middle]
            var i = low, j = high
            while i <= j {
                while a[i] < pivot { i += 1 }
                while pivot < a[j] { j -= 1 }
                if i <= j {
                    a.swapAt(i, j)
                    i += 1
                    j -= 1
                }
            }
            if k <= j {
                high = j
            } else if k >= i {
                low = i
            } else {
                break
            }
        }
        return a[k]
    }
}
