import BeamlineSupport
import Calibration
import DetectorImage
import Foundation
import Integration

/// Everything about integrating a detector setup's frames that does not depend on the frame:
/// the geometry, the settings, the masks that hold for every frame (beam stop, gaps, the
/// detector's own invalid region), dark and flat, and whether diamond spots are searched.
///
/// Per-frame masks (spots, zingers, pixels a frame marks invalid) are not part of it: they
/// are applied to each frame as left-out pixels, so one engine serves a whole run.
public struct IntegrationSetup: Sendable {
    public var geometry: DetectorGeometry
    public var settings: IntegrationSettings
    /// Mask files (non-zero = masked) combined into the static mask.
    public var maskPaths: [String] = []
    /// Leave out what the detector marks as unmeasured (see `DetectorValidity`).
    public var useValidityMask = true
    public var darkPath: String?
    public var flatPath: String?
    /// Search each frame for diamond spots and zingers before integrating.
    public var spotSearch: SpotSearch?

    public init(geometry: DetectorGeometry, settings: IntegrationSettings) {
        self.geometry = geometry
        self.settings = settings
    }
}

/// The automatic spot mask of each frame (`MaskBuilder.spots`).
public struct SpotSearch: Sendable, Equatable {
    /// Threshold K in robust σ above the ring's median.
    public var threshold: Double
    /// Pixels added around every spot.
    public var grow: Int
    /// Rings in 2θ over which the median is taken.
    public var rings = 1000

    public init(threshold: Double, grow: Int = 2) {
        self.threshold = threshold
        self.grow = grow
    }
}

/// An `IntegrationSetup` made ready: its engine, the static mask baked into it, and the
/// pixels' rings for the spot search; built once and reused for every frame, optionally
/// kept on disk so that other processes of the same run reuse it.
public struct PreparedIntegration: Sendable {
    public let setup: IntegrationSetup
    public let engine: IntegrationEngine
    public let rings: RingIndex?
    /// The masks that hold for every frame, as one mask (nil: none).
    public let staticMask: Mask?
    /// The dark and flat images read for the engine (for another engine of the same setup).
    public let dark: [Float]?, flat: [Float]?
    /// What the static mask is made of, for file headers.
    public let maskDescription: String
    /// Identifies everything the engine depends on (hex SHA-256).
    public let key: String
    /// How the engine came to be: "built" or "read from PATH".
    public let origin: String

    /// Prepares `setup` for frames whose detector follows `validity`.
    ///
    /// - Parameters:
    ///   - cache: an engine file (`write(to:)`). When it holds an engine with the same key
    ///     it is read instead of building one.
    ///   - note: receives a line when the cache cannot be used.
    public init(_ setup: IntegrationSetup, validity: DetectorValidity, cache: String? = nil,
                note: (String) -> Void = { _ in }) throws {
        let g = setup.geometry
        var mask: Mask?
        var parts: [String] = []
        for path in setup.maskPaths {
            let m = try Mask(contentsOf: path)
            try m.check(width: g.width, height: g.height, path: path)
            mask = try mask.map { try $0.union(m) } ?? m
            parts.append(path)
        }
        if setup.useValidityMask {
            if let plate = validity.plateMask(width: g.width, height: g.height) {
                mask = try mask.map { try $0.union(plate) } ?? plate
            }
            if !validity.isEmpty { parts.append("detector validity (\(validity.rulesDescription))") }
        }
        let dark = try setup.darkPath.map { try Self.readCorrection($0, geometry: g) }
        let flat = try setup.flatPath.map { try Self.readCorrection($0, geometry: g) }
        let key = try Self.key(setup, staticMask: mask, dark: dark, flat: flat)
        self.setup = setup
        self.dark = dark
        self.flat = flat
        staticMask = mask
        maskDescription = parts.isEmpty ? "none"
            : parts.joined(separator: " + ") + " (\(mask?.maskedCount ?? 0) pixels)"
        self.key = key

        if let cache {
            do {
                if let (engine, attachments) = try IntegrationEngine.load(from: cache, key: key) {
                    let count = setup.spotSearch?.rings ?? 0
                    let rings = try attachments["spotRings"].map { stored in
                        do {
                            return try RingIndex(ring: stored, count: count)
                        } catch {
                            throw BeamlineError(path: cache, "damaged engine file (\(error))")
                        }
                    }
                    if setup.spotSearch == nil || rings?.ring.count == g.width * g.height {
                        self.engine = engine
                        self.rings = setup.spotSearch == nil ? nil : rings
                        origin = "read from \(cache)"
                        return
                    }
                }
                if FileManager.default.fileExists(atPath: cache) {
                    note("\(cache): engine built for other settings, geometry or masks; building one for this run")
                }
            } catch {
                note("\(error); building the engine anew")
            }
        }
        engine = try IntegrationEngine(geometry: g, settings: setup.settings, mask: mask, dark: dark, flat: flat)
        if let search = setup.spotSearch {
            let maps = try GeometryMaps(geometry: g, unit: .twoThetaDegrees, chi: false, solidAngle: false,
                                        polarizationFactor: nil, corners: false)
            rings = RingIndex(radial: maps.radial, rings: search.rings) { i in mask.map { $0.values[i] == 0 } ?? true }
        } else {
            rings = nil
        }
        origin = "built"
    }

    /// Keeps the engine (and the spot rings) in `path` for other processes of the run.
    public func write(to path: String) throws {
        try engine.write(to: path, key: key, attachments: rings.map { ["spotRings": $0.ring] } ?? [:])
    }

    /// The mask as alternating run lengths (unmasked first): the same information as its
    /// pixels, a few thousand numbers to hash instead of millions.
    static func runLengths(_ mask: Mask) -> [UInt32] {
        var runs: [UInt32] = []
        mask.values.withUnsafeBufferPointer { values in
            let count = values.count
            let base = UnsafeRawPointer(values.baseAddress!)
            var start = 0, index = 0, masked = false
            while index < count {
                // Eight pixels at a time while all are unmasked (a zero word) or all masked
                // (no zero byte in the word): a run ends only within a word that fails the test.
                while index + 8 <= count {
                    let word = base.loadUnaligned(fromByteOffset: index, as: UInt64.self)
                    let hasZeroByte = (word &- 0x0101_0101_0101_0101) & ~word & 0x8080_8080_8080_8080 != 0
                    guard masked ? !hasZeroByte : word == 0 else { break }
                    index += 8
                }
                while index < count && (values[index] != 0) == masked { index += 1 }
                if index < count {
                    runs.append(UInt32(index - start))
                    start = index
                    masked.toggle()
                }
            }
            runs.append(UInt32(count - start))
        }
        return runs
    }

    static func readCorrection(_ path: String, geometry g: DetectorGeometry) throws -> [Float] {
        let frame = try DetectorImageFile.readFrame(path)
        guard frame.width == g.width, frame.height == g.height else {
            throw BeamlineError(path: path,
                                "image is \(frame.width)x\(frame.height) but the detector is \(g.width)x\(g.height)")
        }
        return frame.pixels
    }

    /// SHA-256 over the engine format, the geometry, the settings, the static mask, dark,
    /// flat and the spot rings: any change gives another key and so another engine.
    static func key(_ setup: IntegrationSetup, staticMask: Mask?, dark: [Float]?, flat: [Float]?) throws -> String {
        let encoder = JSONEncoder()
        encoder.outputFormatting = .sortedKeys
        var hash = SHA256()
        hash.update(Array("engine-format \(IntegrationEngine.archiveFormatVersion)\n".utf8))
        hash.update(Array(try encoder.encode(setup.geometry)))
        hash.update(Array(try encoder.encode(setup.settings)))
        hash.update(Array("\nspot-rings \(setup.spotSearch?.rings ?? 0)\nmask ".utf8))
        if let staticMask { Self.runLengths(staticMask).withUnsafeBytes { hash.update($0) } }
        for (name, values) in [("dark", dark), ("flat", flat)] {
            hash.update(Array("\n\(name) ".utf8))
            values?.withUnsafeBytes { hash.update($0) }
        }
        return hash.hexDigest()
    }
}
