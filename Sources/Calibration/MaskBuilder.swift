import BeamlineNumerics
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
        func spread(from x: Int, _ y: Int) {
            for (dx, dy) in offsets {
                let nx = x + dx, ny = y + dy
                if nx >= 0, ny >= 0, nx < w, ny < h { out.values[ny * w + nx] = 1 }
            }
        }
        // A spot mask is almost all zeros: eight pixels at a time are passed over while all are 0.
        mask.values.withUnsafeBytes { values in
            for y in 0 ..< h {
                let row = y * w
                var x = 0
                while x < w {
                    if x + 8 <= w, values.loadUnaligned(fromByteOffset: row + x, as: UInt64.self) == 0 {
                        x += 8
                        continue
                    }
                    if values[row + x] != 0 { spread(from: x, y) }
                    x += 1
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
        let rings = RingIndex(radial: radial, rings: bins) { i in
            exclude?.values[i] ?? 0 == 0 && frame.pixels[i].isFinite
        }
        return spots(frame, rings: rings, k: k, minimumExcess: minimumExcess, grow: growBy)
    }

    /// `spots` with each pixel's ring given: the statistics of a ring are over its pixels
    /// that are finite in this frame.
    public static func spots(_ frame: Frame, rings: RingIndex, k: Double = 6, minimumExcess: Float = 0,
                             grow growBy: Int = 2) -> Mask {
        let n = frame.pixels.count
        precondition(rings.ring.count == n, "ring index and frame differ in size")
        let bins = rings.count, unassigned = RingIndex.unassigned
        var mask = Mask(width: frame.width, height: frame.height)
        guard bins > 0 else { return mask }
        // Gather each ring's finite values, on every core: each part of the image counts its
        // pixels per ring, then writes them after the earlier parts' (the order within a ring
        // does not matter to the order statistics taken of it).
        let parts = max(1, min(Parallel.workers, n))
        var partCounts = [[Int]](repeating: [Int](repeating: 0, count: bins), count: parts)
        rings.ring.withUnsafeBufferPointer { ring in
            frame.pixels.withUnsafeBufferPointer { pixels in
                partCounts.withUnsafeMutableBufferPointer { countsOut in
                    Parallel.forEachChunk(n, parts: parts) { part, range in
                        var local = [Int](repeating: 0, count: bins)
                        local.withUnsafeMutableBufferPointer { local in
                            for i in range where ring[i] != unassigned && pixels[i].isFinite {
                                local[Int(ring[i])] &+= 1
                            }
                        }
                        countsOut[part] = local
                    }
                }
            }
        }
        var counts = [Int](repeating: 0, count: bins)
        var start = [Int](repeating: 0, count: bins + 1)
        var partStart = [[Int]](repeating: [Int](repeating: 0, count: bins), count: parts)
        for b in 0 ..< bins {
            var offset = start[b]
            for part in 0 ..< parts {
                partStart[part][b] = offset
                offset += partCounts[part][b]
            }
            counts[b] = offset - start[b]
            start[b + 1] = offset
        }
        // Every place is written once (the counts above are of the same pixels): not zeroed first.
        var values = [Float](unsafeUninitializedCapacity: start[bins]) { out, initialized in
            rings.ring.withUnsafeBufferPointer { ring in
                frame.pixels.withUnsafeBufferPointer { pixels in
                    // Pointers in locals: through the closures' contexts, the output's and the
                    // cursors' addresses were loaded again for every pixel.
                    guard let gathered = out.baseAddress else { return }
                    Parallel.forEachChunk(n, parts: parts) { part, range in
                        var cursor = partStart[part]
                        cursor.withUnsafeMutableBufferPointer { cursor in
                            for i in range where ring[i] != unassigned && pixels[i].isFinite {
                                let b = Int(ring[i])
                                gathered[cursor[b]] = pixels[i]
                                cursor[b] &+= 1
                            }
                        }
                    }
                }
            }
            initialized = start[bins]
        }
        var limit = [Float](repeating: .infinity, count: bins)
        values.withUnsafeMutableBufferPointer { all in
            limit.withUnsafeMutableBufferPointer { limitOut in
                // Rings split between the cores by their number of values (outer rings hold more).
                var ringParts: [Range<Int>] = []
                var first = 0
                for b in 0 ..< bins where start[b + 1] * parts >= start[bins] * (ringParts.count + 1) && ringParts.count < parts - 1 {
                    ringParts.append(first ..< b + 1)
                    first = b + 1
                }
                ringParts.append(first ..< bins)
                Parallel.forEach(ringParts) { _, chunk in
                    var histogram: [Int32] = []
                    for b in chunk where counts[b] >= 8 {
                        let slice = UnsafeMutableBufferPointer(rebasing: all[start[b] ..< start[b + 1]])
                        // The upper median, as sorting and taking element count / 2 gives, and the
                        // same of the deviations from it.
                        let (median, deviation) = Selection.medianAndDeviation(slice, histogram: &histogram)
                        let mad = 1.4826 * deviation
                        // Counting noise sets a floor under the spread: √median for Poisson data.
                        let spread = max(mad, median > 0 ? median.squareRoot() : 1)
                        limitOut[b] = median + max(Float(k) * spread, minimumExcess)
                    }
                }
            }
        }
        mask.values.withUnsafeMutableBufferPointer { out in
            rings.ring.withUnsafeBufferPointer { ring in
                frame.pixels.withUnsafeBufferPointer { pixels in
                    limit.withUnsafeBufferPointer { limit in
                        Parallel.forEachChunk(n) { _, chunk in
                            for i in chunk where ring[i] != unassigned && pixels[i] > limit[Int(ring[i])] { out[i] = 1 }
                        }
                    }
                }
            }
        }
        return grow(mask, by: growBy)
    }
}

/// Each pixel's ring for the spot search: `rings` equal steps of the radial coordinate
/// between the smallest and largest value among the pixels taken part.
public struct RingIndex: Sendable {
    /// The ring of a pixel left out.
    public static let unassigned = UInt16.max
    /// Per pixel, row-major: in memory of its own, or in the mapping of the engine file it is
    /// stored beside (24 MB for a 3450² plate, not copied for every image).
    public var ring: EngineArray<UInt16>
    public var count: Int

    /// Rings as stored (an engine file's attachment); throws unless every value is a ring below
    /// `count` or `unassigned`, so that a damaged file cannot send the spot search outside its tables.
    public init(ring: EngineArray<UInt16>, count: Int) throws {
        guard count > 0, count < Int(RingIndex.unassigned) else {
            throw BeamlineError("ring index of \(count) rings: out of range")
        }
        let limit = UInt16(count)
        let beyond = ring.withUnsafeBufferPointer { values in
            // Wrapping by one maps `unassigned` to 0: one comparison per value, vectorised.
            values.reduce(0) { $0 &+ ($1 &+ 1 > limit ? 1 : 0) }
        }
        guard beyond == 0 else { throw BeamlineError("ring index holds a ring beyond its \(count) rings") }
        self.ring = ring
        self.count = count
    }

    /// Rings of `radial` for the pixels where `included` holds (and the radius is finite).
    public init(radial: [Double], rings: Int, included: (Int) -> Bool) {
        precondition(rings > 0 && rings < Int(RingIndex.unassigned), "ring count out of range")
        let n = radial.count
        var taking = [Bool](repeating: false, count: n)
        var lo = Double.infinity, hi = -Double.infinity
        for i in 0 ..< n where radial[i].isFinite && included(i) {
            taking[i] = true
            lo = min(lo, radial[i])
            hi = max(hi, radial[i])
        }
        var ring = [UInt16](repeating: RingIndex.unassigned, count: n)
        if lo < hi {
            let step = (hi - lo) / Double(rings) * (1 + 1e-9)
            for i in 0 ..< n where taking[i] { ring[i] = UInt16(min(rings - 1, Int((radial[i] - lo) / step))) }
        }
        self.ring = EngineArray(ring)
        count = lo < hi ? rings : 0
    }
}
