import BeamlineSupport
import DetectorImage
import Foundation

/// Iterative rejection of outliers within each bin (diamond Bragg spots, zingers),
/// like pyFAI's `sigma_clip_ng`: compute the bin's weighted mean μ = Σ c·s / Σ c·n and
/// the spread σ of the normalised pixel intensities x = s / n around it
/// (σ² = Σ c·n·(x − μ)² / Σ c·n), drop pixels with |x − μ| > k·σ, and repeat until
/// nothing changes or `maxIterations` is reached.
public struct SigmaClip: Sendable, Equatable {
    public var threshold: Double
    public var maxIterations: Int

    public init(threshold: Double, maxIterations: Int = 5) {
        self.threshold = threshold
        self.maxIterations = maxIterations
    }
}

extension IntegrationEngine {
    /// Integrates one frame.
    ///
    /// - Parameters:
    ///   - pixels: the frame, row-major, the detector's shape.
    ///   - normalization: divide intensities (and σ) by this (monitor counts, exposure time).
    ///   - dummy: pixels equal to this value (within `deltaDummy`) are left out; so are NaN and infinite pixels.
    ///   - sigmaClip: reject outliers within each bin first.
    public func integrate(_ pixels: [Float], normalization: Double = 1, dummy: Float? = nil, deltaDummy: Float = 0,
                          sigmaClip: SigmaClip? = nil) throws -> IntegrationResult {
        let n = geometry.height * geometry.width
        guard pixels.count == n else {
            throw BeamlineError("the frame has \(pixels.count) pixels but the geometry is \(geometry.width) x \(geometry.height)")
        }
        guard normalization.isFinite, normalization > 0 else {
            throw BeamlineError("normalization factor must be positive, got \(normalization)")
        }
        var input = pixels
        if let dummy {
            for i in 0 ..< n where abs(input[i] - dummy) <= deltaDummy { input[i] = .nan }
        }
        var intensity = [Double](repeating: 0, count: totalBins)
        var sigma = [Double](repeating: 0, count: totalBins)
        var count = [Double](repeating: 0, count: totalBins)
        input.withUnsafeBufferPointer { px in
            let passes = Passes(engine: self, px: px)
            if let sigmaClip {
                passes.sigmaClipped(sigmaClip, intensity: &intensity, sigma: &sigma, count: &count)
            } else {
                passes.plain(intensity: &intensity, sigma: &sigma, count: &count)
            }
        }
        if normalization != 1 {
            for b in 0 ..< totalBins {
                intensity[b] /= normalization
                sigma[b] /= normalization
            }
        }
        return IntegrationResult(unit: settings.unit, radial: radialCenters, azimuth: azimuthCenters,
                                 intensity: intensity, sigma: sigma, count: count)
    }
}

/// Sequential passes over a frame's pixels and the engine's entries, one worker per
/// pixel range, each with private accumulators that are summed at the end.
struct Passes {
    let engine: IntegrationEngine
    let px: UnsafeBufferPointer<Float>

    var bins: Int { engine.totalBins }
    /// Independent copies of each accumulator, chosen by pixel: consecutive pixels
    /// often fall in the same bin, and one copy would chain every add on the last.
    var lanes: Int { engine.totalBins <= 16384 ? 4 : 1 }

    /// Runs `body(part, accumulators)` on every worker with `arrays`
    /// zeroed accumulator arrays of `lanes × bins` doubles each, then returns their sums
    /// (`arrays` arrays of `bins`).
    func pass(arrays: Int, _ body: (Int, UnsafeMutablePointer<Double>) -> Void) -> [[Double]] {
        let lanes = self.lanes, bins = self.bins
        let parts = engine.partition
        let size = arrays * lanes * bins
        var storage = [Double](repeating: 0, count: parts.count * size)
        storage.withUnsafeMutableBufferPointer { all in
            let base = all.baseAddress!
            Parallel.forEach(parts) { part, _ in
                body(part, base + part * size)
            }
        }
        var result = [[Double]](repeating: [Double](repeating: 0, count: bins), count: arrays)
        for a in 0 ..< arrays {
            for part in 0 ..< parts.count {
                for lane in 0 ..< lanes {
                    let offset = part * size + (a * lanes + lane) * bins
                    for b in 0 ..< bins { result[a][b] += storage[offset + b] }
                }
            }
        }
        return result
    }

    /// Mean, σ and count without clipping.
    func plain(intensity: inout [Double], sigma: inout [Double], count: inout [Double]) {
        let model = engine.settings.errorModel
        // Pass 1: Σ c·s and Σ c²·v over finite pixels; the normalisation and count of
        // pixels that are not finite in this frame, to take off the precomputed ones.
        let sums = sumPass()
        var mean = [Double](repeating: 0, count: bins)
        for b in 0 ..< bins {
            let norm = engine.binNorm[b] - sums[2][b]
            let c = engine.binCount[b] - sums[3][b]
            guard norm > 0, c > 1e-9 else { continue }
            mean[b] = sums[0][b] / norm
            intensity[b] = mean[b]
            count[b] = c
            if model == .poisson { sigma[b] = sums[1][b].squareRoot() / norm }
        }
        if model == .azimuthal {
            let spread = moments(mean: mean, rejected: nil)[1]
            for b in 0 ..< bins {
                let norm = engine.binNorm[b] - sums[2][b]
                if norm > 0 { sigma[b] = spread[b].squareRoot() / norm }
            }
        }
    }

    /// Arrays: 0 Σ c·s, 1 Σ c²·max(raw, 1), 2 Σ c·n and 3 Σ c of non-finite pixels.
    ///
    /// The hot loop accumulates in `Float` lanes (no conversions, half the cache
    /// footprint), summed into `Double` at the end: a bin's lane holds a few thousand
    /// terms, so the rounding stays near 10⁻⁶ relative.
    func sumPass() -> [[Double]] {
        let lanes = self.lanes, bins = self.bins
        let e = engine
        let px = self.px.baseAddress!
        let parts = e.partition
        let size = 4 * lanes * bins
        var storage = [Float](repeating: 0, count: parts.count * size)
        storage.withUnsafeMutableBufferPointer { all in
            let base = all.baseAddress!
            e.slotShare.withUnsafeBufferPointer { share in
                e.pixelNorm.withUnsafeBufferPointer { norm in
                    let dark = e.dark?.baseAddress
                    let shares = share.isEmpty ? nil : share.baseAddress
                    Parallel.forEach(parts) { part, range in
                        let sink = Accumulators(base: base + part * size, lanes: lanes, bins: bins)
                        if e.slotBin16.isEmpty {
                            e.slotBin32.withUnsafeBufferPointer {
                                Self.sums(px, dark, $0.baseAddress!, UInt32.max, shares, e.slotsPerPixel, norm.baseAddress!, range, sink)
                            }
                        } else {
                            e.slotBin16.withUnsafeBufferPointer {
                                Self.sums(px, dark, $0.baseAddress!, UInt16.max, shares, e.slotsPerPixel, norm.baseAddress!, range, sink)
                            }
                        }
                        // The few entries that did not fit in the slots.
                        for o in e.overflowPartition[part] {
                            let p = e.overflowPixel[o], c = e.overflowShare[o]
                            let b = e.overflowBin[o] + (p & (lanes - 1)) * bins
                            let raw = px[p]
                            if raw.isFinite {
                                sink.base[b] += c * (dark.map { raw - $0[p] } ?? raw)
                                sink.base[lanes * bins + b] += c * c * max(raw, 1)
                            } else {
                                sink.base[2 * lanes * bins + b] += c * norm[p]
                                sink.base[3 * lanes * bins + b] += c
                            }
                        }
                    }
                }
            }
        }
        var result = [[Double]](repeating: [Double](repeating: 0, count: bins), count: 4)
        for a in 0 ..< 4 {
            for part in 0 ..< parts.count {
                for lane in 0 ..< lanes {
                    let offset = part * size + (a * lanes + lane) * bins
                    for b in 0 ..< bins { result[a][b] += Double(storage[offset + b]) }
                }
            }
        }
        return result
    }

    /// Four accumulator arrays of `lanes × bins` floats from `base`.
    struct Accumulators {
        let base: UnsafeMutablePointer<Float>
        let lanes: Int
        let bins: Int
    }

    /// The hot loop: one sequential sweep over the pixels of `range` and their slots.
    @inline(never)
    static func sums<Bin: FixedWidthInteger>(_ px: UnsafePointer<Float>, _ dark: UnsafePointer<Float>?,
                                            _ slotBin: UnsafePointer<Bin>, _ invalid: Bin, _ share: UnsafePointer<Float>?,
                                            _ slots: Int, _ norm: UnsafePointer<Float>, _ range: Range<Int>,
                                            _ sink: Accumulators) {
        let stride = sink.lanes &* sink.bins
        let signal = sink.base, variance = sink.base + stride
        let lostNorm = sink.base + 2 &* stride, lostCount = sink.base + 3 &* stride
        let laneMask = sink.lanes &- 1, bins = sink.bins
        guard let share else {
            // No splitting: one slot per pixel, share 1, `invalid` for pixels left out.
            for p in range {
                let bin = slotBin[p]
                if bin == invalid { continue }
                let b = Int(bin) &+ (p & laneMask) &* bins
                let raw = px[p]
                if raw.isFinite {
                    signal[b] += dark.map { raw - $0[p] } ?? raw
                    variance[b] += max(raw, 1)
                } else {
                    lostNorm[b] += norm[p]
                    lostCount[b] += 1
                }
            }
            return
        }
        @inline(__always)
        func sweep(_ width: Int) {
            for p in range {
                let raw = px[p]
                let laneOffset = (p & laneMask) &* bins
                let first = p &* width
                if raw.isFinite {
                    // Padding slots have share 0 and add nothing.
                    let s = dark.map { raw - $0[p] } ?? raw
                    let v = max(raw, 1)
                    for j in first ..< first &+ width {
                        let b = Int(slotBin[j]) &+ laneOffset
                        let c = share[j]
                        signal[b] += c * s
                        variance[b] += c * c * v
                    }
                } else {
                    let n = norm[p]
                    for j in first ..< first &+ width {
                        let b = Int(slotBin[j]) &+ laneOffset
                        lostNorm[b] += share[j] * n
                        lostCount[b] += share[j]
                    }
                }
            }
        }
        // Constant widths let the compiler unroll the slot loop.
        switch slots {
        case 2: sweep(2)
        case 3: sweep(3)
        case 4: sweep(4)
        default: sweep(slots)
        }
    }

    /// Arrays: 0 Σ c·n·(x − μ)², 1 Σ c²·(s − μ·n)², over finite entries not flagged in `rejected`.
    func moments(mean: [Double], rejected: UnsafeMutableBufferPointer<UInt8>?) -> [[Double]] {
        let lanes = self.lanes, bins = self.bins
        let e = engine
        return pass(arrays: 2) { part, acc in
            let spread = acc, residual = acc + lanes * bins
            e.forEachEntry(part: part) { p, j, bin, c in
                if let rejected, rejected[j] != 0 { return }
                let raw = px[p]
                guard raw.isFinite else { return }
                let s = Double(e.dark.map { raw - $0[p] } ?? raw)
                let n = Double(e.pixelNorm[p])
                let b = bin + (p & (lanes - 1)) * bins
                let x = s / n - mean[bin]
                spread[b] += c * n * x * x
                let r = s - mean[bin] * n
                residual[b] += c * c * r * r
            }
        }
    }
}
