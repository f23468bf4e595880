import ArgumentParser
import BeamlineSupport
import DetectorImage
import Foundation
import Integration
import PatternIO
import Reduction

struct IntegrateCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "integrate",
        abstract: "Azimuthal integration: I(q), I(2θ) or I(r) with σ, or 2D cakes (FIT2D INTEGRATE).",
        discussion: """
            Every frame of every input is integrated with one engine built for the geometry, \
            the masks that hold for every frame and the settings, and written to OUTPUT-DIR as \
            <name>.xy (or <name>_NNNN.xy for multi-frame files), with a header that records the \
            source, frame, geometry, corrections, method and program version. Each frame is read \
            once: its invalid pixels and, with --spots, its diamond spots are left out of the \
            engine's sums without rebuilding it (--mask-output keeps that frame's mask). With \
            --engine FILE (written by `beamline prepare` with the same options) the engine is read \
            instead of built. Results agree with pyFAI's integrate1d (same settings, csr) to \
            better than 10⁻⁵.
            """
    )

    @Argument(help: "Detector images (any format `beamline info` reads).")
    var images: [String]

    @OptionGroup var integration: IntegrationOptions

    @Option(name: [.short, .customLong("output")], help: "Output directory (created if missing).")
    var output: String

    @Option(help: "Engine file written by `beamline prepare`; used when it matches these options.")
    var engine: String?

    @Option(help: "Write the frame's full mask (every frame's masks, invalid pixels, spots) here; one frame only.")
    var maskOutput: String?

    @Option(help: "Write a thumbnail PNG of the frame with its masks coloured (for the report); one frame only.")
    var thumbnailOutput: String?

    @OptionGroup var perFrame: FrameOptions

    @Option(help: "Also write every pattern into this NeXus/HDF5 file (NXazint1d: one image × radial array).")
    var nexus: String?

    @Flag(help: "Show a progress line on stderr (shown anyway on a terminal, for more than one frame).")
    var progress = false

    @Option(help: "Integrate only this frame (0-based) of each multi-frame input.")
    var frame: Int?

    @Option(help: "Output name (without extension) for a single image and frame, instead of the image's.")
    var name: String?

    func validate() throws {
        if let frame, frame < 0 { throw ValidationError("--frame must be 0 or more") }
        if let name {
            guard images.count == 1 else { throw ValidationError("--name needs exactly one image") }
            guard !name.isEmpty, !name.contains("/") else { throw ValidationError("--name must be a file name without a directory") }
        }
    }

    func run() throws {
        let first = try DetectorImageFile.open(images[0], dataset: integration.hdf5.dataset)
        // The first frame is read, and the other files opened, while the engine is built (or mapped).
        let firstRead = (frame ?? 0) < first.frameCount ? IntegrationJob.FrameRead(first, index: frame ?? 0) : nil
        // A MAR345 plate is read whole when opened (10 ms for 13 MB).
        let others = BackgroundWork { [images, dataset = integration.hdf5.dataset] in
            try images.dropFirst().map { try DetectorImageFile.open($0, dataset: dataset) }
        }
        let setup = try integration.setup(shapeFrom: first)
        let prepared = try PreparedIntegration(setup, validity: first.validity, cache: engine, note: printError)
        let sources = try [first] + (others.take() ?? [])
        var job = IntegrationJob(prepared: prepared, outputDirectory: output, program: "beamline \(Beamline.version)")
        if let cake = perFrame.cake {
            var cakeSettings = setup.settings
            cakeSettings.azimuthBins = cake
            job.cakeEngine = try IntegrationEngine(
                geometry: setup.geometry, settings: cakeSettings, mask: prepared.staticMask,
                dark: prepared.dark, flat: prepared.flat)
            job.cakeFormat = perFrame.cakeFormat
        }
        job.format = perFrame.format
        job.frame = frame
        job.name = name
        job.maskOutput = maskOutput
        job.thumbnailOutput = thumbnailOutput
        let progressLine = ProgressLine("integrate", unit: "frames", force: progress)
        job.progress = { done, total in if total > 1 { progressLine.update(done, of: total) } }
        job.sigmaClip = perFrame.sigmaClip.map { SigmaClip(threshold: $0, maxIterations: perFrame.sigmaClipIterations) }
        job.dummy = perFrame.dummy
        job.deltaDummy = perFrame.deltaDummy
        job.normalizeExposure = perFrame.normalizeExposure
        job.monitor = perFrame.monitor
        job.poniPath = integration.poni
        let reports = try job.run(sources, firstRead: firstRead)
        if let nexus {
            // The patterns as written, read back: the NeXus file holds exactly the text files' numbers.
            var results = NeXusResults(title: "beamline integrate", program: "beamline", version: Beamline.version)
            results.geometry = setup.geometry
            results.geometryText = try? InputFile.text(of: integration.poni)
            for report in reports {
                let stem = (output as NSString).appendingPathComponent(report.name)
                let pattern = try PatternFile.read(perFrame.format == .chi ? stem + ".chi" : stem + ".xy")
                results.integrated.append(.init(name: report.name, pattern: pattern))
            }
            results.inputs = try images.map { ($0, try SHA256.fileDigest($0)) }
            results.parameters = [("command", CommandLine.arguments.joined(separator: " "))]
            try results.write(to: nexus)
        }
    }
}
