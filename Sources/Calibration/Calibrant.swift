import BeamlineSupport
import Foundation

/// A powder calibrant: its lattice, the reflections its space group allows, and the
/// resulting d-spacings.
///
/// Lists are generated from the lattice constants and reflection conditions (here and by
/// `beamline calibrant`), and the files in `calibration/calibrants/` are checked against
/// the generator by the test suite rather than copied from elsewhere.
public struct Calibrant: Sendable {
    public enum Lattice: Sendable, Equatable {
        case cubic(a: Double)
        case hexagonal(a: Double, c: Double)
        /// One-dimensional lamellar stacking (silver behenate): d = d001 / l.
        case lamellar(d001: Double)
    }

    /// Reflection conditions of the space groups the calibrants have.
    public enum Condition: String, Sendable {
        /// Fm-3m (CeO2, Au, Pt, Ag): h, k, l all even or all odd.
        case faceCentred = "F"
        /// Pm-3m (LaB6): every hkl.
        case primitive = "P"
        /// Fd-3m (Si): F, and for all-even hkl, h + k + l = 4n.
        case diamond = "Fd-3m"
        /// R-3c (corundum, hexagonal axes): −h + k + l = 3n; and l = 2n for the planes
        /// h h̄ 0 l, whose three-index forms are (h, −h, l), (h, 0, l) and (0, k, l).
        case corundum = "R-3c"
        /// 00l of a lamellar crystal.
        case lamellar = "00l"
    }

    public struct Reflection: Sendable, Equatable {
        public var h: Int, k: Int, l: Int
        public var d: Double
        public var multiplicity: Int
    }

    public var name: String
    public var lattice: Lattice
    public var condition: Condition
    public var source: String

    public init(name: String, lattice: Lattice, condition: Condition, source: String) {
        self.name = name
        self.lattice = lattice
        self.condition = condition
        self.source = source
    }

    /// The calibrants the pipeline knows, with certified lattice parameters.
    public static let known: [Calibrant] = [
        Calibrant(name: "CeO2", lattice: .cubic(a: 5.411651), condition: .faceCentred,
                  source: "NIST SRM 674b, certified a = 5.411651 Å at 22.5 °C"),
        Calibrant(name: "LaB6", lattice: .cubic(a: 4.156826), condition: .primitive,
                  source: "NIST SRM 660c, certified a = 4.156826 Å at 22.5 °C"),
        Calibrant(name: "Si", lattice: .cubic(a: 5.431144), condition: .diamond,
                  source: "NIST SRM 640f, certified a = 5.431144 Å at 22.5 °C"),
        Calibrant(name: "Al2O3", lattice: .hexagonal(a: 4.759091, c: 12.991779), condition: .corundum,
                  source: "NIST SRM 676a, a = 4.759091 Å, c = 12.991779 Å"),
        Calibrant(name: "Au", lattice: .cubic(a: 4.07825), condition: .faceCentred,
                  source: "gold, a = 4.07825 Å at 25 °C (Swanson & Tatge, NBS Circular 539 I (1953) 33)"),
        Calibrant(name: "Pt", lattice: .cubic(a: 3.9231), condition: .faceCentred,
                  source: "platinum, a = 3.9231 Å at 26 °C (Swanson & Tatge, NBS Circular 539 I (1953) 31)"),
        Calibrant(name: "AgBh", lattice: .lamellar(d001: 58.380), condition: .lamellar,
                  source: "silver behenate, d001 = 58.380 Å (Huang et al., J. Appl. Cryst. 26 (1993) 180)"),
    ]

    public static func named(_ name: String) throws -> Calibrant {
        guard let c = known.first(where: { $0.name.lowercased() == name.lowercased() }) else {
            throw BeamlineError("unknown calibrant \"\(name)\"; known: \(known.map(\.name).joined(separator: ", "))")
        }
        return c
    }

    func allows(_ h: Int, _ k: Int, _ l: Int) -> Bool {
        switch condition {
        case .primitive: return true
        case .faceCentred:
            let p = [h, k, l].map { abs($0) % 2 }
            return p[0] == p[1] && p[1] == p[2]
        case .diamond:
            let p = [h, k, l].map { abs($0) % 2 }
            guard p[0] == p[1] && p[1] == p[2] else { return false }
            return p[0] == 1 || (h + k + l) % 4 == 0
        case .corundum:
            guard ((-h + k + l) % 3 + 3) % 3 == 0 else { return false }
            if (h == -k || k == 0 || h == 0) && l % 2 != 0 { return false }  // c glide
            return true
        case .lamellar: return h == 0 && k == 0 && l > 0
        }
    }

    /// Reflections with d ≥ `minimumD`, merged by d (to 10⁻⁶ Å) and sorted by decreasing d.
    public func reflections(minimumD: Double = 0.7) -> [Reflection] {
        var byD: [Int: Reflection] = [:]
        func add(_ h: Int, _ k: Int, _ l: Int, _ d: Double) {
            guard d >= minimumD, allows(h, k, l) else { return }
            let key = Int((d * 1e6).rounded())
            if var existing = byD[key] {
                existing.multiplicity += 1
                byD[key] = existing
            } else {
                byD[key] = Reflection(h: h, k: k, l: l, d: d, multiplicity: 1)
            }
        }
        switch lattice {
        case let .cubic(a):
            let n = Int(a / minimumD) + 1
            for h in -n ... n { for k in -n ... n { for l in -n ... n where h != 0 || k != 0 || l != 0 {
                add(h, k, l, a / Double(h * h + k * k + l * l).squareRoot())
            } } }
        case let .hexagonal(a, c):
            let n = Int(a / minimumD) + 1, m = Int(c / minimumD) + 1
            for h in -n ... n { for k in -n ... n { for l in -m ... m where h != 0 || k != 0 || l != 0 {
                let inverse = 4.0 / 3 * Double(h * h + h * k + k * k) / (a * a) + Double(l * l) / (c * c)
                add(h, k, l, 1 / inverse.squareRoot())
            } } }
        case let .lamellar(d001):
            for l in 1 ... max(1, Int(d001 / minimumD)) { add(0, 0, l, d001 / Double(l)) }
        }
        // Name each merged ring by a representative with non-negative indices where possible.
        return byD.values.map { r in
            var r = r
            switch lattice {
            case .cubic:
                let s = [abs(r.h), abs(r.k), abs(r.l)].sorted(by: >)
                (r.h, r.k, r.l) = (s[0], s[1], s[2])
            case .hexagonal:
                if r.h < 0 || r.k < 0 || r.l < 0 {
                    // Symmetry-equivalent (−h, −k, −l) by the centre of inversion.
                    if r.h <= 0 && r.k <= 0 && r.l <= 0 { (r.h, r.k, r.l) = (-r.h, -r.k, -r.l) }
                }
            case .lamellar: break
            }
            return r
        }.sorted { $0.d > $1.d }
    }

    /// The text of `calibration/calibrants/<name>.txt`.
    public func tableText(minimumD: Double = 0.7) -> String {
        var lines = ["# \(name) calibrant: \(source)"]
        switch lattice {
        case let .cubic(a): lines.append("# cubic, a = \(a) Å, reflection condition \(condition.rawValue)")
        case let .hexagonal(a, c): lines.append("# hexagonal axes, a = \(a) Å, c = \(c) Å, reflection condition \(condition.rawValue)")
        case let .lamellar(d): lines.append("# lamellar, d001 = \(d) Å")
        }
        lines.append("# generated by `beamline calibrant \(name)` from the lattice and reflection conditions; d ≥ \(minimumD) Å")
        lines.append("# columns: d (Å) h k l multiplicity")
        for r in reflections(minimumD: minimumD) {
            lines.append(String(format: "%.6f %d %d %d %d", r.d, r.h, r.k, r.l, r.multiplicity))
        }
        return lines.joined(separator: "\n") + "\n"
    }
}
