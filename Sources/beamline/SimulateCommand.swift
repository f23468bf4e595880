import ArgumentParser
import BeamlineSupport
import Foundation
import Simulation

struct SimulateCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "simulate",
        abstract: "Write a simulated DAC run (calibrant, empty cell, glass at pressures on two isotherms, ruby spectra) with its truth.",
        discussion: "The images are MAR345 (square detector) or HDF5; truth.json records every true pressure and Q1."
    )

    @Option(name: [.short, .customLong("output")], help: "Output directory.")
    var output: String

    @Option(help: "Detector size in pixels (square).")
    var size = 640

    @Option(help: "Pressures in GPa, comma-separated.")
    var pressures = "0.5,2,4,6.7,7.3,12,20"

    @Flag(help: "Write HDF5 images instead of MAR345.")
    var hdf5 = false

    @Option(help: "Random seed.")
    var seed: UInt64 = 2026

    @Option(help: "Directory holding calibration tables.")
    var calibration: String?

    func run() throws {
        var simulator = DACSimulator(size: size, pixel: 300e-6 * 640 / Double(size))
        simulator.pressures = pressures.split(separator: ",").compactMap { Double($0) }
        guard !simulator.pressures.isEmpty else { throw ValidationError("no pressures") }
        simulator.seed = seed
        let points = try simulator.write(to: output, calibrationDirectory: try CalibrationDirectory.locate(override: calibration), hdf5: hdf5)
        print("\(output): \(points.count) sample images, calibrant, empty cell, ruby spectra, geometry.poni, truth.json")
    }
}
