import BeamlineSupport
import DetectorImage
import Foundation

/// How a pixel's intensity is shared between bins.
public enum SplitMethod: String, Sendable, CaseIterable, Codable {
    /// Histogram: the whole pixel goes to the bin of its centre.
    case none
    /// Bounding box: the pixel is the interval (box in 2D) from its centre ± the
    /// largest centre-to-corner distance, shared in proportion to overlap.
    case bbox
    /// Full splitting: the pixel is the quadrilateral of its four corners in
    /// (radial, χ) space, shared in proportion to the area in each bin.
    case full
}

/// How the uncertainty of each bin is estimated.
public enum ErrorModel: String, Sendable, CaseIterable, Codable {
    /// Poisson counting statistics: variance = max(raw counts, 1) per pixel (as pyFAI).
    case poisson
    /// From the spread of the normalised intensities over the ring.
    case azimuthal
    /// No uncertainty.
    case none
}

/// What to integrate and how.
public struct IntegrationSettings: Sendable, Equatable, Codable {
    public var unit: RadialUnit = .qInverseAngstrom
    public var bins: Int = 2000
    /// Number of azimuthal bins: set for a 2D cake, nil for a 1D pattern.
    public var azimuthBins: Int?
    public var method: SplitMethod = .bbox
    /// Radial range in `unit`; nil: the extent of the unmasked pixels.
    public var radialRange: ClosedRange<Double>?
    /// Azimuthal range in degrees (χ in (−180, 180]); nil: all.
    public var azimuthRange: ClosedRange<Double>?
    /// Polarization factor (nil: no correction) and axis offset (radians).
    public var polarizationFactor: Double?
    public var polarizationAxisOffset: Double = 0
    public var solidAngle = true
    public var errorModel: ErrorModel = .poisson

    public init() {}
}

/// The result of integrating one frame: per bin the mean normalised intensity
/// Σ c·s / Σ c·n, its standard uncertainty √(Σ c²·v) / Σ c·n, and the number of
/// (fractional) pixels that contributed, where s is the dark-subtracted signal, n the
/// normalisation (flat × solid angle × polarization), v the variance and c the share
/// of the pixel in the bin.
public struct IntegrationResult: Sendable {
    public var unit: RadialUnit
    public var radial: [Double]
    /// Azimuth bin centres in degrees (2D only; empty for 1D).
    public var azimuth: [Double]
    /// Row-major `azimuth.count × radial.count` for a cake, `radial.count` for 1D.
    public var intensity: [Double]
    public var sigma: [Double]
    public var count: [Double]
}

/// A sparse integration matrix for one geometry, mask, binning and method, built once
/// and applied to every frame of a run.
///
/// The matrix is stored pixel by pixel, in the image's own order: every pixel has the
/// same number of slots (`slotsPerPixel`), each a bin and a share c (padding slots
/// have share 0); the rare pixels that need more slots put the rest in an overflow
/// list. Applying the matrix is then one sequential sweep over the frame with a
/// fixed amount of work per pixel and no data-dependent branches; a bin-by-bin order
/// would gather pixels from all over the image and thrash the TLB. The normalisation
/// of each bin, Σ c·n, does not depend on the frame and is computed here.
public struct IntegrationEngine: Sendable {
    public let geometry: DetectorGeometry
    public let settings: IntegrationSettings
    public let radialCenters: [Double]
    public let azimuthCenters: [Double]
    /// Lower edge and width of the radial and azimuthal bins.
    public let radialStart: Double, radialStep: Double
    public let azimuthStart: Double, azimuthStep: Double

    /// Number of bins (radial × azimuthal).
    public let totalBins: Int
    /// Slots per pixel: 1 without splitting (share 1, or the `invalidBin` sentinel for
    /// pixels left out), more with splitting.
    public let slotsPerPixel: Int
    /// Bin of each slot (pixel-major): 16-bit when the bins allow (half the memory
    /// traffic), else 32-bit; the other array is empty. A pixel's padding slots (share 0)
    /// repeat its last bin; a pixel left out has bin 0 and share 0 in every slot.
    let slotBin16: EngineArray<UInt16>
    let slotBin32: EngineArray<UInt32>
    /// Share of each slot; empty without splitting.
    let slotShare: EngineArray<Float>
    /// Entries that did not fit in the slots, sorted by pixel.
    let overflowPixel: [Int]
    let overflowBin: [Int]
    let overflowShare: [Float]
    /// Per-pixel normalisation n (flat × solid angle × polarization).
    let pixelNorm: EngineArray<Float>
    let binNorm: [Double]
    let binCount: [Double]
    let dark: EngineArray<Float>?
    /// Pixel ranges handled by each worker, and their part of the overflow list.
    let partition: [Range<Int>]
    let overflowPartition: [Range<Int>]

    /// The bin value that marks a pixel left out (no splitting only).
    var invalidBin: Int { slotBin16.isEmpty ? Int(UInt32.max) : Int(UInt16.max) }

    /// The largest step from a pixel's first slot bin to any of its other slot bins, when no
    /// slot bin lies below its pixel's first (1D engines: a pixel's bins ascend); nil otherwise.
    /// A test sweep can then check a pixel once against the intersection of the bands of the
    /// bins from its first to that many above it.
    let slotSpan: Int?

    /// For each worker's part, the (lowest, highest) bin over the slots of each run of
    /// `chunkPixels` pixels from its start (the lowest above the highest for a run of
    /// sentinels only): sigma clipping re-tests only the runs that hold given bins.
    let chunkBins: [[UInt32]]
    static let chunkPixels = 64

    /// Number of stored (pixel, bin) entries with a non-zero share.
    public let entries: Int
    /// Bytes read per frame: pixel values, slot bins and shares, overflow, dark.
    public var bytesPerFrame: Int {
        pixelNorm.count * 4 + slotBin16.count * 2 + slotBin32.count * 4 + slotShare.count * 4
            + overflowPixel.count * 20 + (dark == nil ? 0 : pixelNorm.count * 4)
    }

    /// The bin of slot `j`.
    @inline(__always)
    func slotBin(_ j: Int) -> Int { slotBin16.isEmpty ? Int(slotBin32[j]) : Int(slotBin16[j]) }

    /// Calls `body(pixel, entryID, bin, share)` for every entry of the pixels in
    /// `partition[part]`: slots first, then overflow. Entry IDs are slot indices, and
    /// `pixels × slots + k` for the k-th overflow entry.
    @inline(__always)
    func forEachEntry(part: Int, _ body: (Int, Int, Int, Double) -> Void) {
        let k = slotsPerPixel
        let split = !slotShare.isEmpty
        let invalid = invalidBin
        for p in partition[part] {
            for j in p * k ..< p * k + k {
                let bin = slotBin(j)
                if split {
                    let c = slotShare[j]
                    if c != 0 { body(p, j, bin, Double(c)) }
                } else if bin != invalid {
                    body(p, j, bin, 1)
                }
            }
        }
        let base = pixelNorm.count * k
        for o in overflowPartition[part] { body(overflowPixel[o], base + o, overflowBin[o], Double(overflowShare[o])) }
    }

    /// Builds the engine.
    ///
    /// - Parameters:
    ///   - mask: pixels to leave out (non-zero = masked).
    ///   - dark: dark current subtracted from every frame.
    ///   - flat: flat-field response; intensities are divided by it (pixels with flat ≤ 0 are masked).
    public init(geometry: DetectorGeometry, settings: IntegrationSettings, mask: Mask? = nil,
                dark: [Float]? = nil, flat: [Float]? = nil) throws {
        try geometry.validate()
        let h = geometry.height, w = geometry.width, n = h * w
        guard settings.bins >= 1, settings.bins <= 10_000_000 else { throw BeamlineError("the number of bins must be at least 1, got \(settings.bins)") }
        if let a = settings.azimuthBins, a < 1 { throw BeamlineError("the number of azimuthal bins must be at least 1, got \(a)") }
        if let mask { try mask.check(width: w, height: h, path: "mask") }
        if let dark, dark.count != n { throw BeamlineError("the dark image has \(dark.count) pixels, the detector \(n)") }
        if let flat, flat.count != n { throw BeamlineError("the flat image has \(flat.count) pixels, the detector \(n)") }
        if let r = settings.radialRange, !(r.lowerBound < r.upperBound) { throw BeamlineError("empty radial range \(r)") }
        if let r = settings.azimuthRange, !(r.lowerBound < r.upperBound) { throw BeamlineError("empty azimuthal range \(r)") }
        self.geometry = geometry
        self.settings = settings
        self.dark = dark.map(EngineArray.init)

        let is2D = settings.azimuthBins != nil
        let needChi = is2D || settings.azimuthRange != nil || settings.method == .full
        let maps = try GeometryMaps(geometry: geometry, unit: settings.unit, chi: needChi, solidAngle: settings.solidAngle,
                                    polarizationFactor: settings.polarizationFactor,
                                    polarizationAxisOffset: settings.polarizationAxisOffset,
                                    corners: settings.method != .none, cornerChi: is2D || settings.method == .full,
                                    combined: true)

        // Which pixels take part: unmasked, finite geometry, positive flat, inside the azimuth range.
        var valid = [Bool](repeating: true, count: n)
        // The maps' product of solid angle and polarization, finished in place: the engine keeps
        // this array as it is.
        let corrected = maps.correction != nil
        let norm = maps.correction ?? EngineArray<Float>(count: n, repeating: 0)
        let normOut = norm.mutableAddress!
        valid.withUnsafeMutableBufferPointer { validOut in
            Parallel.forEachChunk(n) { _, pixels in
                for i in pixels {
                    var ok = mask.map { $0.values[i] == 0 } ?? true
                    var value: Float = corrected ? normOut[i] : 1
                    if let flat {
                        if !(flat[i] > 0) || !flat[i].isFinite { ok = false } else { value *= flat[i] }
                    }
                    if !maps.radial[i].isFinite || !(value > 0) { ok = false }
                    if ok, let range = settings.azimuthRange, let chi = maps.chi, !range.contains(Double(chi[i])) {
                        ok = false
                    }
                    validOut[i] = ok
                    normOut[i] = ok ? value : 0
                }
            }
        }
        pixelNorm = norm

        // Per-pixel azimuthal interval for 2D bbox. The radial interval is computed where it is
        // used (`radialInterval`): kept, it was two arrays of doubles (192 MB for a 3450² plate).
        var chiLow: [Double] = [], chiHigh: [Double] = []
        if settings.method == .bbox, is2D, let chi = maps.chi, let cc = maps.cornerChi {
            let cw = w + 1
            chiLow = [Double](repeating: 0, count: n)
            chiHigh = chiLow
            chiLow.withUnsafeMutableBufferPointer { chiLowOut in
                chiHigh.withUnsafeMutableBufferPointer { chiHighOut in
                    Parallel.forEachChunk(h) { _, rows in
                        for i in rows {
                            for j in 0 ..< w {
                                let p = i * w + j
                                let k0 = i * cw + j, k1 = k0 + 1, k2 = k0 + cw, k3 = k2 + 1
                                let c = Double(chi[p])
                                var dc = 0.0
                                for k in [k0, k1, k2, k3] { dc = max(dc, abs(Self.unwrap(Double(cc[k]), around: c) - c)) }
                                chiLowOut[p] = c - dc
                                chiHighOut[p] = c + dc
                            }
                        }
                    }
                }
            }
        }

        // Bin edges: the extent of the valid pixels' intervals (min and max, so the order of
        // the parts does not matter).
        let method = settings.method
        let extents = valid.withUnsafeBufferPointer { valid in
            Parallel.mapChunks(n) { pixels -> (Double, Double) in
                var lo = Double.infinity, hi = -Double.infinity
                for p in pixels where valid[p] {
                    let (low, high) = BuildContext.radialInterval(of: p, method: method, width: w, radial: maps.radial,
                                                                  corners: maps.cornerRadial)
                    lo = min(lo, low)
                    hi = max(hi, high)
                }
                return (lo, hi)
            }
        }
        var lo = extents.map(\.0).min() ?? .infinity, hi = extents.map(\.1).max() ?? -.infinity
        guard lo.isFinite, hi.isFinite else { throw BeamlineError("no pixel is left to integrate (everything is masked)") }
        if let range = settings.radialRange {
            lo = range.lowerBound
            hi = range.upperBound
        } else {
            hi *= 1 + Double(Float.ulpOfOne)  // pyFAI's upper bound: the largest value times (1 + ε₃₂)
        }
        radialStart = lo
        radialStep = (hi - lo) / Double(settings.bins)
        radialCenters = (0 ..< settings.bins).map { lo + (Double($0) + 0.5) * (hi - lo) / Double(settings.bins) }
        let azimuthBins = settings.azimuthBins ?? 1
        let azRange = settings.azimuthRange ?? -180 ... 180
        azimuthStart = azRange.lowerBound
        azimuthStep = (azRange.upperBound - azRange.lowerBound) / Double(azimuthBins)
        azimuthCenters = is2D ? (0 ..< azimuthBins).map { azRange.lowerBound + (Double($0) + 0.5) * (azRange.upperBound - azRange.lowerBound) / Double(azimuthBins) } : []

        // Two passes over the pixels: count each pixel's entries, choose the slot
        // count, then fill the slots and the overflow list.
        let total = settings.bins * azimuthBins
        totalBins = total
        let context = BuildContext(
            method: settings.method, is2D: is2D, width: w, bins: settings.bins, azimuthBins: azimuthBins,
            radialStart: radialStart, radialStep: radialStep, azimuthStart: azimuthStart, azimuthStep: azimuthStep,
            azimuthPeriodic: settings.azimuthRange == nil, radial: maps.radial, chi: maps.chi,
            chiLow: chiLow, chiHigh: chiHigh,
            cornerRadial: maps.cornerRadial, cornerChi: maps.cornerChi)
        // Each worker also tallies how many pixels have each entry count (exactly up to 64, the
        // rest as a count and a sum), from which the overflow of any slot count follows.
        let exact = 64
        var counts = [Int32](repeating: 0, count: n)
        let tallies = counts.withUnsafeMutableBufferPointer { countOut in
            Parallel.mapChunks(n) { range -> (pixels: [Int], tailPixels: Int, tailEntries: Int) in
                var pixels = [Int](repeating: 0, count: exact + 1)
                var tailPixels = 0, tailEntries = 0
                for p in range where valid[p] {
                    var k: Int32 = 0
                    context.contributions(of: p) { _, _ in k += 1 }
                    countOut[p] = k
                    if Int(k) <= exact {
                        pixels[Int(k)] += 1
                    } else {
                        tailPixels += 1
                        tailEntries += Int(k)
                    }
                }
                return (pixels, tailPixels, tailEntries)
            }
        }
        var pixelsWith = [Int](repeating: 0, count: exact + 1)
        var tailPixels = 0, tailEntries = 0
        for tally in tallies {
            for c in 0 ... exact { pixelsWith[c] += tally.pixels[c] }
            tailPixels += tally.tailPixels
            tailEntries += tally.tailEntries
        }
        let entryTotal = (0 ... exact).reduce(tailEntries) { $0 + $1 * pixelsWith[$1] }
        entries = entryTotal
        // The fewest slots that leave at most 1 % of the entries to the overflow list.
        var slots = 1
        if settings.method != .none {
            slots = 8
            for k in 1 ... 8 {
                var spill = tailEntries - k * tailPixels
                for c in k + 1 ... exact { spill += (c - k) * pixelsWith[c] }
                if spill * 100 <= entryTotal {
                    slots = k
                    break
                }
            }
        }
        slotsPerPixel = slots
        let split = settings.method != .none
        let wide = total >= Int(UInt16.max)
        let sentinel = wide ? UInt32.max : UInt32(UInt16.max)
        // The slots are filled in place, in their final width: no copies of these, the
        // largest arrays of a build (hundreds of MB for a 3450×3450 plate).
        let bins32 = EngineArray<UInt32>(count: wide ? n * slots : 0, repeating: split ? 0 : sentinel)
        let bins16 = EngineArray<UInt16>(count: wide ? 0 : n * slots, repeating: split ? 0 : UInt16(sentinel))
        let shares = EngineArray<Float>(count: split ? n * slots : 0, repeating: 0)
        let workers = Parallel.workers
        // Balance the workers by pixels plus entries.
        var parts: [Range<Int>] = []
        do {
            var first = 0, running = 0, k = 1
            for p in 0 ..< n {
                running += 1 + Int(counts[p])
                if running * workers >= (n + entryTotal) * k && k < workers {
                    parts.append(first ..< p + 1)
                    first = p + 1
                    k += 1
                }
            }
            if first < n { parts.append(first ..< n) }
        }
        var spills = [[(Int, Int, Float)]](repeating: [], count: parts.count)
        let out16 = bins16.mutableAddress, out32 = bins32.mutableAddress, shareOut = shares.mutableAddress
        do {
            do {
                spills.withUnsafeMutableBufferPointer { spillOut in
                    Parallel.forEach(parts) { part, pixels in
                        var local: [(Int, Int, Float)] = []
                        for p in pixels where counts[p] > 0 {
                            var k = 0
                            context.contributions(of: p) { bin, weight in
                                if k < slots {
                                    if wide { out32![p * slots + k] = UInt32(bin) } else { out16![p * slots + k] = UInt16(bin) }
                                    if split { shareOut![p * slots + k] = Float(weight) }
                                } else {
                                    local.append((p, bin, Float(weight)))
                                }
                                k += 1
                            }
                            // Padding slots repeat the last real bin (with share 0): a sweep
                            // that tests each slot against its bin's band then needs no share.
                            for j in min(k, slots) ..< slots where k > 0 {
                                if wide { out32![p * slots + j] = out32![p * slots + k - 1] }
                                else { out16![p * slots + j] = out16![p * slots + k - 1] }
                            }
                        }
                        spillOut[part] = local
                    }
                }
            }
        }
        slotBin16 = bins16
        slotBin32 = bins32
        slotShare = shares
        var overflowRanges: [Range<Int>] = []
        var pixelsOut: [Int] = [], binsOut: [Int] = [], sharesOut: [Float] = []
        for spill in spills {
            overflowRanges.append(pixelsOut.count ..< pixelsOut.count + spill.count)
            for (p, b, c) in spill {
                pixelsOut.append(p)
                binsOut.append(b)
                sharesOut.append(c)
            }
        }
        overflowPixel = pixelsOut
        overflowBin = binsOut
        overflowShare = sharesOut
        partition = parts
        overflowPartition = overflowRanges
        slotSpan = slotBin16.isEmpty ? Self.slotSpan(slotBin32, slots: slots) : Self.slotSpan(slotBin16, slots: slots)
        chunkBins = slotBin16.isEmpty
            ? Self.chunkBins(slotBin32, slots: slots, partition: parts, sentinel: .max)
            : Self.chunkBins(slotBin16, slots: slots, partition: parts, sentinel: .max)

        var binNorm = [Double](repeating: 0, count: total)
        var binCount = [Double](repeating: 0, count: total)
        // One core, pixel by pixel: each bin's sums in pixel order, as they always were.
        binNorm.withUnsafeMutableBufferPointer { binNorm in
            binCount.withUnsafeMutableBufferPointer { binCount in
                counts.withUnsafeBufferPointer { counts in
                    if wide {
                        Self.addNorms(bins: bins32.baseAddress!, sentinel: sentinel, shares: shares.baseAddress,
                                      norm: norm.baseAddress!, counts: counts, slots: slots,
                                      binNorm: binNorm, binCount: binCount)
                    } else {
                        Self.addNorms(bins: bins16.baseAddress!, sentinel: UInt16(sentinel),
                                      shares: shares.baseAddress, norm: norm.baseAddress!, counts: counts,
                                      slots: slots, binNorm: binNorm, binCount: binCount)
                    }
                }
            }
        }
        for (o, p) in pixelsOut.enumerated() {
            binNorm[binsOut[o]] += Double(sharesOut[o]) * Double(norm[p])
            binCount[binsOut[o]] += Double(sharesOut[o])
        }
        self.binNorm = binNorm
        self.binCount = binCount
    }

    /// Adds each slot's share (1 without splitting) and share × pixel normalization to its bin,
    /// pixel by pixel in order; padding slots (share 0) and the sentinel bin are skipped.
    @inline(__always)
    static func addNorms<Bin: FixedWidthInteger>(
        bins: UnsafePointer<Bin>, sentinel: Bin, shares: UnsafePointer<Float>?, norm: UnsafePointer<Float>,
        counts: UnsafeBufferPointer<Int32>, slots: Int, binNorm: UnsafeMutableBufferPointer<Double>,
        binCount: UnsafeMutableBufferPointer<Double>
    ) {
        let sums = binNorm.baseAddress!, weights = binCount.baseAddress!
        for p in 0 ..< counts.count where counts[p] > 0 {
            let pixelNorm = Double(norm[p])
            for j in p * slots ..< p * slots + slots {
                let c = shares.map { Double($0[j]) } ?? 1
                let bin = bins[j]
                guard bin != sentinel, c != 0 else { continue }
                sums[Int(bin)] += c * pixelNorm
                weights[Int(bin)] += c
            }
        }
    }

    /// χ moved by whole turns to lie within 180° of `centre`.
    @inline(__always)
    static func unwrap(_ chi: Double, around centre: Double) -> Double {
        var c = chi
        while c - centre > 180 { c -= 360 }
        while c - centre < -180 { c += 360 }
        return c
    }
}

/// Geometry of every pixel, and how its share of each bin is computed.
struct BuildContext {
    let method: SplitMethod
    let is2D: Bool
    let width: Int
    let bins: Int, azimuthBins: Int
    let radialStart: Double, radialStep: Double
    let azimuthStart: Double, azimuthStep: Double
    /// The azimuth bins cover the full circle: shares that run past ±180° wrap around.
    let azimuthPeriodic: Bool
    let radial: [Double]
    let chi: [Float]?
    let chiLow: [Double], chiHigh: [Double]
    let cornerRadial: [Float]?, cornerChi: [Float]?

    /// The radial interval pixel `p` covers: its centre without splitting; for bbox the centre
    /// ± its largest distance to a corner, clipped at 0 (every radial unit here is ≥ 0, as in
    /// pyFAI); for full splitting the corners' extent.
    @inline(__always)
    static func radialInterval(of p: Int, method: SplitMethod, width w: Int, radial: [Double],
                               corners: [Float]?) -> (Double, Double) {
        let centre = radial[p]
        guard method != .none, let cr = corners else { return (centre, centre) }
        let i = p / w, j = p - i * w
        let k0 = i * (w + 1) + j, k1 = k0 + 1, k2 = k0 + w + 1, k3 = k2 + 1
        if method == .full {
            let (a, b, c, d) = (Double(cr[k0]), Double(cr[k1]), Double(cr[k2]), Double(cr[k3]))
            return (min(min(a, b), min(c, d)), max(max(a, b), max(c, d)))
        }
        let d = max(max(abs(Double(cr[k0]) - centre), abs(Double(cr[k1]) - centre)),
                    max(abs(Double(cr[k2]) - centre), abs(Double(cr[k3]) - centre)))
        return (max(0, centre - d), centre + d)
    }

    @inline(__always)
    func radialInterval(of p: Int) -> (Double, Double) {
        Self.radialInterval(of: p, method: method, width: width, radial: radial, corners: cornerRadial)
    }

    /// Calls `emit(bin, share)` for each bin pixel `p` contributes to.
    @inline(__always)
    func contributions(of p: Int, _ emit: (Int, Double) -> Void) {
        switch method {
        case .none:
            let fb = (radial[p] - radialStart) / radialStep
            guard fb >= 0, fb < Double(bins) else { return }
            var bin = Int(fb)
            if is2D {
                let fa = (Double(chi![p]) - azimuthStart) / azimuthStep
                guard fa >= 0, fa < Double(azimuthBins) else { return }
                bin += Int(fa) * bins
            }
            emit(bin, 1)
        case .bbox:
            if is2D {
                intervalShares(chiLow[p], chiHigh[p], start: azimuthStart, step: azimuthStep, count: azimuthBins,
                               periodic: azimuthPeriodic) { a, fa in
                    let (low, high) = radialInterval(of: p)
                    intervalShares(low, high, start: radialStart, step: radialStep, count: bins) { r, fr in
                        emit(a * bins + r, fa * fr)
                    }
                }
            } else {
                let (low, high) = radialInterval(of: p)
                intervalShares(low, high, start: radialStart, step: radialStep, count: bins, emit)
            }
        case .full:
            fullShares(p, emit)
        }
    }

    /// Shares of the interval [low, high] in bins of `step` from `start`, in proportion to
    /// overlap; with `periodic`, bins past either end wrap around (the azimuth circle).
    @inline(__always)
    func intervalShares(_ low: Double, _ high: Double, start: Double, step: Double, count: Int,
                        periodic: Bool = false, _ emit: (Int, Double) -> Void) {
        let f0 = (low - start) / step, f1 = (high - start) / step
        if periodic && (f0 < 0 || f1 >= Double(count)) {
            let b0 = Int(f0.rounded(.down)), b1 = Int(f1.rounded(.down))
            guard f1 > f0 else {
                emit(((b0 % count) + count) % count, 1)
                return
            }
            let inverse = 1 / (f1 - f0)
            for b in b0 ... b1 {
                let overlap = min(f1, Double(b + 1)) - max(f0, Double(b))
                if overlap > 0 { emit(((b % count) + count) % count, overlap * inverse) }
            }
            return
        }
        guard f1 >= 0, f0 < Double(count) else { return }
        var b0 = Int(f0.rounded(.down)), b1 = Int(f1.rounded(.down))
        if b0 == b1 || f1 - f0 <= 0 {
            if b0 >= 0 && b0 < count { emit(b0, 1) }
            return
        }
        let inverse = 1 / (f1 - f0)
        if b0 >= 0 { emit(b0, (Double(b0 + 1) - f0) * inverse) }
        b0 = max(b0, -1)
        b1 = min(b1, count)
        if b0 + 1 < b1 {
            for b in (b0 + 1) ..< b1 where b >= 0 && b < count { emit(b, inverse) }
        }
        if b1 < count, f1 > Double(b1) { emit(b1, (f1 - Double(b1)) * inverse) }
    }

    /// Full splitting: area shares of the pixel's corner quadrilateral in (radial, χ).
    func fullShares(_ p: Int, _ emit: (Int, Double) -> Void) {
        guard let cr = cornerRadial, let cc = cornerChi, let chi = chi else { return }
        let i = p / width, j = p % width, cw = width + 1
        let centreChi = Double(chi[p])
        // Corners in order around the pixel.
        let ks = [i * cw + j, i * cw + j + 1, (i + 1) * cw + j + 1, (i + 1) * cw + j]
        var polygon = ks.map { (Double(cr[$0]), IntegrationEngine.unwrap(Double(cc[$0]), around: centreChi)) }
        let area = abs(Polygon.area(polygon))
        let xs = polygon.map(\.0), ys = polygon.map(\.1)
        let f0 = (xs.min()! - radialStart) / radialStep, f1 = (xs.max()! - radialStart) / radialStep
        guard area > 0 else {
            // Degenerate (pixel at the PONI seen edge-on): fall back to the centre's bin.
            let fb = (radial[p] - radialStart) / radialStep
            if fb >= 0 && fb < Double(bins) {
                if is2D {
                    let fa = (centreChi - azimuthStart) / azimuthStep
                    if fa >= 0 && fa < Double(azimuthBins) { emit(Int(fa) * bins + Int(fb), 1) }
                } else {
                    emit(Int(fb), 1)
                }
            }
            return
        }
        let r0 = max(0, Int(f0.rounded(.down))), r1 = min(bins - 1, Int(f1.rounded(.down)))
        guard r0 <= r1 else { return }
        if r0 == r1 && !is2D {
            if f0 >= 0 && f1 < Double(bins) { emit(r0, 1); return }
        }
        var a0 = 0, a1 = 0
        if is2D {
            a0 = Int(((ys.min()! - azimuthStart) / azimuthStep).rounded(.down))
            a1 = Int(((ys.max()! - azimuthStart) / azimuthStep).rounded(.down))
            if !azimuthPeriodic {
                a0 = max(0, a0)
                a1 = min(azimuthBins - 1, a1)
            }
            guard a0 <= a1 else { return }
        }
        for r in r0 ... r1 {
            let xLow = radialStart + Double(r) * radialStep, xHigh = xLow + radialStep
            let strip = Polygon.clip(Polygon.clip(polygon, axis: 0, bound: xLow, keepAbove: true), axis: 0, bound: xHigh, keepAbove: false)
            if strip.count < 3 { continue }
            if is2D {
                for a in a0 ... a1 {
                    let yLow = azimuthStart + Double(a) * azimuthStep, yHigh = yLow + azimuthStep
                    let cell = Polygon.clip(Polygon.clip(strip, axis: 1, bound: yLow, keepAbove: true), axis: 1, bound: yHigh, keepAbove: false)
                    let share = abs(Polygon.area(cell)) / area
                    // Cells past ±180° are the same cells a turn away.
                    if share > 0 { emit(((a % azimuthBins) + azimuthBins) % azimuthBins * bins + r, share) }
                }
            } else {
                let share = abs(Polygon.area(strip)) / area
                if share > 0 { emit(r, share) }
            }
        }
        polygon.removeAll()
    }
}

/// Polygon helpers for full pixel splitting.
enum Polygon {
    /// Shoelace formula (positive for counter-clockwise vertices).
    static func area(_ points: [(Double, Double)]) -> Double {
        guard points.count >= 3 else { return 0 }
        var sum = 0.0
        for k in 0 ..< points.count {
            let (x0, y0) = points[k], (x1, y1) = points[(k + 1) % points.count]
            sum += x0 * y1 - x1 * y0
        }
        return 0.5 * sum
    }

    /// Sutherland–Hodgman clipping against the half-plane coordinate[axis] ≥ bound (or ≤).
    static func clip(_ points: [(Double, Double)], axis: Int, bound: Double, keepAbove: Bool) -> [(Double, Double)] {
        guard !points.isEmpty else { return [] }
        func value(_ p: (Double, Double)) -> Double { axis == 0 ? p.0 : p.1 }
        func inside(_ p: (Double, Double)) -> Bool { keepAbove ? value(p) >= bound : value(p) <= bound }
        var result: [(Double, Double)] = []
        result.reserveCapacity(points.count + 2)
        for k in 0 ..< points.count {
            let current = points[k], previous = points[(k + points.count - 1) % points.count]
            let inCurrent = inside(current), inPrevious = inside(previous)
            if inCurrent != inPrevious {
                let t = (bound - value(previous)) / (value(current) - value(previous))
                result.append((previous.0 + t * (current.0 - previous.0), previous.1 + t * (current.1 - previous.1)))
            }
            if inCurrent { result.append(current) }
        }
        return result
    }
}
