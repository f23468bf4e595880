import DetectorImage
import Testing

/// The plate circle and mask union against their definitions, pixel by pixel.
@Suite struct MaskKernelTests {
    @Test(arguments: [(64, 64, 64), (65, 64, 63), (64, 65, 70), (31, 40, 10), (10, 10, 1), (9, 12, 0), (50, 50, 200)])
    func plateMaskIsTheCircleTest(width: Int, height: Int, diameter: Int) throws {
        let plate = try #require(DetectorValidity(plateDiameter: diameter).plateMask(width: width, height: height))
        let centreX = Double(width) / 2, centreY = Double(height) / 2
        let r2 = Double(diameter) * Double(diameter) / 4
        var mismatches = 0
        for y in 0 ..< height {
            for x in 0 ..< width {
                let dx = Double(x) + 0.5 - centreX, dy = Double(y) + 0.5 - centreY
                let expected: UInt8 = dx * dx > r2 - dy * dy ? 1 : 0
                if plate.values[y * width + x] != expected { mismatches += 1 }
            }
        }
        #expect(mismatches == 0)
        #expect(plate.width == width && plate.height == height)
    }

    /// The vectorised pass that sets invalid pixels to NaN against `reason(for:)`, pixel by pixel:
    /// every combination of rules, lengths that leave a tail after the eight-pixel blocks.
    @Test(arguments: [0, 1, 7, 8, 9, 63, 1001])
    func invalidateFollowsTheRules(count: Int) {
        let special: [Float] = [0, -0.0, -1, -65535, 65535, 1, .infinity, -.infinity, .nan, 42, 0.5]
        let pixels = (0 ..< count).map { i in i % 3 == 0 ? special[(i / 3) % special.count] : Float(i % 50) - 7 }
        for rules in 0 ..< 16 {
            let validity = DetectorValidity(zeroIsUnread: rules & 1 != 0, negativeIsMarker: rules & 2 != 0,
                                            marker: rules & 4 != 0 ? 65535 : nil, dummy: rules & 8 != 0 ? 42 : nil)
            var values = pixels
            let changed = validity.invalidate(&values)
            var expectedChanged = 0, mismatches = 0
            for (before, after) in zip(pixels, values) {
                let invalid = before.isFinite && validity.reason(for: before) != nil
                if invalid { expectedChanged += 1 }
                let right = invalid ? after.isNaN : (after == before || (after.isNaN && before.isNaN))
                if !right { mismatches += 1 }
            }
            #expect(mismatches == 0, "rules \(rules)")
            #expect(changed == expectedChanged, "rules \(rules)")
        }
    }

    @Test func unionIsThePixelwiseOr() throws {
        var state: UInt64 = 7
        func next() -> UInt8 {
            state = state &* 6364136223846793005 &+ 1442695040888963407
            let r = UInt8(truncatingIfNeeded: state >> 59)
            return r < 20 ? 0 : r  // masks with values other than 1 as well
        }
        let a = Mask(width: 37, height: 11, values: (0 ..< 407).map { _ in next() })
        let b = Mask(width: 37, height: 11, values: (0 ..< 407).map { _ in next() })
        let union = try a.union(b)
        #expect(union.values == zip(a.values, b.values).map { ($0 | $1) != 0 ? 1 : 0 })
        #expect(throws: (any Error).self) { try a.union(Mask(width: 11, height: 37)) }
    }
}
