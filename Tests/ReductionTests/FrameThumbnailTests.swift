import BeamlineSupport
import DetectorImage
import Foundation
import Testing
@testable import Reduction

/// The thumbnail against its definition, written out pixel by pixel: a block's level is log(1 + the
/// mean of its finite pixels outside the masks, negatives as 0); a block with any spot pixel is red,
/// one at least half under the shared masks blue, one at least half invalid yellow.
struct FrameThumbnailTests {
    static func reference(pixels: [Float], width: Int, height: Int, shared: [UInt8]?, spots: [UInt8]?,
                          maximum: Int) -> [UInt8] {
        let factor = max(1, (max(width, height) + maximum - 1) / maximum)
        let w = max(1, width / factor), h = max(1, height / factor)
        var level = [Double](repeating: 0, count: w * h), colour = [UInt8](repeating: 0, count: w * h)
        for ty in 0 ..< h {
            for tx in 0 ..< w {
                var sum = 0.0, finite = 0, sharedCount = 0, invalid = 0, spotCount = 0
                for y in ty * factor ..< min(height, (ty + 1) * factor) {
                    for x in tx * factor ..< min(width, (tx + 1) * factor) {
                        let i = y * width + x
                        if let spots, spots[i] != 0 {
                            spotCount += 1
                        } else if let shared, shared[i] != 0 {
                            sharedCount += 1
                        } else if pixels[i].isFinite {
                            sum += Double(max(pixels[i], 0))
                            finite += 1
                        } else {
                            invalid += 1
                        }
                    }
                }
                let t = ty * w + tx, half = Double(factor * factor) / 2
                level[t] = log1p(finite > 0 ? sum / Double(finite) : 0)
                colour[t] = spotCount > 0 ? 254 : Double(sharedCount) >= half ? 252 : Double(invalid) >= half ? 253 : 0
            }
        }
        let unmasked = zip(level, colour).filter { $0.1 == 0 }.map(\.0).sorted()
        let lo = unmasked.isEmpty ? 0 : unmasked[unmasked.count / 100]
        let hi = unmasked.isEmpty ? 1 : unmasked[min(unmasked.count - 1, unmasked.count * 999 / 1000)]
        let indices = zip(level, colour).map { value, mask -> UInt8 in
            mask != 0 ? mask : UInt8(max(0, min(251, 251 * (value - lo) / max(hi - lo, 1e-9))))
        }
        return PNG.indexed(indices, palette: FrameThumbnail.palette, width: w, height: h)
    }

    /// Integer counts (as raw frames hold), negatives, NaN and infinities; a frame whose width is
    /// neither a multiple of the block nor of eight, a shared rectangle, sparse spots and an invalid patch.
    static func frame(width: Int, height: Int, seed: UInt64) -> (pixels: [Float], shared: [UInt8], spots: [UInt8]) {
        var random = SplitMix(seed: seed)
        var pixels = [Float](repeating: 0, count: width * height)
        var shared = [UInt8](repeating: 0, count: width * height), spots = shared
        for y in 0 ..< height {
            for x in 0 ..< width {
                let i = y * width + x
                let r = random.next() % 1000
                pixels[i] = Float(random.next() % 5000) * Float(1 + x / 40) - (r < 20 ? 6000 : 0)
                if r == 21 { pixels[i] = .nan }
                if r == 22 { pixels[i] = .infinity }
                if r == 23 { pixels[i] = -.infinity }
                if x >= 120 && x < 170 && y >= 30 && y < 75 { pixels[i] = .nan }
                if x >= 10 && x < 60 && y >= 90 && y < 140 { shared[i] = 1 }
                if random.next() % 3000 == 0 { spots[i] = 1 }
            }
        }
        return (pixels, shared, spots)
    }

    @Test(arguments: [(203, 157, 20), (64, 48, 8), (1000, 37, 192), (9, 9, 192)])
    func thumbnailFollowsItsDefinition(width: Int, height: Int, maximum: Int) {
        let (pixels, shared, spots) = Self.frame(width: width, height: height, seed: UInt64(width * height))
        let sharedMask = Mask(width: width, height: height, values: shared)
        let spotMask = Mask(width: width, height: height, values: spots)
        for (s, p) in [(sharedMask, spotMask), (nil, spotMask), (sharedMask, nil), (nil, nil)] as [(Mask?, Mask?)] {
            let png = FrameThumbnail.png(pixels: pixels, width: width, height: height, sharedMask: s, spots: p,
                                         maximum: maximum)
            let expected = Self.reference(pixels: pixels, width: width, height: height, shared: s?.values,
                                          spots: p?.values, maximum: maximum)
            let identical = png == expected  // a Bool, so that a failure does not print both files
            #expect(identical, "\(width)×\(height), max \(maximum), shared \(s != nil), spots \(p != nil)")
        }
    }
}
