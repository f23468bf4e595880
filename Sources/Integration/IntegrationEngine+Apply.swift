import BeamlineSupport
import DetectorImage
import Foundation

/// Iterative rejection of outliers within each bin (diamond Bragg spots, zingers),
/// like pyFAI's `sigma_clip_ng`: compute the bin's weighted mean μ and spread σ of the
/// normalised pixel intensities x = s / n, drop pixels with |x − μ| > k·σ, repeat.
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
    ///   - dummy: pixels equal to this value (within `deltaDummy`) are left out.
    public func integrate(_ pixels: [Float], normalization: Double = 1, dummy: Float? = nil, deltaDummy: Float = 0,
                          sigmaClip: SigmaClip? = nil) throws -> IntegrationResult {
        let n = geometry.height * geometry.width
        guard pixels.count == n else {
            throw BeamlineError("the frame has \(pixels.count) pixels but the geometry is \(geometry.width) x \(geometry.height)")
        }
        guard normalization.isFinite, normalization > 0 else { throw BeamlineError("normalization factor must be positive, got \(normalization)") }
        var input = pixels
        if let dummy {
            // Dummy pixels become NaN, which every kernel leaves out.
            for i in 0 ..< n where abs(input[i] - dummy) <= deltaDummy { input[i] = .nan }
        }
        let bins = rowStart.count - 1
        var intensity = [Double](repeating: 0, count: bins)
        var sigma = [Double](repeating: 0, count: bins)
        var count = [Double](repeating: 0, count: bins)
        let clip = sigmaClip
        let model = settings.errorModel
        input.withUnsafeBufferPointer { px in
            rowStart.withUnsafeBufferPointer { rows in
                pixelIndex.withUnsafeBufferPointer { idx in
                    share.withUnsafeBufferPointer { c in
                        pixelNorm.withUnsafeBufferPointer { norms in
                            intensity.withUnsafeMutableBufferPointer { iOut in
                                sigma.withUnsafeMutableBufferPointer { sOut in
                                    count.withUnsafeMutableBufferPointer { cOut in
                                        let darkBuffer = dark?.withUnsafeBufferPointer { $0 }
                                        let kernel = Kernel(px: px, rows: rows, idx: idx, share: c, norm: norms, dark: darkBuffer,
                                                            binNorm: binNorm, binCount: binCount, model: model, clip: clip)
                                        Parallel.forEach(partition) { _, range in
                                            for b in range {
                                                let r = kernel.bin(b)
                                                iOut[b] = r.0
                                                sOut[b] = r.1
                                                cOut[b] = r.2
                                            }
                                        }
                                    }
                                }
                            }
                        }
                    }
                }
            }
        }
        if normalization != 1 {
            for b in 0 ..< bins {
                intensity[b] /= normalization
                sigma[b] /= normalization
            }
        }
        return IntegrationResult(unit: settings.unit, radial: radialCenters, azimuth: azimuthCenters,
                                 intensity: intensity, sigma: sigma, count: count)
    }
}

/// The per-bin arithmetic, over raw buffers.
struct Kernel {
    let px: UnsafeBufferPointer<Float>
    let rows: UnsafeBufferPointer<Int>
    let idx: UnsafeBufferPointer<UInt32>
    let share: UnsafeBufferPointer<Float>
    let norm: UnsafeBufferPointer<Float>
    let dark: UnsafeBufferPointer<Float>?
    let binNorm: [Double]
    let binCount: [Double]
    let model: ErrorModel
    let clip: SigmaClip?

    /// (intensity, σ, count) of bin `b`.
    @inline(__always)
    func bin(_ b: Int) -> (Double, Double, Double) {
        let start = rows[b], end = rows[b + 1]
        if start == end { return (0, 0, 0) }
        if clip == nil && dark == nil && model != .azimuthal {
            // Fast path: sums of raw values only; the normalisation is precomputed.
            let (signal, variance) = share.isEmpty ? sumsUnsplit(start, end) : sumsSplit(start, end)
            if signal.isFinite && variance.isFinite {
                let n = binNorm[b]
                guard n > 0 else { return (0, 0, 0) }
                return (signal / n, model == .none ? 0 : variance.squareRoot() / n, binCount[b])
            }
        }
        return general(b, start, end)
    }

    /// Σ x and Σ max(x, 1) over an unsplit bin, four lanes to hide the adds' latency.
    @inline(__always)
    func sumsUnsplit(_ start: Int, _ end: Int) -> (Double, Double) {
        var s0: Float = 0, s1: Float = 0, s2: Float = 0, s3: Float = 0
        var v0: Float = 0, v1: Float = 0, v2: Float = 0, v3: Float = 0
        var k = start
        // Float lanes, flushed to Double every 1024 entries to keep the sums accurate.
        var signal = 0.0, variance = 0.0
        while k < end {
            let stop = min(end, k + 1024)
            while k + 4 <= stop {
                let a = px[Int(idx[k])], b = px[Int(idx[k + 1])], c = px[Int(idx[k + 2])], d = px[Int(idx[k + 3])]
                s0 += a; s1 += b; s2 += c; s3 += d
                v0 += max(a, 1); v1 += max(b, 1); v2 += max(c, 1); v3 += max(d, 1)
                k += 4
            }
            while k < stop {
                let a = px[Int(idx[k])]
                s0 += a
                v0 += max(a, 1)
                k += 1
            }
            signal += Double(s0) + Double(s1) + Double(s2) + Double(s3)
            variance += Double(v0) + Double(v1) + Double(v2) + Double(v3)
            s0 = 0; s1 = 0; s2 = 0; s3 = 0; v0 = 0; v1 = 0; v2 = 0; v3 = 0
        }
        return (signal, variance)
    }

    @inline(__always)
    func sumsSplit(_ start: Int, _ end: Int) -> (Double, Double) {
        var s0: Float = 0, s1: Float = 0, v0: Float = 0, v1: Float = 0
        var signal = 0.0, variance = 0.0
        var k = start
        while k < end {
            let stop = min(end, k + 1024)
            while k + 2 <= stop {
                let a = px[Int(idx[k])], b = px[Int(idx[k + 1])]
                let ca = share[k], cb = share[k + 1]
                s0 += ca * a; s1 += cb * b
                v0 += ca * ca * max(a, 1); v1 += cb * cb * max(b, 1)
                k += 2
            }
            if k < stop {
                let a = px[Int(idx[k])], ca = share[k]
                s0 += ca * a
                v0 += ca * ca * max(a, 1)
                k += 1
            }
            signal += Double(s0) + Double(s1)
            variance += Double(v0) + Double(v1)
            s0 = 0; s1 = 0; v0 = 0; v1 = 0
        }
        return (signal, variance)
    }

    /// Everything else: dark subtraction, non-finite pixels, azimuthal errors, sigma clipping.
    func general(_ b: Int, _ start: Int, _ end: Int) -> (Double, Double, Double) {
        let split = !share.isEmpty
        var kept = [Bool](repeating: true, count: end - start)
        for k in start ..< end where !px[Int(idx[k])].isFinite { kept[k - start] = false }
        var mean = 0.0
        var iterations = 0
        while true {
            var sc = 0.0, sn = 0.0, ss = 0.0
            for k in start ..< end where kept[k - start] {
                let p = Int(idx[k])
                let c = split ? Double(share[k]) : 1
                ss += c * (Double(px[p]) - (dark.map { Double($0[p]) } ?? 0))
                sn += c * Double(norm[p])
                sc += c
            }
            guard sn > 0 else { return (0, 0, 0) }
            mean = ss / sn
            guard let clip, iterations < clip.maxIterations else { break }
            // Weighted spread of x = s/n around the mean.
            var spread = 0.0
            for k in start ..< end where kept[k - start] {
                let p = Int(idx[k])
                let c = split ? Double(share[k]) : 1
                let n = Double(norm[p])
                let x = (Double(px[p]) - (dark.map { Double($0[p]) } ?? 0)) / n
                spread += c * n * (x - mean) * (x - mean)
            }
            let std = (spread / sn).squareRoot()
            var rejected = 0
            for k in start ..< end where kept[k - start] {
                let p = Int(idx[k])
                let x = (Double(px[p]) - (dark.map { Double($0[p]) } ?? 0)) / Double(norm[p])
                if abs(x - mean) > clip.threshold * std {
                    kept[k - start] = false
                    rejected += 1
                }
            }
            iterations += 1
            if rejected == 0 { break }
        }
        var sn = 0.0, sv = 0.0, sc = 0.0
        for k in start ..< end where kept[k - start] {
            let p = Int(idx[k])
            let c = split ? Double(share[k]) : 1
            let n = Double(norm[p])
            let raw = Double(px[p])
            sn += c * n
            sc += c
            switch model {
            case .poisson: sv += c * c * max(raw, 1)
            case .azimuthal:
                let s = raw - (dark.map { Double($0[p]) } ?? 0)
                sv += c * c * (s - mean * n) * (s - mean * n)
            case .none: break
            }
        }
        guard sn > 0 else { return (0, 0, 0) }
        return (mean, sv.squareRoot() / sn, sc)
    }
}
