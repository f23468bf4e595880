import BeamlineSupport
import Foundation

/// Sigma clipping in whole sweeps over the frame, never bin by bin.
///
/// One sweep sums, per bin, over the finite entries: S = Σ c·s, N = Σ c·n, C = Σ c,
/// V = Σ c²·max(raw, 1) and Q = Σ c·s²/n (N and C as the engine's totals less the entries
/// that are not finite in this frame, which are few). Then μ = S / N and the spread of the
/// normalised intensities x = s / n is σ² = Σ c·n·(x − μ)² / N = Q / N − μ². Each
/// iteration flags the entries with |x − μ| > k·σ and takes their terms off the five
/// sums, so an iteration costs one pass, not three.
///
/// Most entries lie well inside their bin's band and stay there: a full test sweep also
/// lists the entries outside the inner band (|x − μ| > f·k·σ, f = `innerFraction`), and the
/// next iterations test only those, as long as each bin's new band still contains the old
/// inner band (so no entry left off the list can fall outside it). The bins whose band shrank
/// past their inner band (the first iteration takes the outliers that widened σ; on a DAC plate,
/// up to half the bins) have all their entries tested again, and listed afresh: only the runs
/// of `chunkPixels` pixels that hold such a bin are swept (each run's range of bins is noted
/// once). The result is the same as testing every entry every time.
extension Passes {
    /// Number of per-bin sums carried: S, N, C, V, Q.
    static let clipArrays = 5
    /// The inner band's share of the band. Wider, the lists are shorter (±2.1σ leaves 4 % of
    /// Gaussian entries outside, ±1.5σ 13 %) but more bins are renewed; with renewal confined to
    /// the runs that hold them, 0.7 took 8 % less time per DAC plate than 0.5 (one plate, four
    /// runs of each, bbox, 3000 bins), with the same flagged entries.
    static let innerFraction = 0.7

    /// A test sweep of `sigmaClipped`, as it ran.
    enum ClipPass: Equatable {
        /// Every entry, new lists.
        case full
        /// The listed entries only.
        case listed
        /// The listed entries, and every entry of `bins` bins, in runs holding `pixels` pixels.
        case renewed(bins: Int, pixels: Int)
    }

    /// Sigma-clipped intensities, σ and counts; returns the test sweeps it ran.
    @discardableResult
    func sigmaClipped(_ clip: SigmaClip, intensity: inout [Double], sigma: inout [Double],
                      count: inout [Double]) -> [ClipPass] {
        var passes: [ClipPass] = []
        let e = engine
        let bins = self.bins
        // Zeroed by the system; each worker writes its part's once in the first sweep (below).
        let flags = ZeroedBytes(count: e.pixelNorm.count * e.slotsPerPixel + e.overflowPixel.count)
        defer { withExtendedLifetime(flags) {} }
        let rejected = flags.buffer
        var sums = clipSweep(.accumulate, rejected: rejected).sums
        // The accumulating sweep sums N and C over the entries left out (not finite in this frame).
        for b in 0 ..< bins {
            sums[1][b] = e.binNorm[b] - sums[1][b]
            sums[2][b] = e.binCount[b] - sums[2][b]
        }
        var mean = [Double](repeating: 0, count: bins)
        var low = [Double](repeating: -.infinity, count: bins), high = [Double](repeating: .infinity, count: bins)
        // The inner band of the last full sweep, and the entries it left outside.
        var innerLow: [Double] = [], innerHigh: [Double] = []
        var candidates: [EntryBuffer]?
        let negative = [Double](repeating: -.infinity, count: bins)
        let positive = [Double](repeating: .infinity, count: bins)
        for iteration in 0 ... clip.maxIterations {
            var limit = [Double](repeating: .infinity, count: bins)
            for b in 0 ..< bins {
                let n = sums[1][b]
                mean[b] = n > 0 ? sums[0][b] / n : 0
                // Below two entries the spread means nothing: such a bin keeps what it has.
                let spread = max(0, sums[4][b] / n - mean[b] * mean[b])
                if n > 0 && sums[2][b] > 1 { limit[b] = clip.threshold * spread.squareRoot() }
                low[b] = limit[b].isFinite ? mean[b] - limit[b] : -.infinity
                high[b] = limit[b].isFinite ? mean[b] + limit[b] : .infinity
            }
            if iteration == clip.maxIterations { break }
            // Bins whose band no longer holds their inner band: their entries are tested anew.
            var renewed = [Bool](repeating: false, count: bins)
            var renewedCount = 0
            if candidates != nil {
                for b in 0 ..< bins where !(low[b] <= innerLow[b] && innerHigh[b] <= high[b]) {
                    renewed[b] = true
                    renewedCount += 1
                }
            }
            let step: ClipStep
            if let listed = candidates, renewedCount == 0 {
                step = clipSweep(.testListed(low: low, high: high, candidates: listed), rejected: rejected)
                passes.append(.listed)
            } else if let listed = candidates {
                // New inner bands for the renewed bins; the other bins keep theirs (and, here, an
                // inner band that holds everything: the sweep lists none of their entries again).
                var sweptLow = negative, sweptHigh = positive
                for b in 0 ..< bins where renewed[b] {
                    innerLow[b] = mean[b] - limit[b] * Self.innerFraction
                    innerHigh[b] = mean[b] + limit[b] * Self.innerFraction
                    sweptLow[b] = innerLow[b]
                    sweptHigh[b] = innerHigh[b]
                }
                var renewedBefore = [Int](repeating: 0, count: bins + 1)
                for b in 0 ..< bins { renewedBefore[b + 1] = renewedBefore[b] + (renewed[b] ? 1 : 0) }
                step = clipSweep(.testRenewed(low: low, high: high, innerLow: sweptLow, innerHigh: sweptHigh,
                                              candidates: listed, renewedBefore: renewedBefore),
                                 rejected: rejected)
                candidates = step.candidates
                passes.append(.renewed(bins: renewedCount, pixels: step.sweptPixels))
            } else {
                let inner = limit.map { $0 * Self.innerFraction }
                innerLow = (0 ..< bins).map { inner[$0].isFinite ? mean[$0] - inner[$0] : -.infinity }
                innerHigh = (0 ..< bins).map { inner[$0].isFinite ? mean[$0] + inner[$0] : .infinity }
                step = clipSweep(.testAll(low: low, high: high, innerLow: innerLow, innerHigh: innerHigh),
                                 rejected: rejected)
                candidates = step.candidates
                passes.append(.full)
            }
            if step.count == 0 { break }
            for a in 0 ..< Self.clipArrays {
                for b in 0 ..< bins { sums[a][b] -= step.sums[a][b] }
            }
        }
        let residual = e.settings.errorModel == .azimuthal ? moments(mean: mean, rejected: rejected)[1] : []
        for b in 0 ..< bins where sums[1][b] > 0 && sums[2][b] > 1e-9 {
            intensity[b] = mean[b]
            count[b] = sums[2][b]
            switch e.settings.errorModel {
            case .poisson: sigma[b] = max(0, sums[3][b]).squareRoot() / sums[1][b]
            case .azimuthal: sigma[b] = residual[b].squareRoot() / sums[1][b]
            case .none: sigma[b] = 0
            }
        }
        return passes
    }

    enum ClipSweep {
        /// S, V and Q over the finite entries; N and C over the others (taken off the engine's totals).
        case accumulate
        /// Flag every unflagged finite entry outside [low, high]; list those outside the inner band.
        case testAll(low: [Double], high: [Double], innerLow: [Double], innerHigh: [Double])
        /// Flag the listed entries outside [low, high] (overflow entries are always tested).
        case testListed(low: [Double], high: [Double], candidates: [EntryBuffer])
        /// `testListed`, then `testAll` over the runs of pixels that hold a renewed bin (one
        /// with `renewedBefore[b + 1] > renewedBefore[b]`), whose inner bands these are (the
        /// others' hold everything); the new lists are the old ones, less what was flagged and
        /// the renewed bins' entries, and the renewed bins' entries outside their inner bands.
        case testRenewed(low: [Double], high: [Double], innerLow: [Double], innerHigh: [Double],
                         candidates: [EntryBuffer], renewedBefore: [Int])
    }

    /// What a sweep returns: the sums over the entries it flagged (all entries for
    /// `accumulate`), their number, the new candidate lists (one per worker), and the number
    /// of pixels whose every slot it tested (`testRenewed`: those of the runs it swept).
    struct ClipStep {
        var sums: [[Double]]
        var count: Int
        var candidates: [EntryBuffer]
        var sweptPixels: Int
    }

    /// Runs a sweep on every worker.
    func clipSweep(_ sweep: ClipSweep, rejected flags: UnsafeMutableBufferPointer<UInt8>) -> ClipStep {
        let lanes = self.lanes, bins = self.bins
        let e = engine
        let parts = e.partition
        let size = Self.clipArrays * lanes * bins
        var storage = [Double](repeating: 0, count: parts.count * size)
        // Each worker's entries flagged, pixels swept whole and new candidate list.
        var outcomes = [(flagged: Int, swept: Int, list: EntryBuffer)](repeating: (0, 0, EntryBuffer()),
                                                                         count: parts.count)
        let slotEntries = e.pixelNorm.count * e.slotsPerPixel
        let infinite = [Double](repeating: .infinity, count: bins)
        let negative = [Double](repeating: -.infinity, count: bins)
        var bands = (low: negative, high: infinite, innerLow: negative, innerHigh: infinite)
        var listed: [EntryBuffer]?
        var renewedBefore: [Int]?
        switch sweep {
        case .accumulate: break
        case let .testAll(low, high, innerLow, innerHigh): bands = (low, high, innerLow, innerHigh)
        case let .testListed(low, high, candidates):
            bands.low = low
            bands.high = high
            listed = candidates
        case let .testRenewed(low, high, innerLow, innerHigh, candidates, renewed):
            bands = (low, high, innerLow, innerHigh)
            listed = candidates
            renewedBefore = renewed
        }
        let testing: Bool = { if case .accumulate = sweep { return false } else { return true } }()
        storage.withUnsafeMutableBufferPointer { all in
            outcomes.withUnsafeMutableBufferPointer { outcomeOut in
                Parallel.forEach(parts) { part, range in
                    let kernel = ClipKernel(
                        engine: e, px: px.baseAddress!, flags: flags.baseAddress!,
                        sink: ClipSink(base: all.baseAddress! + part * size, lanes: lanes, bins: bins),
                        low: bands.low, high: bands.high, innerLow: bands.innerLow, innerHigh: bands.innerHigh)
                    var flagged = 0
                    if let listed, let renewedBefore {
                        var list = EntryList(capacity: listed[part].entries.count + range.count / 8 + 1024)
                        flagged = kernel.testListed(listed[part], keeping: &list, renewedBefore: renewedBefore)
                        let runs = Self.runs(in: range, chunkBins: e.chunkBins[part], renewedBefore: renewedBefore)
                        flagged += kernel.sweep(runs, candidates: &list)
                        outcomeOut[part].list = list.finish()
                        outcomeOut[part].swept = runs.reduce(0) { $0 + $1.count }
                    } else if let listed {
                        flagged = kernel.testListed(listed[part])
                    } else if testing {
                        var list = EntryList(capacity: max(1024, range.count / 8))
                        flagged = kernel.sweep([range], candidates: &list)
                        outcomeOut[part].list = list.finish()
                        outcomeOut[part].swept = range.count
                    } else {
                        // The part's flags are zero already, but their pages are not yet this
                        // process's own: the test sweeps' first reads would map the shared zero
                        // page, and every later flag cost a copy-on-write fault and a TLB
                        // shootdown on each core. Written once here, by the worker that uses them.
                        memset(flags.baseAddress! + range.lowerBound * e.slotsPerPixel, 0,
                               range.count * e.slotsPerPixel)
                        kernel.accumulate(range)
                    }
                    // The few entries that did not fit in the slots: always tested in full.
                    for o in e.overflowPartition[part] {
                        let p = e.overflowPixel[o], c = Double(e.overflowShare[o]), bin = e.overflowBin[o]
                        let raw = px[p], n = Double(e.pixelNorm[p])
                        let b = bin + (p & (lanes - 1)) * bins
                        // As `ClipKernel.accumulate` sums: N and C of the entries left out only.
                        if !testing && !(raw.isFinite && n > 0) {
                            kernel.sink.base[lanes * bins + b] += c * n
                            kernel.sink.base[2 * lanes * bins + b] += c
                            continue
                        }
                        guard raw.isFinite, flags[slotEntries + o] == 0, c != 0 else { continue }
                        let s = Double(e.dark.map { raw - $0[p] } ?? raw)
                        let x = s / n
                        if testing {
                            guard x < bands.low[bin] || x > bands.high[bin] else { continue }
                            flags[slotEntries + o] = 1
                            flagged += 1
                            kernel.sink.add(bin: b, c: c, s: s, n: n, sx: s * (s / n),
                                            variance: Double(max(raw, 1)))
                        } else {
                            kernel.sink.base[b] += c * s
                            kernel.sink.base[3 * lanes * bins + b] += c * c * Double(max(raw, 1))
                            kernel.sink.base[4 * lanes * bins + b] += c * (s * (s / n))
                        }
                    }
                    outcomeOut[part].flagged = flagged
                }
            }
        }
        var result = [[Double]](repeating: [Double](repeating: 0, count: bins), count: Self.clipArrays)
        for a in 0 ..< Self.clipArrays {
            for part in 0 ..< parts.count {
                for lane in 0 ..< lanes {
                    let offset = part * size + (a * lanes + lane) * bins
                    for b in 0 ..< bins { result[a][b] += storage[offset + b] }
                }
            }
        }
        return ClipStep(sums: result, count: outcomes.reduce(0) { $0 + $1.flagged }, candidates: outcomes.map(\.list),
                        sweptPixels: outcomes.reduce(0) { $0 + $1.swept })
    }

    /// The pixel ranges, merged, of the runs of `range` that hold a renewed bin; `chunkBins`
    /// holds each run's (lowest, highest) bin (`IntegrationEngine.chunkBins`).
    static func runs(in range: Range<Int>, chunkBins: [UInt32], renewedBefore: [Int]) -> [Range<Int>] {
        var runs: [Range<Int>] = []
        let bins = renewedBefore.count - 1, size = IntegrationEngine.chunkPixels
        for chunk in 0 ..< chunkBins.count / 2 {
            let lowest = Int(chunkBins[2 * chunk]), highest = min(Int(chunkBins[2 * chunk + 1]), bins - 1)
            guard lowest <= highest, renewedBefore[highest + 1] > renewedBefore[lowest] else { continue }
            let start = range.lowerBound + chunk * size
            let end = min(start + size, range.upperBound)
            if let last = runs.last, last.upperBound == start {
                runs[runs.count - 1] = last.lowerBound ..< end
            } else {
                runs.append(start ..< end)
            }
        }
        return runs
    }

    /// Five accumulator arrays of `lanes × bins` doubles from `base`: S, N, C, V, Q.
    struct ClipSink {
        let base: UnsafeMutablePointer<Double>
        let lanes: Int
        let bins: Int

        @inline(__always)
        func add(bin b: Int, c: Double, s: Double, n: Double, sx: Double, variance v: Double) {
            let stride = lanes &* bins
            base[b] += c * s
            base[stride &+ b] += c * n
            base[2 &* stride &+ b] += c
            base[3 &* stride &+ b] += c * c * v
            base[4 &* stride &+ b] += c * sx
        }
    }

    /// One worker's sweeps over its pixels' slots.
    struct ClipKernel {
        let engine: IntegrationEngine
        let px: UnsafePointer<Float>
        let flags: UnsafeMutablePointer<UInt8>
        let sink: ClipSink
        let low: [Double], high: [Double], innerLow: [Double], innerHigh: [Double]

        /// The sums of `accumulate` below over `range`.
        func accumulate(_ range: Range<Int>) {
            let e = engine
            let dark = e.dark?.baseAddress, norm = e.pixelNorm.baseAddress!, share = e.slotShare.baseAddress
            if e.slotBin16.isEmpty {
                e.slotBin32.withUnsafeBufferPointer {
                    Self.accumulate(px, dark, $0.baseAddress!, UInt32.max, share, e.slotsPerPixel, norm, range, sink)
                }
            } else {
                e.slotBin16.withUnsafeBufferPointer {
                    Self.accumulate(px, dark, $0.baseAddress!, UInt16.max, share, e.slotsPerPixel, norm, range, sink)
                }
            }
        }

        /// Every slot of `ranges`: flags the entries outside [low, high], sums them, and lists in
        /// `candidates` those left inside [low, high] but outside [innerLow, innerHigh].
        func sweep(_ ranges: [Range<Int>], candidates: inout EntryList) -> Int {
            let e = engine
            if e.slotBin16.isEmpty {
                return e.slotBin32.withUnsafeBufferPointer {
                    run($0.baseAddress!, invalid: UInt32.max, ranges, candidates: &candidates)
                }
            }
            return e.slotBin16.withUnsafeBufferPointer {
                run($0.baseAddress!, invalid: UInt16.max, ranges, candidates: &candidates)
            }
        }

        /// The listed slot entries only.
        func testListed(_ list: EntryBuffer) -> Int {
            var unused: EntryList?
            return testListed(list, keeping: &unused, renewedBefore: nil)
        }

        /// The listed slot entries of bins not renewed (their runs are swept whole); those left
        /// unflagged appended to `kept`.
        func testListed(_ list: EntryBuffer, keeping kept: inout EntryList, renewedBefore: [Int]) -> Int {
            var some: EntryList? = kept
            defer { kept = some! }
            return testListed(list, keeping: &some, renewedBefore: renewedBefore)
        }

        private func testListed(_ list: EntryBuffer, keeping kept: inout EntryList?, renewedBefore: [Int]?) -> Int {
            let e = engine
            if e.slotBin16.isEmpty {
                return e.slotBin32.withUnsafeBufferPointer {
                    testListed(list, $0.baseAddress!, keeping: &kept, renewedBefore: renewedBefore)
                }
            }
            return e.slotBin16.withUnsafeBufferPointer {
                testListed(list, $0.baseAddress!, keeping: &kept, renewedBefore: renewedBefore)
            }
        }

        @inline(__always)
        private func run<Bin: FixedWidthInteger>(_ slotBin: UnsafePointer<Bin>, invalid: Bin, _ ranges: [Range<Int>],
                                                 candidates: inout EntryList) -> Int {
            let e = engine
            let dark = e.dark?.baseAddress, norm = e.pixelNorm.baseAddress!, share = e.slotShare.baseAddress
            guard !ranges.isEmpty else { return 0 }
            // The inner band as (low, high) pairs, one cache line for both; with 16-bit bins the
            // table covers every bin value, and the sentinel's band takes everything, so the
            // common path needs no other test.
            let tableSize = Bin.bitWidth == 16 ? 65536 : sink.bins
            var inner = [Double](repeating: 0, count: 2 * tableSize)
            for b in 0 ..< tableSize {
                inner[2 * b] = b < sink.bins ? innerLow[b] : -.infinity
                inner[2 * b + 1] = b < sink.bins ? innerHigh[b] : .infinity
            }
            // Where a pixel's bins ascend from its first (1D engines), the intersection of the inner
            // bands of the bins from b to b + span: a pixel inside it at its first bin b has every
            // slot inside its own inner band, and is passed over with one look-up instead of one per slot.
            var window: [Double] = []
            if let span = e.slotSpan, e.slotsPerPixel > 1, span <= 16 {
                window = inner
                for b in 0 ..< min(tableSize, sink.bins) {
                    for c in stride(from: b + 1, through: min(b + span, sink.bins - 1), by: 1) {
                        window[2 * b] = max(window[2 * b], innerLow[c])
                        window[2 * b + 1] = min(window[2 * b + 1], innerHigh[c])
                    }
                }
            }
            return inner.withUnsafeBufferPointer { inner in
                window.withUnsafeBufferPointer { window in
                    low.withUnsafeBufferPointer { low in
                        high.withUnsafeBufferPointer { high in
                            var flagged = 0
                            for range in ranges {
                                flagged += Self.test(px, dark, slotBin, invalid, share, e.slotsPerPixel, norm, range,
                                                     flags, inner.baseAddress!,
                                                     window.isEmpty ? nil : window.baseAddress, Bin.bitWidth == 16,
                                                     low.baseAddress!, high.baseAddress!, sink, &candidates)
                            }
                            return flagged
                        }
                    }
                }
            }
        }

        /// Over the finite entries of pixels with n > 0 (nothing is flagged yet), Σ c·s, Σ c²·max(raw, 1)
        /// and Σ c·s²/n in arrays 0, 3 and 4; over the others, Σ c·n and Σ c in arrays 1 and 2, for
        /// the caller to take off the engine's totals of all entries (`binNorm`, `binCount`). Two
        /// sums per entry fewer on the common path than summing N and C over the finite entries.
        @inline(never)
        static func accumulate<Bin: FixedWidthInteger>(_ px: UnsafePointer<Float>, _ dark: UnsafePointer<Float>?,
                                                      _ slotBin: UnsafePointer<Bin>, _ invalid: Bin,
                                                      _ share: UnsafePointer<Float>?, _ slots: Int,
                                                      _ norm: UnsafePointer<Float>, _ range: Range<Int>,
                                                      _ sink: ClipSink) {
            let laneMask = sink.lanes &- 1, bins = sink.bins, stride = sink.lanes &* bins
            let signal = sink.base, lostNorm = sink.base + stride, lostCount = sink.base + 2 &* stride
            let variance = sink.base + 3 &* stride, square = sink.base + 4 &* stride
            guard let share else {
                for p in range where slotBin[p] != invalid {
                    let b = Int(slotBin[p]) &+ (p & laneMask) &* bins
                    let raw = px[p], n = Double(norm[p])
                    if raw.isFinite && n > 0 {
                        let s = Double(dark.map { raw - $0[p] } ?? raw)
                        signal[b] += s
                        variance[b] += Double(max(raw, 1))
                        square[b] += s * (s / n)
                    } else {
                        lostNorm[b] += n
                        lostCount[b] += 1
                    }
                }
                return
            }
            @inline(__always)
            func sweep(_ width: Int) {
                for p in range {
                    let raw = px[p], n = Double(norm[p])
                    let laneOffset = (p & laneMask) &* bins
                    let first = p &* width
                    if raw.isFinite && n > 0 {
                        // Padding slots have share 0 and add nothing.
                        let s = Double(dark.map { raw - $0[p] } ?? raw)
                        let sx = s * (s / n), v = Double(max(raw, 1))
                        for j in first ..< first &+ width {
                            let b = Int(slotBin[j]) &+ laneOffset
                            let c = Double(share[j])
                            signal[b] += c * s
                            variance[b] += c * c * v
                            square[b] += c * sx
                        }
                    } else {
                        for j in first ..< first &+ width {
                            let b = Int(slotBin[j]) &+ laneOffset
                            let c = Double(share[j])
                            lostNorm[b] += c * n
                            lostCount[b] += c
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

        /// Flags the unflagged entries outside [low, high] and sums them; lists in `candidates`
        /// those inside it but outside the inner band.
        @inline(never)
        static func test<Bin: FixedWidthInteger>(_ px: UnsafePointer<Float>, _ dark: UnsafePointer<Float>?,
                                                _ slotBin: UnsafePointer<Bin>, _ invalid: Bin,
                                                _ share: UnsafePointer<Float>?, _ slots: Int,
                                                _ norm: UnsafePointer<Float>, _ range: Range<Int>,
                                                _ flags: UnsafeMutablePointer<UInt8>, _ inner: UnsafePointer<Double>,
                                                _ window: UnsafePointer<Double>?, _ sentinelInTable: Bool,
                                                _ low: UnsafePointer<Double>, _ high: UnsafePointer<Double>,
                                                _ sink: ClipSink, _ list: inout EntryList) -> Int {
            var flagged = 0
            for p in range {
                let raw = px[p]
                guard raw.isFinite, norm[p] > 0 else { continue }
                let x = Double(dark.map { raw - $0[p] } ?? raw) / Double(norm[p])
                let first = p &* slots
                if let window {
                    let w = Int(slotBin[first]) &* 2
                    if x >= window[w] && x <= window[w &+ 1] { continue }
                }
                for j in first ..< first &+ slots {
                    // Padding slots repeat the pixel's last bin: they pass or fail with it,
                    // and `outside` skips them by their share 0.
                    let bin = slotBin[j]
                    if !sentinelInTable && bin == invalid { continue }
                    let b = Int(bin) &* 2
                    if x >= inner[b] && x <= inner[b &+ 1] { continue }
                    if x >= low[Int(bin)] && x <= high[Int(bin)] {
                        // Padding slots may be listed too; `testListed` skips them by their share.
                        if flags[j] == 0 { list.append(Int32(j)) }
                        continue
                    }
                    flagged &+= outside(p: p, j: j, x: x, raw: raw, px, dark, slotBin, invalid, share, slots, norm,
                                        flags,
                                        low, high, sink, &list)
                }
            }
            return flagged
        }

        /// An entry outside its inner band: listed, or flagged and summed; returns 1 if flagged.
        @inline(never)
        static func outside<Bin: FixedWidthInteger>(p: Int, j: Int, x: Double, raw: Float, _ px: UnsafePointer<Float>,
                                                   _ dark: UnsafePointer<Float>?, _ slotBin: UnsafePointer<Bin>,
                                                   _ invalid: Bin, _ share: UnsafePointer<Float>?, _ slots: Int,
                                                   _ norm: UnsafePointer<Float>, _ flags: UnsafeMutablePointer<UInt8>,
                                                   _ low: UnsafePointer<Double>, _ high: UnsafePointer<Double>,
                                                   _ sink: ClipSink, _ candidates: inout EntryList) -> Int {
            let bin = slotBin[j]
            guard bin != invalid, flags[j] == 0 else { return 0 }
            let c = share.map { Double($0[j]) } ?? 1
            guard c != 0 else { return 0 }
            let b = Int(bin)
            if x >= low[b] && x <= high[b] {
                candidates.append(Int32(j))
                return 0
            }
            flags[j] = 1
            let s = Double(dark.map { raw - $0[p] } ?? raw), n = Double(norm[p])
            sink.add(bin: b &+ (p & (sink.lanes &- 1)) &* sink.bins, c: c, s: s, n: n, sx: s * (s / n),
                     variance: Double(max(raw, 1)))
            return 1
        }

        private func testListed<Bin: FixedWidthInteger>(_ list: EntryBuffer, _ slotBin: UnsafePointer<Bin>,
                                                        keeping kept: inout EntryList?, renewedBefore: [Int]?) -> Int {
            let e = engine
            let slots = e.slotsPerPixel, laneMask = sink.lanes &- 1, bins = sink.bins
            let dark = e.dark?.baseAddress, norm = e.pixelNorm.baseAddress!, share = e.slotShare.baseAddress
            var flagged = 0
            for entry in list.entries {
                let j = Int(entry)
                guard flags[j] == 0 else { continue }
                let b = Int(slotBin[j])
                if let renewedBefore, renewedBefore[b &+ 1] > renewedBefore[b] { continue }
                let p = j / slots
                let raw = px[p]
                let s = Double(dark.map { raw - $0[p] } ?? raw), n = Double(norm[p])
                let x = s / n
                if x >= low[b] && x <= high[b] {
                    kept?.append(entry)
                    continue
                }
                let c = share.map { Double($0[j]) } ?? 1
                if c == 0 { continue }
                flags[j] = 1
                flagged &+= 1
                sink.add(bin: b &+ (p & laneMask) &* bins, c: c, s: s, n: n, sx: s * (s / n),
                         variance: Double(max(raw, 1)))
            }
            return flagged
        }
    }
}

/// A growable list of entry numbers for the test sweeps, which append millions: one capacity
/// check per append, without Array's uniqueness check; grown with realloc (which moves the pages
/// of a large block instead of copying them), and handed over as an `EntryBuffer` without a copy.
struct EntryList {
    private var storage: UnsafeMutablePointer<Int32>
    private var count = 0
    private var capacity: Int

    init(capacity: Int) {
        self.capacity = max(1, capacity)
        storage = Self.reallocate(nil, capacity: self.capacity)
    }

    @inline(__always)
    mutating func append(_ entry: Int32) {
        if count == capacity { grow() }
        storage[count] = entry
        count &+= 1
    }

    @inline(never)
    private mutating func grow() {
        capacity *= 2
        storage = Self.reallocate(storage, capacity: capacity)
    }

    private static func reallocate(_ old: UnsafeMutablePointer<Int32>?, capacity: Int) -> UnsafeMutablePointer<Int32> {
        guard let memory = realloc(old, capacity * MemoryLayout<Int32>.stride) else {
            fatalError("out of memory for \(capacity) sigma-clipping candidates")
        }
        return memory.assumingMemoryBound(to: Int32.self)
    }

    /// The entries, owned by the buffer from now on; the list must not be used again.
    func finish() -> EntryBuffer { EntryBuffer(storage: storage, count: count) }
}

/// Entry numbers in memory from malloc, freed with the buffer.
final class EntryBuffer: @unchecked Sendable {
    private let storage: UnsafeMutablePointer<Int32>?
    let entries: UnsafeBufferPointer<Int32>

    init() {
        storage = nil
        entries = UnsafeBufferPointer(start: nil, count: 0)
    }

    init(storage: UnsafeMutablePointer<Int32>, count: Int) {
        self.storage = storage
        entries = UnsafeBufferPointer(start: storage, count: count)
    }

    deinit { free(storage) }
}

/// Bytes from calloc, freed with the object: a large block comes straight from the system as
/// zero pages that cost nothing until written.
final class ZeroedBytes: @unchecked Sendable {
    let buffer: UnsafeMutableBufferPointer<UInt8>

    init(count: Int) {
        guard let memory = calloc(max(count, 1), 1) else { fatalError("out of memory for \(count) bytes") }
        buffer = UnsafeMutableBufferPointer(start: memory.assumingMemoryBound(to: UInt8.self), count: count)
    }

    deinit { free(buffer.baseAddress) }
}
