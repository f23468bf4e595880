import ArgumentParser
import Foundation

struct PressureCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "pressure",
        abstract: "Pressure from ruby fluorescence or from a diffraction standard's equation of state.",
        subcommands: [PressureRubyCommand.self, PressureEOSCommand.self]
    )
}

/// Writes `key=value` pressure files that the pipeline's later stages read.
enum PressureFile {
    static func path(beside source: String) -> String {
        let url = URL(fileURLWithPath: source)
        return url.deletingPathExtension().path + ".pressure"
    }

    /// Where the pressure file of `source` goes: `output` (one input only), else NAME.pressure in
    /// `directory`, else beside the source.
    static func destination(for source: String, output: String?, directory: String?) -> String {
        if let output { return output }
        guard let directory else { return path(beside: source) }
        return (directory as NSString).appendingPathComponent(URL(fileURLWithPath: source).deletingPathExtension().lastPathComponent + ".pressure")
    }
}
