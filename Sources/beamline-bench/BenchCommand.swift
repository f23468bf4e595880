import ArgumentParser
import DetectorImage
import Foundation

/// Timings for bench/ scripts: each prints one line `name ms_per_frame` after warming up.
@main
struct BeamlineBench: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "beamline-bench",
        abstract: "Time the pipeline's kernels for the scripts in bench/ (release builds only).",
        subcommands: [Decode.self]
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
}
