import ArgumentParser
import BeamlineSupport
import DetectorImage
import Foundation

struct InitCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "init",
        abstract: "Draft a run configuration from a data directory, for `beamline plan`.",
        discussion: """
            Looks at every file under DATA-DIR whose content is a detector image (MAR345, TIFF, \
            HDF5, EDF, CBF): a name with a calibrant's (CeO2, LaB6, Si, Al2O3, AgBh) is the \
            calibrant, a name with "empty" or "background" the empty cell, the rest are samples, \
            one line per frame of a multi-frame file. A sample's temperature is read from its name \
            (ce_390K_03 → 390 K), else 293 K is assumed and marked; its pressure comes from a ruby \
            spectrum of the same name (NAME.txt anywhere under DATA-DIR), else from the pressure \
            standard's rings. Every guess is marked "# check" in the draft: read it before running.
            """
    )

    @Argument(help: "Directory holding the run's images (and ruby spectra).")
    var dataDir: String

    @Option(name: [.short, .customLong("output")], help: "Draft configuration to write (refused if it exists).")
    var output: String

    @Option(help: "Composition of the sample, e.g. Ce65Co25Al10.")
    var composition: String?

    func run() throws {
        guard !FileManager.default.fileExists(atPath: output) else {
            throw BeamlineError(path: output, "exists already; remove it or name another file")
        }
        let root = URL(fileURLWithPath: dataDir).standardizedFileURL
        guard let walker = FileManager.default.enumerator(at: root, includingPropertiesForKeys: [.isRegularFileKey]) else {
            throw BeamlineError(path: dataDir, "cannot be read as a directory")
        }
        var images: [String] = [], spectra: [String: String] = [:]
        for case let url as URL in walker where (try? url.resourceValues(forKeys: [.isRegularFileKey]).isRegularFile) == true {
            let path = url.standardizedFileURL.path
            if url.pathExtension.lowercased() == "txt" {
                spectra[url.deletingPathExtension().lastPathComponent] = path
            } else if let format = try? ImageFormat.detect(path: path), format != .fit2dMask {
                images.append(path)
            }
        }
        guard !images.isEmpty else { throw BeamlineError(path: dataDir, "holds no detector images") }
        images.sort()
        // Paths in the draft are relative to the directory the draft is written to.
        let base = URL(fileURLWithPath: output).standardizedFileURL.deletingLastPathComponent().path
        func relative(_ path: String) -> String {
            path.hasPrefix(base + "/") ? String(path.dropFirst(base.count + 1)) : path
        }
        func stem(_ path: String) -> String { URL(fileURLWithPath: path).deletingPathExtension().lastPathComponent }
        let calibrantNames = ["CeO2", "LaB6", "Si", "Al2O3", "AgBh"]
        func calibrant(of path: String) -> String? {
            let name = stem(path).lowercased()
            return calibrantNames.first { name.contains($0.lowercased()) && ($0 != "Si" || name.hasPrefix("si")) }
        }
        func directory(_ path: String) -> String { URL(fileURLWithPath: path).deletingLastPathComponent().path }
        func size(_ path: String) -> (Int, Int)? { (try? DetectorImageFile.open(path)).map { ($0.width, $0.height) } }
        let masks = images.filter { stem($0).lowercased().contains("mask") }
        // Of several calibrant images, the one beside the most other images.
        let calibrants = images.filter { calibrant(of: $0) != nil && !masks.contains($0) }
        let calibrantImage = calibrants.max { a, b in
            images.filter { directory($0) == directory(a) }.count < images.filter { directory($0) == directory(b) }.count
        }
        let detector = calibrantImage.flatMap(size)
        // The samples and the empty cell: images of the calibrant's detector size.
        let sameDetector = images.filter { path in
            !masks.contains(path) && path != calibrantImage && (detector == nil || size(path).map { $0 == detector! } ?? false)
        }
        let emptyCell = sameDetector.first { ["empty", "background", "bkg"].contains(where: stem($0).lowercased().contains) }
        var lines = ["# Drafted by `beamline init \(dataDir)`: check every line marked '# check', then `beamline plan`.", "", "[run]"]
        if let calibrantImage {
            lines += ["calibrant_image = \(relative(calibrantImage))", "calibrant = \(calibrant(of: calibrantImage)!)"]
        } else {
            lines += ["calibrant_image = CALIBRANT_IMAGE   # check: no calibrant found by name", "calibrant = CeO2   # check"]
        }
        for other in calibrants where other != calibrantImage { lines.append("# check: another calibrant image, \(relative(other))") }
        if let emptyCell {
            lines += ["empty_cell = \(relative(emptyCell))", "bg_scale = refine   # refined with the density from each pattern; or give the scale"]
        } else {
            lines.append("# empty_cell = IMAGE   # none found by name: S(Q) from the sample alone")
        }
        lines.append("composition = \(composition ?? "Ce65Co25Al10   # check")")
        if let mask = masks.first { lines += ["", "[mask]", "beamstop_mask = \(relative(mask))   # check"] }
        lines += ["", "[samples]", "# name  image  frame  T (K)  pressure  [time (min)]"]
        for path in images where !sameDetector.contains(path) && !masks.contains(path) && !calibrants.contains(path) {
            lines.append("# skipped (another detector size than the calibrant's): \(relative(path))")
        }
        var count = 0
        for path in sameDetector where path != emptyCell {
            let frames = (try? DetectorImageFile.open(path).frameCount) ?? 1
            let name = stem(path).filter { $0.isLetter || $0.isNumber || "_-.+".contains($0) }
            for frame in 0 ..< frames {
                let sample = frames > 1 ? String(format: "%@_%04d", name, frame) : name
                var notes: [String] = []
                var temperature = "293"
                if let match = sample.range(of: #"[0-9]+(\.[0-9]+)?K"#, options: .regularExpression) {
                    temperature = String(sample[match].dropLast())
                } else {
                    notes.append("temperature")
                }
                let pressure: String
                if let spectrum = spectra[sample] ?? spectra[name] {
                    pressure = "ruby:" + relative(spectrum)
                } else {
                    pressure = "standard"
                    notes.append("pressure: standard's rings, or a ruby spectrum, or GPa")
                }
                lines.append("\(sample)  \(relative(path))  \(frames > 1 ? String(frame) : "-")  \(temperature)  \(pressure)"
                             + (notes.isEmpty ? "" : "   # check " + notes.joined(separator: "; ")))
                count += 1
            }
        }
        guard count > 0 else { throw BeamlineError(path: dataDir, "holds a calibrant and an empty cell but no sample images") }
        try AtomicFile.write(lines.joined(separator: "\n") + "\n", to: output)
        print("\(output): \(count) samples drafted; check the lines marked '# check'")
    }
}
