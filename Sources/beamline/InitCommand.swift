import ArgumentParser
import BeamlineSupport
import Foundation
import Reduction

struct InitCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "init",
        abstract: "Draft a run configuration from a data directory, for `beamline plan`.",
        discussion: """
            Looks at every file under DATA-DIR whose content is a detector image (MAR345, TIFF, \
            HDF5, EDF, CBF) and at the experimenter's log, a CSV or TSV file with a header row \
            (columns found by name: file or image, kind, ruby, temperature, pressure, mode, \
            exposure, time). Images are grouped into detector setups by the log's mode, else by \
            detector shape, pixel size and wavelength; several setups give [setup NAME] sections. \
            In each setup the calibrant is the image the log calls one (or named CeO2, LaB6, Si, \
            Al2O3, AgBh), the empty cell the one called empty or background; the rest are samples, \
            one line per frame of a multi-frame file, except darks, flats and test images (by the \
            log's kind or the name), which are listed as skipped with the reason. A sample's \
            temperature comes from the log or its name (ce_390K_03 → 390 K), else 293 K, marked; its \
            pressure from the log's ruby spectrum or pressure, else from a ruby spectrum named like \
            the image (NAME.txt, NAME_ruby.txt, NAME-ruby.txt, NAME.ruby.txt), else from the pressure \
            standard's rings. Every guess is marked "# check": read them before running.
            """
    )

    @Argument(help: "Directory holding the run's images, ruby spectra and log.")
    var dataDir: String

    @Option(name: [.short, .customLong("output")], help: "Draft configuration to write (refused if it exists).")
    var output: String

    @Option(help: "Composition of the sample, e.g. Ce65Co25Al10.")
    var composition: String?

    func run() throws {
        guard !FileManager.default.fileExists(atPath: output) else {
            throw BeamlineError(path: output, "exists already; remove it or name another file")
        }
        let draft = try RunDraft(dataDirectory: dataDir, output: output, composition: composition)
        try AtomicFile.write(draft.text, to: output)
        let setups = draft.setups.count > 1 ? " in \(draft.setups.count) setups (\(draft.setups.joined(separator: ", ")))" : ""
        let skipped = draft.skipped > 0 ? "; \(draft.skipped) files skipped, listed at the end" : ""
        print("\(output): \(draft.samples) samples drafted\(setups)\(skipped); check the lines marked '# check'")
    }
}
