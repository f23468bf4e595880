import BeamlineSupport

/// J. P. Abrahams' "pack" compression of CCP4, used by MAR345 image plates.
///
/// The stream is a sequence of blocks, read least-significant bit first. A block
/// header gives a pixel count (2^n, 3 bits) and a bit width (3 bits in version 1:
/// 0, 4, 5, 6, 7, 8, 16, 32; 4 bits in version 2: 0, 3 ... 16, 32); then follow that
/// many two's-complement differences. Each difference is added to a prediction:
/// the previous pixel on the first row, and beyond it the mean of the left, upper-left,
/// upper and upper-right neighbours, `(a + b + c + d + 2) / 4` with C's truncating
/// division.
///
/// Streams come in two arithmetic flavours that agree below 32768: packers working on
/// 32-bit integers (CCP4's `pack_longimage`, fabio, this project), and MAR's own
/// scanner software, which packs 16-bit words. `decode` tries 32-bit arithmetic and
/// falls back to 16-bit words when the 32-bit result is impossible for an image plate.
public enum CCP4Pack {
    public enum Version: Int, Sendable {
        case v1 = 1, v2 = 2
    }

    static let v1BitWidths: [Int] = [0, 4, 5, 6, 7, 8, 16, 32]
    static let v2BitWidths: [Int] = [0, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15, 16, 32]

    public struct DecodeError: Error, Sendable {
        public var message: String
    }

    /// Decodes `width * height` pixels from `stream` with 32-bit integer arithmetic.
    public static func decode32(_ stream: UnsafeBufferPointer<UInt8>, width: Int, height: Int,
                                version: Version) throws(DecodeError) -> [Int32] {
        try decode(stream, width: width, height: height, version: version, wordSized: false)
    }

    /// Decodes with 16-bit word arithmetic (MAR scanner software), results as unsigned 16-bit values.
    public static func decode16(_ stream: UnsafeBufferPointer<UInt8>, width: Int, height: Int,
                                version: Version) throws(DecodeError) -> [Int32] {
        try decode(stream, width: width, height: height, version: version, wordSized: true)
    }

    private static func decode(_ stream: UnsafeBufferPointer<UInt8>, width x: Int, height y: Int,
                               version: Version, wordSized: Bool) throws(DecodeError) -> [Int32] {
        let total = x * y
        guard x > 1, y > 0 else { throw DecodeError(message: "bad image size \(x) x \(y)") }
        let widths = version == .v1 ? v1BitWidths : v2BitWidths
        let widthCodeBits = version == .v1 ? 3 : 4
        let headerBits = 3 + widthCodeBits
        var failure: DecodeError?
        let image = [Int32](unsafeUninitializedCapacity: total) { img, initialized in
            var reader = BitReader(stream)
            var pixel = 0
            widths.withUnsafeBufferPointer { widths in
                while pixel < total {
                    guard let header = reader.take(headerBits) else {
                        failure = DecodeError(message: "packed stream ends at pixel \(pixel) of \(total) (file truncated?)")
                        return
                    }
                    let count = 1 << Int(header & 7)
                    let bits = widths[Int(header >> 3) & ((1 << widthCodeBits) - 1)]
                    let end = min(pixel + count, total)
                    while pixel < end {
                        var difference: Int32 = 0
                        if bits > 0 {
                            guard let raw = reader.take(bits) else {
                                failure = DecodeError(message: "packed stream ends at pixel \(pixel) of \(total) (file truncated?)")
                                return
                            }
                            // Sign-extend the `bits`-bit two's-complement value.
                            let shift = 64 - bits
                            difference = Int32(truncatingIfNeeded: Int64(bitPattern: raw << UInt64(shift)) >> Int64(shift))
                        }
                        var value: Int32
                        if pixel > x {
                            if wordSized {
                                let a = Int32(Int16(truncatingIfNeeded: img[pixel - 1]))
                                let b = Int32(Int16(truncatingIfNeeded: img[pixel - x + 1]))
                                let c = Int32(Int16(truncatingIfNeeded: img[pixel - x]))
                                let d = Int32(Int16(truncatingIfNeeded: img[pixel - x - 1]))
                                value = difference &+ (a &+ b &+ c &+ d &+ 2) / 4
                            } else {
                                value = difference &+ (img[pixel - 1] &+ img[pixel - x + 1] &+ img[pixel - x] &+ img[pixel - x - 1] &+ 2) / 4
                            }
                        } else if pixel != 0 {
                            value = img[pixel - 1] &+ difference
                        } else {
                            value = difference
                        }
                        if wordSized { value = Int32(UInt16(truncatingIfNeeded: value)) }
                        img[pixel] = value
                        pixel += 1
                    }
                }
            }
            if failure != nil {
                // Leave the buffer fully initialised even on failure.
                for i in pixel ..< total { img[i] = 0 }
            }
            initialized = total
        }
        if let failure { throw failure }
        return image
    }

    /// Packs `pixels` (row-major, `width` per row) as a version-1 stream, choosing for
    /// each block the pixel count that costs fewest bits.
    ///
    /// - Parameter wordSized: predict with 16-bit word arithmetic as MAR's scanner
    ///   software does (values taken modulo 65536) instead of 32-bit integers.
    public static func encode(_ pixels: [Int32], width x: Int, wordSized: Bool = false) -> [UInt8] {
        let total = pixels.count
        let values = wordSized ? pixels.map { Int32(Int16(truncatingIfNeeded: $0)) } : pixels
        var differences = [Int32](repeating: 0, count: total)
        for pixel in 0 ..< total {
            let prediction: Int32
            if pixel > x {
                prediction = (values[pixel - 1] &+ values[pixel - x + 1] &+ values[pixel - x] &+ values[pixel - x - 1] &+ 2) / 4
            } else if pixel != 0 {
                prediction = values[pixel - 1]
            } else {
                prediction = 0
            }
            differences[pixel] = wordSized ? Int32(Int16(truncatingIfNeeded: values[pixel] &- prediction)) : values[pixel] &- prediction
        }
        func widthCode(_ d: Int32) -> Int {
            if d == 0 { return 0 }
            for code in 1 ..< 7 {
                let half = Int32(1) << Int32(v1BitWidths[code] - 1)
                if d >= -half && d < half { return code }
            }
            return 7
        }
        let codes = differences.map(widthCode)
        var writer = BitWriter()
        var pixel = 0
        while pixel < total {
            // Best block starting here: minimise bits per pixel, prefer longer blocks.
            var best = (countCode: 0, widthCode: codes[pixel], cost: Double(6 + v1BitWidths[codes[pixel]]))
            var widest = codes[pixel]
            for countCode in 1 ... 7 {
                let count = 1 << countCode
                if pixel + count > total { break }
                for i in (pixel + (count >> 1)) ..< (pixel + count) { widest = max(widest, codes[i]) }
                let cost = Double(6 + count * v1BitWidths[widest]) / Double(count)
                if cost <= best.cost { best = (countCode, widest, cost) }
            }
            writer.put(UInt64(best.countCode), bits: 3)
            writer.put(UInt64(best.widthCode), bits: 3)
            let bits = v1BitWidths[best.widthCode]
            let count = 1 << best.countCode
            if bits > 0 {
                let mask: UInt64 = bits == 64 ? ~0 : (1 << UInt64(bits)) - 1
                for i in pixel ..< pixel + count {
                    writer.put(UInt64(bitPattern: Int64(differences[i])) & mask, bits: bits)
                }
            }
            pixel += count
        }
        return writer.finish()
    }
}

/// Reads little-endian bit fields, least-significant bit first.
struct BitReader {
    private let bytes: UnsafeBufferPointer<UInt8>
    private var position = 0
    private var buffer: UInt64 = 0
    private var available = 0

    init(_ bytes: UnsafeBufferPointer<UInt8>) {
        self.bytes = bytes
    }

    /// The next `count` (≤ 32) bits, or nil at the end of the stream.
    @inline(__always)
    mutating func take(_ count: Int) -> UInt64? {
        if available < count {
            refill()
            if available < count { return nil }
        }
        let value = buffer & ((1 << UInt64(count)) - 1)
        buffer >>= UInt64(count)
        available -= count
        return value
    }

    @inline(__always)
    private mutating func refill() {
        if position + 8 <= bytes.count {
            let word = UnsafeRawPointer(bytes.baseAddress! + position).loadUnaligned(as: UInt64.self).littleEndian
            buffer |= word << UInt64(available)
            let taken = (63 - available) >> 3
            position += taken
            available += taken * 8
            // Keep only the bits that belong to whole bytes taken.
            if available < 64 { buffer &= (1 << UInt64(available)) - 1 }
        } else {
            while available <= 56 && position < bytes.count {
                buffer |= UInt64(bytes[position]) << UInt64(available)
                position += 1
                available += 8
            }
        }
    }
}

/// Writes bit fields least-significant bit first.
struct BitWriter {
    private(set) var bytes: [UInt8] = []
    private var buffer: UInt64 = 0
    private var used = 0

    mutating func put(_ value: UInt64, bits: Int) {
        var value = value
        var remaining = bits
        while remaining > 0 {
            let space = 64 - used
            let n = min(space, remaining)
            let chunk = n == 64 ? value : value & ((1 << UInt64(n)) - 1)
            buffer |= chunk << UInt64(used)
            used += n
            remaining -= n
            value = n == 64 ? 0 : value >> UInt64(n)
            while used >= 8 {
                bytes.append(UInt8(truncatingIfNeeded: buffer))
                buffer >>= 8
                used -= 8
            }
        }
    }

    mutating func finish() -> [UInt8] {
        if used > 0 {
            bytes.append(UInt8(truncatingIfNeeded: buffer))
            buffer = 0
            used = 0
        }
        return bytes
    }
}
