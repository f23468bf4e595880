import ArgumentParser
import BeamlineSupport
import Foundation
import PatternIO
import Pressure
import Reduction

struct PressureEOSCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "eos",
        abstract: "Pressure from a diffraction standard's peaks (Au, Pt, NaCl, MgO, Ne) and its equation of state.",
        discussion: """
            Finds the standard's reflections in each integrated pattern (.xy/.chi in q or 2θ), \
            fits each with a pseudo-Voigt on a local background, refines the cubic lattice \
            parameter by weighted least squares, and evaluates P(V, T) with the chosen scale \
            (calibration/eos/<standard>.txt). Writes <pattern>.pressure beside each pattern.
            """
    )

    @Argument(help: "Integrated patterns.")
    var patterns: [String]

    @Option(help: "Pressure standard: Au, Pt, NaCl-B1, NaCl-B2, MgO, Ne.")
    var standard = "Au"

    @Option(help: "Scale of the standard (e.g. fei2007bm3, fei2007vinet, dorogokupets2007).")
    var scale = "fei2007bm3"

    @Option(help: "Temperature, K.")
    var temperature: Double

    @Option(help: "Wavelength in Å (needed for patterns in 2θ; default: from the pattern's header).")
    var wavelength: Double?

    @Option(help: "Starting lattice parameter, Å (default: searched).")
    var latticeGuess: Double?

    @Flag(help: "Print JSON instead of a table.")
    var json = false

    @Option(help: "Write the .pressure files into this directory instead of beside the patterns.")
    var outputDir: String?

    @Option(name: [.short, .customLong("output")], help: "Write the .pressure file to this path (one pattern only).")
    var output: String?

    @Flag(help: "Do not write .pressure files.")
    var noWrite = false

    @Option(help: "Directory holding calibration tables.")
    var calibration: String?

    struct Row: Codable {
        var file: String
        var standard: String
        var scale: String
        var peaks: [String]
        var lattice_A: Double
        var lattice_sigma_A: Double
        var volume_A3: Double
        var volume_sigma_A3: Double
        var temperature_K: Double
        var pressure_GPa: Double
        var pressure_sigma_GPa: Double
    }

    func validate() throws {
        if output != nil, patterns.count != 1 { throw ValidationError("--output needs exactly one pattern") }
    }

    func run() throws {
        let directory = try CalibrationDirectory.locate(override: calibration)
        let material = try StandardMaterial.load(standard, calibrationDirectory: directory)
        let eos = try material.scale(scale)
        guard eos.validTemperatures.contains(temperature) else {
            throw ValidationError("temperature \(temperature) K is outside the \(material.name) scale's range \(eos.validTemperatures)")
        }
        var rows: [Row] = []
        for path in patterns {
            let pattern = try PatternFile.read(path)
            let headerWavelength = pattern.headerValue("wavelength_A").flatMap(Double.init)
            let q = try LatticeFit.qValues(pattern, wavelength: wavelength ?? headerWavelength, path: path)
            let fit = try LatticeFit.fit(q: q, intensity: pattern.intensity, material: material, v0: eos.v0,
                                         latticeGuess: latticeGuess, path: path)
            let p = eos.pressure(volume: fit.volume, temperature: temperature)
            let sigma = abs(eos.slope(volume: fit.volume, temperature: temperature)) * fit.volumeSigma
            guard p.isFinite, p > -2 else {
                throw BeamlineError(path: path, String(format: "the fitted lattice parameter %.5f Å gives an impossible pressure (%.2f GPa)", fit.latticeParameter, p))
            }
            let names = fit.peaks.map { "\($0.h)\($0.k)\($0.l)" }
            rows.append(Row(file: path, standard: material.name, scale: scale, peaks: names, lattice_A: fit.latticeParameter,
                            lattice_sigma_A: fit.latticeSigma, volume_A3: fit.volume, volume_sigma_A3: fit.volumeSigma,
                            temperature_K: temperature, pressure_GPa: p, pressure_sigma_GPa: sigma))
            if !noWrite {
                let record = PressureRecord(
                    method: "eos", source: path, pressure: p, pressureSigma: sigma, temperature: temperature,
                    details: [("standard", material.name), ("scale", scale), ("reflections", names.joined(separator: ",")),
                              ("lattice_A", fmt(fit.latticeParameter)), ("lattice_sigma_A", fmt(fit.latticeSigma)),
                              ("volume_A3", fmt(fit.volume)), ("volume_sigma_A3", fmt(fit.volumeSigma))],
                    comments: ["beamline \(Beamline.version) pressure eos", "scale: \(eos.reference)"])
                try record.write(to: PressureFile.destination(for: path, output: output, directory: outputDir))
            }
        }
        if json {
            print(try JSONOutput.string(rows))
        } else {
            print("file\tpeaks\ta (Å)\t± (Å)\tV (Å³)\tT (K)\tP (GPa)\t± (GPa)")
            for r in rows {
                print(String(format: "%@\t%d\t%.5f\t%.5f\t%.3f\t%.1f\t%.3f\t%.3f", r.file, r.peaks.count, r.lattice_A, r.lattice_sigma_A,
                             r.volume_A3, r.temperature_K, r.pressure_GPa, r.pressure_sigma_GPa))
            }
        }
    }
}
