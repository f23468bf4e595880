import BeamlineSupport
import DetectorImage
import Foundation
import Integration
import PatternIO

/// A run's reduced data in one NeXus/HDF5 file, beside the text files (which stay the default):
/// patterns, S(Q), F(Q), G(r), the peak table and the series, with the geometry and the provenance.
///
/// Layout (NeXus: NXroot → NXentry; the integrated stack follows NXazint1d, each curve is an NXdata
/// with @signal, @axes and `<signal>_errors`, as pyFAI's own HDF5 output does):
///
///     /entry                      NXentry, definition = NXazint1d, @default = data
///       instrument/               NXinstrument: monochromator/wavelength (Å), energy (keV);
///                                 detector/ distance, pixel sizes (m), poni1, poni2 (m), rot1–3 (rad),
///                                 beam centre (px), the .poni text; source/ (synchrotron, x-ray)
///       reduction/                NXprocess: program, version, date; input/ (NXparameters):
///                                 the input files and their SHA-256, the run's settings
///       data/                     NXdata: I [image, radial], I_errors, q or two_theta, name,
///                                 pressure, temperature (the patterns that share the first one's grid)
///       integrated/NAME           NXdata per pattern: I, I_errors, q or two_theta
///       sq/NAME, fq/NAME, gr/NAME NXdata: S(Q), F(Q) = Q[S(Q) − 1], G(r)
///       peaks/                    NXdata: every column of peaks.tsv (signal Q1 against pressure)
///       series/                   NXcollection: series.json as text, ΔQ1 bands as NXdata
public struct NeXusResults {
    /// One curve of a pattern file: y against x, with σ when the file gives it.
    public struct Curve {
        public var name: String
        public var pattern: Pattern
        public var pressure: Double?
        public var temperature: Double?

        public init(name: String, pattern: Pattern, pressure: Double? = nil, temperature: Double? = nil) {
            self.name = name
            self.pattern = pattern
            self.pressure = pressure
            self.temperature = temperature
        }
    }

    public var title: String
    public var program: String
    public var version: String
    public var geometry: DetectorGeometry?
    public var geometryText: String?
    public var integrated: [Curve] = []
    public var structureFactors: [Curve] = []
    public var reducedStructureFactors: [Curve] = []
    public var pairDistributions: [Curve] = []
    /// A tab-separated table with a header row (peaks.tsv): its columns.
    public var peakTable: String?
    public var seriesJSON: String?
    public var series: SeriesReport?
    /// Every file read, with its SHA-256.
    public var inputs: [(path: String, sha256: String)] = []
    /// The settings the run was reduced with (name = value).
    public var parameters: [(String, String)] = []

    public init(title: String, program: String, version: String) {
        self.title = title
        self.program = program
        self.version = version
    }

    /// The radial axis of a pattern file's unit: NeXus name and units.
    static func axis(_ unit: String?) -> (name: String, units: String) {
        switch unit ?? "" {
        case "2th_deg": ("two_theta", "degree")
        case "2th_rad": ("two_theta", "rad")
        case "q_nm^-1": ("q", "1/nm")
        case "r_mm": ("radius", "mm")
        case "r_A", "r": ("r", "angstrom")
        default: ("q", "1/angstrom")
        }
    }

    /// Writes the file under a temporary name and renames it into place.
    public func write(to path: String) throws {
        try AtomicFile.write(to: path) { temporary in
            let file = try HDF5FileWriter(creating: temporary, displayPath: path)
            try fill(file, path: path)
            try file.close()
        }
    }

    func fill(_ file: HDF5FileWriter, path: String) throws {
        let now = ISO8601DateFormatter().string(from: Date())
        try file.attribute("/", "NX_class", "NXroot")
        try file.attribute("/", "default", "entry")
        try file.attribute("/", "creator", "\(program) \(version)")
        try file.attribute("/", "file_name", (path as NSString).lastPathComponent)
        try file.attribute("/", "file_time", now)
        let entry = "/entry"
        try file.group(entry, nxClass: "NXentry")
        try file.string(entry + "/title", title)
        try file.string(entry + "/program_name", program)
        try file.attribute(entry + "/program_name", "version", version)
        if !integrated.isEmpty { try file.string(entry + "/definition", "NXazint1d") }
        try instrument(file, at: entry + "/instrument")
        try reduction(file, at: entry + "/reduction", date: now)
        var defaultGroup: String?
        if try stack(file, at: entry + "/data") { defaultGroup = "data" }
        for (folder, curves, signal, label) in [
            ("integrated", integrated, "I", "intensity"),
            ("sq", structureFactors, "S", "S(Q)"),
            ("fq", reducedStructureFactors, "F", "F(Q) = Q[S(Q) - 1]"),
            ("gr", pairDistributions, "G", "G(r)"),
        ] where !curves.isEmpty {
            try file.group("\(entry)/\(folder)", nxClass: "NXcollection")
            for curve in curves {
                // G(r) files name their axis "r(A)", which is no radial unit of a pattern.
                let axis = folder == "gr" ? ("r", "angstrom") : Self.axis(curve.pattern.unit)
                try nxdata(
                    file, at: "\(entry)/\(folder)/\(curve.name)", curve: curve, signal: signal, label: label,
                    axis: axis)
            }
            defaultGroup = defaultGroup ?? folder
        }
        if let peakTable { try peaks(file, at: entry + "/peaks", table: peakTable) }
        if seriesJSON != nil || series != nil { try seriesGroup(file, at: entry + "/series") }
        if let defaultGroup {
            try file.attribute(entry, "default", defaultGroup)
            if defaultGroup != "data" {
                // The NXcollection's first curve is what a viewer shows.
                let first = [integrated, structureFactors, reducedStructureFactors, pairDistributions].first {
                    !$0.isEmpty
                }!
                try file.attribute("\(entry)/\(defaultGroup)", "default", first[0].name)
            }
        }
    }

    func instrument(_ file: HDF5FileWriter, at path: String) throws {
        try file.group(path, nxClass: "NXinstrument")
        try file.group(path + "/source", nxClass: "NXsource")
        try file.string(path + "/source/type", "Synchrotron X-ray Source")
        try file.string(path + "/source/probe", "x-ray")
        guard let g = geometry else { return }
        if let lambda = g.wavelengthAngstrom {
            try file.group(path + "/monochromator", nxClass: "NXmonochromator")
            try file.double(path + "/monochromator/wavelength", lambda)
            try file.attribute(path + "/monochromator/wavelength", "units", "angstrom")
            // E = hc/λ, hc = 12.398419843320026 keV·Å (CODATA 2018).
            try file.double(path + "/monochromator/energy", 12.398419843320026 / lambda)
            try file.attribute(path + "/monochromator/energy", "units", "keV")
        }
        let detector = path + "/detector"
        try file.group(detector, nxClass: "NXdetector")
        for (name, value, units) in [
            ("distance", g.distance, "m"), ("x_pixel_size", g.pixel2, "m"), ("y_pixel_size", g.pixel1, "m"),
            ("poni1", g.poni1, "m"), ("poni2", g.poni2, "m"), ("rot1", g.rot1, "rad"),
            ("rot2", g.rot2, "rad"), ("rot3", g.rot3, "rad"),
            ("beam_center_x", g.fit2d.centerX, "pixel"), ("beam_center_y", g.fit2d.centerY, "pixel"),
        ] {
            try file.double("\(detector)/\(name)", value)
            try file.attribute("\(detector)/\(name)", "units", units)
        }
        try file.doubles(detector + "/shape", [Double(g.height), Double(g.width)])
        if let geometryText { try file.string(detector + "/geometry_poni", geometryText) }
    }

    func reduction(_ file: HDF5FileWriter, at path: String, date: String) throws {
        try file.group(path, nxClass: "NXprocess")
        try file.string(path + "/program", program)
        try file.string(path + "/version", version)
        try file.string(path + "/date", date)
        try file.group(path + "/input", nxClass: "NXparameters")
        if !inputs.isEmpty {
            try file.strings(path + "/input/files", inputs.map(\.path))
            try file.strings(path + "/input/sha256", inputs.map(\.sha256))
        }
        for (name, value) in parameters {
            let key = String(name.map { $0.isLetter || $0.isNumber || $0 == "_" ? $0 : "_" })
            try file.string("\(path)/input/\(key)", value)
        }
    }

    /// The patterns on the first one's radial grid as one image × radial array (NXazint1d's data);
    /// false when there is none. A bin a pattern omits (no unmasked pixel) is NaN.
    func stack(_ file: HDF5FileWriter, at path: String) throws -> Bool {
        guard let first = integrated.first else { return false }
        let grid = first.pattern.x
        // Patterns of one engine share bin centres, with bins left out where nothing was measured.
        let members = integrated.filter { curve in
            curve.pattern.unit == first.pattern.unit
                && curve.pattern.x.allSatisfy { x in Self.index(of: x, in: grid) != nil }
        }
        let n = grid.count
        var intensity = [Double](repeating: .nan, count: members.count * n)
        var sigma = intensity
        for (k, curve) in members.enumerated() {
            for (i, x) in curve.pattern.x.enumerated() {
                let j = Self.index(of: x, in: grid)!
                intensity[k * n + j] = curve.pattern.intensity[i]
                sigma[k * n + j] = curve.pattern.sigma[i]
            }
        }
        let (axisName, units) = Self.axis(first.pattern.unit)
        try file.group(path, nxClass: "NXdata")
        try file.attribute(path, "signal", "I")
        try file.attribute(path, "axes", [".", axisName], list: true)
        try file.attribute(path, "interpretation", "spectrum")
        try file.doubles(path + "/I", intensity, shape: [members.count, n])
        try file.doubles(path + "/I_errors", sigma, shape: [members.count, n])
        try file.doubles("\(path)/\(axisName)", grid)
        try file.attribute("\(path)/\(axisName)", "units", units)
        try file.strings(path + "/name", members.map(\.name))
        try file.doubles(path + "/pressure", members.map { $0.pressure ?? .nan })
        try file.attribute(path + "/pressure", "units", "GPa")
        try file.doubles(path + "/temperature", members.map { $0.temperature ?? .nan })
        try file.attribute(path + "/temperature", "units", "K")
        return true
    }

    /// The position of `x` in the sorted `grid`, allowing for the text files' nine significant digits.
    static func index(of x: Double, in grid: [Double]) -> Int? {
        var lo = 0, hi = grid.count
        while lo < hi {
            let mid = (lo + hi) / 2
            if grid[mid] < x { lo = mid + 1 } else { hi = mid }
        }
        for j in [lo - 1, lo] where j >= 0 && j < grid.count && abs(grid[j] - x) <= 1e-9 * max(1, abs(x)) { return j }
        return nil
    }

    func nxdata(
        _ file: HDF5FileWriter, at path: String, curve: Curve, signal: String, label: String,
        axis: (name: String, units: String)
    ) throws {
        let (axisName, units) = axis
        try file.group(path, nxClass: "NXdata")
        try file.attribute(path, "signal", signal)
        try file.attribute(path, "axes", axisName)
        try file.doubles("\(path)/\(signal)", curve.pattern.intensity)
        try file.attribute("\(path)/\(signal)", "long_name", label)
        if curve.pattern.sigma.contains(where: \.isFinite) {
            try file.doubles("\(path)/\(signal)_errors", curve.pattern.sigma)
        }
        try file.doubles("\(path)/\(axisName)", curve.pattern.x)
        try file.attribute("\(path)/\(axisName)", "units", units)
        if let p = curve.pressure { try file.attribute(path, "pressure_GPa", p) }
        if let t = curve.temperature { try file.attribute(path, "temperature_K", t) }
        if !curve.pattern.header.isEmpty { try file.strings(path + "/header", curve.pattern.header) }
    }

    /// Every column of the peak table as a dataset; Q1 with its σ against pressure is what a viewer shows.
    func peaks(_ file: HDF5FileWriter, at path: String, table: String) throws {
        let lines = table.split(whereSeparator: \.isNewline).filter { !$0.hasPrefix("#") }
        guard let headerLine = lines.first else { return }
        let columns = headerLine.split(separator: "\t", omittingEmptySubsequences: false).map(String.init)
        let rows = lines.dropFirst().map {
            $0.split(separator: "\t", omittingEmptySubsequences: false).map(String.init)
        }
        try file.group(path, nxClass: "NXdata")
        for (c, column) in columns.enumerated() {
            let cells = rows.map { c < $0.count ? $0[c] : "" }
            let key = String(column.map { $0.isLetter || $0.isNumber || $0 == "_" ? $0 : "_" })
            if column == "name" {
                try file.strings("\(path)/\(key)", cells)
            } else {
                try file.doubles("\(path)/\(key)", cells.map { Double($0) ?? .nan })
            }
        }
        if columns.contains("Q1"), columns.contains("pressure_GPa") {
            try file.attribute(path, "signal", "Q1")
            try file.attribute(path, "axes", "pressure_GPa")
            if columns.contains("Q1_sigma") {
                // NeXus finds a signal's uncertainties by the name <signal>_errors.
                let c = columns.firstIndex(of: "Q1_sigma")!
                try file.doubles(path + "/Q1_errors", rows.map { c < $0.count ? Double($0[c]) ?? .nan : .nan })
            }
        }
    }

    func seriesGroup(_ file: HDF5FileWriter, at path: String) throws {
        try file.group(path, nxClass: "NXcollection")
        if let seriesJSON { try file.string(path + "/series_json", seriesJSON) }
        for band in series?.thermal_expansion_bands ?? [] {
            let group = String(format: "%@/dQ1_%.0fK_%.0fK", path, band.high_K, band.low_K)
            try file.group(group, nxClass: "NXdata")
            try file.attribute(group, "signal", "dQ1")
            try file.attribute(group, "axes", "pressure")
            try file.doubles(group + "/dQ1", band.dQ1)
            try file.attribute(group + "/dQ1", "units", "1/angstrom")
            try file.doubles(group + "/dQ1_errors", band.dQ1_sigma)
            try file.doubles(group + "/pressure", band.pressure_GPa)
            try file.attribute(group + "/pressure", "units", "GPa")
        }
    }
}
