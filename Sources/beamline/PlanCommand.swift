import ArgumentParser
import BeamlineSupport
import Foundation
import Reduction

struct PlanCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "plan",
        abstract: "Turn a run's configuration file into the make variables of pipelines/dac.mk.",
        discussion: """
            Reads RUN.conf (sections [run], [calibration], [mask], [integration], [pressure], [sq], \
            [series] of `key = value` lines, and [samples] with one line per point: name, image, \
            frame (- for a single image), temperature in K, pressure as ruby:SPECTRUM, standard or \
            a number in GPa, and optionally the time in minutes), checks it, and writes \
            OUTPUT-DIR/run.mk and OUTPUT-DIR/conditions.tsv. conditions.tsv is rewritten only when \
            its content changes, so that make re-runs only what a change touches.
            """
    )

    @Argument(help: "Run configuration file.")
    var config: String

    @Option(help: "Output directory of the run.")
    var outputDir: String

    @Flag(help: "Do not check that the files the configuration names exist.")
    var noCheck = false

    func run() throws {
        let run = try RunConfiguration(contentsOf: config, checkFiles: !noCheck)
        try FileManager.default.createDirectory(atPath: outputDir, withIntermediateDirectories: true)
        let conditions = (outputDir as NSString).appendingPathComponent("conditions.tsv")
        let text = run.conditions()
        if FileManager.default.contents(atPath: conditions) != Data(text.utf8) { try AtomicFile.write(text, to: conditions) }
        try AtomicFile.write(run.makefile(), to: (outputDir as NSString).appendingPathComponent("run.mk"))
        print("\(run.samples.count) samples; \((outputDir as NSString).appendingPathComponent("run.mk"))")
    }
}
