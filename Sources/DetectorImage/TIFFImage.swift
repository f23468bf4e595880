import BeamlineSupport
import CTIFF
#if canImport(Glibc)
import Glibc
#endif

/// Owns one libtiff handle; closing happens exactly once, on every path.
final class TIFFHandle {
    let pointer: OpaquePointer
    let path: String
    private var closed = false

    init(path: String, mode: String) throws {
        var handle: OpaquePointer?
        var message = [CChar](repeating: 0, count: 1024)
        let status = ctiff_open(path, mode, &handle, &message, message.count)
        guard status == 0, let handle else {
            let text = String(cBuffer: message)
            throw BeamlineError(path: path, "libtiff: \(text.isEmpty ? "cannot open" : text)")
        }
        self.pointer = handle
        self.path = path
    }

    deinit { if !closed { _ = ctiff_close(pointer) } }

    /// Flushes and closes a file being written: a failure (a full disk) is an error.
    func finish(reportingAs destination: String) throws {
        closed = true
        guard ctiff_close(pointer) == 0 else {
            throw BeamlineError(path: destination, "cannot write (libtiff could not flush the file: disk full?)")
        }
    }

    func error(_ context: String) -> BeamlineError {
        let text = String(cString: ctiff_last_error(pointer))
        return BeamlineError(path: path, "libtiff: \(context)\(text.isEmpty ? "" : ": " + text)")
    }
}

/// A TIFF detector image (MarCCD, Pilatus, Perkin-Elmer, tifffile): one frame per page.
///
/// 8/16/32/64-bit unsigned and signed integers and 32/64-bit floats, strips or tiles,
/// any compression libtiff decodes. A page with several samples per pixel holds
/// several frames, one per sample plane: tifffile stores a small stack (3 × H × W)
/// that way.
public struct TIFFImage: ImageSource {
    public let path: String
    public var format: ImageFormat { .tiff }
    public let frameCount: Int
    public let width: Int
    public let height: Int
    public let pixelType: PixelType
    public let metadata: ImageMetadata
    private let handle: TIFFHandle
    private let samplesPerPage: Int

    public init(path: String) throws {
        handle = try TIFFHandle(path: path, mode: "r")
        self.path = path
        var pages: UInt32 = 0
        ctiff_page_count(handle.pointer, &pages)
        guard pages > 0 else { throw handle.error("no image in the file") }
        let info = try Self.pageInfo(handle, 0)
        samplesPerPage = max(1, Int(info.samples_per_pixel))
        frameCount = Int(pages) * samplesPerPage
        width = Int(info.width)
        height = Int(info.height)
        try ImageLimits.check(width: width, height: height, path: path)
        // No TIFF compression expands data more than about 4096 times (LZW's longest string per
        // 12-bit code): a page claiming more than that over the file's size is damaged.
        var status = stat()
        let fileBytes = stat(path, &status) == 0 ? Int(status.st_size) : 0
        let claimed = width * height * max(1, Int(info.bits_per_sample) / 8) * samplesPerPage
        guard claimed <= max(fileBytes, 1) * 4096 else {
            throw BeamlineError(path: path, "the header claims \(width)x\(height) pixels (\(claimed) bytes) in a file of "
                                + "\(fileBytes) bytes, more than any TIFF compression holds: the file is damaged")
        }
        pixelType = try Self.pixelType(info, handle)
        var description = [CChar](repeating: 0, count: 65536)
        ctiff_page_description(handle.pointer, 0, &description, description.count)
        var meta = ImageMetadata()
        MiniHeader.apply(String(cBuffer: description), to: &meta)
        metadata = meta
    }

    static func pageInfo(_ handle: TIFFHandle, _ page: Int) throws -> ctiff_page_info {
        var info = ctiff_page_info()
        guard ctiff_page_info_get(handle.pointer, UInt32(page), &info) == 0 else {
            throw handle.error("cannot read page \(page)")
        }
        guard info.width > 0, info.height > 0 else { throw handle.error("page \(page) has an empty shape") }
        return info
    }

    static func pixelType(_ info: ctiff_page_info, _ handle: TIFFHandle) throws -> PixelType {
        let format = Int32(info.sample_format)
        guard let type = PixelType(bytes: Int(info.bits_per_sample) / 8,
                                   signed: format == Int32(CTIFF_SAMPLE_INT),
                                   floatingPoint: format == Int32(CTIFF_SAMPLE_FLOAT)),
              info.bits_per_sample % 8 == 0 else {
            throw handle.error("unsupported sample layout: \(info.bits_per_sample) bits, sample format \(info.sample_format)")
        }
        return type
    }

    public func frame(at index: Int) throws -> Frame {
        try checkIndex(index)
        let page = index / samplesPerPage, sample = index % samplesPerPage
        let info = try Self.pageInfo(handle, page)
        guard Int(info.width) == width, Int(info.height) == height, Int(info.samples_per_pixel) == samplesPerPage else {
            throw BeamlineError(path: path, "page \(page) is \(info.width)x\(info.height)x\(info.samples_per_pixel), unlike page 0 (\(width)x\(height)x\(samplesPerPage))")
        }
        let type = try Self.pixelType(info, handle)
        let count = width * height
        var raw = [UInt8](repeating: 0, count: count * type.byteCount)
        let status = raw.withUnsafeMutableBytes { ctiff_read_page(handle.pointer, UInt32(page), UInt16(sample), $0.baseAddress, $0.count) }
        guard status == 0 else { throw handle.error("cannot decode page \(page)") }
        let pixels = raw.withUnsafeBytes { PixelConversion.toFloat($0, type: type, count: count, swapBytes: false) }
        return Frame(id: FrameID(path: path, index: index), width: width, height: height,
                     pixels: pixels, pixelType: type, metadata: metadata)
    }
}

/// Writes TIFF images through libtiff.
public enum TIFFWriter {
    public enum SampleType: Sendable {
        case float32, uint32, uint16, uint8
    }

    /// Writes `pixels` (row-major, `width` per row) as a single-page TIFF, atomically.
    /// Integer types round and clamp the values to their range.
    public static func write(_ pixels: [Float], width: Int, height: Int, to path: String,
                             as type: SampleType = .float32, description: String = "",
                             compression: Int32 = Int32(CTIFF_COMPRESSION_NONE)) throws {
        guard pixels.count == width * height, width > 0, height > 0 else {
            throw BeamlineError(path: path, "cannot write a \(width)x\(height) image from \(pixels.count) pixels")
        }
        func rounded(_ v: Float, _ upper: Double) -> Double { v.isFinite ? min(max(Double(v).rounded(), 0), upper) : 0 }
        switch type {
        case .float32:
            try writeSamples(pixels, bits: 32, format: Int32(CTIFF_SAMPLE_FLOAT), width: width, height: height, to: path,
                             description: description, compression: compression)
        case .uint32:
            try writeSamples(pixels.map { UInt32(rounded($0, 4294967295)) }, bits: 32, format: Int32(CTIFF_SAMPLE_UINT),
                             width: width, height: height, to: path, description: description, compression: compression)
        case .uint16:
            try writeSamples(pixels.map { UInt16(rounded($0, 65535)) }, bits: 16, format: Int32(CTIFF_SAMPLE_UINT),
                             width: width, height: height, to: path, description: description, compression: compression)
        case .uint8:
            try write(bytes: pixels.map { UInt8(rounded($0, 255)) }, width: width, height: height, to: path,
                      description: description, compression: compression)
        }
    }

    /// Writes 8-bit samples as they are (masks: no conversion through floats).
    public static func write(bytes: [UInt8], width: Int, height: Int, to path: String, description: String = "",
                             compression: Int32 = Int32(CTIFF_COMPRESSION_NONE)) throws {
        guard bytes.count == width * height, width > 0, height > 0 else {
            throw BeamlineError(path: path, "cannot write a \(width)x\(height) image from \(bytes.count) pixels")
        }
        try writeSamples(bytes, bits: 8, format: Int32(CTIFF_SAMPLE_UINT), width: width, height: height, to: path,
                         description: description, compression: compression)
    }

    static func writeSamples<T>(_ samples: [T], bits: Int, format: Int32, width: Int, height: Int, to path: String,
                                description: String, compression: Int32) throws {
        try AtomicFile.write(to: path) { temporary in
            let handle = try TIFFHandle(path: temporary, mode: "w")
            let status = samples.withUnsafeBytes {
                ctiff_write_page(handle.pointer, UInt32(width), UInt32(height), UInt16(bits), UInt16(format),
                                 UInt16(compression), $0.baseAddress, description)
            }
            let code = errno
            if status != 0 {
                // libtiff reports a full disk as a "write error": say what the system said.
                let cause = code == ENOSPC ? "no space left on the device; " : code == EROFS ? "read-only file system; " : ""
                throw BeamlineError(path: path, cause + handle.error("cannot write").message)
            }
            try handle.finish(reportingAs: path)
        }
    }
}
