import ArgumentParser
import BeamlineSupport
import DetectorImage
import Foundation

struct InfoCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "info",
        abstract: "Describe detector image files: format, frames, shape, pixel type, statistics, header.",
        discussion: """
            Formats are recognised from the file's content: MAR345 (pck), TIFF, HDF5/NeXus, \
            EDF, CBF (byte_offset) and FIT2D masks. For HDF5 the frames are read from \
            the dataset the file's NeXus `default`/`signal` attributes name, else /entry/data/data \
            (or Eiger's data_000001…), else an NXdetector's data, else the only image in the file, \
            unless --dataset names one; the choice and its reason are printed. \
            Invalid pixels are counted by the detector's conventions (outside a MAR345 plate's \
            circle or zero on it, negative gap/defect markers of Pilatus-type images, the largest \
            value of an unsigned type, the header's dummy, NaN): `integrate` and `mask` leave \
            them out by default.
            """
    )

    @Argument(help: "Image files to describe.")
    var files: [String]

    @OptionGroup var hdf5: DatasetOption

    @Flag(help: "Statistics for every frame (default: every frame of files with at most 16, else the first).")
    var allFrames = false

    @Flag(help: "Print JSON for machines instead of text.")
    var json = false

    struct FrameSummary: Codable {
        var index: Int
        var min: Double
        var max: Double
        var mean: Double
        var nonFinite: Int
        /// Pixels the detector could not measure, by reason.
        var invalid: [String: Int]
    }

    struct FileSummary: Codable {
        var file: String
        var format: String
        var frames: Int
        var width: Int
        var height: Int
        var pixelType: String
        var dataset: String?
        var datasetReason: String?
        var wavelengthAngstrom: Double?
        var distanceMetres: Double?
        var pixelSizeXMetres: Double?
        var pixelSizeYMetres: Double?
        var exposureSeconds: Double?
        var beamCenterX: Double?
        var beamCenterY: Double?
        var date: String?
        var statistics: [FrameSummary]
        var header: [String: String]
    }

    func run() throws {
        var summaries: [FileSummary] = []
        for file in files {
            let source = try DetectorImageFile.open(file, dataset: hdf5.dataset)
            let count = allFrames || source.frameCount <= 16 ? source.frameCount : 1
            var stats: [FrameSummary] = []
            for index in 0 ..< count {
                let frame = try source.frame(at: index)
                let s = frame.statistics
                let validity = source.validity.assess(frame)
                var invalid: [String: Int] = [:]
                for (reason, count) in validity.counts { invalid[reason.rawValue] = count }
                stats.append(FrameSummary(index: index, min: s.minimum, max: s.maximum, mean: s.mean,
                                          nonFinite: s.nonFiniteCount, invalid: invalid))
            }
            let m = source.metadata
            var header: [String: String] = [:]
            for entry in m.header { header[entry.key] = entry.value }
            let summary = FileSummary(
                file: file, format: source.format.rawValue, frames: source.frameCount, width: source.width,
                height: source.height, pixelType: source.pixelType.rawValue,
                dataset: (source as? HDF5Image)?.datasetNames.joined(separator: ", "),
                datasetReason: (source as? HDF5Image)?.datasetChoice, wavelengthAngstrom: m.wavelength,
                distanceMetres: m.distance, pixelSizeXMetres: m.pixelSizeX, pixelSizeYMetres: m.pixelSizeY,
                exposureSeconds: m.exposureTime, beamCenterX: m.beamCenterX, beamCenterY: m.beamCenterY,
                date: m.date, statistics: stats, header: header)
            if json {
                summaries.append(summary)
            } else {
                print(text(summary, source: source))
            }
        }
        if json {
            print(try JSONOutput.string(summaries))
        }
    }

    private func text(_ s: FileSummary, source: any ImageSource) -> String {
        var lines = ["\(s.file)",
                     "  format      \(s.format)",
                     "  frames      \(s.frames)",
                     "  shape       \(s.width) x \(s.height) (width x height)",
                     "  pixel type  \(s.pixelType)"]
        if let dataset = s.dataset {
            lines.append("  dataset     \(dataset)" + (s.datasetReason.map { " (\($0))" } ?? ""))
        }
        func add(_ label: String, _ value: Double?, _ unit: String, scale: Double = 1, digits: Int = 6) {
            if let value { lines.append("  " + label.padding(toLength: 12, withPad: " ", startingAt: 0) + String(format: "%.\(digits)g", value * scale) + unit) }
        }
        add("wavelength", s.wavelengthAngstrom, " Å")
        add("distance", s.distanceMetres, " mm", scale: 1e3)
        add("pixel x", s.pixelSizeXMetres, " µm", scale: 1e6)
        add("pixel y", s.pixelSizeYMetres, " µm", scale: 1e6)
        add("exposure", s.exposureSeconds, " s")
        if let x = s.beamCenterX, let y = s.beamCenterY { lines.append(String(format: "  beam centre %.3f, %.3f px", x, y)) }
        if let date = s.date { lines.append("  date        \(date)") }
        for f in s.statistics {
            var line = String(format: "  frame %-4d  min %.6g  max %.6g  mean %.6g", f.index, f.min, f.max, f.mean)
            if f.nonFinite > 0 { line += "  non-finite \(f.nonFinite)" }
            lines.append(line)
            let invalid = f.invalid.values.reduce(0, +)
            let reasons = DetectorValidity.Reason.allCases.compactMap { r in f.invalid[r.rawValue].map { "\($0) \(r.rawValue)" } }
            lines.append("              invalid \(invalid)" + (reasons.isEmpty ? "" : ": " + reasons.joined(separator: ", ")))
        }
        if s.statistics.count < s.frames { lines.append("  (statistics of the first frame only; --all-frames for every frame)") }
        return lines.joined(separator: "\n")
    }
}
