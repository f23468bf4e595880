import BeamlineSupport
import DetectorImage
import Foundation
import Testing
@testable import Integration

/// The engine as a run reuses it: sigma clipping in sweeps, per-frame masks as left-out
/// pixels, and the engine kept in a file.
struct EngineReuseTests {
    static let geometry = EngineBehaviourTests.geometry

    /// A frame with Poisson-like noise, rings of `rings` counts, and bright spots of 3×3 pixels,
    /// centred within `spotRadius` pixels of the beam.
    static func spottyFrame(seed: UInt64, rings: Double = 3000, spotRadius: Double = .infinity) -> [Float] {
        var rng = SeededGenerator(seed: seed)
        var pixels = (0 ..< 200 * 250).map { i -> Float in
            let x = Double(i % 250) - 135, y = Double(i / 250) - 110
            let r = (x * x + y * y).squareRoot()
            let mean = 800 + rings * exp(-((r.truncatingRemainder(dividingBy: 40) - 20) / 3) * ((r.truncatingRemainder(dividingBy: 40) - 20) / 3))
            let u = (0 ..< 12).map { _ in Double.random(in: 0 ..< 1, using: &rng) }.reduce(0, +) - 6
            return Float(max(0, mean + mean.squareRoot() * u))
        }
        for _ in 0 ..< 60 {
            var x = 0, y = 0
            repeat {
                x = Int.random(in: 1 ..< 249, using: &rng)
                y = Int.random(in: 1 ..< 199, using: &rng)
            } while Double((x - 135) * (x - 135) + (y - 110) * (y - 110)).squareRoot() > spotRadius
            let height = Float.random(in: 2000 ... 60000, using: &rng)
            for dy in -1 ... 1 { for dx in -1 ... 1 { pixels[(y + dy) * 250 + x + dx] += height } }
        }
        return pixels
    }

    /// Sigma clipping as its definition reads, bin by bin over the engine's entries: mean
    /// μ = Σ c·s / Σ c·n, spread σ² = Σ c·n·(x − μ)² / Σ c·n over the kept entries, drop
    /// |x − μ| > k·σ, repeat.
    static func referenceClip(_ engine: IntegrationEngine, _ pixels: [Float], k: Double, iterations: Int)
        -> (mean: [Double], count: [Double], sigma: [Double]) {
        struct Entry { var p: Int; var c: Double; var kept = true }
        var byBin = [[Entry]](repeating: [], count: engine.totalBins)
        for part in engine.partition.indices {
            engine.forEachEntry(part: part) { p, _, bin, c in
                if pixels[p].isFinite { byBin[bin].append(Entry(p: p, c: c)) }
            }
        }
        var mean = [Double](repeating: 0, count: engine.totalBins), count = mean, sigma = mean
        for b in 0 ..< engine.totalBins where !byBin[b].isEmpty {
            var entries = byBin[b]
            func sums() -> (Double, Double, Double, Double) {
                var s = 0.0, n = 0.0, c = 0.0, v = 0.0
                for e in entries where e.kept {
                    s += e.c * Double(pixels[e.p])
                    n += e.c * Double(engine.pixelNorm[e.p])
                    c += e.c
                    v += e.c * e.c * Double(max(pixels[e.p], 1))
                }
                return (s, n, c, v)
            }
            var (s, n, c, v) = sums()
            for _ in 0 ..< iterations where c > 1 {
                let mu = s / n
                var spread = 0.0
                for e in entries where e.kept {
                    let x = Double(pixels[e.p]) / Double(engine.pixelNorm[e.p]) - mu
                    spread += e.c * Double(engine.pixelNorm[e.p]) * x * x
                }
                let limit = k * (spread / n).squareRoot()
                var rejected = 0
                for i in entries.indices where entries[i].kept {
                    if abs(Double(pixels[entries[i].p]) / Double(engine.pixelNorm[entries[i].p]) - mu) > limit {
                        entries[i].kept = false
                        rejected += 1
                    }
                }
                if rejected == 0 { break }
                (s, n, c, v) = sums()
            }
            guard n > 0 else { continue }
            mean[b] = s / n
            count[b] = c
            sigma[b] = v.squareRoot() / n
        }
        return (mean, count, sigma)
    }

    /// The sweeping implementation (with its candidate lists) gives what the definition gives.
    @Test(arguments: [SplitMethod.none, .bbox, .full])
    func sigmaClippingMatchesItsDefinition(method: SplitMethod) throws {
        var settings = IntegrationSettings()
        settings.method = method
        settings.bins = 90
        settings.polarizationFactor = 0.99
        let engine = try IntegrationEngine(geometry: Self.geometry, settings: settings)
        var sweeps: [Passes.ClipPass] = []
        for seed in [1, 2] as [UInt64] {
            var pixels = Self.spottyFrame(seed: seed)
            for i in stride(from: 7, to: pixels.count, by: 97) { pixels[i] = .nan }  // a per-frame mask
            let clipped = try engine.integrate(pixels, sigmaClip: SigmaClip(threshold: 3, maxIterations: 5))
            let reference = Self.referenceClip(engine, pixels, k: 3, iterations: 5)
            var unused = [Double](repeating: 0, count: engine.totalBins), more = unused, most = unused
            sweeps += pixels.withUnsafeBufferPointer {
                Passes(engine: engine, px: $0).sigmaClipped(SigmaClip(threshold: 3, maxIterations: 5),
                                                            intensity: &unused, sigma: &more, count: &most)
            }
            var compared = 0
            for b in 0 ..< settings.bins where reference.count[b] > 5 {
                #expect(abs(clipped.intensity[b] / reference.mean[b] - 1) < 1e-9, "bin \(b)")
                #expect(abs(clipped.count[b] - reference.count[b]) < 1e-6, "bin \(b)")
                #expect(abs(clipped.sigma[b] / reference.sigma[b] - 1) < 1e-6, "bin \(b)")
                compared += 1
            }
            #expect(compared > 60)
            // Clipping did something: the spots raised the plain means.
            let plain = try engine.integrate(pixels)
            #expect((0 ..< settings.bins).filter { plain.intensity[$0] > clipped.intensity[$0] * 1.01 }.count > 5)
        }
        // The spots widen σ at first, so that some bins' bands shrink past their inner band after
        // the first iteration: those bins were tested anew (here, spots all over, in nearly every
        // run of pixels), and the result above is still the definition's.
        #expect(sweeps.first == .full && sweeps.contains { if case .renewed = $0 { true } else { false } },
                "\(sweeps)")
    }

    /// Spots near the beam on a flat background: only the inner bins are renewed (the outer
    /// bins' σ hardly changes), and only the runs of pixels that hold them are swept again,
    /// not the whole frame; the result is the definition's.
    @Test(arguments: [SplitMethod.none, .bbox])
    func clippingRenewsOnlyTheRunsOfItsBins(method: SplitMethod) throws {
        var settings = IntegrationSettings()
        settings.method = method
        settings.bins = 90
        let engine = try IntegrationEngine(geometry: Self.geometry, settings: settings)
        let pixels = Self.spottyFrame(seed: 5, rings: 0, spotRadius: 30)
        var intensity = [Double](repeating: 0, count: engine.totalBins), sigma = intensity, count = intensity
        let clip = SigmaClip(threshold: 3, maxIterations: 5)
        let sweeps = pixels.withUnsafeBufferPointer {
            Passes(engine: engine, px: $0).sigmaClipped(clip, intensity: &intensity, sigma: &sigma, count: &count)
        }
        let renewed = sweeps.compactMap { if case let .renewed(_, pixels) = $0 { pixels } else { nil } }
        #expect(!renewed.isEmpty && renewed.allSatisfy { $0 > 0 && $0 < 250 * 200 / 2 }, "\(sweeps)")
        let reference = Self.referenceClip(engine, pixels, k: 3, iterations: 5)
        var compared = 0
        for b in 0 ..< settings.bins where reference.count[b] > 5 {
            #expect(abs(intensity[b] / reference.mean[b] - 1) < 1e-9, "bin \(b)")
            #expect(abs(count[b] - reference.count[b]) < 1e-6, "bin \(b)")
            #expect(abs(sigma[b] / reference.sigma[b] - 1) < 1e-6, "bin \(b)")
            compared += 1
        }
        #expect(compared > 60)
    }

    /// A per-frame mask given as NaN pixels equals an engine built with that mask.
    @Test func frameMaskEqualsBuiltMask() throws {
        var settings = IntegrationSettings()
        settings.bins = 100
        let pixels = Self.spottyFrame(seed: 4)
        var mask = Mask(width: 250, height: 200)
        for i in stride(from: 3, to: mask.values.count, by: 11) { mask.values[i] = 1 }
        let built = try IntegrationEngine(geometry: Self.geometry, settings: settings, mask: mask)
        let shared = try IntegrationEngine(geometry: Self.geometry, settings: settings)
        var masked = pixels
        for i in masked.indices where mask.values[i] != 0 { masked[i] = .nan }
        for clip in [nil, SigmaClip(threshold: 3)] {
            let a = try built.integrate(pixels, sigmaClip: clip), b = try shared.integrate(masked, sigmaClip: clip)
            for bin in 0 ..< 100 where a.count[bin] > 0 {
                #expect(abs(a.intensity[bin] / b.intensity[bin] - 1) < 1e-6)
                #expect(abs(a.sigma[bin] / b.sigma[bin] - 1) < 1e-6)
                #expect(abs(a.count[bin] - b.count[bin]) < 1e-3)
            }
        }
    }

    static func scratch(_ name: String) throws -> String {
        let dir = NSTemporaryDirectory() + "engine-reuse-\(getpid())-\(name)"
        try FileManager.default.createDirectory(atPath: dir, withIntermediateDirectories: true)
        return dir
    }

    /// An engine written and mapped back integrates exactly as the one built; another key,
    /// another version or a damaged file is never used silently.
    @Test(arguments: [SplitMethod.none, .bbox])
    func archiveRoundTrip(method: SplitMethod) throws {
        var settings = IntegrationSettings()
        settings.method = method
        settings.bins = 70
        let dark = [Float](repeating: 3, count: 250 * 200)
        let engine = try IntegrationEngine(geometry: Self.geometry, settings: settings, dark: dark)
        let path = try Self.scratch(method.rawValue) + "/run.engine"
        try engine.write(to: path, key: "k1", attachments: ["rings": EngineArray([1, 2, 3])])
        let pixels = Self.spottyFrame(seed: 9)
        let loaded = try #require(try IntegrationEngine.load(from: path, key: "k1"))
        #expect(loaded.attachments["rings"].map(Array.init) == [1, 2, 3])
        for clip in [nil, SigmaClip(threshold: 3)] {
            let a = try engine.integrate(pixels, sigmaClip: clip), b = try loaded.engine.integrate(pixels, sigmaClip: clip)
            #expect(a.intensity == b.intensity && a.sigma == b.sigma && a.count == b.count && a.radial == b.radial)
        }
        #expect(try IntegrationEngine.load(from: path, key: "another") == nil)
        #expect(try IntegrationEngine.load(from: path + ".missing", key: "k1") == nil)
        // Truncated anywhere: an error naming the file, never a crash.
        let bytes = try Data(contentsOf: URL(fileURLWithPath: path))
        for cut in [4, 20, 200, bytes.count / 2, bytes.count - 9] {
            try bytes.prefix(cut).write(to: URL(fileURLWithPath: path))
            #expect(throws: BeamlineError.self) { _ = try IntegrationEngine.load(from: path, key: "k1") }
        }
        // A bin index out of range in the slots: refused.
        var damaged = bytes
        let headerLength = Int(damaged[12]) | Int(damaged[13]) << 8 | Int(damaged[14]) << 16
        let arrays = (16 + headerLength + 7) / 8 * 8 + engine.radialCenters.count * 8
        for k in 0 ..< 16 { damaged[arrays + k] = 0xFE }
        try damaged.write(to: URL(fileURLWithPath: path))
        #expect(throws: BeamlineError.self) { _ = try IntegrationEngine.load(from: path, key: "k1") }
    }
}
