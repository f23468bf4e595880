import BeamlineSupport

/// A file holding one or more detector frames of one shape.
///
/// Frames are read one at a time, so a long HDF5 series never has to fit in memory.
public protocol ImageSource {
    var path: String { get }
    var format: ImageFormat { get }
    var frameCount: Int { get }
    var width: Int { get }
    var height: Int { get }
    var pixelType: PixelType { get }
    /// Metadata common to every frame (from the file header).
    var metadata: ImageMetadata { get }
    func frame(at index: Int) throws -> Frame
    /// The frame at `index`, decoded into `storage` when the reader can and `storage` holds
    /// width × height values (an earlier frame's pixels, given back); `storage` is left empty.
    /// A series then reuses two buffers instead of asking the system for fresh pages per frame.
    func frame(at index: Int, reusing storage: inout [Float]) throws -> Frame
}

extension ImageSource {
    public func frame(at index: Int, reusing storage: inout [Float]) throws -> Frame {
        storage = []
        return try frame(at: index)
    }

    /// Every frame in order, read lazily.
    public func frames() -> some Sequence<Result<Frame, any Error>> {
        (0 ..< frameCount).lazy.map { index in Result { try self.frame(at: index) } }
    }

    func checkIndex(_ index: Int) throws {
        guard index >= 0, index < frameCount else {
            throw BeamlineError(path: path, "frame \(index) does not exist (the file has \(frameCount) frame\(frameCount == 1 ? "" : "s"))")
        }
    }
}

/// Opens detector image files, choosing the reader from the file's content.
public enum DetectorImageFile {
    /// Opens `path`, detecting its format from its first bytes.
    ///
    /// - Parameter dataset: for HDF5, the dataset holding the frames (default: the
    ///   NeXus/Eiger layout `/entry/data/data`, or the first 2D/3D dataset found there).
    public static func open(_ path: String, dataset: String? = nil) throws -> any ImageSource {
        let format = try ImageFormat.detect(path: path)
        switch format {
        case .mar345: return try MAR345Image(path: path)
        case .tiff: return try TIFFImage(path: path)
        case .hdf5: return try HDF5Image(path: path, dataset: dataset)
        case .edf: return try EDFImage(path: path)
        case .cbf: return try CBFImage(path: path)
        case .fit2dMask: return try FIT2DMask(path: path)
        }
    }

    /// Reads the single frame at `index` of `path`.
    public static func readFrame(_ path: String, index: Int = 0, dataset: String? = nil) throws -> Frame {
        try open(path, dataset: dataset).frame(at: index)
    }
}

/// Bounds on what a header may claim, so that a damaged or hostile file is refused before a
/// buffer of its claimed size is allocated (a compressed TIFF or HDF5 frame may decode to much
/// more than the file's size, so the file's size alone does not bound it).
public enum ImageLimits {
    /// 2²⁷ pixels (11 585²): above every area detector (a Rayonix MX-340 is 7680², an Eiger2 16M
    /// 4148 × 4362, a MAR345 3450²).
    public static let maximumPixels = 1 << 27

    public static func check(width: Int, height: Int, path: String) throws {
        guard width > 0, height > 0, width <= maximumPixels / height else {
            throw BeamlineError(path: path, "the header claims \(width)x\(height) pixels, more than any detector makes "
                                + "(at most \(maximumPixels)): the file is damaged")
        }
    }
}
