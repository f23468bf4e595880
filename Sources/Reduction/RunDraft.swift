import BeamlineSupport
import DetectorImage
import Foundation

/// A draft run configuration (`RunConfiguration`'s format) made from a data directory: what
/// `beamline init` writes. Images are grouped into detector setups by the experimenter's log
/// (its mode column) or, without one, by detector shape, pixel size and wavelength; each setup gets
/// its calibrant and empty cell; samples get temperatures, pressures and times from the log, their
/// names or their ruby spectra. Every guess is marked `# check`, and every image that is not
/// drafted (darks, flats, test patterns, masks, images of a detector without a calibrant) is
/// listed with the reason.
public struct RunDraft: Sendable {
    /// One row of the experimenter's log (CSV or TSV with a header row; columns found by name).
    public struct LogRow: Sendable, Equatable {
        public var file: String
        public var kind: String?
        public var ruby: String?
        public var temperature: Double?
        public var pressure: Double?
        public var mode: String?
        public var exposure: Double?
        public var time: Double?
    }

    /// What one image is in the run.
    enum Role: Equatable {
        case calibrant(String?), emptyCell, sample, mask
        case skipped(String)
    }

    struct Image {
        var path: String
        var frames: Int
        var width: Int, height: Int
        var pixel: Double?
        var wavelength: Double?
        var log: LogRow?
        var role: Role
        /// Setup key: the log's mode, or the detector's shape, pixel and wavelength.
        var setup: String
    }

    public var text: String
    public var samples: Int
    public var setups: [String]
    public var skipped: Int

    static let calibrantNames = ["CeO2", "LaB6", "Si", "Al2O3", "AgBh"]
    static let rubySuffixes = ["", "_ruby", "-ruby", ".ruby", "_Ruby", "-Ruby", "_R1"]

    /// Reads a log: the first row names the columns; rows are split at commas (or tabs when the
    /// header has tabs), with "quoted" fields. A log without a file column is an error naming it.
    public static func readLog(_ path: String) throws -> [LogRow] {
        let text = String(decoding: try InputFile.contents(of: path), as: UTF8.self)
        let lines = text.split(whereSeparator: \.isNewline).map(String.init).filter {
            !$0.trimmingCharacters(in: .whitespaces).isEmpty && !$0.hasPrefix("#")
        }
        guard let header = lines.first else { throw BeamlineError(path: path, "the log is empty") }
        let separator: Character = header.contains("\t") ? "\t" : header.contains(";") && !header.contains(",") ? ";" : ","
        func fields(_ line: String) -> [String] {
            var result: [String] = [], current = "", quoted = false
            for character in line {
                if character == "\"" { quoted.toggle() } else if character == separator && !quoted {
                    result.append(current.trimmingCharacters(in: .whitespaces))
                    current = ""
                } else { current.append(character) }
            }
            result.append(current.trimmingCharacters(in: .whitespaces))
            return result
        }
        let names = fields(header).map { $0.lowercased() }
        func column(_ candidates: [String]) -> Int? {
            for candidate in candidates { if let i = names.firstIndex(where: { $0 == candidate }) { return i } }
            for candidate in candidates { if let i = names.firstIndex(where: { $0.hasPrefix(candidate) }) { return i } }
            return nil
        }
        guard let file = column(["file", "image", "filename", "image_file", "path"]) else {
            throw BeamlineError(path: path, "no column names the image (file, image, filename): columns are \(names.joined(separator: ", "))")
        }
        let kind = column(["kind", "type", "role", "what"]), ruby = column(["ruby", "ruby_file", "spectrum", "ruby_spectrum"])
        let temperature = column(["temperature", "temp", "t_k", "t (k)", "t"]), pressure = column(["pressure", "p_gpa", "p (gpa)", "p"])
        let mode = column(["mode", "setup", "scan_mode", "detector"]), exposure = column(["exposure", "exposure_s", "exp"])
        let time = column(["time", "time_min", "minutes", "elapsed"])
        func number(_ text: String?) -> Double? {
            guard let text else { return nil }
            let digits = text.prefix { "0123456789.-+eE".contains($0) }
            return Double(digits)
        }
        return lines.dropFirst().map(fields).filter { $0.count > file && !$0[file].isEmpty }.map { row in
            func at(_ i: Int?) -> String? { i.flatMap { $0 < row.count && !row[$0].isEmpty ? row[$0] : nil } }
            return LogRow(file: row[file], kind: at(kind), ruby: at(ruby), temperature: number(at(temperature)),
                          pressure: number(at(pressure)), mode: at(mode), exposure: number(at(exposure)), time: number(at(time)))
        }
    }

    /// Drafts the configuration for the images under `dataDirectory`; paths relative to the
    /// directory of `output`.
    public init(dataDirectory: String, output: String, composition: String?) throws {
        let fm = FileManager.default
        let root = URL(fileURLWithPath: dataDirectory).standardizedFileURL
        var isDirectory: ObjCBool = false
        guard fm.fileExists(atPath: root.path, isDirectory: &isDirectory), isDirectory.boolValue,
              let walker = fm.enumerator(at: root, includingPropertiesForKeys: [.isRegularFileKey]) else {
            throw BeamlineError(path: dataDirectory, "is not a directory that can be read")
        }
        var imagePaths: [String] = [], spectra: [String: String] = [:], logs: [String] = []
        for case let url as URL in walker where (try? url.resourceValues(forKeys: [.isRegularFileKey]).isRegularFile) == true {
            let path = url.standardizedFileURL.path
            let ext = url.pathExtension.lowercased()
            if ["txt", "dat", "asc"].contains(ext) {
                spectra[url.deletingPathExtension().lastPathComponent] = path
            } else if ["csv", "tsv"].contains(ext) || (ext == "log" && url.lastPathComponent.lowercased().contains("run")) {
                logs.append(path)
            } else if let format = try? ImageFormat.detect(path: path), format != .fit2dMask {
                imagePaths.append(path)
            }
        }
        guard !imagePaths.isEmpty else { throw BeamlineError(path: dataDirectory, "holds no detector images") }
        imagePaths.sort()
        // The log: every readable CSV/TSV with a file column, rows keyed by file name.
        var logRows: [String: LogRow] = [:], logNotes: [String] = [], logsRead: [String] = []
        for log in logs.sorted() {
            do {
                for row in try Self.readLog(log) {
                    logRows[URL(fileURLWithPath: row.file).lastPathComponent] = row
                }
                logNotes.append(log)
                logsRead.append(log)
            } catch {
                logNotes.append("\(log) not read: \(error)")
            }
        }
        let base = URL(fileURLWithPath: output).standardizedFileURL.deletingLastPathComponent().path
        func relative(_ path: String) -> String { path.hasPrefix(base + "/") ? String(path.dropFirst(base.count + 1)) : path }
        func stem(_ path: String) -> String { URL(fileURLWithPath: path).deletingPathExtension().lastPathComponent }

        var images: [Image] = []
        var skippedLines: [String] = []
        for path in imagePaths {
            let log = logRows[URL(fileURLWithPath: path).lastPathComponent]
            guard let source = try? DetectorImageFile.open(path) else {
                skippedLines.append("# skipped: \(relative(path)) (not readable as a detector image)")
                continue
            }
            let meta = source.metadata
            let role = Self.role(of: stem(path), kind: log?.kind)
            var key = log?.mode ?? ""
            if key.isEmpty {
                key = "\(source.width)x\(source.height)"
                if let pixel = meta.pixelSizeX { key += String(format: "_%.0fum", pixel * 1e6) }
                if let wavelength = meta.wavelength { key += String(format: "_%.4fA", wavelength) }
            }
            images.append(Image(path: path, frames: source.frameCount, width: source.width, height: source.height,
                                pixel: meta.pixelSizeX, wavelength: meta.wavelength, log: log, role: role, setup: key))
        }
        // Setups in order of first appearance; names from the key.
        var order: [String] = []
        for image in images where !order.contains(image.setup) { order.append(image.setup) }
        // Setup names: the log's mode, or the detector's shape when that tells the setups apart.
        let shapes = order.map { key in images.first { $0.setup == key }.map { "\($0.width)x\($0.height)" } ?? key }
        func setupName(_ key: String) -> String {
            let index = order.firstIndex(of: key)!
            let short = images.first { $0.setup == key }?.log?.mode == nil && shapes.filter { $0 == shapes[index] }.count == 1
            return String((short ? shapes[index] : key).map { $0.isLetter || $0.isNumber || $0 == "_" || $0 == "-" ? $0 : "_" })
        }
        let logDirectory = logsRead.first.map { URL(fileURLWithPath: $0).deletingLastPathComponent().path }
        var blocks: [(name: String, lines: [String], samples: [String])] = []
        var sampleCount = 0
        for key in order {
            let members = images.filter { $0.setup == key }
            let calibrants = members.filter { if case .calibrant = $0.role { return true } else { return false } }
            let empties = members.filter { $0.role == .emptyCell }
            let sampleImages = members.filter { $0.role == .sample }
            for image in members {
                if case let .skipped(reason) = image.role { skippedLines.append("# skipped: \(relative(image.path)) (\(reason))") }
                if image.role == .mask { skippedLines.append("# a mask, not drafted: \(relative(image.path)) (beamstop_mask = ?)") }
            }
            guard !sampleImages.isEmpty || calibrants.isEmpty == false else { continue }
            var lines: [String] = []
            let shape = "\(members[0].width)×\(members[0].height)"
                + (members[0].pixel.map { String(format: ", %.0f µm pixels", $0 * 1e6) } ?? "")
                + (members[0].wavelength.map { String(format: ", %.4f Å", $0) } ?? "")
            lines.append("# \(members.count) images, \(shape)" + (members[0].log?.mode != nil ? " (log: mode \(key))" : ""))
            if let calibrant = calibrants.first, case let .calibrant(name) = calibrant.role {
                lines.append("calibrant_image = \(relative(calibrant.path))")
                lines.append("calibrant = " + (name ?? "CeO2   # check: the calibrant is not named in the file or log"))
                for other in calibrants.dropFirst() { lines.append("# check: another calibrant image, \(relative(other.path))") }
            } else {
                lines.append("calibrant_image = CALIBRANT_IMAGE   # check: no calibrant image found for this detector")
                lines.append("calibrant = CeO2   # check")
            }
            if let empty = empties.first {
                lines.append("empty_cell = \(relative(empty.path))")
                for other in empties.dropFirst() { lines.append("# check: another empty cell, \(relative(other.path))") }
            } else {
                lines.append("# empty_cell = IMAGE   # none found: S(Q) from the sample alone")
            }
            if members[0].wavelength == nil { lines.append("# wavelength = ?   # check: the images do not state it; calibrate needs it") }
            var samples: [String] = []
            for image in sampleImages {
                let name = stem(image.path).filter { $0.isLetter || $0.isNumber || "_-.+".contains($0) }
                for frame in 0 ..< image.frames {
                    let sample = image.frames > 1 ? String(format: "%@_%04d", name, frame) : name
                    samples.append(Self.sampleLine(sample, stem: name, image: image, frame: frame, spectra: spectra,
                                                   logDirectory: logDirectory,
                                                   relative: relative))
                    sampleCount += 1
                }
            }
            blocks.append((setupName(key), lines, samples))
        }
        guard sampleCount > 0 else { throw BeamlineError(path: dataDirectory, "holds no sample images (only calibrants, empty cells or skipped files)") }

        var text = ["# Drafted by `beamline init \(dataDirectory)`: check every line marked '# check', then `beamline plan`."]
        for note in logNotes { text.append("# log: \(note)") }
        text += ["", "[run]", "composition = \(composition ?? "Ce65Co25Al10   # check")"]
        let withEmptyCell = blocks.contains { $0.lines.contains { $0.hasPrefix("empty_cell =") } }
        if withEmptyCell { text.append("bg_scale = refine   # refined with the density from each pattern; or give the scale") }
        let drafted = blocks.filter { !$0.samples.isEmpty }
        if drafted.count == 1 {
            // One setup: the plain layout, its keys in [run].
            let block = drafted[0]
            text.insert(contentsOf: block.lines, at: text.count)
            text += ["", "[samples]", "# name  image  frame  T (K)  pressure  [time (min)]"] + block.samples
        } else {
            for block in drafted { text += ["", "[setup \(block.name)]"] + block.lines }
            for block in drafted {
                text += ["", "[samples \(block.name)]", "# name  image  frame  T (K)  pressure  [time (min)]"] + block.samples
            }
        }
        for block in blocks where block.samples.isEmpty {
            text.append("# a calibrant without samples (setup \(block.name)) is not drafted: \(block.lines.first ?? "")")
        }
        if !skippedLines.isEmpty { text += [""] + skippedLines }
        self.text = text.joined(separator: "\n") + "\n"
        samples = sampleCount
        setups = drafted.map(\.name)
        skipped = skippedLines.count
    }

    /// An image's role: the log's kind when it gives one, else its name.
    static func role(of stem: String, kind: String?) -> Role {
        let name = stem.lowercased()
        let calibrant = calibrantNames.first { name.contains($0.lowercased()) && ($0 != "Si" || name.hasPrefix("si")) }
        if let kind = kind?.lowercased() {
            let named = calibrantNames.first { kind.contains($0.lowercased()) } ?? calibrant
            if kind.contains("calib") || named != nil && !kind.contains("sample") { return .calibrant(named) }
            if ["empty", "background", "bkg", "cell"].contains(where: kind.contains) { return .emptyCell }
            if kind.contains("sample") || kind == "data" || kind == "glass" { return .sample }
            if kind.contains("mask") { return .mask }
            return .skipped("the log's kind is \"\(kind)\"")
        }
        if name.contains("mask") { return .mask }
        if let calibrant { return .calibrant(calibrant) }
        if ["empty", "background", "bkg"].contains(where: name.contains) { return .emptyCell }
        if name.contains("dark") { return .skipped("a dark frame, by its name") }
        if name.contains("flat") { return .skipped("a flat field, by its name") }
        if ["test", "pattern", "align", "junk", "beamcheck"].contains(where: name.contains) {
            return .skipped("a test image, by its name")
        }
        return .sample
    }

    /// A sample line: temperature and pressure from the log, the name or a ruby spectrum.
    static func sampleLine(_ sample: String, stem: String, image: Image, frame: Int, spectra: [String: String],
                           logDirectory: String?, relative: (String) -> String) -> String {
        var notes: [String] = []
        var temperature = "293"
        if let t = image.log?.temperature, t > 0 {
            temperature = String(format: "%g", t)
        } else if let match = sample.range(of: #"[0-9]+(\.[0-9]+)?K"#, options: .regularExpression) {
            temperature = String(sample[match].dropLast())
        } else {
            notes.append("temperature")
        }
        var pressure: String
        if let ruby = image.log?.ruby, let spectrum = spectra[URL(fileURLWithPath: ruby).deletingPathExtension().lastPathComponent]
            ?? (logDirectory.map { URL(fileURLWithPath: $0).appendingPathComponent(ruby).standardizedFileURL.path }
                .flatMap { FileManager.default.fileExists(atPath: $0) ? $0 : nil }) {
            pressure = "ruby:" + relative(spectrum)
        } else if let p = image.log?.pressure {
            pressure = String(format: "%g", p)
        } else if let spectrum = (rubySuffixes.map { sample + $0 } + rubySuffixes.map { stem + $0 } + ["ruby_" + sample])
                    .lazy.compactMap({ spectra[$0] }).first {
            pressure = "ruby:" + relative(spectrum)
        } else {
            pressure = "standard"
            notes.append(image.log?.ruby != nil ? "pressure: the log's ruby spectrum \(image.log!.ruby!) was not found"
                                                : "pressure: standard's rings, or a ruby spectrum, or GPa")
        }
        let time = image.log?.time.map { String(format: "  %g", $0) } ?? ""
        return "\(sample)  \(relative(image.path))  \(image.frames > 1 ? String(frame) : "-")  \(temperature)  \(pressure)\(time)"
            + (notes.isEmpty ? "" : "   # check " + notes.joined(separator: "; "))
    }
}
