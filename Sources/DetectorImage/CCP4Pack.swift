import BeamlineSupport

/// J. P. Abrahams' "pack" compression of CCP4, as the mar345 programs write it.
///
/// The stream is a sequence of blocks, read least-significant bit first. A block
/// header gives a pixel count 2^n and a bit-width code: in version 1 ("CCP4 packed
/// image") 3 + 3 bits, widths 0, 4, 5, 6, 7, 8, 16, 32; in version 2 ("CCP4 packed
/// image V2", JPA 1995) 4 + 4 bits, counts 1 … 32768 and widths 0, 4 … 16, 32. Then follow
/// that many two's-complement differences, each added to a prediction: the previous
/// pixel on the first row (and the first pixel of the second), beyond it the mean of
/// the left, upper-right, upper and upper-left neighbours, `(a + b + c + d + 2) / 4` with
/// C's truncating division.
///
/// The mar345 programs (and CCP4's `pack_wordimage`) pack 16-bit pixels and do these
/// sums on the pixels read as signed 16-bit words, keeping the result modulo 65536;
/// pixels above 65535 go to the file's overflow records. So a MAR345 stream is always
/// decoded in word arithmetic (as fabio's CCP4 codec and CBFlib do). CCP4's
/// `pack_longimage` streams use 32-bit sums and are decoded with `.long`.
/// References: J. P. Abrahams, pack_c.c (CCP4 library, 1993/1995); marresearch,
/// "mar345 image formats".
public enum CCP4Pack {
    public enum Version: Int, Sendable {
        case v1 = 1, v2 = 2

        /// Bits of the block header: count code + width code.
        var countCodeBits: Int { self == .v1 ? 3 : 4 }
        var widthCodeBits: Int { self == .v1 ? 3 : 4 }
        /// Element widths by width code; nil for a code the format does not define.
        var widths: [Int] {
            self == .v1 ? [0, 4, 5, 6, 7, 8, 16, 32] : [0, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15, 16, 32]
        }
    }

    /// Which sums the packer used.
    public enum Arithmetic: Sendable {
        /// Signed 16-bit words, results modulo 65536: MAR345 files, `pack_wordimage`.
        case word
        /// 32-bit integers: CCP4's `pack_longimage`.
        case long
    }

    /// A stream that does not describe the image: it ends early, a block runs past the
    /// last pixel, or a header holds a code the format does not define.
    public struct DecodeError: Error, Sendable {
        public var message: String
        /// Offset in the stream (bytes) of the block where decoding stopped.
        public var byteOffset: Int
    }

    /// Decodes `width * height` pixels from `stream`.
    public static func decode(_ stream: UnsafeBufferPointer<UInt8>, width x: Int, height y: Int,
                              version: Version, arithmetic: Arithmetic = .word) throws(DecodeError) -> [Int32] {
        guard x > 1, y > 0 else { throw DecodeError(message: "bad image size \(x) x \(y)", byteOffset: 0) }
        var failure: DecodeError?
        let image = [Int32](unsafeUninitializedCapacity: x * y) { img, initialized in
            do throws(DecodeError) {
                try decode(stream, into: img, width: x, version: version, arithmetic: arithmetic)
            } catch {
                failure = error
            }
            initialized = x * y
        }
        if let failure { throw failure }
        return image
    }

    /// Decodes into `output` (whose count is the pixel count; `width` per row).
    public static func decode(_ stream: UnsafeBufferPointer<UInt8>, into output: UnsafeMutableBufferPointer<Int32>,
                              width x: Int, version: Version, arithmetic: Arithmetic = .word) throws(DecodeError) {
        let total = output.count
        guard x > 1, total > 0 else { throw DecodeError(message: "bad image width \(x)", byteOffset: 0) }
        var state = UnpackState(reader: BitReader(stream))
        let out = output.baseAddress!
        switch arithmetic {
        case .word: unpack(WordArithmetic.self, &state, into: out, width: x, total: total, version: version)
        case .long: unpack(LongArithmetic.self, &state, into: out, width: x, total: total, version: version)
        }
        if let problem = state.problem {
            for i in state.pixel ..< total { out[i] = 0 }
            throw DecodeError(message: problem, byteOffset: state.blockOffset)
        }
    }

    /// Where unpacking stopped and why.
    struct UnpackState {
        var reader: BitReader
        var pixel = 0
        /// Byte offset of the current block header, for error messages.
        var blockOffset = 0
        /// Why the stream does not describe the image, if it does not.
        var problem: String?
    }

    /// The unpacking loop, specialised for each arithmetic.
    @inline(__always)
    private static func unpack<A: PackArithmetic>(_: A.Type, _ state: inout UnpackState,
                                                  into img: UnsafeMutablePointer<Int32>, width x: Int,
                                                  total: Int, version: Version) {
        let countBits = version.countCodeBits
        let headerBits = countBits + version.widthCodeBits
        let countMask = UInt64((1 << countBits) - 1)
        let widthMask = UInt64((1 << version.widthCodeBits) - 1)
        // A fixed-size table in registers/stack; codes beyond the format's list are -1.
        var table: (Int, Int, Int, Int, Int, Int, Int, Int, Int, Int, Int, Int, Int, Int, Int, Int) =
            (-1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1)
        withUnsafeMutableBytes(of: &table) { raw in
            for (code, width) in version.widths.enumerated() { raw.storeBytes(of: width, toByteOffset: code * 8, as: Int.self) }
        }
        var reader = state.reader
        var pixel = 0
        defer {
            state.reader = reader
            state.pixel = pixel
        }
        while pixel < total {
            state.blockOffset = reader.bytesConsumed
            guard reader.ensure(headerBits) else {
                state.problem = "the packed stream ends at pixel \(pixel) of \(total) (file truncated?)"
                return
            }
            let header = reader.takeUnchecked(headerBits)
            let code = Int((header >> UInt64(countBits)) & widthMask)
            let bits = withUnsafeBytes(of: table) { $0.load(fromByteOffset: code &* 8, as: Int.self) }
            let count = 1 << Int(header & countMask)
            guard bits >= 0 else {
                state.problem = "block header at pixel \(pixel) has width code \(code), which pack v\(version.rawValue) does not define"
                return
            }
            guard count <= total - pixel else {
                state.problem = "a block of \(count) pixels starting at pixel \(pixel) runs past the image's \(total) pixels"
                return
            }
            let blockEnd = pixel + count
            let shift = UInt64(64 - bits)
            // The previous pixel stays in a register: it is the loop's critical path.
            var left: Int32 = pixel > 0 ? img[pixel - 1] : 0
            while pixel < blockEnd {
                var difference: Int32 = 0
                if bits > 0 {
                    guard reader.ensure(bits) else {
                        state.problem = "the packed stream ends inside a block at pixel \(pixel) of \(total) (file truncated?)"
                        return
                    }
                    // Sign-extend the `bits`-bit two's-complement value.
                    difference = Int32(truncatingIfNeeded: Int64(bitPattern: reader.takeUnchecked(bits) << shift) >> Int64(shift))
                }
                let value: Int32
                if pixel > x {
                    value = A.predicted(left: left, upper: A.upperSum(img[pixel - x + 1], img[pixel - x], img[pixel - x - 1]), difference)
                } else if pixel != 0 {
                    value = A.stored(left &+ difference)
                } else {
                    value = A.stored(difference)
                }
                img[pixel] = value
                left = value
                pixel += 1
            }
        }
    }

    /// Packs `pixels` (row-major, `width` per row), choosing for each block the pixel
    /// count (up to 128) that costs fewest bits.
    ///
    /// - Parameter wordSized: predict with 16-bit word arithmetic as MAR's scanner
    ///   software does (values taken modulo 65536) instead of 32-bit integers.
    public static func encode(_ pixels: [Int32], width x: Int, wordSized: Bool = false, version: Version = .v1) -> [UInt8] {
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
        let widths = version.widths
        let countBits = version.countCodeBits
        let codeBits = version.widthCodeBits
        func widthCode(_ d: Int32) -> Int {
            if d == 0 { return 0 }
            for code in 1 ..< widths.count - 1 {
                let half = Int32(1) << Int32(widths[code] - 1)
                if d >= -half && d < half { return code }
            }
            return widths.count - 1
        }
        let codes = differences.map(widthCode)
        var writer = BitWriter()
        var pixel = 0
        while pixel < total {
            // Best block starting here: minimise bits per pixel, prefer longer blocks.
            let header = countBits + codeBits
            var best = (countCode: 0, widthCode: codes[pixel], cost: Double(header + widths[codes[pixel]]))
            var widest = codes[pixel]
            for countCode in 1 ... 7 {
                let count = 1 << countCode
                if pixel + count > total { break }
                for i in (pixel + (count >> 1)) ..< (pixel + count) { widest = max(widest, codes[i]) }
                let cost = Double(header + count * widths[widest]) / Double(count)
                if cost <= best.cost { best = (countCode, widest, cost) }
            }
            writer.put(UInt64(best.countCode), bits: countBits)
            writer.put(UInt64(best.widthCode), bits: codeBits)
            let bits = widths[best.widthCode]
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

/// How a packer did its sums: in 32-bit integers, or in MAR's signed 16-bit words.
///
/// The prediction `(left + upperRight + upper + upperLeft + 2) / 4` is split so the
/// three upper neighbours (known in advance) are summed off the critical path.
protocol PackArithmetic {
    static func upperSum(_ b: Int32, _ c: Int32, _ d: Int32) -> Int32
    static func predicted(left: Int32, upper: Int32, _ difference: Int32) -> Int32
    static func stored(_ value: Int32) -> Int32
}

enum LongArithmetic: PackArithmetic {
    @inline(__always) static func upperSum(_ b: Int32, _ c: Int32, _ d: Int32) -> Int32 { b &+ c &+ d &+ 2 }

    @inline(__always)
    static func predicted(left: Int32, upper: Int32, _ difference: Int32) -> Int32 {
        difference &+ (left &+ upper) / 4
    }

    @inline(__always) static func stored(_ value: Int32) -> Int32 { value }
}

enum WordArithmetic: PackArithmetic {
    @inline(__always) static func signed(_ v: Int32) -> Int32 { Int32(Int16(truncatingIfNeeded: v)) }

    @inline(__always) static func upperSum(_ b: Int32, _ c: Int32, _ d: Int32) -> Int32 {
        signed(b) &+ signed(c) &+ signed(d) &+ 2
    }

    @inline(__always)
    static func predicted(left: Int32, upper: Int32, _ difference: Int32) -> Int32 {
        stored(difference &+ (signed(left) &+ upper) / 4)
    }

    /// Words are kept as their unsigned 16-bit value.
    @inline(__always) static func stored(_ value: Int32) -> Int32 { Int32(UInt16(truncatingIfNeeded: value)) }
}

/// Reads little-endian bit fields, least-significant bit first.
struct BitReader {
    private let bytes: UnsafeBufferPointer<UInt8>
    private var position = 0
    private var buffer: UInt64 = 0
    private(set) var available = 0

    init(_ bytes: UnsafeBufferPointer<UInt8>) {
        self.bytes = bytes
    }

    /// Whole bytes taken from the stream so far (bits buffered but not used count as not taken).
    var bytesConsumed: Int { position - available / 8 }

    /// Whether `count` bits are buffered, refilling if needed.
    @inline(__always)
    mutating func ensure(_ count: Int) -> Bool {
        if available >= count { return true }
        refill()
        return available >= count
    }

    /// The next `count` bits; `ensure(count)` must have returned true.
    @inline(__always)
    mutating func takeUnchecked(_ count: Int) -> UInt64 {
        let value = buffer & ((1 &<< UInt64(count)) &- 1)
        buffer = buffer &>> UInt64(count)
        available &-= count
        return value
    }

    private mutating func refill() {
        if position + 8 <= bytes.count {
            let word = UnsafeRawPointer(bytes.baseAddress! + position).loadUnaligned(as: UInt64.self).littleEndian
            buffer |= word &<< UInt64(available)
            let taken = (63 - available) >> 3
            position += taken
            available += taken * 8
            // Keep only the bits of the whole bytes taken.
            buffer &= (1 &<< UInt64(available)) &- 1
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
