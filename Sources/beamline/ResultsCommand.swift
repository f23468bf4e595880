import ArgumentParser
import Report

struct ResultsCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "results",
        abstract:
            "One NeXus/HDF5 file for a reduced run: patterns, S(Q), F(Q), G(r), peaks, series, geometry, provenance.",
        discussion: """
            Reads the files a pipeline run wrote into RUN-DIR (geometry.poni, integrated/, sq/, peaks.tsv, \
            series.json, run.mk) and writes them as NXdata groups under /entry (the integrated patterns also as one \
            NXazint1d image × radial array in /entry/data), with the geometry in /entry/instrument and the program, \
            settings and the SHA-256 of every input (raw images included) in /entry/reduction. Readable with h5py, \
            silx view and any NeXus reader; the text files stay as they are.
            """
    )

    @Argument(help: "Output directory of a pipeline run.")
    var runDirectory: String

    @Option(name: [.short, .customLong("output")], help: "Output NeXus file (.nxs).")
    var output: String

    func run() throws {
        let results = try RunResults(runDirectory: runDirectory, program: "beamline", version: Beamline.version)
            .results()
        try results.write(to: output)
        print(output)
    }
}
