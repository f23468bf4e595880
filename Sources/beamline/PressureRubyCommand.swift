import ArgumentParser
import BeamlineSupport
import Foundation
import Pressure
import Reduction

struct PressureRubyCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "ruby",
        abstract: "Fit the ruby R1-R2 doublet and convert R1 to pressure.",
        discussion: """
            Reads spectrometer exports (wavelength in nm, counts; tab, comma or space separated), \
            fits two pseudo-Voigt peaks on a linear background, corrects R1 for temperature \
            (Datchi et al. 2007) and applies the chosen scale. Prints a table and writes \
            <spectrum>.pressure beside each spectrum. Scales: shen2020 (default), dewaele2008, \
            jacobsen2008, mao1986-hydrostatic, mao1986-nonhydrostatic (calibration/ruby/scales.txt).
            """
    )

    @Argument(help: "Ruby spectra.")
    var spectra: [String]

    @Option(help: "Pressure scale.")
    var scale = "shen2020"

    @Option(help: "Temperature of the cell, K (default: from the spectrum's header).")
    var temperature: Double?

    @Option(help: "R1 wavelength at ambient pressure and 296 K, nm (default 694.25).")
    var lambda0: Double?

    @Option(help: "A spectrum of the same ruby at ambient pressure: its fitted R1 (at --reference-temperature) sets λ0.")
    var referenceSpectrum: String?

    @Option(help: "Temperature of the reference spectrum, K.")
    var referenceTemperature = 296.0

    @Flag(help: "Fit a quadratic instead of a linear background.")
    var quadraticBackground = false

    @Flag(help: "Print JSON instead of a table.")
    var json = false

    @Flag(help: "Do not write .pressure files.")
    var noWrite = false

    @Option(help: "Write the .pressure files into this directory instead of beside the spectra.")
    var outputDir: String?

    @Option(name: [.short, .customLong("output")], help: "Write the .pressure file to this path (one spectrum only).")
    var output: String?

    @Option(help: "Directory holding calibration tables (default: found from the executable, or $BEAMLINE_CALIBRATION).")
    var calibration: String?

    struct Row: Codable {
        var file: String
        var r1_nm: Double
        var r1_sigma_nm: Double
        var r2_nm: Double
        var r1_fwhm_nm: Double
        var doublet_found: Bool
        var reduced_chi_square: Double
        var temperature_K: Double
        var temperature_shift_nm: Double
        var lambda0_nm: Double
        var scale: String
        var pressure_GPa: Double
        var pressure_sigma_GPa: Double
    }

    func validate() throws {
        if output != nil, spectra.count != 1 { throw ValidationError("--output needs exactly one spectrum") }
    }

    func run() throws {
        let directory = try CalibrationDirectory.locate(override: calibration)
        let ruby = try RubyCalibration(calibrationDirectory: directory)
        let chosen = try ruby.scale(scale)
        var l0 = lambda0 ?? ruby.lambda0
        if let referenceSpectrum {
            let reference = try RubyFit.fit(try Spectrum(path: referenceSpectrum), quadraticBackground: quadraticBackground)
            l0 = reference.r1 - (try ruby.temperatureShift.shift(temperature: referenceTemperature))
        }
        var rows: [Row] = []
        for path in spectra {
            let spectrum = try Spectrum(path: path)
            guard let t = temperature ?? spectrum.headerTemperature else {
                throw BeamlineError(path: path, "no temperature: give --temperature (K); the spectrum's header states none")
            }
            let fit = try RubyFit.fit(spectrum, quadraticBackground: quadraticBackground)
            let p: RubyCalibration.Pressure
            do {
                p = try ruby.pressure(r1: fit.r1, r1Sigma: fit.r1Sigma, temperature: t, scale: chosen, lambda0: l0)
            } catch let error as BeamlineError {
                throw error.attributed(to: path)
            }
            if !fit.doubletFound {
                FileHandle.standardError.write(Data("warning: \(path): R2 not found where expected; check the spectrum\n".utf8))
            }
            let row = Row(file: path, r1_nm: fit.r1, r1_sigma_nm: fit.r1Sigma, r2_nm: fit.r2, r1_fwhm_nm: fit.r1FWHM,
                          doublet_found: fit.doubletFound, reduced_chi_square: fit.reducedChiSquare, temperature_K: t,
                          temperature_shift_nm: p.temperatureShift, lambda0_nm: l0, scale: chosen.name,
                          pressure_GPa: p.pressure, pressure_sigma_GPa: p.sigma)
            rows.append(row)
            if !noWrite {
                let record = PressureRecord(
                    method: "ruby", source: path, pressure: p.pressure, pressureSigma: p.sigma, temperature: t,
                    details: [("scale", chosen.name), ("lambda0_nm", fmt(l0)), ("temperature_shift_nm", fmt(p.temperatureShift)),
                              ("r1_nm", fmt(fit.r1)), ("r1_sigma_nm", fmt(fit.r1Sigma)), ("r2_nm", fmt(fit.r2)),
                              ("r1_fwhm_nm", fmt(fit.r1FWHM)), ("doublet_found", "\(fit.doubletFound)"),
                              ("reduced_chi_square", fmt(fit.reducedChiSquare))],
                    comments: ["beamline \(Beamline.version) pressure ruby", "scale: \(chosen.reference)",
                               "temperature correction: \(ruby.temperatureShift.reference)"])
                try record.write(to: PressureFile.destination(for: path, output: output, directory: outputDir))
            }
        }
        if json {
            print(try JSONOutput.string(rows))
        } else {
            print("file\tR1 (nm)\t± (nm)\tT (K)\tP (GPa)\t± (GPa)")
            for r in rows {
                print(String(format: "%@\t%.4f\t%.4f\t%.1f\t%.3f\t%.3f", r.file, r.r1_nm, r.r1_sigma_nm, r.temperature_K, r.pressure_GPa, r.pressure_sigma_GPa))
            }
        }
    }
}

func fmt(_ v: Double) -> String { String(format: "%.6g", v) }
