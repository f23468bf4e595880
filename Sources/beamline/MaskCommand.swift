import ArgumentParser
import BeamlineSupport
import Calibration
import DetectorImage
import Foundation
import Integration

struct MaskCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "mask",
        abstract: "Build a mask: thresholds, dead pixels, gaps, shapes, and diamond spots found automatically.",
        discussion: """
            Every part given is combined (union). Shapes are in pixel coordinates (x = column, \
            y = row, the first pixel's corner at 0,0). --spots K masks pixels more than K·σ \
            above the median of their ring (σ from the median absolute deviation, at least √median), \
            grown by --grow pixels; it needs --poni to know each pixel's radius. The output \
            (TIFF, EDF or FIT2D .msk by extension; non-zero = masked) is read by pyFAI and Dioptas.
            """
    )

    @Argument(help: "The image the mask is for (its shape; its pixels for thresholds and spots).")
    var image: String

    @Option(name: [.short, .customLong("output")], help: "Output mask file (.tif, .edf or .msk).")
    var output: String

    @Option(help: "Frame of a multi-frame image.")
    var frame = 0

    @Option(help: "Mask pixels below this value.")
    var low: Float?

    @Option(help: "Mask pixels above this value.")
    var high: Float?

    @Option(help: "Mask pixels equal to this value (dead pixels, gap marker). Repeatable.")
    var dead: [Float] = []

    @Option(help: "Mask rows a:b (inclusive, 0-based). Repeatable.")
    var rows: [String] = []

    @Option(help: "Mask columns a:b (inclusive, 0-based). Repeatable.")
    var columns: [String] = []

    @Option(help: "Circle x,y,r in pixels. Repeatable.")
    var circle: [String] = []

    @Option(help: "Rectangle x0,y0,x1,y1 in pixels. Repeatable.")
    var rectangle: [String] = []

    @Option(help: "Polygon x1,y1,x2,y2,... in pixels. Repeatable.")
    var polygon: [String] = []

    @Option(help: "Combine with an existing mask file. Repeatable.")
    var mask: [String] = []

    @Option(help: "Mask diamond spots and zingers: threshold K (in σ above the ring median).")
    var spots: Double?

    @Option(help: "Grow automatic spots by this many pixels.")
    var grow = 2

    @Option(help: "Geometry (.poni) for --spots.")
    var poni: String?

    @OptionGroup var hdf5: DatasetOption

    @Flag(help: """
        Leave out the detector's invalid pixels (by default included: outside a MAR345 plate's \
        circle or zero on it, negative gap markers, the largest value of an unsigned type, the \
        header's dummy, NaN; see `beamline info`).
        """)
    var noValidityMask = false

    func numbers(_ text: String, count: Int?, _ what: String) throws -> [Double] {
        let values = text.split(separator: ",").map { Double($0.trimmingCharacters(in: .whitespaces)) }
        guard values.allSatisfy({ $0 != nil }), count.map({ values.count == $0 }) ?? (values.count >= 6 && values.count % 2 == 0) else {
            throw ValidationError("bad \(what) \"\(text)\"")
        }
        return values.map { $0! }
    }

    func range(_ text: String) throws -> ClosedRange<Int> {
        let parts = text.split(separator: ":").compactMap { Int($0) }
        guard parts.count == 2, parts[0] <= parts[1] else { throw ValidationError("bad range \"\(text)\" (use a:b)") }
        return parts[0] ... parts[1]
    }

    func run() throws {
        let source = try DetectorImageFile.open(self.image, dataset: hdf5.dataset)
        let image = try source.frame(at: frame)
        let w = image.width, h = image.height
        var result = Mask(width: w, height: h)
        func add(_ m: Mask) throws { result = try result.union(m) }
        var invalid: ValidityAssessment?
        if !noValidityMask {
            invalid = source.validity.assess(image)
            try add(invalid!.mask)
        }
        if low != nil || high != nil { try add(MaskBuilder.threshold(image, low: low, high: high)) }
        for value in dead { try add(MaskBuilder.equal(image, to: value)) }
        if !rows.isEmpty || !columns.isEmpty {
            try add(MaskBuilder.lines(width: w, height: h, rows: try rows.map(range), columns: try columns.map(range)))
        }
        for c in circle {
            let v = try numbers(c, count: 3, "circle")
            try add(MaskBuilder.circle(width: w, height: h, cx: v[0], cy: v[1], radius: v[2]))
        }
        for r in rectangle {
            let v = try numbers(r, count: 4, "rectangle")
            try add(MaskBuilder.rectangle(width: w, height: h, x0: v[0], y0: v[1], x1: v[2], y1: v[3]))
        }
        for p in polygon {
            let v = try numbers(p, count: nil, "polygon")
            try add(MaskBuilder.polygon(width: w, height: h, vertices: stride(from: 0, to: v.count, by: 2).map { (v[$0], v[$0 + 1]) }))
        }
        for path in mask {
            let m = try Mask(contentsOf: path)
            try m.check(width: w, height: h, path: path)
            try add(m)
        }
        if let k = spots {
            guard let poni else { throw ValidationError("--spots needs --poni (each pixel's radius)") }
            var geometry = try PoniFile.read(poni)
            if geometry.height == 0 { geometry.height = h; geometry.width = w }
            guard geometry.height == h, geometry.width == w else {
                throw BeamlineError(path: poni, "geometry is \(geometry.width)x\(geometry.height), the image \(w)x\(h)")
            }
            let maps = try GeometryMaps(geometry: geometry, unit: .twoThetaDegrees, chi: false, solidAngle: false,
                                        polarizationFactor: nil, corners: false)
            try add(MaskBuilder.spots(image, radial: maps.radial, k: k, grow: grow, exclude: result))
        }
        try result.write(to: output)
        print(String(format: "%@: %d of %d pixels masked (%.2f %%)", output, result.maskedCount, w * h, 100 * Double(result.maskedCount) / Double(w * h))
              + (invalid.map { "; detector: \($0.summary)" } ?? ""))
    }
}
