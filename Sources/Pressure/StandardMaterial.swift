import BeamlineSupport
import Foundation

/// A cubic pressure standard (Au, Pt, NaCl, MgO, Ne …) with its published scales.
public struct StandardMaterial: Sendable {
    public enum Structure: String, Sendable {
        case fcc, bcc, rocksalt, cscl, simpleCubic = "sc"

        /// Whether reflection hkl is allowed.
        public func allows(_ h: Int, _ k: Int, _ l: Int) -> Bool {
            switch self {
            case .fcc, .rocksalt:
                // Unmixed: all even or all odd (rock salt adds no further absences).
                let parities = [h, k, l].map { abs($0) % 2 }
                return parities.allSatisfy { $0 == parities[0] }
            case .bcc: return (h + k + l) % 2 == 0
            case .cscl, .simpleCubic: return true
            }
        }
    }

    public var name: String
    public var structure: Structure
    public var scales: [String: EquationOfState]
    public var path: String

    /// Reads `calibration/eos/<name>.txt`.
    public static func load(_ name: String, calibrationDirectory: String) throws -> StandardMaterial {
        let dir = calibrationDirectory + "/eos"
        let files = (try? FileManager.default.contentsOfDirectory(atPath: dir)) ?? []
        guard let file = files.first(where: { $0.lowercased() == name.lowercased() + ".txt" }) else {
            let known = files.filter { $0.hasSuffix(".txt") }.map { String($0.dropLast(4)) }.sorted()
            throw BeamlineError("unknown pressure standard \"\(name)\"; known: \(known.joined(separator: ", "))")
        }
        return try load(path: dir + "/" + file)
    }

    public static func load(path: String) throws -> StandardMaterial {
        let table = try CalibrationTable(path: path)
        guard let material = table.section("material") else { throw BeamlineError(path: path, "no [material] section") }
        guard let structure = Structure(rawValue: material.string("structure") ?? "") else {
            throw BeamlineError(path: path, "unknown structure \"\(material.string("structure") ?? "")\" (fcc, bcc, rocksalt, cscl, sc)")
        }
        let v0 = try material.number("v0", path: path)
        let z = try material.number("z", path: path)
        let n = try material.number("n", path: path)
        let temperatures = (material.string("temperatures") ?? "0, 3000").split(separator: ",").compactMap {
            Double($0.trimmingCharacters(in: .whitespaces))
        }
        var scales: [String: EquationOfState] = [:]
        for section in table.sections where section.name != "material" {
            func number(_ key: String) throws -> Double { try section.number(key, path: path) }
            guard let form = StaticEOS(rawValue: section.string("static") ?? "") else {
                throw BeamlineError(path: path, "[\(section.name)] static must be bm3 or vinet")
            }
            let thermal: ThermalModel
            switch section.string("thermal") ?? "none" {
            case "none": thermal = .none
            case "constq": thermal = .constantQ(gamma0: try number("gamma0"), q: try number("q"), theta0: try number("theta0"))
            case "altshuler":
                thermal = .altshuler(gamma0: try number("gamma0"), gammaInfinity: try number("gamma_inf"),
                                     beta: try number("beta"), theta0: try number("theta0"))
            case "tange": thermal = .tange(gamma0: try number("gamma0"), a: try number("a"), b: try number("b"), theta0: try number("theta0"))
            case "alphakt": thermal = .alphaKT(alpha0: try number("alpha0"), k0: try number("kt"))
            case let other: throw BeamlineError(path: path, "[\(section.name)] unknown thermal model \"\(other)\"")
            }
            var extra = ExtraThermalTerms()
            extra.anharmonicA0 = try section.optionalNumber("anh_a0", path: path) ?? 0
            extra.anharmonicM = try section.optionalNumber("anh_m", path: path) ?? 0
            extra.electronicE0 = try section.optionalNumber("el_e0", path: path) ?? 0
            extra.electronicG = try section.optionalNumber("el_g", path: path) ?? 0
            if let poly = section.string("el_poly") {
                let c = poly.split(separator: ",").compactMap { Double($0.trimmingCharacters(in: .whitespaces)) }
                guard c.count == 4 else { throw BeamlineError(path: path, "[\(section.name)] el_poly needs four numbers") }
                extra.electronicPolynomial = c
            }
            scales[section.name] = EquationOfState(
                name: "\(material.string("name") ?? "?") \(section.name)", reference: section.string("reference") ?? "",
                v0: try section.optionalNumber("v0", path: path) ?? v0, z: z, n: n, staticForm: form,
                k0: try number("k0"), k0p: try number("k0p"), thermal: thermal, extra: extra,
                threeRFactor: try section.optionalNumber("three_r_factor", path: path) ?? 1,
                validTemperatures: (temperatures.first ?? 0) ... (temperatures.last ?? 3000))
        }
        guard !scales.isEmpty else { throw BeamlineError(path: path, "no scale sections") }
        return StandardMaterial(name: material.string("name") ?? "?", structure: structure, scales: scales, path: path)
    }

    public func scale(_ name: String) throws -> EquationOfState {
        guard let eos = scales[name.lowercased()] else {
            throw BeamlineError(path: path, "\(self.name) has no scale \"\(name)\"; known: \(scales.keys.sorted().joined(separator: ", "))")
        }
        return eos
    }

    /// Allowed reflections (h ≥ k ≥ l ≥ 0), sorted by decreasing d, up to h²+k²+l² = `maxSquare`.
    public func reflections(maxSquare: Int = 40) -> [(h: Int, k: Int, l: Int, m: Int)] {
        var list: [(Int, Int, Int, Int)] = []
        var seen = Set<Int>()
        for h in 0 ... 7 {
            for k in 0 ... h {
                for l in 0 ... k {
                    let m = h * h + k * k + l * l
                    guard m > 0, m <= maxSquare, structure.allows(h, k, l), !seen.contains(m) else { continue }
                    seen.insert(m)
                    list.append((h, k, l, m))
                }
            }
        }
        return list.sorted { $0.3 < $1.3 }
    }
}
