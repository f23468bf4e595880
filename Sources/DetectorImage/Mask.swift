import BeamlineSupport
import Foundation

/// A pixel mask: true = masked (excluded), the convention of pyFAI, Dioptas and FIT2D.
public struct Mask: Sendable, Equatable {
    public let width: Int
    public let height: Int
    /// Row-major, 1 = masked.
    public var values: [UInt8]

    public init(width: Int, height: Int, values: [UInt8]? = nil) {
        self.width = width
        self.height = height
        self.values = values ?? [UInt8](repeating: 0, count: width * height)
        precondition(self.values.count == width * height, "mask size mismatch")
    }

    /// A mask from any image: non-zero (or NaN) pixels are masked.
    public init(frame: Frame) {
        self.init(width: frame.width, height: frame.height,
                  values: frame.pixels.map { $0 != 0 ? 1 : 0 })
    }

    /// Reads a mask from TIFF, EDF, FIT2D .msk (or any readable image): non-zero = masked.
    public init(contentsOf path: String) throws {
        self.init(frame: try DetectorImageFile.readFrame(path))
    }

    public func isMasked(x: Int, y: Int) -> Bool { values[y * width + x] != 0 }

    public var maskedCount: Int {
        values.withUnsafeBufferPointer { v in
            var count = 0
            for x in v { count &+= x != 0 ? 1 : 0 }
            return count
        }
    }

    /// The union of two masks of the same shape.
    public func union(_ other: Mask) throws -> Mask {
        guard other.width == width, other.height == height else {
            throw BeamlineError("cannot combine a \(width)x\(height) mask with a \(other.width)x\(other.height) one")
        }
        let combined = [UInt8](unsafeUninitializedCapacity: values.count) { out, initialized in
            values.withUnsafeBufferPointer { a in
                other.values.withUnsafeBufferPointer { b in
                    for i in 0 ..< a.count { out[i] = (a[i] | b[i]) != 0 ? 1 : 0 }
                }
            }
            initialized = values.count
        }
        return Mask(width: width, height: height, values: combined)
    }

    /// Checks that the mask fits images of `width` x `height`.
    public func check(width: Int, height: Int, path: String) throws {
        guard self.width == width, self.height == height else {
            throw BeamlineError(path: path, "mask is \(self.width)x\(self.height) but the image is \(width)x\(height)")
        }
    }

    public enum FileFormat: String, Sendable {
        case tiff, edf, fit2d
    }

    /// Writes the mask (uint8, 1 = masked) as TIFF, EDF or FIT2D .msk, by choice or by extension.
    public func write(to path: String, format: FileFormat? = nil) throws {
        let chosen = format ?? {
            let ext = URL(fileURLWithPath: path).pathExtension.lowercased()
            return ext == "edf" ? .edf : ext == "msk" ? .fit2d : .tiff
        }()
        let ones = values.allSatisfy { $0 <= 1 } ? values : values.map { $0 != 0 ? 1 : 0 }
        switch chosen {
        case .tiff: try TIFFWriter.write(bytes: ones, width: width, height: height, to: path,
                                         description: "mask: 1 = masked (beamline)")
        case .edf: try EDFWriter.write(ones.map { Float($0) }, width: width, height: height, to: path, as: .uint8)
        case .fit2d: try FIT2DMask.write(self, to: path)
        }
    }
}
