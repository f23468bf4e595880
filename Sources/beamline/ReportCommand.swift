import ArgumentParser
import Report

struct ReportCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "report",
        abstract: "One self-contained HTML page for a reduced run: calibration, images and masks, I(Q), S(Q), G(r), "
            + "ΔS(Q), peaks against pressure, transitions, thermal expansion.",
        discussion: """
            Reads the files a pipeline run wrote into RUN-DIR (geometry.svg, thumbnails/, integrated/, sq/, delta_s/, \
            peaks.tsv, series.json, failed/). Every plot is also written as a standalone SVG into plots/ beside the \
            report, for a paper or a talk.
            """
    )

    @Argument(help: "Output directory of a pipeline run.")
    var runDirectory: String

    @Option(name: [.short, .customLong("output")], help: "Output HTML file.")
    var output: String

    func run() throws {
        let report = RunReport(runDirectory: runDirectory, output: output, program: "beamline \(Beamline.version)")
        print(try report.write())
    }
}
