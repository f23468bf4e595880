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
                                // One block at a time, its tallies in registers; a band of `factor`
                                // frame rows stays in cache while its blocks are taken left to right.
                                for ty in rows {
                                    let yRange = ty * factor ..< min(height, (ty + 1) * factor)
                                    for tx in 0 ..< w {
                                        let xRange = tx * factor ..< min(width, (tx + 1) * factor)
                                        var sum = 0.0
                                        var finite = 0, sharedCount = 0, invalidCount = 0, spotCount = 0
                                        for y in yRange {
                                            for i in y * width + xRange.lowerBound ..< y * width + xRange.upperBound {
                                                if hasSpots && spotMask[i] != 0 { spotCount += 1; continue }
                                                if hasShared && sharedMask[i] != 0 { sharedCount += 1; continue }
                                                let v = pixels[i]
                                                if v.isFinite {
                                                    sum += Double(max(v, 0))
                                                    finite += 1
                                                } else {
                                                    invalidCount += 1
                                                }
                                            }
                                        }
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
}
