import BeamlineSupport
import Calibration
import DetectorImage
import Foundation
import Integration

/// Which pattern files a frame gives.
public enum PatternFileFormat: String, Sendable, CaseIterable {
    case xy, chi, both
}

/// Integrates every frame of some images with one prepared engine, each frame read once:
/// its invalid pixels and (when searched) its spots are masked, the optional mask file for
/// inspection is written, then the pattern (and cake) files.
public struct IntegrationJob {
    public var prepared: PreparedIntegration
    /// An engine for the 2D cake, when one is asked for.
    public var cakeEngine: IntegrationEngine?
    public var cakeFormat: IntegrationOutput.CakeFormat = .edf
    public var outputDirectory: String
    public var format: PatternFileFormat = .xy
    /// Only this frame of each input.
    public var frame: Int?
    /// The output name for a single image and frame, instead of the image's.
    public var name: String?
    /// Where to write the frame's full mask (static, invalid pixels, spots); single frame only.
    public var maskOutput: String?
    /// Where to write a thumbnail PNG of the frame with its masks coloured; single frame only.
    public var thumbnailOutput: String?
    public var sigmaClip: SigmaClip?
    public var dummy: Float?
    public var deltaDummy: Float = 0
    public var normalizeExposure = false
    public var monitor: Double?
    public var program: String
    public var poniPath: String?
    /// Called after each frame with (frames done, frames selected): progress on long runs.
    public var progress: ((Int, Int) -> Void)?

    public init(prepared: PreparedIntegration, outputDirectory: String, program: String) {
        self.prepared = prepared
        self.outputDirectory = outputDirectory
        self.program = program
    }

    /// What one frame gave.
    public struct FrameReport: Sendable {
        public var name: String
        public var source: FrameID
        public var spotPixels: Int
        public var invalidPixels: Int
    }

    /// Integrates every frame (or `frame`) of `sources`; returns one report per frame.
    /// `firstRead` is the first frame already being read (`FrameRead(sources[0], index:)`, started
    /// before the engine was built), used when it is the first frame selected.
    public func run(_ sources: [any ImageSource], firstRead: FrameRead? = nil) throws -> [FrameReport] {
        let g = prepared.engine.geometry
        for source in sources where source.width != g.width || source.height != g.height {
            throw BeamlineError(path: source.path, "image is \(source.width)x\(source.height) but the geometry"
                                + "\(poniPath.map { " (\($0))" } ?? "") is \(g.width)x\(g.height)")
        }
        var selected: [(any ImageSource, Int, String)] = []
        var names = Set<String>()
        for source in sources {
            let stem = URL(fileURLWithPath: source.path).deletingPathExtension().lastPathComponent
            if let frame, frame >= source.frameCount {
                throw BeamlineError(path: source.path,
                                    "has \(source.frameCount) frame(s); --frame \(frame) does not exist")
            }
            if name != nil, frame == nil, source.frameCount > 1 {
                throw BeamlineError(path: source.path, "has \(source.frameCount) frames: --name needs --frame")
            }
            for index in frame.map({ [$0] }) ?? Array(0 ..< source.frameCount) {
                let name = self.name ?? (source.frameCount == 1 ? stem : String(format: "%@_%04d", stem, index))
                guard names.insert(name).inserted else {
                    throw BeamlineError(path: source.path, "two inputs would both write \(name).xy; rename one")
                }
                selected.append((source, index, name))
            }
        }
        if maskOutput != nil, selected.count != 1 {
            throw BeamlineError("--mask-output needs exactly one image and frame (\(selected.count) selected)")
        }
        if thumbnailOutput != nil, selected.count != 1 {
            throw BeamlineError("--thumbnail-output needs exactly one image and frame (\(selected.count) selected)")
        }
        try FileManager.default.createDirectory(atPath: outputDirectory, withIntermediateDirectories: true)
        // The next frame is decoded on another thread while this one is integrated: decoding is
        // serial and would leave a core idle. One decode at a time, so no reader is ever used
        // from two threads at once.
        var reports: [FrameReport] = []
        var pending: FrameRead?
        if let first = selected.first {
            let same = firstRead.map { $0.index == first.1 && $0.source.path == first.0.path } ?? false
            pending = same ? firstRead : FrameRead(first.0, index: first.1)
        }
        // The pixels of the frame before this one, given to the next read to decode into.
        var spare: [Float] = []
        for (k, item) in selected.enumerated() {
            // Taken, not copied: the frame's pixels are masked in place, and a second reference
            // would make that a copy of the whole image (48 MB for a 3450² plate).
            var frame = try pending!.take()
            if k + 1 < selected.count {
                pending = FrameRead(selected[k + 1].0, index: selected[k + 1].1, reusing: consume spare)
            } else {
                pending = nil
                _ = consume spare
            }
            reports.append(try integrate(&frame, from: item.0, name: item.2))
            spare = frame.pixels
            progress?(k + 1, selected.count)
        }
        return reports
    }

    /// A frame being read on a background thread.
    public final class FrameRead: @unchecked Sendable {
        let source: any ImageSource
        let index: Int
        private let read: BackgroundWork<Frame>

        /// `spare`: an earlier frame's pixels to decode into (`ImageSource.frame(at:reusing:)`).
        public init(_ source: any ImageSource, index: Int, reusing spare: consuming [Float] = []) {
            self.source = source
            self.index = index
            var spare = spare
            read = BackgroundWork {
                // Moved out, so that the decoder holds the only reference and writes in place.
                var storage = spare
                spare = []
                return try source.frame(at: index, reusing: &storage)
            }
        }

        /// The frame, handed over: the reader keeps no reference to it. Once only.
        func take() throws -> Frame {
            guard let frame = try read.take() else {
                throw BeamlineError(path: source.path, "frame \(index) was taken twice")
            }
            return frame
        }
    }

    func integrate(_ frame: inout Frame, from source: any ImageSource, name: String) throws -> FrameReport {
        var invalid = 0
        if prepared.setup.useValidityMask { invalid = source.validity.invalidate(&frame.pixels) }
        var spotPixels = 0
        var spots: Mask?
        if let search = prepared.setup.spotSearch, let rings = prepared.rings {
            let found = MaskBuilder.spots(frame, rings: rings, k: search.threshold, grow: search.grow)
            spots = found
            var counts = [Int](repeating: 0, count: Parallel.workers)
            frame.pixels.withUnsafeMutableBufferPointer { pixels in
                found.values.withUnsafeBufferPointer { spot in
                    counts.withUnsafeMutableBufferPointer { countOut in
                        Parallel.forEachChunk(pixels.count) { part, range in
                            var count = 0
                            for i in range where spot[i] != 0 && pixels[i].isFinite {
                                pixels[i] = .nan
                                count += 1
                            }
                            countOut[part] = count
                        }
                    }
                }
            }
            spotPixels = counts.reduce(0, +)
        }
        if let maskOutput {
            // Static mask, invalid pixels (NaN by now, spots too) in one pass.
            let count = frame.pixels.count
            let values = [UInt8](unsafeUninitializedCapacity: count) { out, initialized in
                frame.pixels.withUnsafeBufferPointer { pixels in
                    // Flags combined with `|`, not `||`, and the addresses in locals: vectorised.
                    guard let mask = out.baseAddress, let values = pixels.baseAddress else { return }
                    if let shared = prepared.staticMask?.values {
                        shared.withUnsafeBufferPointer { shared in
                            guard let under = shared.baseAddress else { return }
                            for i in 0 ..< count {
                                mask[i] = (under[i] != 0 ? 1 : 0) | (values[i].magnitude < .infinity ? 0 : 1)
                            }
                        }
                    } else {
                        for i in 0 ..< count { mask[i] = values[i].magnitude < .infinity ? 0 : 1 }
                    }
                }
                initialized = count
            }
            try Mask(width: frame.width, height: frame.height, values: values).write(to: maskOutput)
        }
        if let thumbnailOutput {
            let png = FrameThumbnail.png(pixels: frame.pixels, width: frame.width, height: frame.height,
                                         sharedMask: prepared.staticMask, spots: spots)
            try AtomicFile.write(Data(png), to: thumbnailOutput)
        }
        var factor = monitor ?? 1
        if normalizeExposure {
            guard let t = frame.metadata.exposureTime, t > 0 else {
                throw BeamlineError(path: source.path, "--normalize-exposure: the header gives no exposure time")
            }
            factor *= t
        }
        var description = prepared.maskDescription
        if prepared.setup.spotSearch != nil { description += " + spots (\(spotPixels) pixels)" }
        let provenance = IntegrationProvenance(
            program: program, source: frame.id, frameCount: source.frameCount, poniPath: poniPath,
            maskDescription: description, darkPath: prepared.setup.darkPath, flatPath: prepared.setup.flatPath,
            normalization: factor, dummy: dummy, sigmaClip: sigmaClip)
        let engine = prepared.engine
        let result = try engine.integrate(frame.pixels, normalization: factor, dummy: dummy, deltaDummy: deltaDummy,
                                          sigmaClip: sigmaClip)
        let header = provenance.headerLines(engine: engine)
        let base = (outputDirectory as NSString).appendingPathComponent(name)
        if let cakeEngine {
            let cake = try cakeEngine.integrate(frame.pixels, normalization: factor, dummy: dummy,
                                                deltaDummy: deltaDummy)
            try IntegrationOutput.writeCake(cake, header: provenance.headerLines(engine: cakeEngine),
                                            to: base + ".cake." + (cakeFormat == .edf ? "edf" : "tif"),
                                            format: cakeFormat)
        }
        // The .xy last: it is the file make waits for.
        if format != .xy { try IntegrationOutput.writeCHI(result, header: header, to: base + ".chi") }
        if format != .chi { try IntegrationOutput.writeXY(result, header: header, to: base + ".xy") }
        return FrameReport(name: name, source: frame.id, spotPixels: spotPixels, invalidPixels: invalid)
    }
}
