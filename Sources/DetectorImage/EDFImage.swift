import BeamlineSupport
import Foundation

/// ESRF Data Format: ASCII headers `{ key = value ; … }` padded to 512 bytes, each
/// followed by its binary block; several blocks make several frames.
public struct EDFImage: ImageSource {
    public let path: String
    public var format: ImageFormat { .edf }
    public var frameCount: Int { blocks.count }
    public var width: Int { blocks[0].width }
    public var height: Int { blocks[0].height }
    public var pixelType: PixelType { blocks[0].type }
    public var metadata: ImageMetadata { blocks[0].metadata }

    struct Block {
        var offset: Int
        var width: Int
        var height: Int
        var type: PixelType
        var bigEndian: Bool
        var metadata: ImageMetadata
    }

    private let reader: ByteReader
    private let blocks: [Block]

    static let dataTypes: [String: PixelType] = [
        "unsignedbyte": .uint8, "unsignedchar": .uint8, "signedbyte": .int8, "signedchar": .int8,
        "unsignedshort": .uint16, "unsignedshortinteger": .uint16, "signedshort": .int16, "signedshortinteger": .int16,
        "unsignedinteger": .uint32, "unsignedint": .uint32, "unsignedlong": .uint32, "unsignedlonginteger": .uint32,
        "signedinteger": .int32, "signedint": .int32, "signedlong": .int32, "signedlonginteger": .int32,
        "unsigned64": .uint64, "signed64": .int64,
        "floatvalue": .float32, "float": .float32, "floatieee32": .float32, "real": .float32,
        "doublevalue": .float64, "double": .float64, "doubleieee64": .float64,
    ]

    public init(path: String) throws {
        let reader = try ByteReader(contentsOf: path)
        self.reader = reader
        self.path = path
        var blocks: [Block] = []
        var offset = 0
        while offset < reader.count {
            // Skip padding between blocks (some writers leave newlines).
            while offset < reader.count, reader.bytes[offset] != UInt8(ascii: "{") {
                guard reader.bytes[offset] == 0x0A || reader.bytes[offset] == 0x0D || reader.bytes[offset] == 0x20 || reader.bytes[offset] == 0 else {
                    if blocks.isEmpty { throw BeamlineError(path: path, "not an EDF file (no '{' header)") }
                    throw BeamlineError(path: path, "unexpected data after block \(blocks.count - 1) at byte \(offset)")
                }
                offset += 1
            }
            if offset >= reader.count { break }
            guard let close = reader.find([UInt8(ascii: "}")], from: offset, limit: 1 << 20) else {
                throw BeamlineError(path: path, "EDF header at byte \(offset) has no closing '}'")
            }
            var dataStart = close + 1
            if dataStart < reader.count, reader.bytes[dataStart] == 0x0D { dataStart += 1 }
            if dataStart < reader.count, reader.bytes[dataStart] == 0x0A { dataStart += 1 }
            let header = Self.parseHeader(try reader.ascii(at: offset + 1, length: close - offset - 1))
            let block = try Self.block(from: header, dataStart: dataStart, path: path, index: blocks.count)
            let size = Int(header.first { $0.key.lowercased() == "size" }.flatMap { Int($0.value) } ?? block.width * block.height * block.type.byteCount)
            let needed = block.width * block.height * block.type.byteCount
            guard size >= needed else {
                throw BeamlineError(path: path, "block \(blocks.count): Size = \(size) bytes is less than Dim_1 × Dim_2 × \(block.type.byteCount) = \(needed)")
            }
            try reader.require(dataStart, needed, "block \(blocks.count)'s \(block.width)x\(block.height) \(block.type.rawValue) data")
            blocks.append(block)
            offset = dataStart + size
        }
        guard !blocks.isEmpty else { throw BeamlineError(path: path, "EDF file has no data block") }
        self.blocks = blocks
    }

    static func parseHeader(_ text: String) -> [HeaderEntry] {
        text.split(separator: ";").compactMap { item -> HeaderEntry? in
            let pair = item.split(separator: "=", maxSplits: 1)
            guard pair.count == 2 else { return nil }
            let key = pair[0].trimmingCharacters(in: .whitespacesAndNewlines)
            guard !key.isEmpty else { return nil }
            return HeaderEntry(key, pair[1].trimmingCharacters(in: .whitespacesAndNewlines))
        }
    }

    static func block(from header: [HeaderEntry], dataStart: Int, path: String, index: Int) throws -> Block {
        func value(_ key: String) -> String? {
            header.first { $0.key.lowercased() == key.lowercased() }?.value
        }
        guard let w = value("Dim_1").flatMap({ Int($0) }), let h = value("Dim_2").flatMap({ Int($0) }) ?? (value("Dim_1") != nil ? 1 : nil),
              w > 0, h > 0, w <= 100_000, h <= 100_000 else {
            throw BeamlineError(path: path, "block \(index): missing or bad Dim_1/Dim_2")
        }
        let typeName = (value("DataType") ?? "UnsignedShort").lowercased().replacingOccurrences(of: " ", with: "")
        guard let type = dataTypes[typeName] else {
            throw BeamlineError(path: path, "block \(index): unknown DataType \"\(value("DataType") ?? "")\"")
        }
        if let compression = value("Compression"), !["none", ""].contains(compression.lowercased()) {
            throw BeamlineError(path: path, "block \(index): compressed EDF (\(compression)) is not supported; store it uncompressed")
        }
        let order = (value("ByteOrder") ?? "LowByteFirst").lowercased()
        var meta = ImageMetadata(header: header)
        func number(_ keys: String...) -> Double? {
            for key in keys { if let v = value(key).flatMap({ Double($0.split(separator: " ").first ?? "") }) { return v } }
            return nil
        }
        meta.wavelength = number("Wavelength", "wavelength").map { $0 < 1e-6 ? $0 * 1e10 : $0 }
        meta.distance = number("SampleDistance", "Distance")
        meta.pixelSizeX = number("PSize_1", "pixel_size_x")
        meta.pixelSizeY = number("PSize_2", "pixel_size_y")
        meta.beamCenterX = number("Center_1")
        meta.beamCenterY = number("Center_2")
        meta.exposureTime = number("ExposureTime", "count_time", "acq_expo_time")
        meta.date = value("Date") ?? value("time")
        return Block(offset: dataStart, width: w, height: h, type: type, bigEndian: order.hasPrefix("high"), metadata: meta)
    }

    public func frame(at index: Int) throws -> Frame {
        try checkIndex(index)
        let block = blocks[index]
        let count = block.width * block.height
        let swap = block.bigEndian == (UInt16(1).littleEndian == 1)
        let pixels = reader.bytes.withUnsafeBytes { all in
            PixelConversion.toFloat(UnsafeRawBufferPointer(rebasing: all[block.offset ..< block.offset + count * block.type.byteCount]),
                                    type: block.type, count: count, swapBytes: swap)
        }
        return Frame(id: FrameID(path: path, index: index), width: block.width, height: block.height,
                     pixels: pixels, pixelType: block.type, metadata: block.metadata)
    }
}

/// Writes EDF files (one block, little-endian, float32 or uint16/uint32/uint8).
public enum EDFWriter {
    public enum SampleType: String, Sendable {
        case float32 = "FloatValue", uint32 = "UnsignedInteger", uint16 = "UnsignedShort", uint8 = "UnsignedByte"
    }

    /// Writes one frame atomically; `extraHeader` adds keys (e.g. axes of a cake).
    public static func write(_ pixels: [Float], width: Int, height: Int, to path: String,
                             as type: SampleType = .float32, extraHeader: [HeaderEntry] = []) throws {
        guard pixels.count == width * height, width > 0, height > 0 else {
            throw BeamlineError(path: path, "cannot write a \(width)x\(height) image from \(pixels.count) pixels")
        }
        var data: [UInt8] = []
        func append<T: FixedWidthInteger>(_ v: T) { withUnsafeBytes(of: v.littleEndian) { data.append(contentsOf: $0) } }
        func clamp(_ v: Float, _ upper: Double) -> Double { v.isFinite ? min(max(Double(v).rounded(), 0), upper) : 0 }
        switch type {
        case .float32: for v in pixels { append(v.bitPattern) }
        case .uint32: for v in pixels { append(UInt32(clamp(v, 4294967295))) }
        case .uint16: for v in pixels { append(UInt16(clamp(v, 65535))) }
        case .uint8: for v in pixels { append(UInt8(clamp(v, 255))) }
        }
        var lines = [
            "HeaderID = EH:000001:000000:000000 ;",
            "Image = 1 ;",
            "ByteOrder = LowByteFirst ;",
            "DataType = \(type.rawValue) ;",
            "Dim_1 = \(width) ;",
            "Dim_2 = \(height) ;",
            "Size = \(data.count) ;",
        ]
        for entry in extraHeader {
            let key = entry.key.replacingOccurrences(of: ";", with: ",").replacingOccurrences(of: "=", with: ":")
            lines.append("\(key) = \(entry.value.replacingOccurrences(of: ";", with: ",").replacingOccurrences(of: "\n", with: " ")) ;")
        }
        var header = "{\n" + lines.joined(separator: "\n") + "\n"
        // Pad so header + "}\n" is a multiple of 512 bytes.
        let padded = ((header.utf8.count + 2 + 511) / 512) * 512
        header += String(repeating: " ", count: padded - header.utf8.count - 2) + "}\n"
        try AtomicFile.write(Data(Array(header.utf8) + data), to: path)
    }
}
