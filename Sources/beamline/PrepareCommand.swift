import ArgumentParser
import BeamlineSupport
import DetectorImage
import Foundation
import Reduction

struct PrepareCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "prepare",
        abstract: "Build the integration engine of a detector setup once and keep it in a file.",
        discussion: """
            The engine (the sparse matrix from pixels to bins, the per-pixel corrections, the \
            masks that hold for every frame and the pixels' rings for --spots) is what \
            `integrate` would build from the same options. `integrate --engine FILE` with those \
            options reads it instead of building it: a run's many integrate processes share one \
            build. The file records a SHA-256 key of everything the engine depends on (geometry, \
            settings, mask contents, dark, flat); `integrate` given an engine for other options \
            says so and builds its own.
            """
    )

    @Argument(help: "An image of the setup (its shape and its detector's invalid-pixel rules).")
    var image: String

    @OptionGroup var integration: IntegrationOptions

    @OptionGroup(title: "Per-frame options (accepted so that integrate's list can be passed; not used)")
    var perFrame: FrameOptions

    @Option(name: [.short, .customLong("output")], help: "Engine file to write.")
    var output: String

    func run() throws {
        let source = try DetectorImageFile.open(image, dataset: integration.hdf5.dataset)
        let setup = try integration.setup(shapeFrom: source)
        let prepared = try PreparedIntegration(setup, validity: source.validity)
        try prepared.write(to: output)
        let size = (try? FileManager.default.attributesOfItem(atPath: output)[.size] as? Int) ?? 0
        print(String(format: "%@: engine %@, %d bins, %d entries, %.0f MB, key %@", output, prepared.origin,
                     prepared.engine.totalBins, prepared.engine.entries, Double(size) / 1e6,
                     String(prepared.key.prefix(12))))
    }
}
