import BeamlineSupport
import Foundation

/// An integration engine on disk, so that the separate processes of a run (one `make`
/// recipe per image) share one build instead of each building its own.
///
/// Layout (little-endian, native to every machine this runs on): the magic `BLENGINE`,
/// a UInt32 format version, a UInt32 header length, the JSON header (the key the caller
/// chose, the settings, the geometry, the scalar fields and every array's length), then
/// each array's raw bytes, every one starting on an 8-byte boundary. Reading is a few
/// large `read` calls straight into the arrays' storage.
extension IntegrationEngine {
    /// Bumped whenever the layout or the meaning of a stored array changes.
    public static let archiveFormatVersion: UInt32 = 2
    static let archiveMagic = Array("BLENGINE".utf8)

    struct ArchiveHeader: Codable {
        var key: String
        var geometry: DetectorGeometry
        var settings: IntegrationSettings
        var radialStart: Double, radialStep: Double
        var azimuthStart: Double, azimuthStep: Double
        var totalBins: Int
        var slotsPerPixel: Int
        var entries: Int
        var partition: [[Int]]
        var overflowPartition: [[Int]]
        var hasDark: Bool
        /// `IntegrationEngine.slotSpan` (absent in older files: no pixel-at-once tests).
        var slotSpan: Int?
        /// Array lengths, in the order they follow the header.
        var lengths: [String: Int]
        /// Names of the caller's UInt16 arrays stored after the engine's, in order.
        var attachments: [String]
    }

    /// Writes the engine (and the caller's per-pixel `attachments`) to `path` atomically.
    /// `key` identifies everything the engine was built from; `load` returns the engine
    /// only to a caller that asks with the same key.
    public func write(to path: String, key: String, attachments: [String: EngineArray<UInt16>] = [:]) throws {
        let names = attachments.keys.sorted()
        var lengths: [String: Int] = [
            "radialCenters": radialCenters.count, "azimuthCenters": azimuthCenters.count,
            "slotBin16": slotBin16.count, "slotBin32": slotBin32.count, "slotShare": slotShare.count,
            "overflowPixel": overflowPixel.count, "overflowBin": overflowBin.count,
            "overflowShare": overflowShare.count, "pixelNorm": pixelNorm.count, "binNorm": binNorm.count,
            "binCount": binCount.count, "dark": dark?.count ?? 0,
        ]
        for name in names { lengths["attachment." + name] = attachments[name]!.count }
        let header = ArchiveHeader(
            key: key, geometry: geometry, settings: settings, radialStart: radialStart, radialStep: radialStep,
            azimuthStart: azimuthStart, azimuthStep: azimuthStep, totalBins: totalBins, slotsPerPixel: slotsPerPixel,
            entries: entries, partition: partition.map { [$0.lowerBound, $0.upperBound] },
            overflowPartition: overflowPartition.map { [$0.lowerBound, $0.upperBound] }, hasDark: dark != nil,
            slotSpan: slotSpan, lengths: lengths, attachments: names)
        let encoder = JSONEncoder()
        encoder.outputFormatting = .sortedKeys  // the same engine gives the same bytes
        let json = try encoder.encode(header)
        try AtomicFile.write(to: path) { temporary in
            let fd = open(temporary, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0o644)
            guard fd >= 0 else { throw BeamlineError(path: path, "cannot write: \(String(cString: strerror(errno)))") }
            defer { close(fd) }
            var writer = ArchiveWriter(fd: fd, path: path)
            try writer.append(Self.archiveMagic)
            try writer.append([Self.archiveFormatVersion, UInt32(json.count)])
            try writer.append(Array(json))
            try writer.append(radialCenters)
            try writer.append(azimuthCenters)
            try writer.append(slotBin16)
            try writer.append(slotBin32)
            try writer.append(slotShare)
            try writer.append(overflowPixel)
            try writer.append(overflowBin)
            try writer.append(overflowShare)
            try writer.append(pixelNorm)
            try writer.append(binNorm)
            try writer.append(binCount)
            try writer.append(dark ?? EngineArray([]))
            for name in names { try writer.append(attachments[name]!) }
        }
    }

    /// Maps the engine at `path` if it was written with `key` by this format version.
    /// Returns nil when there is no such file or it holds another key or version (the caller
    /// builds the engine anew); throws when the file is there but damaged.
    ///
    /// The per-pixel arrays stay in the file's read-only mapping (see `EngineArray`); the file
    /// may be replaced by a new one meanwhile (writers rename), never changed in place.
    public static func load(from path: String, key: String) throws -> (engine: IntegrationEngine,
                                                                       attachments: [String: EngineArray<UInt16>])? {
        let fd = open(path, O_RDONLY | O_CLOEXEC)
        guard fd >= 0 else { return nil }
        var status = stat()
        guard fstat(fd, &status) == 0, status.st_size > 0 else {
            close(fd)
            throw BeamlineError(path: path, "engine file is empty or unreadable")
        }
        let size = Int(status.st_size)
        #if os(Linux)
        let flags = MAP_PRIVATE | MAP_POPULATE
        #else
        let flags = MAP_PRIVATE
        #endif
        let mapped = mmap(nil, size, PROT_READ, flags, fd, 0)
        close(fd)
        guard let mapped, mapped != MAP_FAILED else {
            throw BeamlineError(path: path, "cannot map the engine file: \(String(cString: strerror(errno)))")
        }
        let owner = EngineMemoryOwner { munmap(mapped, size) }
        var reader = ArchiveReader(base: UnsafeRawPointer(mapped), size: size, owner: owner, path: path)
        let magic: [UInt8] = try reader.array(count: archiveMagic.count)
        guard magic == archiveMagic else { throw BeamlineError(path: path, "not an integration engine file") }
        let fields: [UInt32] = try reader.array(count: 2)
        guard fields[0] == archiveFormatVersion else { return nil }
        let json: [UInt8] = try reader.array(count: Int(fields[1]))
        let header: ArchiveHeader
        do {
            header = try JSONDecoder().decode(ArchiveHeader.self, from: Data(json))
        } catch {
            throw BeamlineError(path: path, "damaged engine header")
        }
        guard header.key == key else { return nil }
        func length(_ name: String) throws -> Int {
            guard let n = header.lengths[name], n >= 0 else {
                throw BeamlineError(path: path, "damaged engine header (no length for \(name))")
            }
            return n
        }
        let engine = try IntegrationEngine(
            header: header, path: path,
            radialCenters: reader.array(count: length("radialCenters")),
            azimuthCenters: reader.array(count: length("azimuthCenters")),
            slotBin16: reader.mapped(count: length("slotBin16")), slotBin32: reader.mapped(count: length("slotBin32")),
            slotShare: reader.mapped(count: length("slotShare")),
            overflowPixel: reader.array(count: length("overflowPixel")),
            overflowBin: reader.array(count: length("overflowBin")),
            overflowShare: reader.array(count: length("overflowShare")),
            pixelNorm: reader.mapped(count: length("pixelNorm")), binNorm: reader.array(count: length("binNorm")),
            binCount: reader.array(count: length("binCount")), dark: reader.mapped(count: length("dark")))
        // In the mapping too, not copied: a 3450² plate's spot rings are 24 MB.
        var attachments: [String: EngineArray<UInt16>] = [:]
        for name in header.attachments { attachments[name] = try reader.mapped(count: length("attachment." + name)) }
        return (engine, attachments)
    }

    /// The engine from its stored parts, checked for consistency so that a damaged file can
    /// never index outside its arrays.
    private init(header: ArchiveHeader, path: String, radialCenters: [Double], azimuthCenters: [Double],
                 slotBin16: EngineArray<UInt16>, slotBin32: EngineArray<UInt32>, slotShare: EngineArray<Float>,
                 overflowPixel: [Int], overflowBin: [Int], overflowShare: [Float], pixelNorm: EngineArray<Float>,
                 binNorm: [Double], binCount: [Double], dark: EngineArray<Float>) throws {
        let n = header.geometry.width * header.geometry.height
        let k = header.slotsPerPixel
        let bins = header.totalBins
        let ranges = (header.partition + header.overflowPartition).allSatisfy { $0.count == 2 && $0[0] <= $0[1] }
            && zip([[0, 0]] + header.partition, header.partition).allSatisfy { $0.last == $1.first }
        let consistent = ranges && n > 0 && k >= 1 && bins >= 1 && pixelNorm.count == n
            && (slotBin16.count + slotBin32.count) == n * k && (slotShare.isEmpty || slotShare.count == n * k)
            && overflowBin.count == overflowPixel.count && overflowShare.count == overflowPixel.count
            && binNorm.count == bins && binCount.count == bins && (dark.isEmpty || dark.count == n)
            && overflowPixel.allSatisfy { $0 >= 0 && $0 < n } && overflowBin.allSatisfy { $0 >= 0 && $0 < bins }
            && header.partition.last.map { $0[1] == n } ?? false
            && header.overflowPartition.last.map { $0[1] == overflowPixel.count } ?? overflowPixel.isEmpty
        guard consistent else { throw BeamlineError(path: path, "damaged engine file (inconsistent sizes)") }
        // Every slot's bin is below `bins` or the sentinel (a damaged file must not index outside
        // the accumulators): each run's highest bin, noted anyway for sigma clipping, says so.
        let parts = header.partition.map { $0[0] ..< $0[1] }
        let chunkBins = slotBin16.isEmpty
            ? Self.chunkBins(slotBin32, slots: k, partition: parts, sentinel: .max)
            : Self.chunkBins(slotBin16, slots: k, partition: parts, sentinel: .max)
        let binsValid = chunkBins.allSatisfy { runs in
            stride(from: 0, to: runs.count, by: 2).allSatisfy { runs[$0] > runs[$0 + 1] || Int(runs[$0 + 1]) < bins }
        }
        guard binsValid, (0 ..< bins).contains(header.slotSpan ?? 0) else {
            throw BeamlineError(path: path, "damaged engine file (a bin out of range)")
        }
        geometry = header.geometry
        settings = header.settings
        self.radialCenters = radialCenters
        self.azimuthCenters = azimuthCenters
        radialStart = header.radialStart
        radialStep = header.radialStep
        azimuthStart = header.azimuthStart
        azimuthStep = header.azimuthStep
        totalBins = bins
        slotsPerPixel = k
        self.slotBin16 = slotBin16
        self.slotBin32 = slotBin32
        self.slotShare = slotShare
        self.overflowPixel = overflowPixel
        self.overflowBin = overflowBin
        self.overflowShare = overflowShare
        self.pixelNorm = pixelNorm
        self.binNorm = binNorm
        self.binCount = binCount
        self.dark = header.hasDark ? dark : nil
        partition = header.partition.map { $0[0] ..< $0[1] }
        overflowPartition = header.overflowPartition.map { $0[0] ..< $0[1] }
        entries = header.entries
        slotSpan = header.slotSpan
        self.chunkBins = chunkBins
    }
}

extension IntegrationEngine {
    /// `chunkBins`: per part of `partition`, the (lowest, highest) slot bin of each run of
    /// `chunkPixels` pixels, the sentinel left out of the highest (a run of sentinels only has
    /// its lowest above its highest). Read once per integration (hundreds of MB): the parts on
    /// every core, each run in a loop the compiler vectorises.
    static func chunkBins<Bin: FixedWidthInteger & UnsignedInteger>(
        _ slotBin: EngineArray<Bin>, slots: Int, partition: [Range<Int>], sentinel: Bin
    ) -> [[UInt32]] {
        var result = [[UInt32]](repeating: [], count: partition.count)
        result.withUnsafeMutableBufferPointer { out in
            Parallel.forEach(partition) { part, range in
                let runs = (range.count + chunkPixels - 1) / chunkPixels
                var bins = [UInt32](repeating: 0, count: 2 * runs)
                slotBin.withUnsafeBufferPointer { values in
                    let base = values.baseAddress!
                    for run in 0 ..< runs {
                        let start = (range.lowerBound + run * chunkPixels) * slots
                        let end = min(range.lowerBound + (run + 1) * chunkPixels, range.upperBound) * slots
                        var lowest = sentinel, highest: Bin = 0
                        for j in start ..< end {
                            let v = base[j]
                            lowest = min(lowest, v)
                            // The sentinel is all ones: v &+ 1 wraps it to 0 (and every bin to itself + 1).
                            highest = max(highest, v &+ 1)
                        }
                        highest = highest == 0 ? 0 : highest &- 1
                        bins[2 * run] = lowest == sentinel ? 1 : UInt32(lowest)
                        bins[2 * run + 1] = lowest == sentinel ? 0 : UInt32(highest)
                    }
                }
                out[part] = bins
            }
        }
        return result
    }

    /// The engine's `slotSpan`, from its slots (once, when it is built; engine files store it).
    static func slotSpan<Bin: FixedWidthInteger>(_ slotBin: EngineArray<Bin>, slots: Int) -> Int? {
        let pixels = slotBin.count / max(1, slots)
        let spans = Parallel.mapChunks(pixels) { range -> Int in
            slotBin.withUnsafeBufferPointer { values in
                var span = 0
                for p in range {
                    let first = p &* slots, base = Int(values[first])
                    for j in first &+ 1 ..< first &+ slots {
                        // A bin below the pixel's first: no span (-1 marks it).
                        guard Int(values[j]) >= base else { return -1 }
                        span = max(span, Int(values[j]) - base)
                    }
                }
                return span
            }
        }
        return spans.contains { $0 < 0 } ? nil : spans.max() ?? 0
    }
}

/// Appends arrays' bytes to a file descriptor, each padded to 8 bytes.
private struct ArchiveWriter {
    let fd: Int32
    let path: String
    var offset = 0

    mutating func append<T>(_ values: [T]) throws {
        try values.withUnsafeBufferPointer { try append($0) }
    }

    mutating func append<T>(_ values: EngineArray<T>) throws {
        try values.withUnsafeBufferPointer { try append($0) }
    }

    mutating func append<T>(_ values: UnsafeBufferPointer<T>) throws {
        try write(UnsafeRawBufferPointer(values))
        let padding = (8 - offset % 8) % 8
        if padding > 0 { try [UInt8](repeating: 0, count: padding).withUnsafeBytes { try write($0) } }
    }

    private mutating func write(_ bytes: UnsafeRawBufferPointer) throws {
        var done = 0
        while done < bytes.count {
            let n = Foundation.write(fd, bytes.baseAddress! + done, min(bytes.count - done, 1 << 30))
            if n < 0 {
                if errno == EINTR { continue }
                throw BeamlineError(path: path, "cannot write: \(String(cString: strerror(errno)))")
            }
            done += n
        }
        offset += bytes.count
    }
}

/// Reads arrays written by `ArchiveWriter` from a mapped file.
private struct ArchiveReader {
    let base: UnsafeRawPointer
    let size: Int
    let owner: EngineMemoryOwner
    let path: String
    var offset = 0

    /// The next `count` values, left in the mapping; the offset moves on to the next 8-byte boundary.
    mutating func mapped<T>(count: Int) throws -> EngineArray<T> {
        let bytes = count.multipliedReportingOverflow(by: MemoryLayout<T>.stride)
        guard count >= 0, !bytes.overflow, bytes.partialValue <= size - offset else {
            throw BeamlineError(path: path, "engine file ends early (truncated)")
        }
        let values = EngineArray<T>(address: base + offset, count: count, owner: owner)
        offset += (bytes.partialValue + 7) / 8 * 8
        return values
    }

    /// The next `count` values, copied.
    mutating func array<T>(count: Int) throws -> [T] {
        Array(try mapped(count: count) as EngineArray<T>)
    }
}
