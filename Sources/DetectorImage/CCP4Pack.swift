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
/// Packers do these sums in one of two arithmetics: 32-bit integers (CCP4's
/// `pack_longimage`, fabio, this project's writer) or signed 16-bit words (MAR's
/// scanner software, CCP4's `pack_wordimage`). Both give the same pixels while every
/// value is below 32768. The first pixel where they part tells them apart: a word
/// stream, read with 32-bit sums, gives that pixel as a negative number (its 16-bit
/// value read as signed), which no image plate records; a 32-bit stream gives the
/// true value, 32768 or more. So `decode` starts with 32-bit sums and, at the first
/// negative value, carries on with 16-bit words from that very pixel: one pass either way.
public enum CCP4Pack {
    public enum Version: Int, Sendable {
        case v1 = 1, v2 = 2
    }

    /// Which sums the packer used.
    public enum Arithmetic: Sendable {
        /// Detect from the stream (see the type's discussion).
        case automatic
        /// 32-bit integers.
        case long
        /// Signed 16-bit words; pixels come out as their unsigned 16-bit values.
        case word
    }

    static let v1BitWidths: [Int] = [0, 4, 5, 6, 7, 8, 16, 32]

    public struct DecodeError: Error, Sendable {
        public var message: String
    }

    /// Decodes `width * height` pixels from `stream`.
    public static func decode(_ stream: UnsafeBufferPointer<UInt8>, width x: Int, height y: Int,
                              version: Version, arithmetic: Arithmetic = .automatic) throws(DecodeError) -> [Int32] {
        guard x > 1, y > 0 else { throw DecodeError(message: "bad image size \(x) x \(y)") }
        var decoded = 0
        let image = [Int32](unsafeUninitializedCapacity: x * y) { img, initialized in
            decoded = decode(stream, into: img, width: x, version: version, arithmetic: arithmetic)
            initialized = x * y
        }
        guard decoded == x * y else {
            throw DecodeError(message: "packed stream ends at pixel \(decoded) of \(x * y) (file truncated?)")
        }
        return image
    }

    /// Decodes into `output` (whose count is the pixel count; `width` per row) and
    /// returns how many pixels the stream held: fewer than `output.count` means it
    /// ended early (the rest of `output` is then zero).
    public static func decode(_ stream: UnsafeBufferPointer<UInt8>, into output: UnsafeMutableBufferPointer<Int32>,
                              width x: Int, version: Version, arithmetic: Arithmetic = .automatic) -> Int {
        let total = output.count
        guard x > 1, total > 0 else { return 0 }
        var state = UnpackState(reader: BitReader(stream))
        let out = output.baseAddress!
        switch arithmetic {
        case .word:
            unpack(WordArithmetic.self, &state, into: out, width: x, total: total, version: version, stopAtNegative: false)
        case .long:
            unpack(LongArithmetic.self, &state, into: out, width: x, total: total, version: version, stopAtNegative: false)
        case .automatic:
            unpack(LongArithmetic.self, &state, into: out, width: x, total: total, version: version, stopAtNegative: true)
            if state.pixel < total && !state.ended {
                // A word stream: the pixel just decoded is its 16-bit value read as signed.
                out[state.pixel] = WordArithmetic.stored(out[state.pixel])
                state.pixel += 1
                unpack(WordArithmetic.self, &state, into: out, width: x, total: total, version: version, stopAtNegative: false)
            }
        }
        for i in state.pixel ..< total { out[i] = 0 }
        return state.pixel
    }

    /// Where an unpacking pass stopped, so that another pass can carry on from there.
    struct UnpackState {
        var reader: BitReader
        var pixel = 0
        /// End of the current block and its bit width.
        var blockEnd = 0
        var bits = 0
        /// The stream ran out before the image was complete.
        var ended = false
    }

    /// The unpacking loop, specialised for each arithmetic. With `stopAtNegative` it
    /// returns right after writing the first negative pixel, with `state.pixel` on it.
    @inline(__always)
    private static func unpack<A: PackArithmetic>(_: A.Type, _ state: inout UnpackState,
                                                  into img: UnsafeMutablePointer<Int32>, width x: Int,
                                                  total: Int, version: Version, stopAtNegative: Bool) {
        let widthCodeBits = version == .v1 ? 3 : 4
        let headerBits = 3 + widthCodeBits
        let widthCodeMask = UInt64((1 << widthCodeBits) - 1)
        let v1: (Int, Int, Int, Int, Int, Int, Int, Int) = (0, 4, 5, 6, 7, 8, 16, 32)
        let v2: (Int, Int, Int, Int, Int, Int, Int, Int, Int, Int, Int, Int, Int, Int, Int, Int) =
            (0, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15, 16, 32)
        var reader = state.reader
        var pixel = state.pixel
        var blockEnd = state.blockEnd
        var bits = state.bits
        defer {
            state.reader = reader
            state.pixel = pixel
            state.blockEnd = blockEnd
            state.bits = bits
        }
        while pixel < total {
            if pixel == blockEnd {
                guard reader.ensure(headerBits) else {
                    state.ended = true
                    return
                }
                let header = reader.takeUnchecked(headerBits)
                let code = Int((header >> 3) & widthCodeMask)
                bits = version == .v1
                    ? withUnsafeBytes(of: v1) { $0.load(fromByteOffset: code &* 8, as: Int.self) }
                    : withUnsafeBytes(of: v2) { $0.load(fromByteOffset: code &* 8, as: Int.self) }
                blockEnd = min(pixel + (1 << Int(header & 7)), total)
            }
            let shift = UInt64(64 - bits)
            // The previous pixel stays in a register: it is the loop's critical path.
            var left: Int32 = pixel > 0 ? img[pixel - 1] : 0
            while pixel < blockEnd {
                var difference: Int32 = 0
                if bits > 0 {
                    guard reader.ensure(bits) else {
                        state.ended = true
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
                if stopAtNegative && value < 0 { return }
                pixel += 1
            }
        }
    }

    /// Packs `pixels` (row-major, `width` per row) as a version-1 stream, choosing for
    /// each block the pixel count that costs fewest bits.
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
        let widths = version == .v1 ? v1BitWidths : [0, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15, 16, 32]
        let codeBits = version == .v1 ? 3 : 4
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
            let header = 3 + codeBits
            var best = (countCode: 0, widthCode: codes[pixel], cost: Double(header + widths[codes[pixel]]))
            var widest = codes[pixel]
            for countCode in 1 ... 7 {
                let count = 1 << countCode
                if pixel + count > total { break }
                for i in (pixel + (count >> 1)) ..< (pixel + count) { widest = max(widest, codes[i]) }
                let cost = Double(header + count * widths[widest]) / Double(count)
                if cost <= best.cost { best = (countCode, widest, cost) }
            }
            writer.put(UInt64(best.countCode), bits: 3)
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

    /// The next `count` (≤ 32) bits, or nil at the end of the stream.
    @inline(__always)
    mutating func take(_ count: Int) -> UInt64? {
        guard ensure(count) else { return nil }
        return takeUnchecked(count)
    }

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
