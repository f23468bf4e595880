import ArgumentParser
import Calibration
import Foundation

struct CalibrantCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "calibrant",
        abstract: "Print a calibrant's d-spacings, generated from its lattice and reflection conditions.",
        discussion: "Calibrants: \(Calibrant.known.map(\.name).joined(separator: ", ")). The files in calibration/calibrants/ are this command's output."
    )

    @Argument(help: "Calibrant name.")
    var name: String

    @Option(help: "Smallest d-spacing listed, Å.")
    var minimumD = 0.7

    func run() throws {
        print(try Calibrant.named(name).tableText(minimumD: minimumD), terminator: "")
    }
}
