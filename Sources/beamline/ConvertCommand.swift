import ArgumentParser
import BeamlineSupport
import DetectorImage
import Foundation

struct ConvertCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "convert",
        abstract: "Convert a detector frame to TIFF, EDF, MAR345 or HDF5.",
        discussion: """
            The output format follows the extension of OUTPUT: .tif/.tiff (float32, or \
            uint32 with --integer), .edf, .mar2300/.mar3450/... (square images only), .h5. \
            Use it to hand MAR345 plates to programs that read only TIFF or EDF.
            """
    )

    @Argument(help: "Input image file.")
    var input: String

    @Argument(help: "Output file; its extension selects the format.")
    var output: String

    @Option(help: "Frame of a multi-frame input.")
    var frame = 0

    @OptionGroup var hdf5: DatasetOption

    @Flag(help: "Write integer (uint32) TIFF/EDF pixels instead of float32.")
    var integer = false

    func run() throws {
        let image = try DetectorImageFile.readFrame(input, index: frame, dataset: hdf5.dataset)
        let ext = URL(fileURLWithPath: output).pathExtension.lowercased()
        switch ext {
        case "tif", "tiff":
            try TIFFWriter.write(image.pixels, width: image.width, height: image.height, to: output,
                                 as: integer ? .uint32 : .float32, description: "converted from \(input) frame \(frame) by beamline")
        case "edf":
            try EDFWriter.write(image.pixels, width: image.width, height: image.height, to: output,
                                as: integer ? .uint32 : .float32, extraHeader: [HeaderEntry("source", "\(input) frame \(frame)")])
        case "h5", "hdf5", "nxs":
            try HDF5Writer.write(frames: [image.pixels], width: image.width, height: image.height, to: output, metadata: image.metadata)
        case _ where ext.hasPrefix("mar"):
            try MAR345Writer.write(image, to: output)
        default:
            throw BeamlineError(path: output, "unknown output extension .\(ext) (use .tif, .edf, .h5 or .mar2300/.mar3450)")
        }
    }
}
