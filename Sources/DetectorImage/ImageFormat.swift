import BeamlineSupport
import Foundation

/// The image formats the pipeline reads, recognised by their content.
public enum ImageFormat: String, Sendable, CaseIterable {
    case mar345 = "MAR345"
    case tiff = "TIFF"
    case hdf5 = "HDF5"
    case edf = "EDF"
    case cbf = "CBF"
    case fit2dMask = "FIT2D mask"

    /// Detects the format from the first bytes of the file (never from the name alone).
    public static func detect(path: String) throws -> ImageFormat {
        if let problem = InputFile.problem(path) { throw BeamlineError(path: path, problem) }
        guard let handle = FileHandle(forReadingAtPath: path) else {
            throw BeamlineError(path: path, "cannot be read")
        }
        defer { try? handle.close() }
        let head = [UInt8]((try? handle.read(upToCount: 4096)) ?? Data())
        if let format = detect(head: head) { return format }
        if head.isEmpty { throw BeamlineError(path: path, "file is empty") }
        throw BeamlineError(path: path, "unknown image format (not MAR345, TIFF, HDF5, EDF, CBF or a FIT2D mask): the first bytes are \(head.prefix(8).map { String(format: "%02x", $0) }.joined(separator: " "))")
    }

    /// The format whose signature `head` starts with, if any.
    public static func detect(head: [UInt8]) -> ImageFormat? {
        func starts(_ prefix: [UInt8], at offset: Int = 0) -> Bool {
            head.count >= offset + prefix.count && Array(head[offset ..< offset + prefix.count]) == prefix
        }
        if starts([0x49, 0x49, 0x2A, 0x00]) || starts([0x4D, 0x4D, 0x00, 0x2A])
            || starts([0x49, 0x49, 0x2B, 0x00]) || starts([0x4D, 0x4D, 0x00, 0x2B]) {
            return .tiff
        }
        // HDF5's signature sits at 0 or after a user block of 512, 1024, 2048 ... bytes.
        let hdf5Signature: [UInt8] = [0x89, 0x48, 0x44, 0x46, 0x0D, 0x0A, 0x1A, 0x0A]
        if starts(hdf5Signature) || starts(hdf5Signature, at: 512) || starts(hdf5Signature, at: 1024)
            || starts(hdf5Signature, at: 2048) {
            return .hdf5
        }
        if starts(Array("M\0\0\0A\0\0\0S\0\0\0K\0\0\0".utf8)) { return .fit2dMask }
        if head.count >= 4 {
            let le = UInt32(head[0]) | UInt32(head[1]) << 8 | UInt32(head[2]) << 16 | UInt32(head[3]) << 24
            let be = le.byteSwapped
            if le == 1234 || be == 1234 { return .mar345 }
        }
        let text = String(decoding: head.prefix(2048).map { $0 < 128 ? $0 : 32 }, as: UTF8.self)
        if text.hasPrefix("###CBF") || (text.contains("_array_data.data") && text.contains("--CIF-BINARY-FORMAT-SECTION--")) {
            return .cbf
        }
        if let first = text.first(where: { !$0.isWhitespace }), first == "{",
           text.contains("Dim_1") || text.contains("EDF_") || text.contains("HeaderID") {
            return .edf
        }
        return nil
    }
}
