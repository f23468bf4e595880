@testable import BeamlineNumerics
import BeamlineSupport
import Testing

/// Floyd–Rivest SELECT against a full sort: the k-th element, and nothing larger before it or
/// smaller after it, on random data, many ties (counts), sorted and reversed input.
struct SelectionTests {
    @Test func selectsWhatASortWouldPutThere() {
        var generator = SplitMix(seed: 1975)
        for size in [1, 2, 3, 10, 599, 601, 602, 1000, 9411, 40_000] {
            let inputs: [[Float]] = [
                (0 ..< size).map { _ in Float(Double(generator.next() % 1_000_000) / 7) },
                (0 ..< size).map { _ in Float(generator.next() % 5) },  // ties everywhere
                (0 ..< size).map(Float.init),
                (0 ..< size).map { Float(size - $0) },
            ]
            for input in inputs {
                let sorted = input.sorted()
                for k in Set([0, size / 2, size - 1, Int(generator.next() % UInt64(size))]) {
                    var values = input
                    let chosen = Selection.select(&values, k)
                    #expect(chosen == sorted[k], "size \(size), k \(k)")
                    #expect(values[..<k].allSatisfy { $0 <= chosen } && values[k...].allSatisfy { $0 >= chosen })
                    #expect(values.sorted() == sorted, "the values are only rearranged")
                }
            }
        }
    }

    /// The vectorised extent and integer test against the scalar definition: values near 2²³
    /// and 2²⁴ where Float spacing reaches 1 and 2, halves, negatives, infinities and NaN, in the
    /// eight-value blocks and in the tail.
    @Test func extentAndIntegralityFollowTheDefinition() {
        let edge: Float = 8_388_608
        let specials: [Float] = [edge - 1, edge - 0.5, edge, edge + 1, 2 * edge + 2, -edge + 0.5, -0.5, 0.5, -0.0,
                                 .infinity, -.infinity, .nan, 1e-30, 3, -3, 16_777_216, 16_777_218]
        var generator = SplitMix(seed: 77)
        for count in [1, 7, 8, 9, 16, 17, 40] {
            for trial in 0 ..< 60 {
                var values = (0 ..< count).map { _ in Float(generator.next() % 2000) - 1000 }
                if trial > 0 { values[Int(generator.next() % UInt64(count))] = specials[trial % specials.count] }
                if trial > 30 { values[Int(generator.next() % UInt64(count))] = specials[(trial * 7) % specials.count] }
                var lowest = Float.infinity, highest = -Float.infinity, integral = true
                for v in values {
                    lowest = min(lowest, v)
                    highest = max(highest, v)
                    integral = integral && v == v.rounded(.towardZero)
                }
                var copy = values
                let found = copy.withUnsafeMutableBufferPointer { Selection.extentAndIntegrality($0) }
                #expect(found.integral == integral, "\(values)")
                if !values.contains(where: \.isNaN) {
                    #expect(found.lowest == lowest && found.highest == highest, "\(values)")
                }
            }
        }
    }

    /// The spot search's median and median deviation, counted from a histogram for integer
    /// counts, equal to two selections on the same values (which a full sort confirms).
    @Test func medianAndDeviationEqualTheSelections() {
        var generator = SplitMix(seed: 489)
        func uniform(_ n: UInt64) -> Float { Float(generator.next() % n) }
        var cases: [[Float]] = []
        for size in [8, 63, 64, 65, 1000, 9411] {
            cases.append((0 ..< size).map { _ in 300 + uniform(60) })  // counts, many ties
            // Counts with bright spots far outside any window of 2n values.
            cases.append((0 ..< size).map { i in i % 97 == 0 ? 60_000 + uniform(5000) : 1000 + uniform(200) })
            cases.append((0 ..< size).map { _ in uniform(1_000_000) })  // spread wider than the window
            cases.append((0 ..< size).map { _ in uniform(50) - 25 })  // negative integers
            cases.append((0 ..< size).map { _ in 7 })  // all equal
            cases.append((0 ..< size).map { _ in uniform(1000) / 8 })  // not integers: selections
            // Half the values at the bottom: the median deviation reaches the window's edge.
            cases.append((0 ..< size).map { i in i % 2 == 0 ? uniform(3) : 5_000_000 + uniform(10) })
        }
        var histogram: [Int32] = []
        for values in cases {
            let sorted = values.sorted()
            let median = sorted[values.count / 2]
            let deviation = values.map { abs($0 - median) }.sorted()[values.count / 2]
            var copy = values
            let found = copy.withUnsafeMutableBufferPointer {
                Selection.medianAndDeviation($0, histogram: &histogram)
            }
            #expect(found.median == median && found.deviation == deviation,
                    "\(values.count) values from \(sorted[0]) to \(sorted[sorted.count - 1])")
        }
    }
}
