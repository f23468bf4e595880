import BeamlineSupport
import Foundation

/// The description of a DAC run that `beamline plan` turns into make variables: where the
/// images are, the calibrant, the empty cell and its scale (optional: without it S(Q) comes from
/// the sample's pattern alone), the composition, the settings of each stage, and one line per
/// sample point.
///
/// ```
/// [run]
/// calibrant_image = data/images/CeO2.mar2300
/// calibrant = CeO2
/// empty_cell = data/images/empty_cell.mar2300
/// bg_scale = refine      # or a number, auto, match:QA:QB
/// composition = Ce65Co25Al10
///
/// [samples]
/// # name        image                          frame  T (K)  pressure                     time (min)
/// ce_293K_00    data/images/ce_293K_00.mar2300  -      293    ruby:data/ruby/ce_293K_00.txt
/// gold_0003     data/gold/relaxation.h5         3      390    standard                     45
/// ce_300K_02    data/images/ce_300K_02.mar2300  -      300    5.2
/// ```
///
/// A sample's pressure is a ruby spectrum (`ruby:PATH`), the pressure standard's reflections in
/// its own pattern (`standard`, see [pressure] standard and standard_scale), or a number in GPa.
/// Paths are relative to the configuration file. `#` starts a comment.
public struct RunConfiguration: Equatable, Sendable {
    public enum PressureSource: Equatable, Sendable {
        case ruby(String)
        case standard
        case fixed(Double)
    }

    public struct Sample: Equatable, Sendable {
        public var name: String
        public var image: String
        public var frame: Int
        public var temperature: Double
        public var pressure: PressureSource
        public var time: Double?
    }

    /// Keys each section accepts, with their defaults ("" = none; nil = required).
    public static let keys: [String: [String: String?]] = [
        "run": ["calibrant_image": nil, "calibrant": nil, "empty_cell": "", "composition": nil, "empty_cell_frame": "0",
                "bg_scale": "refine", "wavelength": "", "dataset": ""],
        "calibration": ["options": ""],
        "mask": ["spot_k": "6", "beamstop_mask": "", "options": ""],
        "integration": ["bins": "2000", "polarization": "0.99", "split": "bbox", "sigma_clip": "3", "options": ""],
        "pressure": ["ruby_scale": "shen2020", "standard": "Au", "standard_scale": "fei2007bm3", "options": ""],
        "sq": ["options": ""],
        "series": ["options": ""],
    ]
    /// Names the pipeline uses for its own files.
    public static let emptyCellName = "empty_cell"

    public var path: String
    public var settings: [String: [String: String]]
    public var samples: [Sample]

    public func value(_ section: String, _ key: String) -> String { settings[section]?[key] ?? "" }

    /// Reads and checks the file: every problem names the file and line.
    public init(contentsOf path: String, checkFiles: Bool = true) throws {
        let data = try InputFile.contents(of: path)
        self.path = path
        let directory = URL(fileURLWithPath: path).deletingLastPathComponent()
        func resolve(_ file: String) -> String {
            file.hasPrefix("/") ? file : directory.appendingPathComponent(file).standardizedFileURL.path
        }
        var settings: [String: [String: String]] = [:]
        var samples: [Sample] = []
        var section: String?
        for (index, raw) in String(decoding: data, as: UTF8.self).split(separator: "\n", omittingEmptySubsequences: false).enumerated() {
            let at = "\(path):\(index + 1)"
            let line = raw.split(separator: "#", maxSplits: 1, omittingEmptySubsequences: false).first.map(String.init)?
                .trimmingCharacters(in: .whitespaces) ?? ""
            if line.isEmpty { continue }
            if line.hasPrefix("[") {
                guard line.hasSuffix("]") else { throw BeamlineError(path: at, "a section header must end with ]") }
                let name = String(line.dropFirst().dropLast()).trimmingCharacters(in: .whitespaces)
                guard name == "samples" || Self.keys[name] != nil else {
                    throw BeamlineError(path: at, "unknown section [\(name)]; sections: \((Self.keys.keys.sorted() + ["samples"]).joined(separator: ", "))")
                }
                section = name
                continue
            }
            guard let section else { throw BeamlineError(path: at, "a line before the first [section]") }
            if section == "samples" {
                samples.append(try Self.sample(line, at: at, resolve: resolve))
                continue
            }
            let parts = line.split(separator: "=", maxSplits: 1).map { $0.trimmingCharacters(in: .whitespaces) }
            guard parts.count == 2 else { throw BeamlineError(path: at, "expected key = value") }
            guard let allowed = Self.keys[section], allowed[parts[0]] != nil else {
                throw BeamlineError(path: at, "unknown key \(parts[0]) in [\(section)]; keys: \(Self.keys[section]!.keys.sorted().joined(separator: ", "))")
            }
            guard settings[section]?[parts[0]] == nil else { throw BeamlineError(path: at, "\(parts[0]) is given twice in [\(section)]") }
            settings[section, default: [:]][parts[0]] = parts[1]
        }
        for (section, keys) in Self.keys {
            for (key, fallback) in keys where settings[section]?[key] == nil {
                guard let fallback else { throw BeamlineError(path: path, "[\(section)] needs \(key)") }
                settings[section, default: [:]][key] = fallback
            }
        }
        for key in ["calibrant_image", "empty_cell"] where !settings["run"]![key]!.isEmpty { settings["run"]![key] = resolve(settings["run"]![key]!) }
        if let mask = settings["mask"]?["beamstop_mask"], !mask.isEmpty { settings["mask"]!["beamstop_mask"] = resolve(mask) }
        let scale = settings["run"]!["bg_scale"]!
        let matchWindow = scale.hasPrefix("match:") ? scale.dropFirst(6).split(separator: ":").compactMap { Double($0) } : []
        guard ["refine", "auto"].contains(scale) || (matchWindow.count == 2 && matchWindow[0] < matchWindow[1])
                || Double(scale).map({ (0.0 ... 100).contains($0) }) == true else {
            throw BeamlineError(path: path, "[run] bg_scale = \(scale): use refine, auto, match:QA:QB or a number in 0…100")
        }
        for (section, key, range) in [("run", "wavelength", 0.01 ... 10), ("integration", "polarization", -1 ... 1),
                                      ("integration", "sigma_clip", 0.1 ... 100), ("mask", "spot_k", 0.1 ... 1000), ("run", "empty_cell_frame", 0 ... 1e9)] {
            let text = settings[section]![key]!
            if text.isEmpty, key == "wavelength" { continue }
            guard let v = Double(text), range.contains(v) else {
                throw BeamlineError(path: path, "[\(section)] \(key) = \(text) is not a number in \(range.lowerBound)…\(range.upperBound)")
            }
        }
        guard let bins = Int(settings["integration"]!["bins"]!), bins > 0 else { throw BeamlineError(path: path, "[integration] bins must be a positive integer") }
        guard Int(settings["run"]!["empty_cell_frame"]!) != nil else { throw BeamlineError(path: path, "[run] empty_cell_frame must be an integer") }
        guard ["none", "bbox", "full"].contains(settings["integration"]!["split"]!) else { throw BeamlineError(path: path, "[integration] split is none, bbox or full") }
        guard !samples.isEmpty else { throw BeamlineError(path: path, "no [samples]") }
        var seen = Set<String>()
        for s in samples {
            guard seen.insert(s.name).inserted else { throw BeamlineError(path: path, "sample \(s.name) appears twice") }
            guard s.name != Self.emptyCellName else { throw BeamlineError(path: path, "\(Self.emptyCellName) is the empty cell's name; rename the sample") }
        }
        // Make cannot name files with spaces.
        let files = [settings["run"]!["calibrant_image"]!, settings["run"]!["empty_cell"]!, settings["mask"]!["beamstop_mask"]!]
            + samples.map(\.image) + samples.compactMap { if case let .ruby(f) = $0.pressure { return f } else { return nil } }
        for file in files where !file.isEmpty {
            guard !file.contains(where: { $0 == " " || $0 == "\t" || $0 == "$" || $0 == ":" || $0 == "#" }) else {
                throw BeamlineError(path: path, "\(file): make cannot handle spaces, $, : or # in file names")
            }
            if checkFiles, !FileManager.default.fileExists(atPath: file) { throw BeamlineError(path: path, "\(file) does not exist") }
        }
        self.settings = settings
        self.samples = samples
    }

    static func sample(_ line: String, at: String, resolve: (String) -> String) throws -> Sample {
        let f = line.split(whereSeparator: { $0 == " " || $0 == "\t" }).map(String.init)
        guard f.count == 5 || f.count == 6 else {
            throw BeamlineError(path: at, "a sample line is: name image frame temperature_K pressure [time_min]")
        }
        guard f[0].allSatisfy({ $0.isLetter || $0.isNumber || "_-.+".contains($0) }), f[0].first != "." else {
            throw BeamlineError(path: at, "sample name \(f[0]): use letters, digits, _ - . + only")
        }
        let frame: Int
        if f[2] == "-" { frame = 0 } else {
            guard let n = Int(f[2]), n >= 0 else { throw BeamlineError(path: at, "frame \(f[2]) is not - or a number ≥ 0") }
            frame = n
        }
        guard let temperature = Double(f[3]), temperature > 0, temperature < 5000 else {
            throw BeamlineError(path: at, "temperature \(f[3]) is not a number of kelvin")
        }
        let pressure: PressureSource
        if f[4].hasPrefix("ruby:") {
            pressure = .ruby(resolve(String(f[4].dropFirst(5))))
        } else if f[4] == "standard" {
            pressure = .standard
        } else if let p = Double(f[4]), p.isFinite, p > -5, p < 1000 {
            pressure = .fixed(p)
        } else {
            throw BeamlineError(path: at, "pressure \(f[4]) is not ruby:FILE, standard or a number of GPa")
        }
        var time: Double?
        if f.count == 6 {
            guard let t = Double(f[5]), t.isFinite else { throw BeamlineError(path: at, "time \(f[5]) is not a number of minutes") }
            time = t
        }
        return Sample(name: f[0], image: resolve(f[1]), frame: frame, temperature: temperature, pressure: pressure, time: time)
    }

    /// Make variables for pipelines/dac.mk.
    public func makefile() -> String {
        func options(_ section: String, _ extra: [(String, String)] = []) -> String {
            (extra.filter { !$0.1.isEmpty }.map { "\($0.0) \($0.1)" } + [value(section, "options")]).filter { !$0.isEmpty }.joined(separator: " ")
        }
        let dataset = value("run", "dataset")
        var lines = [
            "# Made by `beamline plan` from \(path): edit that file, not this one.",
            "RUN_CONFIG = \(path)",
            "CALIBRANT_IMAGE = \(value("run", "calibrant_image"))",
            "CALIBRANT = \(value("run", "calibrant"))",
            "CALIBRATION_OPTIONS = \(options("calibration", [("--wavelength", value("run", "wavelength")), ("--dataset", dataset)]))",
            "COMPOSITION = \(value("run", "composition"))",
            "BG_SCALE = \(value("run", "bg_scale"))",
            "SPOT_K = \(value("mask", "spot_k"))",
            "BEAMSTOP_MASK = \(value("mask", "beamstop_mask"))",
            "MASK_OPTIONS = \(options("mask", [("--dataset", dataset)]))",
            "BINS = \(value("integration", "bins"))",
            "POLARIZATION = \(value("integration", "polarization"))",
            "INTEGRATION_OPTIONS = \(options("integration", [("--split", value("integration", "split")), ("--sigma-clip", value("integration", "sigma_clip")), ("--dataset", dataset)]))",
            "RUBY_SCALE = \(value("pressure", "ruby_scale"))",
            "STANDARD = \(value("pressure", "standard"))",
            "STANDARD_SCALE = \(value("pressure", "standard_scale"))",
            "PRESSURE_OPTIONS = \(value("pressure", "options"))",
            "SQ_OPTIONS = \(value("sq", "options"))",
            "SERIES_OPTIONS = \(value("series", "options"))",
            "SAMPLES = \(samples.map(\.name).joined(separator: " "))",
        ]
        // Without an empty cell, S(Q) is made from the sample's pattern alone.
        if !value("run", "empty_cell").isEmpty {
            lines += ["EMPTY_CELL = \(Self.emptyCellName)", "image.\(Self.emptyCellName) = \(value("run", "empty_cell"))",
                      "frame.\(Self.emptyCellName) = \(value("run", "empty_cell_frame"))"]
        }
        for s in samples {
            lines.append("image.\(s.name) = \(s.image)")
            lines.append("frame.\(s.name) = \(s.frame)")
            lines.append("temperature.\(s.name) = \(s.temperature)")
            switch s.pressure {
            case let .ruby(file):
                lines.append("pressure.\(s.name) = ruby")
                lines.append("ruby.\(s.name) = \(file)")
            case .standard: lines.append("pressure.\(s.name) = standard")
            case .fixed: lines.append("pressure.\(s.name) = fixed")
            }
        }
        return lines.joined(separator: "\n") + "\n"
    }

    /// Temperatures, given pressures and times for `beamline peaks --conditions`.
    public func conditions() -> String {
        var text = "name\ttemperature_K\tpressure_GPa\ttime_min\n"
        for s in samples {
            let p: String
            if case let .fixed(v) = s.pressure { p = "\(v)" } else { p = "nan" }
            text += "\(s.name)\t\(s.temperature)\t\(p)\t\(s.time.map { "\($0)" } ?? "nan")\n"
        }
        return text
    }
}
