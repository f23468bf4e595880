import BeamlineSupport
import Foundation

/// Where atomic form factors come from.
public enum FormFactorSource: String, Sendable, CaseIterable {
    /// Waasmaier & Kirfel, Acta Cryst. A51 (1995) 416: analytic fits (neutral atoms and ions).
    case waasmaier1995
    /// Hubbell & Øverbø, J. Phys. Chem. Ref. Data 8 (1979) 69: relativistic Hartree–Fock tables.
    case hubbell1979
}

/// Atomic form factors (Waasmaier & Kirfel 1995, or Hubbell & Øverbø 1979) and incoherent
/// scattering functions (Hubbell et al. 1975), read from `calibration/scattering/`.
public struct ScatteringTables: Sendable {
    struct Coefficients: Sendable {
        var z: Int
        var c: Double
        var a: [Double]
        var b: [Double]
    }

    let formFactors: [String: Coefficients]
    let comptonGrid: [Double]
    let compton: [Int: [Double]]
    let relativisticGrid: [Double]
    let relativistic: [Int: [Double]]
    /// Standard atomic weights (IUPAC 2021, abridged), g/mol, by element symbol.
    let atomicWeights: [String: Double]

    public init(calibrationDirectory: String) throws {
        let wkPath = calibrationDirectory + "/scattering/waasmaier_kirfel_1995.txt"
        let cPath = calibrationDirectory + "/scattering/compton_hubbell_1975.txt"
        let hPath = calibrationDirectory + "/scattering/formfactor_hubbell_1979.txt"
        let wPath = calibrationDirectory + "/scattering/atomic_weights_iupac_2021.txt"
        func lines(_ path: String) throws -> [[Substring]] {
            guard let data = FileManager.default.contents(atPath: path) else { throw BeamlineError(path: path, "table not found") }
            return String(decoding: data, as: UTF8.self).split(whereSeparator: \.isNewline)
                .filter { !$0.hasPrefix("#") && !$0.trimmingCharacters(in: .whitespaces).isEmpty }
                .map { $0.split(separator: " ") }
        }
        var ff: [String: Coefficients] = [:]
        for fields in try lines(wkPath) {
            guard fields.count == 13, let z = Int(fields[1]) else { throw BeamlineError(path: wkPath, "bad line: \(fields.joined(separator: " "))") }
            let v = fields[2...].compactMap { Double($0) }
            guard v.count == 11 else { throw BeamlineError(path: wkPath, "bad numbers for \(fields[0])") }
            ff[String(fields[0])] = Coefficients(z: z, c: v[0], a: Array(v[1 ... 5]), b: Array(v[6 ... 10]))
        }
        formFactors = ff
        var weights: [String: Double] = [:]
        for fields in try lines(wPath) {
            guard fields.count == 3, let weight = Double(fields[2]) else { throw BeamlineError(path: wPath, "bad line") }
            weights[String(fields[1])] = weight
        }
        atomicWeights = weights
        func gridTable(_ path: String) throws -> ([Double], [Int: [Double]]) {
            var grid: [Double] = []
            var table: [Int: [Double]] = [:]
            for fields in try lines(path) {
                if fields[0] == "x" {
                    grid = fields.dropFirst().compactMap { Double($0) }
                    continue
                }
                guard let z = Int(fields[0]) else { throw BeamlineError(path: path, "bad line") }
                table[z] = fields.dropFirst().compactMap { Double($0) }
                guard table[z]!.count == grid.count else { throw BeamlineError(path: path, "Z = \(z) has \(table[z]!.count) values for \(grid.count) grid points") }
            }
            return (grid, table)
        }
        (comptonGrid, compton) = try gridTable(cPath)
        (relativisticGrid, relativistic) = try gridTable(hPath)
    }

    public func atomicNumber(_ element: String) -> Int? { formFactors[element]?.z }

    /// Mean atomic mass ⟨M⟩ = Σ cᵢMᵢ of a composition, g/mol (ions weigh as their atoms).
    public func meanAtomicMass(_ composition: Composition) throws -> Double {
        var mass = 0.0
        for (element, fraction) in zip(composition.elements, composition.fractions) {
            let symbol = String(element.prefix { $0.isLetter })
            guard let weight = atomicWeights[symbol] else {
                throw BeamlineError("no standard atomic weight for \(element)")
            }
            mass += fraction * weight
        }
        return mass
    }

    /// Number density in atoms/Å³ of a mass density in g/cm³: ρ_m·N_A/⟨M⟩·10⁻²⁴
    /// (N_A = 6.02214076·10²³ mol⁻¹ exactly, SI 2019).
    public func numberDensity(gramsPerCubicCentimetre density: Double, of composition: Composition) throws -> Double {
        density * 6.02214076e23 / (try meanAtomicMass(composition)) * 1e-24
    }

    /// f0 of `species` (element, or ion for Waasmaier–Kirfel, e.g. "O2-") at Q in Å⁻¹.
    public func formFactor(_ species: String, q: Double, source: FormFactorSource = .waasmaier1995) -> Double {
        if source == .hubbell1979 {
            return Self.interpolate(relativisticGrid, relativistic[formFactors[species]!.z]!, at: q / (4 * .pi))
        }
        let c = formFactors[species]!
        let s2 = (q / (4 * .pi)) * (q / (4 * .pi))
        var f = c.c
        for i in 0 ..< 5 { f += c.a[i] * exp(-c.b[i] * s2) }
        return f
    }

    /// Incoherent scattering function S(Q) of element Z (electron units).
    public func incoherent(_ z: Int, q: Double) -> Double {
        Self.interpolate(comptonGrid, compton[z]!, at: q / (4 * .pi))
    }

    /// Monotone cubic Hermite interpolation (Fritsch & Carlson, SIAM J. Numer. Anal. 17 (1980) 238).
    static func interpolate(_ grid: [Double], _ values: [Double], at x: Double) -> Double {
        if x >= grid.last! { return values.last! }
        var hi = 1
        while grid[hi] < x { hi += 1 }
        let lo = hi - 1
        func secant(_ i: Int) -> Double { (values[i + 1] - values[i]) / (grid[i + 1] - grid[i]) }
        func tangent(_ i: Int) -> Double {
            if i == 0 { return secant(0) }
            if i == grid.count - 1 { return secant(i - 1) }
            let d0 = secant(i - 1), d1 = secant(i)
            if d0 * d1 <= 0 { return 0 }
            let h0 = grid[i] - grid[i - 1], h1 = grid[i + 1] - grid[i]
            let w1 = 2 * h1 + h0, w2 = h1 + 2 * h0
            return (w1 + w2) / (w1 / d0 + w2 / d1)
        }
        let h = grid[hi] - grid[lo], t = (x - grid[lo]) / h
        let t2 = t * t, t3 = t2 * t
        return (2 * t3 - 3 * t2 + 1) * values[lo] + (t3 - 2 * t2 + t) * h * tangent(lo)
            + (-2 * t3 + 3 * t2) * values[hi] + (t3 - t2) * h * tangent(hi)
    }
}

/// A chemical composition as atomic fractions, parsed from a formula:
/// `Ce65Co25Al10`, `SiO2`, `(Ce0.65Co0.25Al0.10)`, `Mg2(SiO4)`.
public struct Composition: Sendable, CustomStringConvertible {
    public var elements: [String]
    /// Atomic fractions, summing to 1.
    public var fractions: [Double]
    public var formula: String

    public init(_ formula: String, known: (String) -> Bool) throws {
        self.formula = formula
        var counts: [(String, Double)] = []
        var index = formula.startIndex
        func parse(until closing: Character?) throws -> [(String, Double)] {
            var result: [(String, Double)] = []
            while index < formula.endIndex {
                let c = formula[index]
                if c == " " { index = formula.index(after: index); continue }
                if let closing, c == closing {
                    index = formula.index(after: index)
                    return result
                }
                if c == "(" || c == "[" {
                    index = formula.index(after: index)
                    let inner = try parse(until: c == "(" ? ")" : "]")
                    let multiplier = number() ?? 1
                    result += inner.map { ($0.0, $0.1 * multiplier) }
                    continue
                }
                guard c.isUppercase else {
                    throw BeamlineError("cannot read the composition \"\(formula)\" at \"\(formula[index...])\"")
                }
                var symbol = String(c)
                index = formula.index(after: index)
                while index < formula.endIndex, formula[index].isLowercase {
                    symbol.append(formula[index])
                    index = formula.index(after: index)
                }
                guard known(symbol) else { throw BeamlineError("unknown element \"\(symbol)\" in the composition \"\(formula)\"") }
                result.append((symbol, number() ?? 1))
            }
            if closing != nil { throw BeamlineError("unbalanced brackets in the composition \"\(formula)\"") }
            return result
        }
        func number() -> Double? {
            var text = ""
            while index < formula.endIndex, formula[index].isNumber || formula[index] == "." {
                text.append(formula[index])
                index = formula.index(after: index)
            }
            return text.isEmpty ? nil : Double(text)
        }
        counts = try parse(until: nil)
        var merged: [String: Double] = [:]
        var order: [String] = []
        for (e, n) in counts {
            if merged[e] == nil { order.append(e) }
            merged[e, default: 0] += n
        }
        let total = merged.values.reduce(0, +)
        guard total > 0, !order.isEmpty else { throw BeamlineError("the composition \"\(formula)\" has no atoms") }
        elements = order
        fractions = order.map { merged[$0]! / total }
    }

    public var description: String {
        zip(elements, fractions).map { String(format: "%@%.4g", $0.0, $0.1) }.joined()
    }
}
