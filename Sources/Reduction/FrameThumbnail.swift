import BeamlineSupport
import DetectorImage
import Foundation

/// A small picture of one frame with its masks: the image on a logarithmic grey scale, pixels under
/// the shared masks (beam stop, gaps, shapes) blue, invalid pixels yellow, diamond spots red.
/// A thumbnail pixel takes a mask's colour when most of its block is under that mask, or, for the
/// small spots, when any of it is.
public enum FrameThumbnail {
    static let shared: UInt8 = 252, invalid: UInt8 = 253, spot: UInt8 = 254

    /// The grey ramp, then the three mask colours.
    static let palette: [(UInt8, UInt8, UInt8)] =
        (0..<252).map { level -> (UInt8, UInt8, UInt8) in
            let v = UInt8(level * 255 / 251)
            return (v, v, v)
        } + [(48, 96, 255), (224, 192, 0), (255, 32, 32), (0, 0, 0)]

    /// `pixels` as read, with NaN where the frame is invalid or under a spot.
    public static func png(
        pixels: [Float], width: Int, height: Int, sharedMask: Mask?, spots: Mask?,
        maximum: Int = 192
    ) -> [UInt8] {
        let factor = max(1, (max(width, height) + maximum - 1) / maximum)
        let w = max(1, width / factor), h = max(1, height / factor)
        var level = [Double](repeating: 0, count: w * h)
        var colour = [UInt8](repeating: 0, count: w * h)  // 0: no mask colour
        let block = Double(factor * factor)
        let spotValues = spots?.values ?? [], sharedValues = sharedMask?.values ?? []
        let hasSpots = spots != nil, hasShared = sharedMask != nil
        precondition(pixels.count == width * height && (!hasSpots || spotValues.count == pixels.count)
                     && (!hasShared || sharedValues.count == pixels.count), "thumbnail: masks and frame differ in size")
        // Thumbnail rows on every core: each reads its own band of the frame.
        pixels.withUnsafeBufferPointer { pixels in
            spotValues.withUnsafeBufferPointer { spotMask in
                sharedValues.withUnsafeBufferPointer { sharedMask in
                    level.withUnsafeMutableBufferPointer { levelOut in
                        colour.withUnsafeMutableBufferPointer { colourOut in
                            Parallel.forEachChunk(h) { _, rows in
                                // The band of `factor` frame rows under a thumbnail row is read row by
                                // row, each row straight through into the tallies of its blocks (three
                                // streams for the prefetcher, not three per frame row of the band).
                                var tallies = [BlockTally](repeating: BlockTally(), count: w)
                                for ty in rows {
                                    for tx in 0 ..< w { tallies[tx] = BlockTally() }
                                    for y in ty * factor ..< min(height, (ty + 1) * factor) {
                                        for tx in 0 ..< w {
                                            let start = y * width + tx * factor
                                            tallies[tx].add(
                                                start ..< y * width + min(width, (tx + 1) * factor),
                                                pixels: pixels, spots: hasSpots ? spotMask : nil,
                                                shared: hasShared ? sharedMask : nil)
                                        }
                                    }
                                    for tx in 0 ..< w {
                                        let tally = tallies[tx]
                                        let sum = tally.sum, finite = tally.finite
                                        let sharedCount = tally.shared, invalidCount = tally.invalid
                                        let spotCount = tally.spots
                                        let t = ty * w + tx
                                        levelOut[t] = log1p(finite > 0 ? sum / Double(finite) : 0)
                                        if spotCount > 0 {
                                            colourOut[t] = spot
                                        } else if Double(sharedCount) >= block / 2 {
                                            colourOut[t] = shared
                                        } else if Double(invalidCount) >= block / 2 {
                                            colourOut[t] = invalid
                                        }
                                    }
                                }
                            }
                        }
                    }
                }
            }
        }
        let unmasked = zip(level, colour).filter { $0.1 == 0 }.map(\.0).sorted()
        let lo = unmasked.isEmpty ? 0 : unmasked[unmasked.count / 100]
        let hi = unmasked.isEmpty ? 1 : unmasked[min(unmasked.count - 1, unmasked.count * 999 / 1000)]
        let indices = zip(level, colour).map { value, mask -> UInt8 in
            mask != 0 ? mask : UInt8(max(0, min(251, 251 * (value - lo) / max(hi - lo, 1e-9))))
        }
        return PNG.indexed(indices, palette: palette, width: w, height: h)
    }

    /// What one thumbnail block holds: the pixels under a spot, under the shared masks, invalid,
    /// and the sum of the others (negative values as 0). Counts per lane of eight pixels at a time,
    /// so that the sum is not one chain of dependent additions; raw frames hold integer counts,
    /// whose sum in `Double` is exact in any order.
    struct BlockTally {
        private var lanes = SIMD8<Double>()
        private var finiteLanes = SIMD8<Int32>(), sharedLanes = SIMD8<Int32>()
        private var invalidLanes = SIMD8<Int32>(), spotLanes = SIMD8<Int32>()
        private var tailSum = 0.0
        private var tailFinite = 0, tailShared = 0, tailInvalid = 0, tailSpots = 0

        var sum: Double { lanes.sum() + tailSum }
        var finite: Int { Int(finiteLanes.wrappedSum()) + tailFinite }
        var shared: Int { Int(sharedLanes.wrappedSum()) + tailShared }
        var invalid: Int { Int(invalidLanes.wrappedSum()) + tailInvalid }
        var spots: Int { Int(spotLanes.wrappedSum()) + tailSpots }

        /// Adds the pixels at `indices` (one row's stretch of the block); a pixel under a spot
        /// counts only as a spot, one under the shared masks only as shared.
        @inline(__always)
        mutating func add(
            _ indices: Range<Int>, pixels: UnsafeBufferPointer<Float>, spots: UnsafeBufferPointer<UInt8>?,
            shared: UnsafeBufferPointer<UInt8>?
        ) {
            var i = indices.lowerBound
            let one = SIMD8<Int32>(repeating: 1), zero = SIMD8<Int32>()
            while i + 8 <= indices.upperBound {
                let v = UnsafeRawPointer(pixels.baseAddress! + i).loadUnaligned(as: SIMD8<Float>.self)
                var spot = SIMDMask<SIMD8<Int32>>(repeating: false)
                if let spots {
                    let bytes = UnsafeRawPointer(spots.baseAddress! + i).loadUnaligned(as: SIMD8<UInt8>.self)
                    spot = SIMD8<Int32>(truncatingIfNeeded: bytes) .!= zero
                }
                var sharedHit = SIMDMask<SIMD8<Int32>>(repeating: false)
                if let shared {
                    let bytes = UnsafeRawPointer(shared.baseAddress! + i).loadUnaligned(as: SIMD8<UInt8>.self)
                    sharedHit = .!spot .& (SIMD8<Int32>(truncatingIfNeeded: bytes) .!= zero)
                }
                let rest = .!spot .& .!sharedHit
                let isFinite = rest .& ((v - v) .== SIMD8<Float>())  // inf - inf and NaN - NaN are NaN
                spotLanes &+= zero.replacing(with: one, where: spot)
                sharedLanes &+= zero.replacing(with: one, where: sharedHit)
                finiteLanes &+= zero.replacing(with: one, where: isFinite)
                invalidLanes &+= zero.replacing(with: one, where: rest .& .!isFinite)
                let counted = v.replacing(with: 0, where: .!isFinite .| (v .< SIMD8<Float>()))
                lanes += SIMD8<Double>(counted)
                i += 8
            }
            while i < indices.upperBound {
                defer { i += 1 }
                if let spots, spots[i] != 0 { tailSpots += 1; continue }
                if let shared, shared[i] != 0 { tailShared += 1; continue }
                let v = pixels[i]
                if v.isFinite {
                    tailSum += Double(max(v, 0))
                    tailFinite += 1
                } else {
                    tailInvalid += 1
                }
            }
        }
    }
}
