import ArgumentParser
import BeamlineSupport
import Foundation
#if canImport(Glibc)
import Glibc
#endif
import Simulation

struct SimulateCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "simulate",
        abstract: "Write a simulated DAC run (calibrant, empty cell, glass at pressures on two isotherms, ruby spectra) with its truth.",
        discussion: """
            The images are MAR345 (square detector) or HDF5; truth.json records every true pressure \
            and Q1 (and the gold lattice parameter with --gold). OUTPUT/run.conf describes the run for \
            `beamline plan` and pipelines/dac.mk: pressures from the ruby spectra, or with --gold \
            from the gold rings. The run is written into a temporary directory beside OUTPUT and \
            renamed into place when complete (replacing an earlier OUTPUT), so an interrupted \
            simulation leaves no half-written run that make would take as done.
            """
    )

    @Option(name: [.short, .customLong("output")], help: "Output directory.")
    var output: String

    @Option(help: "Detector size in pixels (square).")
    var size = 640

    @Option(help: "Pressures in GPa, comma-separated.")
    var pressures = "0.5,2,4,6.7,7.3,12,20"

    @Flag(help: "Write HDF5 images instead of MAR345.")
    var hdf5 = false

    @Flag(help: "Put gold powder in the cell: its rings on every sample image serve as the pressure standard.")
    var gold = false

    @Option(help: "Random seed.")
    var seed: UInt64 = 2026

    @Option(help: "Directory holding calibration tables.")
    var calibration: String?

    func validate() throws {
        // Diamond spots are drawn 10 pixels or more from the edges, the beam stop is 10 pixels wide.
        guard (32...8192).contains(size) else {
            throw ValidationError("--size must be from 32 to 8192 pixels, not \(size)")
        }
        _ = try pressureList()
    }

    private func pressureList() throws -> [Double] {
        let fields = pressures.split(separator: ",", omittingEmptySubsequences: false)
        let values = fields.map { Double($0.trimmingCharacters(in: .whitespaces)) }
        guard !fields.isEmpty, values.allSatisfy({ $0.map { $0.isFinite && $0 >= 0 } ?? false }) else {
            throw ValidationError(
                "--pressures must be non-negative numbers (GPa) separated by commas, not \"\(pressures)\"")
        }
        return values.map { $0! }
    }

    func run() throws {
        var simulator = DACSimulator(size: size, pixel: 300e-6 * 640 / Double(size))
        simulator.pressures = try pressureList()
        simulator.seed = seed
        simulator.gold = gold
        // All or nothing: the run is written beside OUTPUT and renamed into place at the end.
        let fm = FileManager.default
        let target = URL(fileURLWithPath: output).standardizedFileURL.path
        let partial = AtomicFile.temporaryPath(for: target)
        defer { try? fm.removeItem(atPath: partial) }
        // What a killed simulation left: `.NAME.tmp-PID-…` of a process that no longer runs.
        let parent = URL(fileURLWithPath: target).deletingLastPathComponent().path
        let stem = "." + URL(fileURLWithPath: target).lastPathComponent + ".tmp-"
        for entry in (try? fm.contentsOfDirectory(atPath: parent)) ?? [] where entry.hasPrefix(stem) {
            if let pid = Int32(entry.dropFirst(stem.count).prefix { $0 != "-" }), kill(pid, 0) != 0, errno == ESRCH {
                try? fm.removeItem(atPath: parent + "/" + entry)
            }
        }
        try fm.createDirectory(atPath: partial, withIntermediateDirectories: true)
        let points = try simulator.write(to: partial, calibrationDirectory: try CalibrationDirectory.locate(override: calibration), hdf5: hdf5)
        let ext = hdf5 ? "h5" : "mar\(size)"
        var config = """
            # A run simulated by `beamline simulate`: reduce it with `beamline plan` and pipelines/dac.mk.
            [run]
            calibrant_image = images/CeO2.\(ext)
            calibrant = CeO2
            empty_cell = images/empty_cell.\(ext)
            bg_scale = \(simulator.backgroundScale)
            composition = \(simulator.composition)

            [pressure]
            standard = Au
            standard_scale = fei2007bm3

            [samples]
            # name  image  frame  T (K)  pressure

            """
        for p in points {
            config += "\(p.name)  images/\(p.name).\(ext)  -  \(p.temperature)  \(gold ? "standard" : "ruby:ruby/\(p.name).txt")\n"
        }
        try AtomicFile.write(config, to: (partial as NSString).appendingPathComponent("run.conf"))
        if fm.fileExists(atPath: target) { try fm.removeItem(atPath: target) }
        guard rename(partial, target) == 0 else {
            throw BeamlineError(path: output, "cannot move the finished run into place (\(String(cString: strerror(errno))))")
        }
        print("\(output): \(points.count) sample images, calibrant, empty cell, ruby spectra, geometry.poni, truth.json, run.conf")
    }
}
