import ArgumentParser
import BeamlineSupport
import DetectorImage
import Foundation
import Integration
import Reduction

extension RadialUnit: ExpressibleByArgument {}
extension SplitMethod: ExpressibleByArgument {}
extension ErrorModel: ExpressibleByArgument {}
extension PatternFileFormat: ExpressibleByArgument {}
extension IntegrationOutput.CakeFormat: ExpressibleByArgument {}

/// What decides the integration engine: geometry, masks that hold for every frame, binning,
/// corrections and the spot search. Shared by `integrate` and `prepare`, so that the engine
/// `prepare` writes is the one `integrate` asks for.
struct IntegrationOptions: ParsableArguments {
    @Option(help: "Geometry, pyFAI .poni file.")
    var poni: String

    @Option(help: "Wavelength in Å when the .poni file has none.")
    var wavelength: Double?

    @Option(help: "Mask file (TIFF, EDF, FIT2D .msk; non-zero = masked) for every frame. Repeat to combine.")
    var mask: [String] = []

    @Option(help: "Radial unit: \(RadialUnit.allCases.map(\.rawValue).joined(separator: ", ")).")
    var unit: RadialUnit = .qInverseAngstrom

    @Option(help: "Number of radial bins.")
    var bins = 2000

    @Option(help: "Pixel splitting: none, bbox, full.")
    var split: SplitMethod = .bbox

    @Option(help: "Polarization factor (-1…1; 0.99 at a synchrotron). Omit for no correction.")
    var polarization: Double?

    @Option(help: "Angle of the polarization axis from the detector x axis, degrees.")
    var polarizationOffset = 0.0

    @Flag(help: "Do not correct for the solid angle of each pixel.")
    var noSolidAngle = false

    @Option(help: "Dark image subtracted from every frame.")
    var dark: String?

    @Option(help: "Flat-field image: intensities are divided by it.")
    var flat: String?

    @Option(help: "Lower radial limit, in --unit.")
    var radialMin: Double?

    @Option(help: "Upper radial limit, in --unit.")
    var radialMax: Double?

    @Option(help: "Lower azimuth limit, degrees (χ in -180…180).")
    var azimuthMin: Double?

    @Option(help: "Upper azimuth limit, degrees.")
    var azimuthMax: Double?

    @Option(help: "Error model: poisson, azimuthal, none.")
    var errorModel: ErrorModel = .poisson

    @Option(help: """
        Mask diamond spots and zingers in every frame before integrating: pixels more than K·σ \
        above the median of their ring (as `beamline mask --spots`).
        """)
    var spots: Double?

    @Option(help: "Grow the spots found by this many pixels.")
    var grow = 2

    @Flag(help: """
        Integrate pixels the detector could not measure (by default left out: outside a MAR345 \
        plate's circle or zero on it, negative gap markers, the largest value of an unsigned type, \
        the header's dummy; see `beamline info`).
        """)
    var noValidityMask = false

    @OptionGroup var hdf5: DatasetOption

    func validate() throws {
        guard bins > 0 else { throw ValidationError("--bins must be positive") }
        if let p = polarization, !(-1 ... 1).contains(p) { throw ValidationError("--polarization must lie in -1…1") }
        if (radialMin == nil) != (radialMax == nil) { throw ValidationError("give both --radial-min and --radial-max") }
        if (azimuthMin == nil) != (azimuthMax == nil) {
            throw ValidationError("give both --azimuth-min and --azimuth-max")
        }
        if let k = spots, !(k > 0) { throw ValidationError("--spots must be positive") }
        guard grow >= 0 else { throw ValidationError("--grow must be 0 or more") }
    }

    /// The setup for frames of `sources[0]`'s shape (when the .poni file gives none).
    func setup(shapeFrom source: any ImageSource) throws -> IntegrationSetup {
        var geometry = try PoniFile.read(poni)
        if geometry.wavelength == nil, let wavelength { geometry.wavelength = wavelength * 1e-10 }
        if geometry.height == 0 || geometry.width == 0 {
            geometry.height = source.height
            geometry.width = source.width
        }
        var settings = IntegrationSettings()
        settings.unit = unit
        settings.bins = bins
        settings.method = split
        settings.polarizationFactor = polarization
        settings.polarizationAxisOffset = polarizationOffset * .pi / 180
        settings.solidAngle = !noSolidAngle
        settings.errorModel = errorModel
        if let lo = radialMin, let hi = radialMax { settings.radialRange = lo ... hi }
        if let lo = azimuthMin, let hi = azimuthMax { settings.azimuthRange = lo ... hi }
        var setup = IntegrationSetup(geometry: geometry, settings: settings)
        setup.maskPaths = mask
        setup.useValidityMask = !noValidityMask
        setup.darkPath = dark
        setup.flatPath = flat
        setup.spotSearch = spots.map { SpotSearch(threshold: $0, grow: grow) }
        return setup
    }
}

/// What is done to each frame with the engine: clipping, left-out values, normalisation and
/// the files written. `prepare` accepts these too (and ignores them), so that a Makefile can
/// hand both commands one list of options.
struct FrameOptions: ParsableArguments {
    @Option(help: "Sigma clipping: reject pixels beyond mean ± K·σ within each bin (diamond spots, zingers).")
    var sigmaClip: Double?

    @Option(help: "Maximum sigma-clipping iterations.")
    var sigmaClipIterations = 5

    @Option(help: "Also write a 2D cake with this many azimuthal bins.")
    var cake: Int?

    @Option(help: "Cake file format: edf, tiff.")
    var cakeFormat: IntegrationOutput.CakeFormat = .edf

    @Option(help: "Pattern file format: xy, chi, both.")
    var format: PatternFileFormat = .xy

    @Option(help: "Pixels with this value are left out (e.g. -1 or 4294967295).")
    var dummy: Float?

    @Option(help: "Tolerance around --dummy.")
    var deltaDummy: Float = 0

    @Flag(help: "Divide intensities by the exposure time in each image's header.")
    var normalizeExposure = false

    @Option(help: "Divide intensities by this monitor value.")
    var monitor: Double?

    func validate() throws {
        if let cake, cake <= 0 { throw ValidationError("--cake must be positive") }
        if let s = sigmaClip, !(s > 0) { throw ValidationError("--sigma-clip must be positive") }
        guard sigmaClipIterations >= 0 else { throw ValidationError("--sigma-clip-iterations must be 0 or more") }
    }
}

/// Prints to standard error.
func printError(_ line: String) {
    FileHandle.standardError.write(Data((line + "\n").utf8))
}
