import BeamlineSupport
import DetectorImage
import Foundation
import Integration

/// Masks for DAC images: thresholds, dead pixels and gaps, drawn shapes (beam stop and
/// its arm), and an automatic mask of single-crystal diamond spots and zingers.
public enum MaskBuilder {
    /// Pixels below `low` or above `high`, and pixels that are not finite.
    public static func threshold(_ frame: Frame, low: Float?, high: Float?) -> Mask {
        Mask(width: frame.width, height: frame.height, values: frame.pixels.map { v in
            (!v.isFinite || (low.map { v < $0 } ?? false) || (high.map { v > $0 } ?? false)) ? 1 : 0
        })
    }

    /// Pixels equal to `value` (a detector's dead-pixel or gap marker).
    public static func equal(_ frame: Frame, to value: Float) -> Mask {
        Mask(width: frame.width, height: frame.height, values: frame.pixels.map { $0 == value ? 1 : 0 })
    }

    /// Whole rows or columns (module gaps), 0-based, inclusive ranges.
    public static func lines(width: Int, height: Int, rows: [ClosedRange<Int>], columns: [ClosedRange<Int>]) -> Mask {
        var m = Mask(width: width, height: height)
        for r in rows { for y in max(0, r.lowerBound) ... min(height - 1, r.upperBound) { for x in 0 ..< width { m.values[y * width + x] = 1 } } }
        for c in columns { for x in max(0, c.lowerBound) ... min(width - 1, c.upperBound) { for y in 0 ..< height { m.values[y * width + x] = 1 } } }
        return m
    }

    /// A filled circle; pixel centres (x + ½, y + ½) within `radius` of (cx, cy), in pixels.
    public static func circle(width: Int, height: Int, cx: Double, cy: Double, radius: Double) -> Mask {
        var m = Mask(width: width, height: height)
        let y0 = max(0, Int(cy - radius - 1)), y1 = min(height - 1, Int(cy + radius + 1))
        let x0 = max(0, Int(cx - radius - 1)), x1 = min(width - 1, Int(cx + radius + 1))
        guard y0 <= y1, x0 <= x1 else { return m }
        for y in y0 ... y1 {
            for x in x0 ... x1 {
                let dx = Double(x) + 0.5 - cx, dy = Double(y) + 0.5 - cy
                if dx * dx + dy * dy <= radius * radius { m.values[y * width + x] = 1 }
            }
        }
        return m
    }

    /// A filled polygon (even–odd rule) with vertices in pixel coordinates (x, y).
    public static func polygon(width: Int, height: Int, vertices: [(Double, Double)]) -> Mask {
        var m = Mask(width: width, height: height)
        guard vertices.count >= 3 else { return m }
        let ys = vertices.map(\.1)
        let y0 = max(0, Int(ys.min()!)), y1 = min(height - 1, Int(ys.max()!))
        guard y0 <= y1 else { return m }
        for y in y0 ... y1 {
            let py = Double(y) + 0.5
            var crossings: [Double] = []
            for k in 0 ..< vertices.count {
                let (ax, ay) = vertices[k], (bx, by) = vertices[(k + 1) % vertices.count]
                if (ay <= py) != (by <= py) { crossings.append(ax + (py - ay) / (by - ay) * (bx - ax)) }
            }
            crossings.sort()
            var i = 0
            while i + 1 < crossings.count {
                let start = max(0, Int((crossings[i] - 0.5).rounded(.up))), end = min(width - 1, Int((crossings[i + 1] - 0.5).rounded(.down)))
                if start <= end { for x in start ... end { m.values[y * width + x] = 1 } }
                i += 2
            }
        }
        return m
    }

    public static func rectangle(width: Int, height: Int, x0: Double, y0: Double, x1: Double, y1: Double) -> Mask {
        polygon(width: width, height: height, vertices: [(x0, y0), (x1, y0), (x1, y1), (x0, y1)])
    }

    /// Grows the masked region by `pixels` (a disk-shaped dilation).
    public static func grow(_ mask: Mask, by pixels: Int) -> Mask {
        guard pixels > 0 else { return mask }
        let w = mask.width, h = mask.height
        var out = mask
        var offsets: [(Int, Int)] = []
        for dy in -pixels ... pixels { for dx in -pixels ... pixels where dx * dx + dy * dy <= pixels * pixels { offsets.append((dx, dy)) } }
        for y in 0 ..< h {
            for x in 0 ..< w where mask.values[y * w + x] != 0 {
                for (dx, dy) in offsets {
                    let nx = x + dx, ny = y + dy
                    if nx >= 0, ny >= 0, nx < w, ny < h { out.values[ny * w + nx] = 1 }
                }
            }
        }
        return out
    }

    /// Single-crystal spots and zingers: pixels far above the azimuthal median at their
    /// radius, x > median + k·1.4826·MAD (MAD = median absolute deviation over the ring),
    /// and more than `minimumExcess` counts above it; then grown by `grow` pixels.
    ///
    /// - Parameters:
    ///   - radial: each pixel's radial coordinate (e.g. from `GeometryMaps`).
    ///   - exclude: pixels already masked, left out of the statistics.
    public static func spots(_ frame: Frame, radial: [Double], bins: Int = 1000, k: Double = 6, minimumExcess: Float = 0,
                             grow growBy: Int = 2, exclude: Mask? = nil) -> Mask {
        let n = frame.pixels.count
        var lo = Double.infinity, hi = -Double.infinity
        for i in 0 ..< n where exclude?.values[i] ?? 0 == 0 && radial[i].isFinite && frame.pixels[i].isFinite {
            lo = min(lo, radial[i])
            hi = max(hi, radial[i])
        }
        var mask = Mask(width: frame.width, height: frame.height)
        guard lo < hi else { return mask }
        let step = (hi - lo) / Double(bins) * (1 + 1e-9)
        var binOf = [Int32](repeating: -1, count: n)
        var counts = [Int](repeating: 0, count: bins)
        for i in 0 ..< n where exclude?.values[i] ?? 0 == 0 && radial[i].isFinite && frame.pixels[i].isFinite {
            let b = min(bins - 1, Int((radial[i] - lo) / step))
            binOf[i] = Int32(b)
            counts[b] += 1
        }
        var start = [Int](repeating: 0, count: bins + 1)
        for b in 0 ..< bins { start[b + 1] = start[b] + counts[b] }
        var values = [Float](repeating: 0, count: start[bins])
        var cursor = start
        for i in 0 ..< n where binOf[i] >= 0 {
            let b = Int(binOf[i])
            values[cursor[b]] = frame.pixels[i]
            cursor[b] += 1
        }
        var limit = [Float](repeating: .infinity, count: bins)
        for b in 0 ..< bins where counts[b] >= 8 {
            var slice = Array(values[start[b] ..< start[b + 1]])
            slice.sort()
            let median = slice[slice.count / 2]
            var deviations = slice.map { abs($0 - median) }
            deviations.sort()
            let mad = 1.4826 * deviations[deviations.count / 2]
            // Counting noise sets a floor under the spread: √median for Poisson data.
            let spread = max(mad, median > 0 ? median.squareRoot() : 1)
            limit[b] = median + max(Float(k) * spread, minimumExcess)
        }
        for i in 0 ..< n where binOf[i] >= 0 && frame.pixels[i] > limit[Int(binOf[i])] { mask.values[i] = 1 }
        return grow(mask, by: growBy)
    }
}
