import DetectorImage
import Testing
@testable import Reduction

/// The mask's run lengths (hashed into the engine key) against a pixel-by-pixel count.
@Suite struct RunLengthTests {
    static func plainRuns(_ values: [UInt8]) -> [UInt32] {
        var runs: [UInt32] = []
        var current = false, length: UInt32 = 0
        for v in values {
            if (v != 0) == current {
                length += 1
            } else {
                runs.append(length)
                current.toggle()
                length = 1
            }
        }
        runs.append(length)
        return runs
    }

    @Test func runsMatchAPixelByPixelCount() {
        var state: UInt64 = 11
        func next(_ bound: UInt64) -> Int {
            state = state &* 6364136223846793005 &+ 1442695040888963407
            return Int((state >> 33) % bound)
        }
        for trial in 0 ..< 400 {
            // Runs from 1 to ~40 pixels, masked values 1 or any other non-zero byte, sizes not a
            // multiple of 8; some masks start masked, some are empty or all masked.
            let count = trial == 0 ? 0 : next(300) + 1
            var values: [UInt8] = []
            var masked = next(2) == 1
            while values.count < count {
                let length = min(count - values.count, trial % 3 == 0 ? next(4) + 1 : next(40) + 1)
                for _ in 0 ..< length { values.append(masked ? UInt8(next(255) + 1) : 0) }
                masked.toggle()
            }
            if trial == 1 { values = [UInt8](repeating: 1, count: 100) }
            if trial == 2 { values = [UInt8](repeating: 0, count: 100) }
            let mask = Mask(width: values.count, height: 1, values: values)
            #expect(PreparedIntegration.runLengths(mask) == Self.plainRuns(values), "trial \(trial)")
        }
    }
}
