import BeamlineSupport
import Foundation

/// A MAR345 image-plate scan (.mar2300, .mar3450, .mar1200 … ), "pck" compressed.
///
/// Layout (marresearch, "mar345 formats"): a 4096-byte header of sixteen 32-bit
/// integers (the first is 1234 in the writer's byte order) followed by 64-byte ASCII
/// records up to "END OF HEADER"; then the overflow records, pairs of 32-bit
/// (1-based pixel address, value) for every pixel above 65535, eight pairs to a
/// 64-byte record; then "CCP4 packed image, X: nnnn, Y: nnnn" and the packed pixels.
public struct MAR345Image: ImageSource {
    public let path: String
    public var format: ImageFormat { .mar345 }
    public var frameCount: Int { 1 }
    public let width: Int
    public let height: Int
    public var pixelType: PixelType { .uint32 }
    public let metadata: ImageMetadata
    /// Number of pixels above 65535 stored in overflow records.
    public let overflowCount: Int

    private let reader: ByteReader
    private let bigEndian: Bool
    private let streamOffset: Int
    private let packVersion: CCP4Pack.Version

    public init(path: String) throws {
        let reader = try ByteReader(contentsOf: path)
        try self.init(reader: reader)
    }

    init(reader: ByteReader) throws {
        self.reader = reader
        self.path = reader.path
        try reader.require(0, 4096, "the 4096-byte MAR345 header")
        let little = try reader.uint32(at: 0, bigEndian: false)
        let bigEndian: Bool
        if little == 1234 {
            bigEndian = false
        } else if little.byteSwapped == 1234 {
            bigEndian = true
        } else {
            throw BeamlineError(path: path, "not a MAR345 file (no 1234 byte-order marker)")
        }
        self.bigEndian = bigEndian
        let path = reader.path
        func int(_ i: Int) throws -> Int { Int(try reader.int32(at: 4 * i, bigEndian: bigEndian)) }
        let size = try int(1)
        let high = try int(2)
        let storage = try int(3)
        let totalPixels = try int(5)
        guard size > 1, size <= 20000 else {
            throw BeamlineError(path: path, "header gives an impossible scan size of \(size) pixels per line")
        }
        guard storage == 1 else {
            throw BeamlineError(path: path, storage == 2 ? "spiral MAR345 data is not supported (only pck-compressed images)" : "unknown MAR345 storage format \(storage)")
        }
        guard high >= 0, high <= size * size else {
            throw BeamlineError(path: path, "header gives \(high) overflow pixels for a \(size)x\(size) image")
        }
        overflowCount = high

        var meta = ImageMetadata()
        let pixelLength = try int(6), pixelHeight = try int(7)
        if pixelLength > 0 { meta.pixelSizeX = Double(pixelLength) * 1e-6 }
        if pixelHeight > 0 { meta.pixelSizeY = Double(pixelHeight) * 1e-6 }
        let wavelength = try int(8), distance = try int(9)
        if wavelength > 0 { meta.wavelength = Double(wavelength) * 1e-6 }
        if distance > 0 { meta.distance = Double(distance) * 1e-6 }  // header: µm → m
        meta.header = Self.asciiHeader(reader)
        Self.applyASCII(meta.header, to: &meta)

        // Overflow records, then the pack identifier line.
        let overflowBytes = ((high + 7) / 8) * 64
        try reader.require(4096, overflowBytes, "\(high) overflow records")
        let identifier = Array("CCP4 packed image".utf8)
        guard let idStart = reader.find(identifier, from: 4096 + overflowBytes, limit: 4096)
            ?? reader.find(identifier, from: 4096, limit: overflowBytes + 4096) else {
            throw BeamlineError(path: path, "no \"CCP4 packed image\" section after the header (truncated or not pck-compressed)")
        }
        guard let lineEnd = reader.find([0x0A], from: idStart, limit: 128) else {
            throw BeamlineError(path: path, "unterminated CCP4 pack identifier line")
        }
        let line = try reader.ascii(at: idStart, length: lineEnd - idStart)
        packVersion = line.contains("V2") ? .v2 : .v1
        func dimension(after label: String) -> Int? {
            guard let range = line.range(of: label) else { return nil }
            return Int(line[range.upperBound...].prefix { $0 == " " || $0.isNumber }.trimmingCharacters(in: .whitespaces))
        }
        guard let packedWidth = dimension(after: "X:"), let packedHeight = dimension(after: "Y:"),
              packedWidth > 1, packedHeight > 0, packedWidth <= 20000, packedHeight <= 20000 else {
            throw BeamlineError(path: path, "cannot read the image size from \"\(line)\"")
        }
        width = packedWidth
        height = packedHeight
        guard width * height == totalPixels || totalPixels <= 0 || width == size else {
            throw BeamlineError(path: path, "the header says \(size)x\(size) (\(totalPixels) pixels) but the pack section says \(width)x\(height)")
        }
        streamOffset = lineEnd + 1
        // The CCP4 pack spends at least 6 bits on a block of at most 128 pixels (0.05 bit per
        // pixel): a stream shorter than pixels/256 bytes cannot hold the image, and decoding it
        // would first allocate the whole claimed image.
        let streamBytes = reader.bytes.count - streamOffset
        guard streamBytes >= width * height / 256 else {
            throw BeamlineError(path: path, "the pack section has \(streamBytes) bytes, too few for \(width)x\(height) pixels "
                                + "(at least \(width * height / 256)): the file is truncated")
        }
        metadata = meta
    }

    public func frame(at index: Int) throws -> Frame {
        var storage: [Float] = []
        return try frame(at: index, reusing: &storage)
    }

    public func frame(at index: Int, reusing storage: inout [Float]) throws -> Frame {
        try checkIndex(index)
        let total = width * height
        var failure: CCP4Pack.DecodeError?
        // Decode the integers into the output's own storage, then convert in place:
        // one buffer for the image, not two (and an earlier frame's when given).
        func decode(into out: UnsafeMutableBufferPointer<Float>) {
            let raw = UnsafeMutableRawBufferPointer(out)
            let ints = raw.bindMemory(to: Int32.self)
            reader.bytes.withUnsafeBufferPointer { all in
                do throws(CCP4Pack.DecodeError) {
                    try CCP4Pack.decode(UnsafeBufferPointer(rebasing: all[streamOffset...]), into: ints,
                                        width: width, version: packVersion)
                } catch {
                    failure = error
                }
            }
            let floats = raw.bindMemory(to: Float.self)
            for i in 0 ..< total { floats[i] = Float(raw.load(fromByteOffset: i &* 4, as: Int32.self)) }
        }
        var pixels: [Float]
        if storage.count == total {
            pixels = storage
            storage = []
            pixels.withUnsafeMutableBufferPointer { decode(into: $0) }
        } else {
            storage = []
            pixels = [Float](unsafeUninitializedCapacity: total) { out, initialized in
                decode(into: out)
                initialized = total
            }
        }
        if let failure {
            throw BeamlineError(path: path, "corrupt CCP4 pack stream (v\(packVersion.rawValue)) at byte "
                                + "\(streamOffset + failure.byteOffset) of the file: \(failure.message)")
        }
        for (address, value) in try overflowRecords() {
            pixels[address] = Float(value)
        }
        return Frame(id: FrameID(path: path, index: 0), width: width, height: height,
                     pixels: pixels, pixelType: .uint32, metadata: metadata)
    }

    /// (0-based pixel index, value) of each overflow record.
    public func overflowRecords() throws -> [(Int, UInt32)] {
        var records: [(Int, UInt32)] = []
        records.reserveCapacity(overflowCount)
        for i in 0 ..< overflowCount {
            let address = Int(try reader.int32(at: 4096 + 8 * i, bigEndian: bigEndian))
            let value = try reader.uint32(at: 4096 + 8 * i + 4, bigEndian: bigEndian)
            // An empty record (address 0) holds nothing: the mar345 programs and fabio skip it.
            if address == 0 { continue }
            guard address >= 1, address <= width * height else {
                throw BeamlineError(path: path, "overflow record \(i) points at pixel \(address), outside the \(width)x\(height) image")
            }
            records.append((address - 1, value))
        }
        return records
    }

    static func asciiHeader(_ reader: ByteReader) -> [HeaderEntry] {
        guard let text = try? reader.ascii(at: 64, length: 4096 - 64) else { return [] }
        var entries: [HeaderEntry] = []
        for line in text.split(whereSeparator: \.isNewline) {
            let trimmed = line.trimmingCharacters(in: .whitespaces)
            if trimmed == "END OF HEADER" { break }
            guard !trimmed.isEmpty, trimmed != "mar research" else { continue }
            let parts = trimmed.split(separator: " ", maxSplits: 1, omittingEmptySubsequences: true)
            entries.append(HeaderEntry(String(parts[0]), parts.count > 1 ? parts[1].trimmingCharacters(in: .whitespaces) : ""))
        }
        return entries
    }

    static func applyASCII(_ header: [HeaderEntry], to meta: inout ImageMetadata) {
        func pairs(_ value: String) -> [String: Double] {
            let words = value.split(separator: " ").map(String.init)
            var result: [String: Double] = [:]
            var i = 0
            while i + 1 < words.count {
                if let v = Double(words[i + 1]) { result[words[i]] = v }
                i += 2
            }
            return result
        }
        for entry in header {
            switch entry.key {
            case "WAVELENGTH": if let v = Double(entry.value), v > 0 { meta.wavelength = v }
            case "DISTANCE": if let v = Double(entry.value), v > 0 { meta.distance = v * 1e-3 }
            case "PIXEL":
                let p = pairs(entry.value)
                if let v = p["LENGTH"], v > 0 { meta.pixelSizeX = v * 1e-6 }
                if let v = p["HEIGHT"], v > 0 { meta.pixelSizeY = v * 1e-6 }
            case "CENTER":
                let p = pairs(entry.value)
                meta.beamCenterX = p["X"]
                meta.beamCenterY = p["Y"]
            case "TIME": if let v = Double(entry.value) { meta.exposureTime = v }
            case "DATE": meta.date = entry.value
            default: break
            }
        }
    }
}

/// Writes MAR345 files: pck v1, overflow records for pixels above 65535.
///
/// The stream is packed with 16-bit word sums, as MAR's scanner software and CCP4's
/// `pack_wordimage` do, so that every MAR345 reader decodes it; overflow pixels hold
/// 65535 in the stream and their value in the overflow records.
public enum MAR345Writer {
    /// Writes a square frame to `path` atomically. Negative pixels are stored as 0.
    public static func write(_ frame: Frame, to path: String) throws {
        guard frame.width == frame.height, frame.width > 1 else {
            throw BeamlineError(path: path, "MAR345 images are square; got \(frame.width)x\(frame.height)")
        }
        try AtomicFile.write(Data(encode(frame)), to: path)
    }

    public static func encode(_ frame: Frame) -> [UInt8] {
        let size = frame.width
        let values = frame.pixels.map { value -> Int32 in
            value.isFinite && value > 0 ? Int32(clamping: Int64(value.rounded())) : 0
        }
        let overflow = values.enumerated().filter { $0.element > 65535 }
        let meta = frame.metadata
        var ints = [Int32](repeating: 0, count: 16)
        ints[0] = 1234
        ints[1] = Int32(size)
        ints[2] = Int32(overflow.count)
        ints[3] = 1
        ints[4] = 1
        ints[5] = Int32(size * size)
        ints[6] = Int32(((meta.pixelSizeX ?? 150e-6) * 1e6).rounded())
        ints[7] = Int32(((meta.pixelSizeY ?? meta.pixelSizeX ?? 150e-6) * 1e6).rounded())
        ints[8] = Int32(((meta.wavelength ?? 0) * 1e6).rounded())
        ints[9] = Int32(((meta.distance ?? 0) * 1e6).rounded())
        var bytes: [UInt8] = []
        for v in ints { withUnsafeBytes(of: v.littleEndian) { bytes.append(contentsOf: $0) } }
        func record(_ text: String) {
            var line = Array(text.utf8.prefix(63))
            line += [UInt8](repeating: 0x20, count: 63 - line.count)
            bytes += line + [0x0A]
        }
        func number(_ v: Double, _ digits: Int) -> String { String(format: "%.\(digits)f", v) }
        record("mar research")
        record("PROGRAM        beamline")
        if let date = meta.date { record("DATE           \(date)") }
        record("FORMAT         \(size)  PCK  \(size * size)")
        record("HIGH           \(overflow.count)")
        record("PIXEL          LENGTH \(ints[6])  HEIGHT \(ints[7])")
        if let w = meta.wavelength { record("WAVELENGTH     \(number(w, 6))") }
        if let d = meta.distance { record("DISTANCE       \(number(d * 1e3, 3))") }
        if let x = meta.beamCenterX, let y = meta.beamCenterY { record("CENTER         X \(number(x, 3))  Y \(number(y, 3))") }
        if let t = meta.exposureTime { record("TIME           \(number(t, 3))") }
        record("MODE           TIME")
        record("END OF HEADER")
        bytes += [UInt8](repeating: 0x20, count: 4096 - bytes.count)
        var records: [Int32] = []
        for (index, value) in overflow { records += [Int32(index + 1), value] }
        while records.count % 16 != 0 { records.append(0) }
        for v in records { withUnsafeBytes(of: v.littleEndian) { bytes.append(contentsOf: $0) } }
        bytes += Array(String(format: "\nCCP4 packed image, X: %04d, Y: %04d\n", size, size).utf8)
        bytes += CCP4Pack.encode(values.map { min($0, 65535) }, width: size, wordSized: true)
        return bytes
    }
}
