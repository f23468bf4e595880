import Foundation

/// The plain-text tables in `calibration/`: sections `[name]` of `key = value` lines,
/// `#` starting a comment. Every table names its published source in the file.
public struct CalibrationTable: Sendable {
    public struct Section: Sendable {
        public var name: String
        public var values: [String: String]

        public func string(_ key: String) -> String? { values[key.lowercased()] }

        public func number(_ key: String, path: String) throws -> Double {
            guard let text = values[key.lowercased()] else {
                throw BeamlineError(path: path, "[\(name)] has no \(key)")
            }
            guard let value = Double(text), value.isFinite else {
                throw BeamlineError(path: path, "[\(name)] \(key) is not a number: \"\(text)\"")
            }
            return value
        }

        public func optionalNumber(_ key: String, path: String) throws -> Double? {
            values[key.lowercased()] == nil ? nil : try number(key, path: path)
        }
    }

    public let path: String
    public let sections: [Section]

    public init(path: String) throws {
        guard let data = FileManager.default.contents(atPath: path) else {
            throw BeamlineError(path: path, "calibration table not found")
        }
        self.path = path
        var sections: [Section] = []
        var current = Section(name: "", values: [:])
        for (number, raw) in String(decoding: data, as: UTF8.self).split(whereSeparator: \.isNewline).enumerated() {
            let line = raw.split(separator: "#", maxSplits: 1, omittingEmptySubsequences: false).first.map(String.init)?
                .trimmingCharacters(in: .whitespaces) ?? ""
            if line.isEmpty { continue }
            if line.hasPrefix("[") && line.hasSuffix("]") {
                if !current.name.isEmpty || !current.values.isEmpty { sections.append(current) }
                current = Section(name: String(line.dropFirst().dropLast()).trimmingCharacters(in: .whitespaces).lowercased(), values: [:])
                continue
            }
            guard let eq = line.firstIndex(of: "=") else {
                throw BeamlineError(path: path, "line \(number + 1) is neither [section] nor key = value: \"\(line)\"")
            }
            current.values[line[..<eq].trimmingCharacters(in: .whitespaces).lowercased()] =
                line[line.index(after: eq)...].trimmingCharacters(in: .whitespaces)
        }
        if !current.name.isEmpty || !current.values.isEmpty { sections.append(current) }
        self.sections = sections
    }

    public func section(_ name: String) -> Section? { sections.first { $0.name == name.lowercased() } }
}

/// Finds the `calibration/` directory: `$BEAMLINE_CALIBRATION`, else the nearest
/// `calibration/` above the running executable (a build inside the repository), else
/// `./calibration`.
public enum CalibrationDirectory {
    public static func locate(override: String? = nil) throws -> String {
        let fm = FileManager.default
        func valid(_ path: String) -> Bool {
            var isDirectory: ObjCBool = false
            return fm.fileExists(atPath: path, isDirectory: &isDirectory) && isDirectory.boolValue
        }
        if let override {
            guard valid(override) else { throw BeamlineError(path: override, "calibration directory not found") }
            return override
        }
        if let env = ProcessInfo.processInfo.environment["BEAMLINE_CALIBRATION"], !env.isEmpty {
            guard valid(env) else { throw BeamlineError(path: env, "BEAMLINE_CALIBRATION does not name a directory") }
            return env
        }
        var url = URL(fileURLWithPath: CommandLine.arguments.first ?? ".").resolvingSymlinksInPath().deletingLastPathComponent()
        for _ in 0 ..< 8 {
            let candidate = url.appendingPathComponent("calibration").path
            if valid(candidate + "/eos") { return candidate }
            url.deleteLastPathComponent()
        }
        let local = fm.currentDirectoryPath + "/calibration"
        if valid(local + "/eos") { return local }
        throw BeamlineError("cannot find the calibration/ tables; set BEAMLINE_CALIBRATION to the repository's calibration directory")
    }
}
