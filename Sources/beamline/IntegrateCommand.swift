import ArgumentParser
import BeamlineSupport
import DetectorImage
import Foundation
import Integration

struct IntegrateCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "integrate",
        abstract: "Azimuthal integration: I(q), I(2θ) or I(r) with σ, or 2D cakes (FIT2D INTEGRATE).",
        discussion: """
            Every frame of every input is integrated with one engine built for the geometry, \
            mask and settings, and written to OUTPUT-DIR as <name>.xy (or <name>_NNNN.xy for \
            multi-frame files), with a header that records the source, frame, geometry, \
            corrections, method and program version. Results agree with pyFAI's integrate1d \
            (same settings, csr) to better than 10⁻⁵.
            """
    )

    @Argument(help: "Detector images (any format `beamline info` reads).")
    var images: [String]

    @Option(help: "Geometry, pyFAI .poni file.")
    var poni: String

    @Option(name: [.short, .customLong("output")], help: "Output directory (created if missing).")
    var output: String

    @Option(help: "Mask file (TIFF, EDF, FIT2D .msk; non-zero = masked). Repeat to combine masks.")
    var mask: [String] = []

    @Option(help: "Radial unit: q_A^-1, q_nm^-1, 2th_deg, 2th_rad, r_mm.")
    var unit = "q_A^-1"

    @Option(help: "Number of radial bins.")
    var bins = 2000

    @Option(help: "Pixel splitting: none, bbox, full.")
    var split = "bbox"

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
    var errorModel = "poisson"

    @Option(help: "Sigma clipping: reject pixels beyond mean ± K·σ within each bin (diamond spots, zingers).")
    var sigmaClip: Double?

    @Option(help: "Maximum sigma-clipping iterations.")
    var sigmaClipIterations = 5

    @Option(help: "Also write a 2D cake with this many azimuthal bins.")
    var cake: Int?

    @Option(help: "Cake file format: edf, tiff.")
    var cakeFormat = "edf"

    @Option(help: "Pattern file format: xy, chi, both.")
    var format = "xy"

    @Flag(help: """
        Integrate pixels the detector could not measure (by default left out: outside a MAR345 \
        plate's circle or zero on it, negative gap markers, the largest value of an unsigned type, \
        the header's dummy; see `beamline info`).
        """)
    var noValidityMask = false

    @Option(help: "Pixels with this value are left out (e.g. -1 or 4294967295).")
    var dummy: Float?

    @Option(help: "Tolerance around --dummy.")
    var deltaDummy: Float = 0

    @Flag(help: "Divide intensities by the exposure time in each image's header.")
    var normalizeExposure = false

    @Option(help: "Divide intensities by this monitor value.")
    var monitor: Double?

    @Option(help: "HDF5 dataset holding the frames (default /entry/data/data).")
    var dataset: String?

    @Option(help: "Wavelength in Å when the .poni file has none.")
    var wavelength: Double?

    @Option(help: "Integrate only this frame (0-based) of each multi-frame input.")
    var frame: Int?

    @Option(help: "Output name (without extension) for a single image and frame, instead of the image's.")
    var name: String?

    func validate() throws {
        guard RadialUnit(rawValue: unit) != nil else { throw ValidationError("unknown unit \(unit); use one of \(RadialUnit.allCases.map(\.rawValue).joined(separator: ", "))") }
        guard SplitMethod(rawValue: split) != nil else { throw ValidationError("unknown split method \(split); use none, bbox or full") }
        guard ErrorModel(rawValue: errorModel) != nil else { throw ValidationError("unknown error model \(errorModel)") }
        guard ["xy", "chi", "both"].contains(format) else { throw ValidationError("unknown format \(format); use xy, chi or both") }
        guard IntegrationOutput.CakeFormat(rawValue: cakeFormat) != nil else { throw ValidationError("unknown cake format \(cakeFormat)") }
        guard bins > 0 else { throw ValidationError("--bins must be positive") }
        if let cake, cake <= 0 { throw ValidationError("--cake must be positive") }
        if let p = polarization, !(-1 ... 1).contains(p) { throw ValidationError("--polarization must lie in -1…1") }
        if (radialMin == nil) != (radialMax == nil) { throw ValidationError("give both --radial-min and --radial-max") }
        if (azimuthMin == nil) != (azimuthMax == nil) { throw ValidationError("give both --azimuth-min and --azimuth-max") }
        if let s = sigmaClip, !(s > 0) { throw ValidationError("--sigma-clip must be positive") }
        if let frame, frame < 0 { throw ValidationError("--frame must be 0 or more") }
        if let name {
            guard images.count == 1 else { throw ValidationError("--name needs exactly one image") }
            guard !name.isEmpty, !name.contains("/") else { throw ValidationError("--name must be a file name without a directory") }
        }
    }

    func run() throws {
        var geometry = try PoniFile.read(poni)
        if geometry.wavelength == nil, let wavelength { geometry.wavelength = wavelength * 1e-10 }
        let sources = try images.map { try DetectorImageFile.open($0, dataset: dataset) }
        if geometry.height == 0 || geometry.width == 0 {
            geometry.height = sources[0].height
            geometry.width = sources[0].width
        }
        for source in sources where source.width != geometry.width || source.height != geometry.height {
            throw BeamlineError(path: source.path, "image is \(source.width)x\(source.height) but the geometry (\(poni)) is \(geometry.width)x\(geometry.height)")
        }
        var combined: Mask?
        for path in mask {
            let m = try Mask(contentsOf: path)
            try m.check(width: geometry.width, height: geometry.height, path: path)
            combined = try combined.map { try $0.union(m) } ?? m
        }
        var maskDescription = mask.isEmpty ? "none" : mask.joined(separator: "+") + "(\(combined?.maskedCount ?? 0)_pixels)"
        if !noValidityMask {
            let rules = sources[0].validity
            if let plate = rules.plateMask(width: geometry.width, height: geometry.height) {
                combined = try combined.map { try $0.union(plate) } ?? plate
            }
            maskDescription += " + detector validity (\(rules.rulesDescription))"
        }
        let darkFrame = try dark.map { try DetectorImageFile.readFrame($0) }
        let flatFrame = try flat.map { try DetectorImageFile.readFrame($0) }
        for (path, frame) in [(dark, darkFrame), (flat, flatFrame)] {
            if let path, let frame, frame.width != geometry.width || frame.height != geometry.height {
                throw BeamlineError(path: path, "image is \(frame.width)x\(frame.height) but the detector is \(geometry.width)x\(geometry.height)")
            }
        }

        var settings = IntegrationSettings()
        settings.unit = RadialUnit(rawValue: unit)!
        settings.bins = bins
        settings.method = SplitMethod(rawValue: split)!
        settings.polarizationFactor = polarization
        settings.polarizationAxisOffset = polarizationOffset * .pi / 180
        settings.solidAngle = !noSolidAngle
        settings.errorModel = ErrorModel(rawValue: errorModel)!
        if let lo = radialMin, let hi = radialMax { settings.radialRange = lo ... hi }
        if let lo = azimuthMin, let hi = azimuthMax { settings.azimuthRange = lo ... hi }
        let engine = try IntegrationEngine(geometry: geometry, settings: settings, mask: combined,
                                           dark: darkFrame?.pixels, flat: flatFrame?.pixels)
        var cakeEngine: IntegrationEngine?
        if let cake {
            var cakeSettings = settings
            cakeSettings.azimuthBins = cake
            cakeEngine = try IntegrationEngine(geometry: geometry, settings: cakeSettings, mask: combined,
                                               dark: darkFrame?.pixels, flat: flatFrame?.pixels)
        }
        try FileManager.default.createDirectory(atPath: output, withIntermediateDirectories: true)
        let clip = sigmaClip.map { SigmaClip(threshold: $0, maxIterations: sigmaClipIterations) }
        var written = Set<String>()
        for source in sources {
            let stem = URL(fileURLWithPath: source.path).deletingPathExtension().lastPathComponent
            if let frame, frame >= source.frameCount {
                throw BeamlineError(path: source.path, "has \(source.frameCount) frame(s); --frame \(frame) does not exist")
            }
            if name != nil, frame == nil, source.frameCount > 1 {
                throw BeamlineError(path: source.path, "has \(source.frameCount) frames: --name needs --frame")
            }
            for index in frame.map({ [$0] }) ?? Array(0 ..< source.frameCount) {
                var frame = try source.frame(at: index)
                if !noValidityMask { source.validity.invalidate(&frame.pixels) }
                var factor = monitor ?? 1
                if normalizeExposure {
                    guard let t = frame.metadata.exposureTime, t > 0 else {
                        throw BeamlineError(path: source.path, "--normalize-exposure: the header gives no exposure time")
                    }
                    factor *= t
                }
                let name = self.name ?? (source.frameCount == 1 ? stem : String(format: "%@_%04d", stem, index))
                guard written.insert(name).inserted else {
                    throw BeamlineError(path: source.path, "two inputs would both write \(name).xy; rename one")
                }
                let provenance = IntegrationProvenance(
                    program: "beamline \(Beamline.version)", source: frame.id, frameCount: source.frameCount,
                    poniPath: poni, maskDescription: maskDescription, darkPath: dark, flatPath: flat,
                    normalization: factor, dummy: dummy, sigmaClip: clip)
                let result = try engine.integrate(frame.pixels, normalization: factor, dummy: dummy, deltaDummy: deltaDummy, sigmaClip: clip)
                let header = provenance.headerLines(engine: engine)
                let base = (output as NSString).appendingPathComponent(name)
                if format != "chi" { try IntegrationOutput.writeXY(result, header: header, to: base + ".xy") }
                if format != "xy" { try IntegrationOutput.writeCHI(result, header: header, to: base + ".chi") }
                if let cakeEngine {
                    let cakeResult = try cakeEngine.integrate(frame.pixels, normalization: factor, dummy: dummy, deltaDummy: deltaDummy)
                    let kind = IntegrationOutput.CakeFormat(rawValue: cakeFormat)!
                    try IntegrationOutput.writeCake(cakeResult, header: provenance.headerLines(engine: cakeEngine),
                                                    to: base + ".cake." + (kind == .edf ? "edf" : "tif"), format: kind)
                }
            }
        }
    }
}
