import BeamlineSupport
import Foundation

/// Bounds-checked reads of fixed-width numbers from a byte buffer.
///
/// Every decoder reads through this type so that a header that lies about
/// sizes or a truncated file throws instead of reading past the end.
public struct ByteReader: Sendable {
    public let bytes: [UInt8]
    public let path: String

    public init(bytes: [UInt8], path: String) {
        self.bytes = bytes
        self.path = path
    }

    public init(contentsOf path: String) throws {
        self.init(bytes: try InputFile.bytes(of: path), path: path)
    }

    public var count: Int { bytes.count }

    public func require(_ offset: Int, _ length: Int, _ what: @autoclosure () -> String) throws {
        guard offset >= 0, length >= 0, offset <= bytes.count, length <= bytes.count - offset else {
            throw BeamlineError(path: path, "file is truncated: \(what()) needs bytes \(offset)..<\(offset + length) but the file has \(bytes.count)")
        }
    }

    public func uint32(at offset: Int, bigEndian: Bool) throws -> UInt32 {
        try require(offset, 4, "a 32-bit field")
        let b0 = UInt32(bytes[offset]), b1 = UInt32(bytes[offset + 1])
        let b2 = UInt32(bytes[offset + 2]), b3 = UInt32(bytes[offset + 3])
        return bigEndian ? (b0 << 24 | b1 << 16 | b2 << 8 | b3) : (b3 << 24 | b2 << 16 | b1 << 8 | b0)
    }

    public func int32(at offset: Int, bigEndian: Bool) throws -> Int32 {
        Int32(bitPattern: try uint32(at: offset, bigEndian: bigEndian))
    }

    /// ASCII text of `length` bytes (non-ASCII bytes become "?").
    public func ascii(at offset: Int, length: Int) throws -> String {
        try require(offset, length, "a text field")
        return String(decoding: bytes[offset ..< offset + length].map { $0 < 128 ? $0 : 63 }, as: UTF8.self)
    }

    /// The offset of the first occurrence of `needle` at or after `from`, searching at most `limit` bytes.
    public func find(_ needle: [UInt8], from: Int = 0, limit: Int? = nil) -> Int? {
        guard !needle.isEmpty else { return from }
        let end = min(bytes.count, limit.map { from + $0 } ?? bytes.count)
        var i = from
        while i + needle.count <= end {
            if bytes[i] == needle[0] {
                var match = true
                for j in 1 ..< needle.count where bytes[i + j] != needle[j] {
                    match = false
                    break
                }
                if match { return i }
            }
            i += 1
        }
        return nil
    }
}
