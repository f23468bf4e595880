import BeamlineNumerics
import BeamlineSupport
import DetectorImage
import Foundation
import Integration

/// Geometry refinement from a calibrant image (FIT2D CALIBRANT / pyFAI-calib2 style),
/// automatic from the image alone given the wavelength and pixel size:
///
/// 1. beam centre: the point that makes the radii of the brightest pixels most
///    clustered (a coarse-to-fine search on the sharpness Σh² of their radius histogram);
/// 2. distance: the reflection comb (tan 2θ of the calibrant's rings) best matching
///    the peaks of the radial profile;
/// 3. control points along each ring, with sub-pixel radial positions from the
///    intensity-weighted centroid of the ring's cross-section, assigned to the ring;
/// 4. Levenberg–Marquardt refinement of distance, PONI and tilts on the 2θ residuals,
///    adding rings outward as the model improves and rejecting outliers.
public struct Calibrator {
    public enum Parameter: String, CaseIterable, Sendable {
        case distance, poni1, poni2, rot1, rot2, rot3, wavelength
    }

    public struct Options: Sendable {
        public var calibrant: Calibrant
        /// Wavelength in Å.
        public var wavelength: Double
        public var pixel1: Double, pixel2: Double
        /// A rough sample–detector distance in metres, if known.
        public var roughDistance: Double?
        /// Beam centre in pixels (x, y), if known.
        public var center: (Double, Double)?
        public var mask: Mask?
        /// Parameters held fixed (rot3 and wavelength by default).
        public var fixed: Set<Parameter> = [.rot3, .wavelength]
        /// Largest acceptable RMS 2θ residual, degrees.
        public var maximumRMS = 0.02
        public var maximumRings = 40

        public init(calibrant: Calibrant, wavelength: Double, pixel1: Double, pixel2: Double) {
            self.calibrant = calibrant
            self.wavelength = wavelength
            self.pixel1 = pixel1
            self.pixel2 = pixel2
        }
    }

    public struct ControlPoint: Sendable {
        /// Position in pixel coordinates (the first pixel's corner at 0, 0; centre of pixel (i, j) at (i + ½, j + ½)).
        public var row: Double, column: Double
        public var ring: Int
    }

    public struct Result: Sendable {
        public var geometry: DetectorGeometry
        /// Standard uncertainties of the refined parameters, in their units (m, rad, m).
        public var uncertainties: [Parameter: Double]
        public var rmsResidualDegrees: Double
        public var points: [ControlPoint]
        /// Calibrant rings (indices into its reflection list) with control points.
        public var rings: [Int]
        public var twoThetaOfRing: [Double]
        public var converged: Bool
    }

    let frame: Frame
    let options: Options
    let reflections: [Calibrant.Reflection]
    var valid: [Bool]

    public init(frame: Frame, options: Options) throws {
        guard options.wavelength > 0, options.wavelength < 10 else { throw BeamlineError("implausible wavelength \(options.wavelength) Å") }
        self.frame = frame
        self.options = options
        reflections = options.calibrant.reflections().filter { options.wavelength / (2 * $0.d) < 1 }
        guard reflections.count >= 3 else { throw BeamlineError("\(options.calibrant.name) has fewer than 3 reflections at \(options.wavelength) Å") }
        valid = frame.pixels.enumerated().map { i, v in v.isFinite && (options.mask?.values[i] ?? 0) == 0 }
        if let mask = options.mask { try mask.check(width: frame.width, height: frame.height, path: "mask") }
    }

    func twoTheta(_ index: Int, wavelength: Double) -> Double { 2 * asin(wavelength / (2 * reflections[index].d)) }

    // MARK: - Beam centre

    /// (x, y) in pixels.
    func findCenter() -> (Double, Double) {
        let w = frame.width, h = frame.height
        // Bright pixels: above the 98th percentile of the valid ones, subsampled.
        var values: [Float] = []
        values.reserveCapacity(frame.pixels.count / 16)
        for i in stride(from: 0, to: frame.pixels.count, by: 7) where valid[i] { values.append(frame.pixels[i]) }
        values.sort()
        let threshold = values[Int(Double(values.count - 1) * 0.98)]
        var points: [(Double, Double, Double)] = []
        for y in 0 ..< h {
            for x in 0 ..< w where valid[y * w + x] && frame.pixels[y * w + x] > threshold {
                points.append((Double(x) + 0.5, Double(y) + 0.5, Double(frame.pixels[y * w + x] - threshold)))
            }
        }
        if points.count > 60000 {
            let stride = points.count / 60000 + 1
            points = Swift.stride(from: 0, to: points.count, by: stride).map { points[$0] }
        }
        let maxRadius = Int(Double(w + h) * 1.5) + 2
        func sharpness(_ cx: Double, _ cy: Double, bin: Double) -> Double {
            var hist = [Double](repeating: 0, count: Int(Double(maxRadius) / bin) + 2)
            for (x, y, weight) in points {
                let r = ((x - cx) * (x - cx) + (y - cy) * (y - cy)).squareRoot() / bin
                let k = Int(r)
                if k < hist.count { hist[k] += weight }
            }
            return hist.reduce(0) { $0 + $1 * $1 }
        }
        // Scores of grid points, computed on every core (each score is independent).
        func scored(_ grid: [(Double, Double)], bin: Double) -> [(Double, (Double, Double))] {
            var scores = [Double](repeating: 0, count: grid.count)
            scores.withUnsafeMutableBufferPointer { out in
                Parallel.forEachChunk(grid.count) { _, range in
                    for k in range { out[k] = sharpness(grid[k].0, grid[k].1, bin: bin) }
                }
            }
            return zip(scores, grid).map { ($0, $1) }
        }
        var candidates = [(Double(w) / 2, Double(h) / 2)]
        var step = Double(max(w, h)) / 16
        var span = 8
        // Coarse: the whole image and a margin around it.
        var coarse: [(Double, Double)] = []
        for iy in -2 ... 18 {
            for ix in -2 ... 18 { coarse.append((Double(ix) * step, Double(iy) * step)) }
        }
        let best = scored(coarse, bin: max(1, step / 4))
        candidates = best.sorted { $0.0 > $1.0 }.prefix(4).map(\.1)
        while step > 0.1 {
            let next = step / 4
            var grid: [(Double, Double)] = []
            for (cx0, cy0) in candidates {
                for iy in -span ... span {
                    for ix in -span ... span { grid.append((cx0 + Double(ix) * next / 2, cy0 + Double(iy) * next / 2)) }
                }
            }
            candidates = scored(grid, bin: max(0.5, next)).sorted { $0.0 > $1.0 }.prefix(next > 2 ? 3 : 1).map(\.1)
            step = next
            span = 5
        }
        return candidates[0]
    }

    // MARK: - Distance

    /// Radial profile about (cx, cy) in bins of 0.5 pixel, background removed.
    func radialProfile(_ cx: Double, _ cy: Double) -> [Double] {
        let w = frame.width, h = frame.height
        let maxRadius = Int(((Double(w) + abs(cx)) * (Double(w) + abs(cx)) + (Double(h) + abs(cy)) * (Double(h) + abs(cy))).squareRoot()) + 2
        var sum = [Double](repeating: 0, count: 2 * maxRadius), count = sum
        for y in 0 ..< h {
            for x in 0 ..< w where valid[y * w + x] {
                let r = ((Double(x) + 0.5 - cx) * (Double(x) + 0.5 - cx) + (Double(y) + 0.5 - cy) * (Double(y) + 0.5 - cy)).squareRoot()
                let k = Int(2 * r)
                if k < sum.count { sum[k] += Double(frame.pixels[y * w + x]); count[k] += 1 }
            }
        }
        let mean = sum.indices.map { count[$0] > 0 ? sum[$0] / count[$0] : 0 }
        // Subtract a running minimum (±40 px) smoothed, leaving the rings.
        let half = 80
        var base = [Double](repeating: 0, count: mean.count)
        for i in mean.indices {
            let lo = max(0, i - half), hi = min(mean.count - 1, i + half)
            var m = Double.infinity
            for j in lo ... hi where count[j] > 0 { m = min(m, mean[j]) }
            base[i] = m.isFinite ? m : 0
        }
        return mean.indices.map { count[$0] > 0 ? max(0, mean[$0] - base[$0]) : 0 }
    }

    /// The distance (m) whose ring comb best matches the profile, and its score (0–1).
    func findDistance(profile: [Double], pixel: Double) throws -> (Double, Double) {
        let peak = profile.max() ?? 0
        guard peak > 0 else { throw BeamlineError("no rings found in the image") }
        let normalised = profile.map { $0 / peak }
        let maxR = Double(profile.count) / 2
        func score(_ distance: Double) -> (Double, Int) {
            var total = 0.0, n = 0
            for j in reflections.indices {
                let r = distance * tan(twoTheta(j, wavelength: options.wavelength)) / pixel
                if r >= maxR - 2 || n >= 8 { break }
                if r < 10 { continue }
                // The best value within ±2 % (at least ±3 px): the centre is approximate and a
                // tilt makes rings ellipses.
                let reach = max(6, Int(0.04 * r))
                let k = Int(2 * r)
                var best = 0.0
                for i in max(0, k - reach) ... min(normalised.count - 1, k + reach) { best = max(best, normalised[i]) }
                total += best
                n += 1
            }
            return (n > 0 ? total / Double(n) : 0, n)
        }
        let (lo, hi) = options.roughDistance.map { ($0 * 0.7, $0 * 1.3) } ?? (0.02, 3.0)
        var best = (0.0, lo)
        var d = lo
        while d <= hi {
            let (s, n) = score(d)
            if n >= 3 && s > best.0 { best = (s, d) }
            d *= 1.0005
        }
        guard best.0 > 0.2 else {
            throw BeamlineError(String(format: "the %@ rings do not match the image at %.4f Å (best comb score %.2f): wrong calibrant or wavelength?", options.calibrant.name, options.wavelength, best.0))
        }
        // Refine finely.
        var fine = best
        d = best.1 * 0.999
        while d <= best.1 * 1.001 {
            let (s, n) = score(d)
            if n >= 3 && s > fine.0 { fine = (s, d) }
            d *= 1.00002
        }
        return (fine.1, fine.0)
    }

    // MARK: - Control points

    @inline(__always)
    func bilinear(_ row: Double, _ column: Double) -> Double? {
        // Pixel (i, j) has its centre at (i + ½, j + ½).
        let y = row - 0.5, x = column - 0.5
        let i = Int(y.rounded(.down)), j = Int(x.rounded(.down))
        guard i >= 0, j >= 0, i + 1 < frame.height, j + 1 < frame.width else { return nil }
        let w = frame.width
        let ids = [i * w + j, i * w + j + 1, (i + 1) * w + j, (i + 1) * w + j + 1]
        guard ids.allSatisfy({ valid[$0] }) else { return nil }
        let fy = y - Double(i), fx = x - Double(j)
        let p = ids.map { Double(frame.pixels[$0]) }
        return (p[0] * (1 - fx) + p[1] * fx) * (1 - fy) + (p[2] * (1 - fx) + p[3] * fx) * fy
    }

    /// Points along ring `ring` for the current geometry; `halfWindow` in pixels.
    func controlPoints(ring: Int, geometry g: DetectorGeometry, wavelength: Double, halfWindow: Double) -> [ControlPoint] {
        let target = twoTheta(ring, wavelength: wavelength)
        // Beam centre (where 2θ = 0) from the FIT2D view of the geometry.
        let f = g.fit2d
        let cx = f.centerX, cy = f.centerY
        let nominal = g.distance / cos(f.tilt * .pi / 180) * tan(target) / g.pixel1
        let count = max(36, min(720, Int(2 * .pi * nominal / 6)))
        var points: [ControlPoint] = []
        for k in 0 ..< count {
            let phi = 2 * .pi * Double(k) / Double(count)
            let (ux, uy) = (cos(phi), sin(phi))
            // Solve 2θ(centre + r·u) = target by the secant method.
            var r0 = nominal * 0.98, r1 = nominal * 1.02
            var f0 = g.twoTheta(row: cy + r0 * uy, column: cx + r0 * ux) - target
            var f1 = g.twoTheta(row: cy + r1 * uy, column: cx + r1 * ux) - target
            for _ in 0 ..< 20 where abs(f1) > 1e-12 && f1 != f0 {
                let r2 = r1 - f1 * (r1 - r0) / (f1 - f0)
                (r0, f0) = (r1, f1)
                r1 = r2
                f1 = g.twoTheta(row: cy + r1 * uy, column: cx + r1 * ux) - target
            }
            guard r1.isFinite, r1 > 3 else { continue }
            // Cross-section of the ring along the ray.
            let step = 0.25
            var samples: [(Double, Double)] = []
            var r = r1 - halfWindow
            var complete = true
            while r <= r1 + halfWindow {
                guard let v = bilinear(cy + r * uy, cx + r * ux) else { complete = false; break }
                samples.append((r, v))
                r += step
            }
            guard complete, samples.count >= 9 else { continue }
            let baseline = min(samples.first!.1, samples.last!.1, samples.map(\.1).sorted()[samples.count / 8])
            guard let top = samples.indices.max(by: { samples[$0].1 < samples[$1].1 }) else { continue }
            let height = samples[top].1 - baseline
            // Significant, and a peak inside the window rather than a slope.
            guard height > 6 * max(baseline, 1).squareRoot(), top > 1, top < samples.count - 2 else { continue }
            var sw = 0.0, swr = 0.0
            for (rr, v) in samples where v - baseline > 0.5 * height {
                sw += v - baseline
                swr += (v - baseline) * rr
            }
            let rc = swr / sw
            points.append(ControlPoint(row: cy + rc * uy, column: cx + rc * ux, ring: ring))
        }
        return points
    }

    // MARK: - Checks

    /// A strong ring in the image that the calibrant does not have means a wrong calibrant
    /// (Si and CeO2, for instance, share most rings up to a change of distance).
    func checkEveryRingIsExplained(_ g: DetectorGeometry, wavelength: Double) throws {
        let maps = try GeometryMaps(geometry: g, unit: .twoThetaDegrees, chi: false, solidAngle: false, polarizationFactor: nil, corners: false)
        let step = 0.01
        var lo = Double.infinity, hi = 0.0
        for i in maps.radial.indices where valid[i] { lo = min(lo, maps.radial[i]); hi = max(hi, maps.radial[i]) }
        let bins = Int((hi - lo) / step) + 1
        guard bins > 10 else { return }
        var sum = [Double](repeating: 0, count: bins), count = sum
        for i in maps.radial.indices where valid[i] {
            let b = Int((maps.radial[i] - lo) / step)
            sum[b] += Double(frame.pixels[i])
            count[b] += 1
        }
        let mean = sum.indices.map { count[$0] >= 20 ? sum[$0] / count[$0] : 0 }
        let half = Int(0.4 / step)
        let peak = mean.indices.map { i -> Double in
            guard count[i] >= 20 else { return 0 }
            var base = Double.infinity
            for j in max(0, i - half) ... min(bins - 1, i + half) where count[j] >= 20 { base = min(base, mean[j]) }
            return mean[i] - base
        }
        let strongest = peak.max() ?? 0
        guard strongest > 0 else { return }
        let rings = reflections.indices.map { twoTheta($0, wavelength: wavelength) * 180 / .pi }
        for i in 1 ..< bins - 1 where peak[i] > 0.15 * strongest && peak[i] >= peak[i - 1] && peak[i] >= peak[i + 1] {
            let position = lo + (Double(i) + 0.5) * step
            // Outer rings are weak; only rings well inside the detector count.
            guard count[i] > 200 else { continue }
            let nearest = rings.map { abs($0 - position) }.min() ?? .infinity
            if nearest > 0.1 {
                throw BeamlineError(String(format: "the image has a strong ring at 2θ = %.3f° that %@ does not have (nearest %@ ring %.3f° away): wrong calibrant?", position, options.calibrant.name, options.calibrant.name, nearest))
            }
        }
    }

    // MARK: - Refinement

    func refine(_ g: DetectorGeometry, wavelength: Double, points: [ControlPoint]) -> (DetectorGeometry, Double, LevenbergMarquardt.Result) {
        let parameters = Parameter.allCases
        let initial = [g.distance, g.poni1, g.poni2, g.rot1, g.rot2, g.rot3, wavelength]
        let fixed = parameters.map { options.fixed.contains($0) }
        func geometry(_ p: [Double]) -> DetectorGeometry {
            var q = g
            (q.distance, q.poni1, q.poni2, q.rot1, q.rot2, q.rot3) = (p[0], p[1], p[2], p[3], p[4], p[5])
            q.wavelength = p[6] * 1e-10
            return q
        }
        let solver = LevenbergMarquardt(maxIterations: 100, lower: [0.001, -10, -10, -1, -1, -.pi, 0.01],
                                        upper: [100, 10, 10, 1, 1, .pi, 10], fixed: fixed)
        let result = solver.fit(initial) { p in
            let q = geometry(p)
            return points.map { q.twoTheta(row: $0.row, column: $0.column) - self.twoTheta($0.ring, wavelength: p[6]) }
        }
        return (geometry(result.parameters), result.parameters[6], result)
    }

    public func run() throws -> Result {
        let (cx, cy) = options.center ?? findCenter()
        let pixel = options.pixel1
        let profile = radialProfile(cx, cy)
        let (distance, _) = try findDistance(profile: profile, pixel: pixel)
        var wavelength = options.wavelength
        var g = DetectorGeometry(distance: distance, poni1: cy * options.pixel1, poni2: cx * options.pixel2,
                                 pixel1: options.pixel1, pixel2: options.pixel2, height: frame.height, width: frame.width,
                                 wavelength: wavelength * 1e-10)
        func ringRadius(_ j: Int, _ g: DetectorGeometry) -> Double { g.distance * tan(twoTheta(j, wavelength: wavelength)) / pixel }
        let maxRadius = Double(max(frame.width, frame.height)) * 1.5
        var used = 3
        var points: [ControlPoint] = []
        var rms = Double.infinity
        var last: LevenbergMarquardt.Result?
        for round in 0 ..< 12 {
            // Rings to use this round, with windows clear of their neighbours.
            let candidates = reflections.indices.prefix(min(used, options.maximumRings)).filter { ringRadius($0, g) < maxRadius }
            points = []
            for j in candidates {
                let r = ringRadius(j, g)
                var gap = Double.infinity
                if j > 0 { gap = min(gap, r - ringRadius(j - 1, g)) }
                if j + 1 < reflections.count { gap = min(gap, ringRadius(j + 1, g) - r) }
                let halfWindow = min(round < 2 ? 12 : 6, 0.45 * gap)
                guard halfWindow >= 1.5 else { continue }
                let ringPoints = controlPoints(ring: j, geometry: g, wavelength: wavelength, halfWindow: halfWindow)
                if ringPoints.count >= 8 { points += ringPoints }
            }
            guard Set(points.map(\.ring)).count >= 2, points.count >= 20 else {
                throw BeamlineError("too few control points (\(points.count) on \(Set(points.map(\.ring)).count) rings): cannot assign the rings")
            }
            // Refine, rejecting outliers twice.
            for _ in 0 ..< 3 {
                let (refined, lambda, result) = refine(g, wavelength: wavelength, points: points)
                let residuals = points.map { refined.twoTheta(row: $0.row, column: $0.column) - twoTheta($0.ring, wavelength: lambda) }
                let current = (residuals.reduce(0) { $0 + $1 * $1 } / Double(residuals.count)).squareRoot()
                let kept = points.indices.filter { abs(residuals[$0]) <= max(3 * current, 1e-6) }
                g = refined
                wavelength = lambda
                rms = current
                last = result
                if kept.count == points.count { break }
                points = kept.map { points[$0] }
            }
            let available = reflections.indices.filter { ringRadius($0, g) < maxRadius }.count
            if used >= min(available, options.maximumRings) && round > 1 { break }
            used = min(used * 2, options.maximumRings)
        }
        guard let fit = last else { throw BeamlineError("the refinement did not run") }
        let rmsDegrees = rms * 180 / .pi
        let rings = Array(Set(points.map(\.ring))).sorted()
        guard rings.count >= 3 else {
            throw BeamlineError("only \(rings.count) calibrant rings could be assigned; a geometry needs at least 3")
        }
        guard fit.converged, rmsDegrees <= options.maximumRMS else {
            throw BeamlineError(String(format: "the refinement %@: RMS 2θ residual %.4f° (limit %.4f°) on %d points of %d rings; refusing to write a doubtful geometry",
                                       fit.converged ? "ended badly" : "did not converge", rmsDegrees, options.maximumRMS, points.count, rings.count))
        }
        try checkEveryRingIsExplained(g, wavelength: wavelength)
        var sigma: [Parameter: Double] = [:]
        for (k, p) in Parameter.allCases.enumerated() where !options.fixed.contains(p) { sigma[p] = fit.uncertainties[k] * (p == .wavelength ? 1e-10 : 1) }
        return Result(geometry: g, uncertainties: sigma, rmsResidualDegrees: rmsDegrees, points: points, rings: rings,
                      twoThetaOfRing: reflections.indices.map { twoTheta($0, wavelength: wavelength) }, converged: fit.converged)
    }
}
