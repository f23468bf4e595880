import BeamlineSupport
import Foundation

/// FIT2D's binary mask (.msk): a 1024-byte little-endian header starting with
/// the words "M", "A", "S", "K" (one per 32-bit word) and the width and height at
/// words 4 and 5, then one bit per pixel (least-significant bit first), each row
/// padded to a whole number of 32-bit words. 1 = masked.
public struct FIT2DMask: ImageSource {
    public let path: String
    public var format: ImageFormat { .fit2dMask }
    public var frameCount: Int { 1 }
    public let width: Int
    public let height: Int
    public var pixelType: PixelType { .uint8 }
    public var metadata: ImageMetadata { ImageMetadata() }
    private let reader: ByteReader

    public init(path: String) throws {
        let reader = try ByteReader(contentsOf: path)
        self.reader = reader
        self.path = path
        try reader.require(0, 1024, "the 1024-byte FIT2D mask header")
        width = Int(try reader.int32(at: 16, bigEndian: false))
        height = Int(try reader.int32(at: 20, bigEndian: false))
        guard width > 0, height > 0, width <= 100_000, height <= 100_000 else {
            throw BeamlineError(path: path, "FIT2D mask header gives an impossible size \(width)x\(height)")
        }
        try reader.require(1024, Self.rowBytes(width) * height, "\(width)x\(height) mask bits")
    }

    static func rowBytes(_ width: Int) -> Int { (width + 31) / 32 * 4 }

    public func frame(at index: Int) throws -> Frame {
        try checkIndex(index)
        let rowBytes = Self.rowBytes(width)
        var pixels = [Float](repeating: 0, count: width * height)
        for y in 0 ..< height {
            let row = 1024 + y * rowBytes
            for x in 0 ..< width where reader.bytes[row + x >> 3] & (1 << UInt8(x & 7)) != 0 {
                pixels[y * width + x] = 1
            }
        }
        return Frame(id: FrameID(path: path, index: 0), width: width, height: height, pixels: pixels, pixelType: .uint8)
    }

    public static func write(_ mask: Mask, to path: String) throws {
        var bytes = [UInt8](repeating: 0, count: 1024)
        for (i, c) in "MASK".utf8.enumerated() { bytes[4 * i] = c }
        withUnsafeBytes(of: Int32(mask.width).littleEndian) { bytes.replaceSubrange(16 ..< 20, with: $0) }
        withUnsafeBytes(of: Int32(mask.height).littleEndian) { bytes.replaceSubrange(20 ..< 24, with: $0) }
        bytes[24] = 1
        let rowBytes = rowBytes(mask.width)
        var bits = [UInt8](repeating: 0, count: rowBytes * mask.height)
        for y in 0 ..< mask.height {
            for x in 0 ..< mask.width where mask.isMasked(x: x, y: y) {
                bits[y * rowBytes + x >> 3] |= 1 << UInt8(x & 7)
            }
        }
        try AtomicFile.write(Data(bytes + bits), to: path)
    }
}
