import ArgumentParser
import BeamlineSupport
import Foundation
import Reduction
import PatternIO
import StructureFactor

extension StructureFactorSettings.Normalization: ExpressibleByArgument {}
extension StructureFactorSettings.Definition: ExpressibleByArgument {}
extension FormFactorSource: ExpressibleByArgument {}

struct SQCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "sq",
        abstract: "Structure factor S(Q), F(Q) and G(r) from integrated patterns (PDFgetX2-style).",
        discussion: """
            For each pattern: subtract the scaled empty-cell background, correct (optionally) for \
            polarization and flat-plate absorption, normalise to electron units (high-Q or \
            Krogh-Moe/Norman, optionally refined by Eggert's method), subtract the Compton \
            scattering (Hubbell et al. 1975, Breit-Dirac factor) and form the Faber-Ziman S(Q) \
            with Waasmaier-Kirfel form factors; then F(Q) = Q[S(Q) - 1] and \
            G(r) = (2/π)∫F(Q)sin(Qr)dQ. Writes NAME.iq, .sq, .fq and .gr into OUTPUT-DIR.
            """
    )

    @Argument(help: "Integrated sample patterns (.xy, .chi; q or 2θ).")
    var patterns: [String]

    @Option(help: "Empty-cell (container) background pattern.")
    var background: String?

    @Option(help: """
        Background scale: 'refine' (default with --background: refined with the density from the \
        data, Eggert et al. 2002), a number, 'auto' (largest scale keeping the difference \
        non-negative, ×0.98), or 'match:QA:QB' (equal integrals over QA-QB Å⁻¹).
        """)
    var bgScale: String?

    @Option(help: "Composition, e.g. Ce65Co25Al10, SiO2, (Ce0.65Co0.25Al0.10) (required, here or in --config).")
    var composition: String?

    @Option(help: "Wavelength in Å (default: from the pattern's header).")
    var wavelength: Double?

    @Option(help: "Photon energy in keV (instead of --wavelength).")
    var energy: Double?

    @Option(help: "Anomalous dispersion f′ of an element, e.g. Ce=-1.2 (electrons). Repeatable.")
    var fPrime: [String] = []

    @Option(help: "Read options from a file of `option = value` lines (names as on the command line, without --); the command line wins.")
    var config: String?

    @Option(help: "Lowest Q used, Å⁻¹.")
    var qmin = 0.5

    @Option(help: "Highest Q used, Å⁻¹ (default: the end of the data).")
    var qmax: Double?

    @Option(help: "Largest r of G(r), Å.")
    var rmax = 20.0

    @Option(help: "Step of r, Å.")
    var rstep = 0.01

    @Flag(help: "Apply the Lorch modification function in the Fourier transform.")
    var lorch = false

    @Option(help: """
        Density: atoms/Å³ (0.0372), or a mass density with its unit (6.5g/cm3). With --bg-scale \
        refine the starting value (default: a scan), otherwise for Krogh-Moe normalisation, \
        Eggert's refinement of α and g(r).
        """)
    var density: String?

    @Option(help: """
        r below which there are no atoms (G(r) = -4πρr), Å: for --bg-scale refine (default: \
        from the data, below the first peak of G(r)) or, with --density, Eggert's refinement of α.
        """)
    var eggertRmin: Double?

    @Option(help: "Kaplow iterations applied to S(Q) after the scale/density refinement (default 0).")
    var kaplowIterations = 0

    @Option(help: "Normalisation: high-q or krogh-moe.")
    var normalization: StructureFactorSettings.Normalization = .highQ

    @Option(help: "S(Q) definition: faber-ziman or ashcroft-langreth.")
    var definition: StructureFactorSettings.Definition = .faberZiman

    @Option(help: """
        Form factors: waasmaier1995 (analytic, Waasmaier & Kirfel) or hubbell1979 (relativistic \
        Hartree-Fock tables).
        """)
    var formFactors: FormFactorSource = .hubbell1979

    @Option(help: "Breit-Dirac exponent of the Compton recoil factor.")
    var breitDirac = 2.0

    @Option(help: "Compton attenuation a in exp(-a Q), Å.")
    var comptonAttenuation = 0.0

    @Option(help: "μ·t of a flat sample in transmission, for the absorption correction.")
    var muT = 0.0

    @Option(help: "Also write S(Q), F(Q) and G(r) of every pattern into this NeXus/HDF5 file.")
    var nexus: String?

    @Flag(help: "Show a progress line on stderr (shown anyway on a terminal, for more than one pattern).")
    var progress = false

    @Flag(help: "Correct for polarization (only for patterns that are not yet corrected).")
    var polarization = false

    @Option(name: [.short, .customLong("output")], help: "Output directory (required, here or in --config).")
    var output: String?

    @Option(help: "Directory holding calibration tables.")
    var calibration: String?

    /// Command-line words from a config file of `option = value` lines (`flag = true` for flags).
    static func arguments(fromConfig path: String) throws -> [String] {
        guard let data = FileManager.default.contents(atPath: path) else { throw BeamlineError(path: path, "no such config file") }
        var words: [String] = []
        for (number, raw) in String(decoding: data, as: UTF8.self).split(whereSeparator: \.isNewline).enumerated() {
            let line = raw.split(separator: "#", maxSplits: 1, omittingEmptySubsequences: false).first?.trimmingCharacters(in: .whitespaces) ?? ""
            if line.isEmpty { continue }
            let parts = line.split(separator: "=", maxSplits: 1).map { $0.trimmingCharacters(in: .whitespaces) }
            guard parts.count == 2, !parts[0].isEmpty else { throw BeamlineError(path: path, "line \(number + 1) is not option = value") }
            let option = "--" + parts[0].replacingOccurrences(of: "_", with: "-")
            switch parts[1].lowercased() {
            case "true", "yes": words.append(option)
            case "false", "no": break
            default: words += [option, parts[1]]
            }
        }
        return words
    }

    func run() throws {
        if let config {
            // Options from the file first: later (command-line) values win.
            let commandLine = Array(CommandLine.arguments.drop { $0 != "sq" }.dropFirst())
            var merged = try SQCommand.parse(try Self.arguments(fromConfig: config) + commandLine)
            merged.config = nil
            try merged.run()
            return
        }
        guard let composition else { throw ValidationError("missing --composition") }
        guard let output else { throw ValidationError("missing --output") }
        let directory = try CalibrationDirectory.locate(override: calibration)
        let tables = try ScatteringTables(calibrationDirectory: directory)
        let parsed = try Composition(composition) { tables.atomicNumber($0) != nil }
        let density = try self.density.map { text -> Double in
            let compact = text.replacingOccurrences(of: " ", with: "").lowercased()
            for unit in ["g/cm3", "g/cm^3", "g/cc", "g/cm³"] where compact.hasSuffix(unit) {
                guard let value = Double(compact.dropLast(unit.count)), value > 0 else { break }
                return try tables.numberDensity(gramsPerCubicCentimetre: value, of: parsed)
            }
            guard let value = Double(compact), value > 0, value < 1 else {
                throw ValidationError("bad --density \(text): give atoms/Å³ (e.g. 0.0372) or g/cm3 (e.g. 6.5g/cm3)")
            }
            return value
        }
        let norm = normalization, def = definition, source = formFactors
        let backgroundPattern = try background.map { try PatternFile.read($0) }
        var anomalous: [String: Double] = [:]
        for item in fPrime {
            let parts = item.split(separator: "=")
            guard parts.count == 2, let v = Double(parts[1]), tables.atomicNumber(String(parts[0])) != nil else {
                throw ValidationError("bad --f-prime \(item) (use Element=value)")
            }
            anomalous[String(parts[0])] = v
        }
        let scaling: StructureFactorSettings.BackgroundScaling
        let bgScale = self.bgScale ?? (background != nil ? "refine" : "1")
        if bgScale == "refine" {
            scaling = .refine
        } else if bgScale == "auto" {
            scaling = .nonNegative(safety: 0.98)
        } else if bgScale.hasPrefix("match:") {
            let v = bgScale.dropFirst(6).split(separator: ":").compactMap { Double($0) }
            guard v.count == 2, v[0] < v[1] else { throw ValidationError("--bg-scale match:QA:QB needs two increasing numbers") }
            scaling = .match(from: v[0], to: v[1])
        } else if let v = Double(bgScale), v >= 0 {
            scaling = .fixed(v)
        } else {
            throw ValidationError("bad --bg-scale \(bgScale)")
        }
        if energy != nil && wavelength != nil { throw ValidationError("give --wavelength or --energy, not both") }
        let givenWavelength = wavelength ?? energy.map { 12.398419843320026 / $0 }  // hc in keV·Å (CODATA 2018)
        try FileManager.default.createDirectory(atPath: output, withIntermediateDirectories: true)
        // Along a series each refinement may start from its neighbour's result.
        var neighbour: (scale: Double, density: Double)?
        var written: [String] = []
        let progressLine = patterns.count > 1 ? ProgressLine("sq", unit: "patterns", force: progress) : nil
        for (done, path) in patterns.enumerated() {
            defer { progressLine?.update(done + 1, of: patterns.count) }
            let sample = try PatternFile.read(path)
            guard let lambda = givenWavelength ?? sample.headerValue("wavelength_A").flatMap(Double.init) else {
                throw BeamlineError(path: path, "no wavelength: give --wavelength (Å); the pattern's header states none")
            }
            if polarization, sample.headerValue("polarization_factor").map({ $0 != "none" }) == true {
                throw BeamlineError(path: path, "--polarization: this pattern was already corrected for polarization by the integrator")
            }
            var settings = StructureFactorSettings(composition: parsed, wavelength: lambda)
            settings.backgroundScaling = scaling
            settings.fPrime = anomalous
            settings.qMin = qmin
            settings.qMax = qmax
            settings.rMax = rmax
            settings.rStep = rstep
            settings.lorch = lorch
            settings.density = density
            if scaling == .refine {
                var method = SelfConsistentNormalization()
                method.rMin = eggertRmin
                method.startDensity = density
                method.finalIterations = kaplowIterations
                method.neighbour = neighbour
                settings.selfConsistent = method
                settings.normalization = .kroghMoe
            } else {
                settings.eggertRMin = eggertRmin
            }
            settings.normalization = norm
            settings.definition = def
            settings.breitDiracExponent = breitDirac
            settings.formFactors = source
            settings.comptonAttenuation = comptonAttenuation
            settings.muT = muT
            settings.correctPolarization = polarization
            let result = try StructureFactor.reduce(sample: sample, samplePath: path, background: backgroundPattern,
                                                    backgroundPath: background, settings: settings, tables: tables)
            neighbour = result.refinement.map { ($0.scale, $0.density) }
            let stem = (output as NSString).appendingPathComponent(URL(fileURLWithPath: path).deletingPathExtension().lastPathComponent)
            let header = try headerLines(path: path, settings: settings, result: result)
            try write(stem + ".iq", header + ["columns: Q(1/A) I(e.u./atom) <f^2> <f>^2 Compton"],
                      result.q.indices.map { [result.q[$0], result.intensity[$0], result.meanSquareF[$0], result.squareMeanF[$0], result.compton[$0]] })
            try write(stem + ".fq", header + ["columns: Q(1/A) F(Q)=Q[S(Q)-1] (1/A)"], result.q.indices.map { [result.q[$0], result.f[$0]] })
            if let gr = result.pairDistribution {
                try write(stem + ".gr", header + ["columns: r(A) G(r)(1/A^2) g(r)"], result.r.indices.map { [result.r[$0], result.g[$0], gr[$0]] })
            } else {
                try write(stem + ".gr", header + ["columns: r(A) G(r)(1/A^2)"], result.r.indices.map { [result.r[$0], result.g[$0]] })
            }
            // The .sq file last: it is what make waits for, so its presence means all four exist.
            try write(stem + ".sq", header + ["columns: Q(1/A) S(Q)"], result.q.indices.map { [result.q[$0], result.s[$0]] })
            written.append(stem)
        }
        if let nexus {
            // The files as written, read back: the NeXus file holds exactly the text files' numbers.
            var results = NeXusResults(title: "beamline sq", program: "beamline", version: Beamline.version)
            for stem in written {
                let name = (stem as NSString).lastPathComponent
                results.structureFactors.append(.init(name: name, pattern: try PatternFile.read(stem + ".sq")))
                results.reducedStructureFactors.append(.init(name: name, pattern: try PatternFile.read(stem + ".fq")))
                results.pairDistributions.append(.init(name: name, pattern: try PatternFile.read(stem + ".gr")))
            }
            results.inputs = try (patterns + (background.map { [$0] } ?? [])).map { ($0, try SHA256.fileDigest($0)) }
            results.parameters = [("command", CommandLine.arguments.joined(separator: " "))]
            try results.write(to: nexus)
        }
    }

    private func headerLines(path: String, settings: StructureFactorSettings, result: StructureFactorResult) throws -> [String] {
        func checksum(_ file: String) throws -> String { try SHA256.fileDigest(file) }
        var lines = [
            "beamline \(Beamline.version) sq (PDFgetX2-style reduction)",
            "sample=\(path) sha256=\(try checksum(path))",
            "background=\(background ?? "none")" + (background != nil ? " sha256=\(try checksum(background!))" : ""),
            "composition=\(settings.composition.formula) fractions=\(settings.composition)",
            "f_prime=\(settings.fPrime.isEmpty ? "none" : settings.fPrime.map { "\($0.key)=\($0.value)" }.sorted().joined(separator: ","))",
            String(format: "wavelength_A=%.6g bg_scale=%.6g qmin=%.6g qmax=%.6g rmax=%.6g rstep=%.6g lorch=%@", settings.wavelength, result.backgroundScale, result.q.first!, result.q.last!, settings.rMax, settings.rStep, settings.lorch ? "true" : "false"),
            "definition=\(settings.definition.rawValue) normalization=\(settings.normalization.rawValue) alpha=\(String(format: "%.8g", result.alpha)) density=\(settings.density.map { String($0) } ?? "none") eggert_rmin=\(settings.eggertRMin.map { String($0) } ?? "none")",
            String(format: "breit_dirac_exponent=%.6g compton_attenuation=%.6g mu_t=%.6g polarization_corrected_here=%@", settings.breitDiracExponent, settings.comptonAttenuation, settings.muT, settings.correctPolarization ? "true" : "false"),
            "form factors: \(settings.formFactors == .waasmaier1995 ? "Waasmaier & Kirfel, Acta Cryst. A51 (1995) 416" : "Hubbell & Overbo, J. Phys. Chem. Ref. Data 8 (1979) 69") (form_factors=\(settings.formFactors.rawValue)); Compton: Hubbell et al., J. Phys. Chem. Ref. Data 4 (1975) 471",
        ]
        if let r = result.refinement {
            lines.append(SQRefinementRecord(
                backgroundScale: r.scale, backgroundScaleSigma: r.scaleSigma, density: r.density, densitySigma: r.densitySigma,
                rMin: r.rMin, iterations: r.iterations, kaplowIterations: r.kaplowIterations, misfit: r.misfit,
                relativeMisfit: r.relativeMisfit).headerLine)
        }
        if let calibration { lines.append("calibration=\(calibration)") }
        return lines
    }

    private func write(_ path: String, _ header: [String], _ rows: [[Double]]) throws {
        var text = header.map { "# " + $0 }.joined(separator: "\n") + "\n"
        // Shortest text that reads back to the same Double: exact, and 20× faster than "%.8e".
        for row in rows { text += row.map(\.description).joined(separator: " ") + "\n" }
        try AtomicFile.write(text, to: path)
    }
}
