import BeamlineSupport
import Foundation

/// Crystallographic Binary File with "x-CBF_BYTE_OFFSET" compression (Pilatus, Eiger, fabio).
///
/// Byte-offset coding (CBFlib): each pixel is the previous one plus a difference
/// stored as a signed byte; -128 announces a little-endian 16-bit difference, whose
/// value -32768 announces a 32-bit one, whose value -2^31 announces a 64-bit one.
public struct CBFImage: ImageSource {
    public let path: String
    public var format: ImageFormat { .cbf }
    public var frameCount: Int { 1 }
    public let width: Int
    public let height: Int
    public let pixelType: PixelType
    public let metadata: ImageMetadata
    private let reader: ByteReader
    private let dataOffset: Int
    private let binarySize: Int

    public init(path: String) throws {
        let reader = try ByteReader(contentsOf: path)
        self.reader = reader
        self.path = path
        let marker: [UInt8] = [0x0C, 0x1A, 0x04, 0xD5]
        guard let start = reader.find(marker) else {
            throw BeamlineError(path: path, "CBF has no binary section (start marker 0C 1A 04 D5 missing; truncated?)")
        }
        let text = try reader.ascii(at: 0, length: start)
        var mime: [String: String] = [:]
        var conversions = ""
        if let section = text.range(of: "--CIF-BINARY-FORMAT-SECTION--") {
            for line in text[section.upperBound...].split(whereSeparator: \.isNewline) {
                let trimmed = line.trimmingCharacters(in: .whitespaces)
                if trimmed.lowercased().hasPrefix("conversions=") { conversions = trimmed }
                guard let colon = trimmed.firstIndex(of: ":") else { continue }
                let key = trimmed[..<colon].lowercased()
                let value = trimmed[trimmed.index(after: colon)...].trimmingCharacters(in: .whitespaces)
                mime[key] = value
                if key == "content-type" { conversions += value }
            }
        } else {
            throw BeamlineError(path: path, "CBF has no --CIF-BINARY-FORMAT-SECTION--")
        }
        guard conversions.lowercased().contains("byte_offset") else {
            throw BeamlineError(path: path, "CBF compression is not byte_offset (\(conversions.isEmpty ? "none given" : conversions)); only x-CBF_BYTE_OFFSET is supported")
        }
        func int(_ key: String) -> Int? { mime[key].flatMap { Int($0.trimmingCharacters(in: CharacterSet(charactersIn: "\" "))) } }
        guard let fast = int("x-binary-size-fastest-dimension"), let slow = int("x-binary-size-second-dimension"),
              fast > 0, slow > 0, fast <= 100_000, slow <= 100_000 else {
            throw BeamlineError(path: path, "CBF header lacks a valid X-Binary-Size-Fastest-Dimension / Second-Dimension")
        }
        guard let size = int("x-binary-size"), size >= 0 else {
            throw BeamlineError(path: path, "CBF header lacks X-Binary-Size")
        }
        if let elements = int("x-binary-number-of-elements"), elements != fast * slow {
            throw BeamlineError(path: path, "CBF header says \(elements) elements but \(fast) x \(slow) = \(fast * slow)")
        }
        width = fast
        height = slow
        let elementType = (mime["x-binary-element-type"] ?? "signed 32-bit integer").lowercased()
        if elementType.contains("unsigned 32") {
            pixelType = .uint32
        } else if elementType.contains("signed 32") {
            pixelType = .int32
        } else if elementType.contains("unsigned 16") {
            pixelType = .uint16
        } else if elementType.contains("signed 16") {
            pixelType = .int16
        } else if elementType.contains("unsigned 8") {
            pixelType = .uint8
        } else if elementType.contains("signed 8") {
            pixelType = .int8
        } else {
            throw BeamlineError(path: path, "unsupported CBF element type \(elementType)")
        }
        dataOffset = start + 4
        binarySize = size
        try reader.require(dataOffset, size, "the \(size)-byte compressed binary section")
        var meta = ImageMetadata()
        MiniHeader.apply(text, to: &meta)
        metadata = meta
    }

    public func frame(at index: Int) throws -> Frame {
        try checkIndex(index)
        let pixels: [Float]
        do {
            pixels = try reader.bytes.withUnsafeBufferPointer { all in
                try ByteOffset.decode(UnsafeBufferPointer(rebasing: all[dataOffset ..< dataOffset + binarySize]), count: width * height)
            }
        } catch let error as ByteOffset.DecodeError {
            throw BeamlineError(path: path, "corrupt byte_offset stream: \(error.message)")
        }
        return Frame(id: FrameID(path: path, index: 0), width: width, height: height,
                     pixels: pixels, pixelType: pixelType, metadata: metadata)
    }
}

/// The CBF byte-offset codec.
public enum ByteOffset {
    public struct DecodeError: Error, Sendable {
        public var message: String
    }

    public static func decode(_ stream: UnsafeBufferPointer<UInt8>, count: Int) throws(DecodeError) -> [Float] {
        var failure: DecodeError?
        let result = [Float](unsafeUninitializedCapacity: count) { out, initialized in
            let base = UnsafeRawPointer(stream.baseAddress!)
            let n = stream.count
            var position = 0
            var value: Int64 = 0
            var pixel = 0
            while pixel < count {
                guard position < n else { break }
                let small = Int8(bitPattern: stream[position])
                position += 1
                if small != -128 {
                    value &+= Int64(small)
                } else {
                    guard position + 2 <= n else { position = n + 1; break }
                    let medium = Int16(littleEndian: base.loadUnaligned(fromByteOffset: position, as: Int16.self))
                    position += 2
                    if medium != .min {
                        value &+= Int64(medium)
                    } else {
                        guard position + 4 <= n else { position = n + 1; break }
                        let large = Int32(littleEndian: base.loadUnaligned(fromByteOffset: position, as: Int32.self))
                        position += 4
                        if large != .min {
                            value &+= Int64(large)
                        } else {
                            guard position + 8 <= n else { position = n + 1; break }
                            value &+= Int64(littleEndian: base.loadUnaligned(fromByteOffset: position, as: Int64.self))
                            position += 8
                        }
                    }
                }
                out[pixel] = Float(value)
                pixel += 1
            }
            if pixel < count {
                failure = DecodeError(message: "stream ends after \(pixel) of \(count) pixels (file truncated?)")
                for i in pixel ..< count { out[i] = 0 }
            }
            initialized = count
        }
        if let failure { throw failure }
        return result
    }

    /// Encodes integer pixel values (used to write test files and by the simulator).
    public static func encode(_ values: [Int64]) -> [UInt8] {
        var bytes: [UInt8] = []
        bytes.reserveCapacity(values.count)
        var previous: Int64 = 0
        for v in values {
            let d = v &- previous
            previous = v
            if d > -128 && d <= 127 {
                bytes.append(UInt8(bitPattern: Int8(d)))
            } else if d > -32768 && d <= 32767 {
                bytes.append(0x80)
                withUnsafeBytes(of: Int16(d).littleEndian) { bytes.append(contentsOf: $0) }
            } else if d > Int64(Int32.min) && d <= Int64(Int32.max) {
                bytes += [0x80, 0x00, 0x80]
                withUnsafeBytes(of: Int32(d).littleEndian) { bytes.append(contentsOf: $0) }
            } else {
                bytes += [0x80, 0x00, 0x80, 0x00, 0x00, 0x00, 0x80]
                withUnsafeBytes(of: d.littleEndian) { bytes.append(contentsOf: $0) }
            }
        }
        return bytes
    }
}
