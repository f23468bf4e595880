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
/// A run with several detector setups (scan modes, beamlines, a recalibration) names them in
/// `[setup NAME]` sections and lists each setup's samples under `[samples NAME]`:
///
/// ```
/// [run]
/// composition = Ce65Co25Al10
/// [integration]
/// bins = 2000                    # the default of every setup
/// [setup mar2300]
/// calibrant_image = data/CeO2_2300.mar2300
/// calibrant = CeO2
/// empty_cell = data/empty_2300.mar2300
/// [setup mar3450]
/// inherit = mar2300              # every key of mar2300 unless given here
/// calibrant_image = data/CeO2_3450.mar3450
/// empty_cell = data/empty_3450.mar3450
/// [samples mar2300]
/// ce_293K_00  data/ce_293K_00.mar2300  -  293  ruby:data/ce_293K_00_ruby.txt
/// [samples mar3450]
/// ce_390K_00  data/ce_390K_00.mar3450  -  390  ruby:data/ce_390K_00_ruby.txt
/// ```
///
/// A setup section takes the keys of [run] that describe a setup (`setupKeys`), the keys of
/// [mask], [integration] and [pressure], and the sections' `options` as `calibration_options`,
/// `mask_options`, `integration_options`, `pressure_options`, `sq_options`; what it does not give
/// comes from the setup it inherits, else from the top-level sections. A file without setup
/// sections is one setup, `default`, as before.
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
        /// The setup whose geometry, engine and empty cell reduce this sample.
        public var setup = RunConfiguration.defaultSetup
    }

    /// One detector setup: its settings, by section, as the top-level sections hold them.
    public struct Setup: Equatable, Sendable {
        public var name: String
        public var settings: [String: [String: String]]
        public func value(_ section: String, _ key: String) -> String { settings[section]?[key] ?? "" }
    }

    /// Keys each section accepts, with their defaults ("" = none; nil = required).
    public static let keys: [String: [String: String?]] = [
        "run": ["calibrant_image": "", "calibrant": "", "empty_cell": "", "composition": nil, "empty_cell_frame": "0",
                "bg_scale": "refine", "wavelength": "", "dataset": ""],
        "calibration": ["options": ""],
        "mask": ["spot_k": "6", "beamstop_mask": "", "options": ""],
        "integration": ["bins": "2000", "polarization": "0.99", "split": "bbox", "sigma_clip": "3", "options": ""],
        "pressure": ["ruby_scale": "shen2020", "standard": "Au", "standard_scale": "fei2007bm3", "options": ""],
        "sq": ["options": ""],
        "series": ["options": ""],
    ]
    /// Keys a `[setup NAME]` section accepts, and the section and key each stands for.
    public static let setupKeys: [String: (section: String, key: String)] = {
        var map: [String: (String, String)] = [:]
        for key in ["calibrant_image", "calibrant", "empty_cell", "empty_cell_frame", "bg_scale", "wavelength", "dataset"] {
            map[key] = ("run", key)
        }
        for section in ["mask", "integration", "pressure"] {
            for key in keys[section]!.keys where key != "options" { map[key] = (section, key) }
        }
        for section in ["calibration", "mask", "integration", "pressure", "sq"] { map[section + "_options"] = (section, "options") }
        return map
    }()
    /// The setup of a file without setup sections.
    public static let defaultSetup = "default"
    /// Names the pipeline uses for its own files.
    public static let emptyCellName = "empty_cell"

    public var path: String
    public var settings: [String: [String: String]]
    public var setups: [Setup]
    public var samples: [Sample]

    public func value(_ section: String, _ key: String) -> String { settings[section]?[key] ?? "" }

    public static func == (a: RunConfiguration, b: RunConfiguration) -> Bool {
        a.path == b.path && a.settings == b.settings && a.setups == b.setups && a.samples == b.samples
    }

    /// The empty cell's name in a setup (the pipeline's file names).
    public static func emptyCellName(of setup: String) -> String {
        setup == defaultSetup ? emptyCellName : emptyCellName + "_" + setup
    }

    /// Reads and checks the file: every problem names the file and line.
    public init(contentsOf path: String, checkFiles: Bool = true) throws {
        let data = try InputFile.contents(of: path)
        self.path = path
        let directory = URL(fileURLWithPath: path).deletingLastPathComponent()
        func resolve(_ file: String) -> String {
            file.hasPrefix("/") ? file : directory.appendingPathComponent(file).standardizedFileURL.path
        }
        var settings: [String: [String: String]] = [:]
        var overrides: [String: [String: String]] = [:], setupOrder: [String] = []
        var samples: [Sample] = []
        var section: String?, setupName: String?
        func isName(_ text: String) -> Bool {
            !text.isEmpty && text.allSatisfy { $0.isLetter || $0.isNumber || "_-".contains($0) }
        }
        let text = String(decoding: data, as: UTF8.self)
        for (index, raw) in text.split(separator: "\n", omittingEmptySubsequences: false).enumerated() {
            let at = "\(path):\(index + 1)"
            let line = raw.split(separator: "#", maxSplits: 1, omittingEmptySubsequences: false).first.map(String.init)?
                .trimmingCharacters(in: .whitespaces) ?? ""
            if line.isEmpty { continue }
            if line.hasPrefix("[") {
                guard line.hasSuffix("]") else { throw BeamlineError(path: at, "a section header must end with ]") }
                let words = line.dropFirst().dropLast().split(separator: " ").map(String.init)
                let name = words.first ?? ""
                setupName = words.count > 1 ? words[1] : nil
                if let setupName {
                    guard words.count == 2, name == "setup" || name == "samples", isName(setupName) else {
                        throw BeamlineError(path: at, "a named section is [setup NAME] or [samples NAME], NAME of letters, digits, _ and -")
                    }
                    if name == "setup" {
                        guard overrides[setupName] == nil else { throw BeamlineError(path: at, "[setup \(setupName)] is given twice") }
                        overrides[setupName] = [:]
                        setupOrder.append(setupName)
                    }
                } else {
                    guard name == "samples" || Self.keys[name] != nil else {
                        let names = (Self.keys.keys.sorted() + ["samples", "setup NAME", "samples NAME"]).joined(separator: ", ")
                        throw BeamlineError(path: at, "unknown section [\(name)]; sections: \(names)")
                    }
                }
                section = name
                continue
            }
            guard let section else { throw BeamlineError(path: at, "a line before the first [section]") }
            if section == "samples" {
                var sample = try Self.sample(line, at: at, resolve: resolve)
                sample.setup = setupName ?? Self.defaultSetup
                samples.append(sample)
                continue
            }
            let parts = line.split(separator: "=", maxSplits: 1).map { $0.trimmingCharacters(in: .whitespaces) }
            guard parts.count == 2 else { throw BeamlineError(path: at, "expected key = value") }
            if section == "setup", let setupName {
                guard parts[0] == "inherit" || Self.setupKeys[parts[0]] != nil else {
                    let keys = (Self.setupKeys.keys.sorted() + ["inherit"]).joined(separator: ", ")
                    throw BeamlineError(path: at, "unknown key \(parts[0]) in [setup \(setupName)]; keys: \(keys)")
                }
                guard overrides[setupName]![parts[0]] == nil else {
                    throw BeamlineError(path: at, "\(parts[0]) is given twice in [setup \(setupName)]")
                }
                overrides[setupName]![parts[0]] = parts[1]
                continue
            }
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
        // Each setup: the top-level settings, then those of the setups it inherits, then its own.
        var setups: [Setup] = []
        if setupOrder.isEmpty {
            setups = [Setup(name: Self.defaultSetup, settings: settings)]
        } else {
            for name in setupOrder {
                var chain: [String] = [name]
                while let parent = overrides[chain.last!]!["inherit"] {
                    guard overrides[parent] != nil else {
                        throw BeamlineError(path: path, "[setup \(chain.last!)] inherits \(parent), which is not a [setup]")
                    }
                    guard !chain.contains(parent) else {
                        throw BeamlineError(path: path, "setups inherit in a circle: \((chain + [parent]).joined(separator: " → "))")
                    }
                    chain.append(parent)
                }
                var resolved = settings
                for member in chain.reversed() {
                    for (key, value) in overrides[member]! where key != "inherit" {
                        let (section, sectionKey) = Self.setupKeys[key]!
                        resolved[section]![sectionKey] = value
                    }
                }
                setups.append(Setup(name: name, settings: resolved))
            }
        }
        for sample in samples where !setups.contains(where: { $0.name == sample.setup }) {
            throw BeamlineError(path: path, sample.setup == Self.defaultSetup
                ? "sample \(sample.name) is in [samples], but the file has setups: list it under [samples SETUP]"
                : "sample \(sample.name) is under [samples \(sample.setup)], which has no [setup \(sample.setup)]")
        }
        for index in setups.indices { try Self.check(&setups[index], path: path, resolve: resolve) }
        guard !samples.isEmpty else { throw BeamlineError(path: path, "no [samples]") }
        var seen = Set<String>()
        let reserved = Set(setups.map { Self.emptyCellName(of: $0.name) })
        for s in samples {
            guard seen.insert(s.name).inserted else { throw BeamlineError(path: path, "sample \(s.name) appears twice") }
            guard !reserved.contains(s.name) else { throw BeamlineError(path: path, "\(s.name) is an empty cell's name; rename the sample") }
        }
        // Make cannot name files with spaces.
        let files = setups.flatMap { [$0.value("run", "calibrant_image"), $0.value("run", "empty_cell"), $0.value("mask", "beamstop_mask")] }
            + samples.map(\.image) + samples.compactMap { if case let .ruby(f) = $0.pressure { return f } else { return nil } }
        for file in files where !file.isEmpty {
            guard !file.contains(where: { $0 == " " || $0 == "\t" || $0 == "$" || $0 == ":" || $0 == "#" }) else {
                throw BeamlineError(path: path, "\(file): make cannot handle spaces, $, : or # in file names")
            }
            if checkFiles, !FileManager.default.fileExists(atPath: file) { throw BeamlineError(path: path, "\(file) does not exist") }
        }
        self.settings = settings
        self.setups = setups
        self.samples = samples
    }

    /// Resolves a setup's paths and checks its values; a problem names the setup.
    static func check(_ setup: inout Setup, path: String, resolve: (String) -> String) throws {
        let which = setup.name == defaultSetup ? "" : " (setup \(setup.name))"
        for key in ["calibrant_image", "calibrant"] where setup.settings["run"]![key]!.isEmpty {
            throw BeamlineError(path: path, "[run] needs \(key)\(which)")
        }
        for key in ["calibrant_image", "empty_cell"] where !setup.settings["run"]![key]!.isEmpty {
            setup.settings["run"]![key] = resolve(setup.settings["run"]![key]!)
        }
        if let mask = setup.settings["mask"]?["beamstop_mask"], !mask.isEmpty { setup.settings["mask"]!["beamstop_mask"] = resolve(mask) }
        let scale = setup.settings["run"]!["bg_scale"]!
        let matchWindow = scale.hasPrefix("match:") ? scale.dropFirst(6).split(separator: ":").compactMap { Double($0) } : []
        guard ["refine", "auto"].contains(scale) || (matchWindow.count == 2 && matchWindow[0] < matchWindow[1])
                || Double(scale).map({ (0.0 ... 100).contains($0) }) == true else {
            throw BeamlineError(path: path, "[run] bg_scale = \(scale)\(which): use refine, auto, match:QA:QB or a number in 0…100")
        }
        for (section, key, range) in [("run", "wavelength", 0.01 ... 10), ("integration", "polarization", -1 ... 1),
                                      ("integration", "sigma_clip", 0.1 ... 100), ("mask", "spot_k", 0.1 ... 1000),
                                      ("run", "empty_cell_frame", 0 ... 1e9)] {
            let text = setup.settings[section]![key]!
            if text.isEmpty, key == "wavelength" { continue }
            guard let v = Double(text), range.contains(v) else {
                throw BeamlineError(path: path, "[\(section)] \(key) = \(text)\(which) is not a number in \(range.lowerBound)…\(range.upperBound)")
            }
        }
        guard let bins = Int(setup.settings["integration"]!["bins"]!), bins > 0 else {
            throw BeamlineError(path: path, "[integration] bins must be a positive integer\(which)")
        }
        guard Int(setup.settings["run"]!["empty_cell_frame"]!) != nil else {
            throw BeamlineError(path: path, "[run] empty_cell_frame must be an integer\(which)")
        }
        guard ["none", "bbox", "full"].contains(setup.settings["integration"]!["split"]!) else {
            throw BeamlineError(path: path, "[integration] split is none, bbox or full\(which)")
        }
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

    /// Make variables for pipelines/dac.mk: the run's, each setup's (suffixed `.SETUP`), each
    /// sample's (suffixed `.NAME`).
    public func makefile() -> String {
        var lines = [
            "# Made by `beamline plan` from \(path): edit that file, not this one.",
            "RUN_CONFIG = \(path)",
            "COMPOSITION = \(value("run", "composition"))",
            "SERIES_OPTIONS = \(value("series", "options"))",
            "SETUPS = \(setups.map(\.name).joined(separator: " "))",
            "SAMPLES = \(samples.map(\.name).joined(separator: " "))",
        ]
        for setup in setups {
            func options(_ section: String, _ extra: [(String, String)] = []) -> String {
                (extra.filter { !$0.1.isEmpty }.map { "\($0.0) \($0.1)" } + [setup.value(section, "options")])
                    .filter { !$0.isEmpty }.joined(separator: " ")
            }
            let dataset = setup.value("run", "dataset")
            let s = "." + setup.name
            lines += [
                "",
                "SETUP_DIR\(s) = \(setup.name == Self.defaultSetup ? "" : "setups/\(setup.name)/")",
                "CALIBRANT_IMAGE\(s) = \(setup.value("run", "calibrant_image"))",
                "CALIBRANT\(s) = \(setup.value("run", "calibrant"))",
                "CALIBRATION_OPTIONS\(s) = \(options("calibration", [("--wavelength", setup.value("run", "wavelength")), ("--dataset", dataset)]))",
                "BG_SCALE\(s) = \(setup.value("run", "bg_scale"))",
                "SPOT_K\(s) = \(setup.value("mask", "spot_k"))",
                "BEAMSTOP_MASK\(s) = \(setup.value("mask", "beamstop_mask"))",
                "MASK_OPTIONS\(s) = \(options("mask", [("--dataset", dataset)]))",
                "BINS\(s) = \(setup.value("integration", "bins"))",
                "POLARIZATION\(s) = \(setup.value("integration", "polarization"))",
                "INTEGRATION_OPTIONS\(s) = \(options("integration", [("--split", setup.value("integration", "split")), ("--sigma-clip", setup.value("integration", "sigma_clip")), ("--dataset", dataset)]))",
                "RUBY_SCALE\(s) = \(setup.value("pressure", "ruby_scale"))",
                "STANDARD\(s) = \(setup.value("pressure", "standard"))",
                "STANDARD_SCALE\(s) = \(setup.value("pressure", "standard_scale"))",
                "PRESSURE_OPTIONS\(s) = \(setup.value("pressure", "options"))",
                "SQ_OPTIONS\(s) = \(setup.value("sq", "options"))",
                "SAMPLES\(s) = \(samples.filter { $0.setup == setup.name }.map(\.name).joined(separator: " "))",
            ]
            // Without an empty cell, S(Q) is made from the sample's pattern alone.
            if !setup.value("run", "empty_cell").isEmpty {
                let name = Self.emptyCellName(of: setup.name)
                lines += ["EMPTY_CELL\(s) = \(name)", "image.\(name) = \(setup.value("run", "empty_cell"))",
                          "frame.\(name) = \(setup.value("run", "empty_cell_frame"))", "setup.\(name) = \(setup.name)"]
            } else {
                lines.append("EMPTY_CELL\(s) =")
            }
        }
        lines.append("")
        for s in samples {
            lines.append("image.\(s.name) = \(s.image)")
            lines.append("frame.\(s.name) = \(s.frame)")
            lines.append("temperature.\(s.name) = \(s.temperature)")
            lines.append("setup.\(s.name) = \(s.setup)")
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
