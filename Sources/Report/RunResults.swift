import Analysis
import BeamlineSupport
import Foundation
import Integration
import PatternIO
import Reduction

/// The NeXus results file of a reduced run (`results.nxs`): the files a pipeline run wrote into its
/// output directory gathered into one NeXusResults, with the SHA-256 of every file read, the raw
/// images included (named by the patterns' headers).
public struct RunResults {
    public var runDirectory: String
    public var program: String
    public var version: String

    public init(runDirectory: String, program: String, version: String) {
        self.runDirectory = runDirectory
        self.program = program
        self.version = version
    }

    public func results() throws -> NeXusResults {
        let dir = runDirectory
        let fm = FileManager.default
        var results = NeXusResults(
            title: "DAC run \(dir)", program: program,
            version: version)
        var read: [String] = []
        // The geometry of the run (of its first setup when there are several).
        let setups = ((try? fm.contentsOfDirectory(atPath: dir + "/setups")) ?? []).sorted()
        let poni = ([dir] + setups.map { "\(dir)/setups/\($0)" }).map { $0 + "/geometry.poni" }.first(
            where: fm.fileExists)
        if let poni {
            results.geometry = try PoniFile.read(poni)
            results.geometryText = try InputFile.text(of: poni)
            read.append(poni)
        }
        let peakPath = dir + "/peaks.tsv"
        let rows = try PeakTable.read(peakPath)
            .sorted { ($0.temperature ?? 0, $0.pressure ?? 0) < ($1.temperature ?? 0, $1.pressure ?? 0) }
        results.peakTable = try InputFile.text(of: peakPath)
        read.append(peakPath)
        let seriesPath = dir + "/series.json"
        if fm.fileExists(atPath: seriesPath) {
            results.seriesJSON = try InputFile.text(of: seriesPath)
            results.series = try SeriesReport(contentsOf: seriesPath)
            read.append(seriesPath)
        }
        // The points of the table, then the other integrated patterns (the empty cell).
        let integratedNames = ((try? fm.contentsOfDirectory(atPath: dir + "/integrated")) ?? [])
            .filter { $0.hasSuffix(".xy") }.map { String($0.dropLast(3)) }.sorted()
        let names = rows.map(\.name) + integratedNames.filter { name in !rows.contains { $0.name == name } }
        var sources: [String] = []
        for name in names {
            let row = rows.first { $0.name == name }
            func curve(_ folder: String, _ ext: String) throws -> NeXusResults.Curve? {
                let path = "\(dir)/\(folder)/\(name).\(ext)"
                guard fm.fileExists(atPath: path) else { return nil }
                read.append(path)
                return .init(
                    name: name, pattern: try PatternFile.read(path), pressure: row?.pressure,
                    temperature: row?.temperature)
            }
            if let integrated = try curve("integrated", "xy") {
                results.integrated.append(integrated)
                if let source = integrated.pattern.headerValue("source") { sources.append(source) }
            }
            if let s = try curve("sq", "sq") { results.structureFactors.append(s) }
            if let f = try curve("sq", "fq") { results.reducedStructureFactors.append(f) }
            if let g = try curve("sq", "gr") { results.pairDistributions.append(g) }
        }
        // Raw images are most of the bytes hashed: the files are shared between the cores.
        let hashed = Array(Set(sources)).sorted() + read
        let digests = Parallel.map(hashed.count) { try? SHA256.fileDigest(hashed[$0]) }
        for (path, digest) in zip(hashed, digests) {
            guard let digest else { continue }
            // Absolute paths: the file is read elsewhere than where make ran.
            results.inputs.append((URL(fileURLWithPath: path).standardizedFileURL.path, digest))
        }
        if let plan = try? InputFile.text(of: dir + "/run.mk") {
            // The run's settings as make saw them: one parameter per variable.
            for line in plan.split(whereSeparator: \.isNewline) where !line.hasPrefix("#") {
                let parts = line.split(separator: "=", maxSplits: 1)
                guard parts.count == 2 else { continue }
                results.parameters.append(
                    (
                        parts[0].trimmingCharacters(in: .whitespaces),
                        parts[1].trimmingCharacters(in: .whitespaces)
                    ))
            }
        }
        return results
    }
}
