import Foundation

/// The background scale and number density that `sq` refined from a pattern (Eggert et al.,
/// PRB 65 (2002) 174105), as the `refined:` header line of NAME.sq that `peaks` reads.
public struct SQRefinementRecord: Sendable, Equatable {
    public static let prefix = "refined:"
    public static let reference = "(Eggert et al., PRB 65 (2002) 174105)"

    public var backgroundScale: Double
    public var backgroundScaleSigma: Double
    /// Atoms per Å³.
    public var density: Double
    public var densitySigma: Double
    /// The r below which G(r) = −4πρ₀r was imposed, Å.
    public var rMin: Double
    public var iterations: Int
    public var kaplowIterations: Int
    public var misfit: Double
    public var relativeMisfit: Double

    public init(backgroundScale: Double, backgroundScaleSigma: Double, density: Double, densitySigma: Double,
                rMin: Double, iterations: Int, kaplowIterations: Int, misfit: Double, relativeMisfit: Double) {
        self.backgroundScale = backgroundScale
        self.backgroundScaleSigma = backgroundScaleSigma
        self.density = density
        self.densitySigma = densitySigma
        self.rMin = rMin
        self.iterations = iterations
        self.kaplowIterations = kaplowIterations
        self.misfit = misfit
        self.relativeMisfit = relativeMisfit
    }

    /// The header line (without the comment marker).
    public var headerLine: String {
        func g(_ v: Double, _ digits: Int) -> String { String(format: "%.\(digits)g", v) }
        let fields = KeyValueText(entries: [
            ("bg_scale", g(backgroundScale, 6)), ("bg_scale_sigma", g(backgroundScaleSigma, 3)),
            ("density", g(density, 6)), ("density_sigma", g(densitySigma, 3)), ("r_min", g(rMin, 4)),
            ("iterations", "\(iterations)"), ("kaplow_iterations", "\(kaplowIterations)"), ("misfit", g(misfit, 4)),
            ("relative_misfit", g(relativeMisfit, 3)),
        ])
        return "\(Self.prefix) \(fields.words) \(Self.reference)"
    }

    /// The record in a pattern's header lines, or nil when there is none (a scale given, not refined).
    public init?(headerLines: [String]) {
        guard let line = headerLines.first(where: { $0.hasPrefix(Self.prefix) }) else { return nil }
        let fields = KeyValueText(words: line)
        func number(_ key: String) -> Double { fields[key].flatMap(Double.init) ?? .nan }
        self.init(backgroundScale: number("bg_scale"), backgroundScaleSigma: number("bg_scale_sigma"),
                  density: number("density"), densitySigma: number("density_sigma"), rMin: number("r_min"),
                  iterations: fields["iterations"].flatMap(Int.init) ?? 0,
                  kaplowIterations: fields["kaplow_iterations"].flatMap(Int.init) ?? 0,
                  misfit: number("misfit"), relativeMisfit: number("relative_misfit"))
    }
}
