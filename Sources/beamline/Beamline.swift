import ArgumentParser

@main
struct Beamline: ParsableCommand {
    static let version = "0.1.0"

    static let configuration = CommandConfiguration(
        commandName: "beamline",
        abstract: "Data reduction for diamond-anvil-cell X-ray diffraction.",
        discussion: """
            Each subcommand is one stage of the pipeline; each reads the files the \
            previous stage wrote and writes files the next one reads.
            """,
        version: version,
        subcommands: [InfoCommand.self, ConvertCommand.self, IntegrateCommand.self, PrepareCommand.self, PressureCommand.self, SQCommand.self, CalibrantCommand.self, MaskCommand.self, CalibrateCommand.self, PeaksCommand.self, SeriesCommand.self, SimulateCommand.self, InitCommand.self, PlanCommand.self, ReportCommand.self, ResultsCommand.self]
    )

    static func main() {
        AllocatorPolicy.keepLargeBuffersOnTheHeap()
        main(nil)
    }
}
