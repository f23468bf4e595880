/// The numeric type pixels had in the file, remembered after conversion to `Float`.
public enum PixelType: String, Sendable, CaseIterable, Codable {
    case uint8, int8, uint16, int16, uint32, int32, uint64, int64, float32, float64

    public var byteCount: Int {
        switch self {
        case .uint8, .int8: 1
        case .uint16, .int16: 2
        case .uint32, .int32, .float32: 4
        case .uint64, .int64, .float64: 8
        }
    }

    public var isInteger: Bool { self != .float32 && self != .float64 }

    public var isSigned: Bool {
        switch self {
        case .int8, .int16, .int32, .int64, .float32, .float64: true
        default: false
        }
    }

    /// The type for an integer of `bytes` bytes, or a float of `bytes` bytes.
    public init?(bytes: Int, signed: Bool, floatingPoint: Bool) {
        switch (bytes, signed, floatingPoint) {
        case (4, _, true): self = .float32
        case (8, _, true): self = .float64
        case (1, false, false): self = .uint8
        case (1, true, false): self = .int8
        case (2, false, false): self = .uint16
        case (2, true, false): self = .int16
        case (4, false, false): self = .uint32
        case (4, true, false): self = .int32
        case (8, false, false): self = .uint64
        case (8, true, false): self = .int64
        default: return nil
        }
    }
}

/// Conversion of raw sample buffers (in a file's byte order) to `Float`.
public enum PixelConversion {
    /// Converts `count` samples of `type` starting at `raw` to `Float`.
    ///
    /// - Parameter swapBytes: whether the samples are in the opposite byte order to the host's.
    public static func toFloat(_ raw: UnsafeRawBufferPointer, type: PixelType, count: Int, swapBytes: Bool) -> [Float] {
        precondition(raw.count >= count * type.byteCount, "raw buffer too small")
        return [Float](unsafeUninitializedCapacity: count) { out, initialized in
            func convert<T>(_: T.Type, _ transform: (T) -> Float) {
                let source = raw.baseAddress!
                for i in 0 ..< count {
                    out[i] = transform(source.loadUnaligned(fromByteOffset: i * MemoryLayout<T>.size, as: T.self))
                }
            }
            switch (type, swapBytes) {
            case (.uint8, _): convert(UInt8.self) { Float($0) }
            case (.int8, _): convert(Int8.self) { Float($0) }
            case (.uint16, false): convert(UInt16.self) { Float($0) }
            case (.uint16, true): convert(UInt16.self) { Float($0.byteSwapped) }
            case (.int16, false): convert(Int16.self) { Float($0) }
            case (.int16, true): convert(Int16.self) { Float($0.byteSwapped) }
            case (.uint32, false): convert(UInt32.self) { Float($0) }
            case (.uint32, true): convert(UInt32.self) { Float($0.byteSwapped) }
            case (.int32, false): convert(Int32.self) { Float($0) }
            case (.int32, true): convert(Int32.self) { Float($0.byteSwapped) }
            case (.uint64, false): convert(UInt64.self) { Float($0) }
            case (.uint64, true): convert(UInt64.self) { Float($0.byteSwapped) }
            case (.int64, false): convert(Int64.self) { Float($0) }
            case (.int64, true): convert(Int64.self) { Float($0.byteSwapped) }
            case (.float32, false): convert(UInt32.self) { Float(bitPattern: $0) }
            case (.float32, true): convert(UInt32.self) { Float(bitPattern: $0.byteSwapped) }
            case (.float64, false): convert(UInt64.self) { Float(Double(bitPattern: $0)) }
            case (.float64, true): convert(UInt64.self) { Float(Double(bitPattern: $0.byteSwapped)) }
            }
            initialized = count
        }
    }

    /// The pixels as little-endian bytes of `type`, the layout reference digests are taken over.
    ///
    /// Exact whenever the values fit `type` (which holds for integer images whose
    /// magnitudes stay below 2^24, the range `Float` represents exactly).
    public static func littleEndianBytes(_ pixels: [Float], as type: PixelType) -> [UInt8] {
        var bytes: [UInt8] = []
        bytes.reserveCapacity(pixels.count * type.byteCount)
        func append<T: FixedWidthInteger>(_ value: T) {
            withUnsafeBytes(of: value.littleEndian) { bytes.append(contentsOf: $0) }
        }
        for value in pixels {
            switch type {
            case .uint8: append(UInt8(clamping: Int64(value)))
            case .int8: append(Int8(clamping: Int64(value)))
            case .uint16: append(UInt16(clamping: Int64(value)))
            case .int16: append(Int16(clamping: Int64(value)))
            case .uint32: append(UInt32(clamping: Int64(value)))
            case .int32: append(Int32(clamping: Int64(value)))
            case .uint64: append(UInt64(clamping: Int64(value)))
            case .int64: append(Int64(value))
            case .float32: append(value.bitPattern)
            case .float64: append(Double(value).bitPattern)
            }
        }
        return bytes
    }
}
