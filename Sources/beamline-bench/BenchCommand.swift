import ArgumentParser
import DetectorImage
import Foundation
import Integration

/// Timings for bench/ scripts: each prints one line `name ms_per_frame` after warming up.
@main
struct BeamlineBench: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "beamline-bench",
        abstract: "Time the pipeline's kernels for the scripts in bench/ (release builds only).",
        subcommands: [Decode.self, Integrate.self]
    )

    struct Decode: ParsableCommand {
        static let configuration = CommandConfiguration(abstract: "Decode the first frame of an image file repeatedly; print ms per decode.")

        @Argument(help: "Image file (MAR345, CBF, TIFF, EDF, HDF5).")
        var file: String

        @Option(help: "Number of timed decodes.")
        var repeats = 10

        func run() throws {
            let source = try DetectorImageFile.open(file)
            _ = try source.frame(at: 0)  // warm-up
            var best = Double.infinity, total = 0.0
            for _ in 0 ..< repeats {
                let start = DispatchTime.now().uptimeNanoseconds
                let frame = try source.frame(at: 0)
                let elapsed = Double(DispatchTime.now().uptimeNanoseconds - start) / 1e6
                precondition(frame.pixels.count == source.width * source.height)
                best = min(best, elapsed)
                total += elapsed
            }
            print(String(format: "decode %@ mean_ms %.2f best_ms %.2f", file, total / Double(repeats), best))
        }
    }

    struct Integrate: ParsableCommand {
        static let configuration = CommandConfiguration(abstract: "Integrate one frame repeatedly with a warm engine; print ms per frame.")

        @Argument(help: "Image file.")
        var file: String

        @Option(help: "pyFAI .poni geometry.")
        var poni: String

        @Option(help: "Number of bins.")
        var bins = 2000

        @Option(help: "none, bbox or full.")
        var split = "none"

        @Option(help: "Number of timed integrations.")
        var repeats = 20

        func run() throws {
            let frame = try DetectorImageFile.readFrame(file)
            var geometry = try PoniFile.read(poni)
            if geometry.height == 0 { geometry.height = frame.height; geometry.width = frame.width }
            var settings = IntegrationSettings()
            settings.bins = bins
            settings.polarizationFactor = 0.99
            guard let method = SplitMethod(rawValue: split) else { throw ValidationError("unknown split \(split)") }
            settings.method = method
            let buildStart = DispatchTime.now().uptimeNanoseconds
            let engine = try IntegrationEngine(geometry: geometry, settings: settings)
            let buildMs = Double(DispatchTime.now().uptimeNanoseconds - buildStart) / 1e6
            _ = try engine.integrate(frame.pixels)
            var best = Double.infinity, total = 0.0
            for _ in 0 ..< repeats {
                let start = DispatchTime.now().uptimeNanoseconds
                let result = try engine.integrate(frame.pixels)
                let elapsed = Double(DispatchTime.now().uptimeNanoseconds - start) / 1e6
                precondition(result.intensity.count == bins)
                best = min(best, elapsed)
                total += elapsed
            }
            let mean = total / Double(repeats)
            let gbps = Double(engine.bytesPerFrame) / (mean * 1e-3) / 1e9
            print(String(format: "integrate split %@ bins %d mean_ms %.2f best_ms %.2f build_ms %.0f entries %d bytes_per_frame %d GB/s %.1f",
                         split, bins, mean, best, buildMs, engine.entries, engine.bytesPerFrame, gbps))
        }
    }
}