import BeamlineSupport
/// Which pixels a detector could not measure, by the conventions of the file it wrote.
///
/// pyFAI attaches such a mask to each detector definition; here it comes from the file:
/// - MAR345 image plates are read on a disc: pixels whose centre lies outside the
///   inscribed circle hold nothing (0 in every real file, stray counts at the rim), and a
///   0 on the plate is a pixel that was not read.
/// - Pilatus/Eiger-type detectors mark module gaps and dead pixels with negative values
///   (−1 gap, −2 defective in Dectris' TIFF/CBF files) in signed integer images, and with
///   the largest value of the type (2ⁿ − 1) in unsigned ones, which is also where a 16- or
///   32-bit counter saturates.
/// - A header's dummy value (EDF `Dummy`), and NaN or infinite pixels.
public struct DetectorValidity: Sendable, Equatable {
    /// Why a pixel is invalid.
    public enum Reason: String, Sendable, CaseIterable, Codable {
        case outsidePlate = "outside the image plate's circle"
        case unreadOnPlate = "zero on the image plate (not read)"
        case negativeMarker = "negative (module gap or defective pixel)"
        case saturationMarker = "at the pixel type's maximum (gap marker or saturated)"
        case dummy = "the header's dummy value"
        case nonFinite = "NaN or infinite"
    }

    /// Diameter in pixels of the image plate's disc (centred on the image), if the
    /// detector is a plate scanner.
    public var plateDiameter: Int?
    /// Zero is "not read" (image plates).
    public var zeroIsUnread = false
    /// Negative values are markers (signed integer images).
    public var negativeIsMarker = false
    /// The value marking gaps or saturation in unsigned integer images.
    public var marker: Float?
    /// The header's dummy value.
    public var dummy: Float?

    public init(plateDiameter: Int? = nil, zeroIsUnread: Bool = false, negativeIsMarker: Bool = false,
                marker: Float? = nil, dummy: Float? = nil) {
        self.plateDiameter = plateDiameter
        self.zeroIsUnread = zeroIsUnread
        self.negativeIsMarker = negativeIsMarker
        self.marker = marker
        self.dummy = dummy
    }

    /// The conventions for images of `pixelType` whose header gives `metadata`.
    public init(pixelType: PixelType, metadata: ImageMetadata) {
        switch pixelType {
        case .int16, .int32, .int64: negativeIsMarker = true
        case .uint16: marker = Float(UInt16.max)
        case .uint32: marker = Float(UInt32.max)
        default: break
        }
        if let text = metadata.header.first(where: { $0.key.lowercased() == "dummy" })?.value,
           let value = Float(text.trimmingCharacters(in: .whitespaces)), value != 0 {
            dummy = value
        }
    }

    /// Whether any rule applies at all.
    public var isEmpty: Bool { self == DetectorValidity() }

    /// The rules in words, for file headers: "plate disc 2300 px; 0 = not read".
    public var rulesDescription: String {
        var parts: [String] = []
        if let d = plateDiameter { parts.append("plate disc \(d) px") }
        if zeroIsUnread { parts.append("0 = not read") }
        if negativeIsMarker { parts.append("negative = gap/defect") }
        if let marker { parts.append(String(format: "%.0f = gap/saturated", marker)) }
        if let dummy { parts.append("dummy \(dummy)") }
        parts.append("NaN")
        return parts.joined(separator: "; ")
    }

    /// Why a pixel holding `value` is invalid, or nil (the plate's disc aside).
    @inline(__always)
    public func reason(for value: Float) -> Reason? {
        if !value.isFinite { return .nonFinite }
        if zeroIsUnread && value == 0 { return .unreadOnPlate }
        if negativeIsMarker && value < 0 { return .negativeMarker }
        if let marker, value == marker { return .saturationMarker }
        if let dummy, value == dummy { return .dummy }
        return nil
    }

    /// The pixels outside the image plate's disc (pixel centres beyond its radius), or nil
    /// for a detector that is not a plate.
    public func plateMask(width w: Int, height h: Int) -> Mask? {
        guard let d = plateDiameter else { return nil }
        var values = [UInt8](repeating: 0, count: w * h)
        let centreX = Double(w) / 2, centreY = Double(h) / 2, r2 = Double(d) * Double(d) / 4
        // Outside the circle grows with the distance from the centre column: each row is masked
        // from both ends inwards while the test holds, so only masked pixels are visited.
        values.withUnsafeMutableBufferPointer { out in
            for y in 0 ..< h {
                let dy = Double(y) + 0.5 - centreY
                let reach = r2 - dy * dy
                let row = out.baseAddress! + y * w
                func outside(_ x: Int) -> Bool {
                    let dx = Double(x) + 0.5 - centreX
                    return dx * dx > reach
                }
                var left = 0
                while left < w && outside(left) { left += 1 }
                var right = w
                while right > left && outside(right - 1) { right -= 1 }
                row.update(repeating: 1, count: left)
                (row + right).update(repeating: 1, count: w - right)
            }
        }
        return Mask(width: w, height: h, values: values)
    }

    /// Sets every pixel that is invalid by its value to NaN, which the integration leaves
    /// out; returns how many were not NaN already.
    @discardableResult
    public func invalidate(_ pixels: inout [Float]) -> Int {
        guard zeroIsUnread || negativeIsMarker || marker != nil || dummy != nil else { return 0 }
        // The rules of `reason(for:)` (NaN equals nothing, so an absent marker or dummy never
        // matches).
        let checkZero = zeroIsUnread, checkNegative = negativeIsMarker
        let marker = self.marker ?? .nan, dummy = self.dummy ?? .nan
        var counts = [Int](repeating: 0, count: Parallel.workers)
        pixels.withUnsafeMutableBufferPointer { values in
            counts.withUnsafeMutableBufferPointer { countOut in
                guard let base = values.baseAddress else { return }
                Parallel.forEachChunk(values.count) { part, range in
                    // Eight pixels at a time in SIMD registers: written as a scalar loop, the
                    // compiler kept a branch per rule and did not vectorise it.
                    var counted = SIMD8<Int32>()
                    var i = range.lowerBound
                    while i &+ 8 <= range.upperBound {
                        let v = UnsafeRawPointer(base + i).loadUnaligned(as: SIMD8<Float>.self)
                        var ruled = (v .== marker) .| (v .== dummy)
                        if checkZero { ruled .|= v .== 0 }
                        if checkNegative { ruled .|= v .< 0 }
                        let invalid = ruled .& (v .> -.infinity) .& (v .< .infinity)
                        UnsafeMutableRawPointer(base + i).storeBytes(of: v.replacing(with: .nan, where: invalid),
                                                                     as: SIMD8<Float>.self)
                        counted &+= SIMD8<Int32>().replacing(with: 1, where: invalid)
                        i &+= 8
                    }
                    var count = Int(counted.wrappedSum())
                    while i < range.upperBound {
                        let v = base[i]
                        let zero = checkZero && v == 0, negative = checkNegative && v < 0
                        let invalid = (zero || negative || v == marker || v == dummy) && v.isFinite
                        base[i] = invalid ? .nan : v
                        count &+= invalid ? 1 : 0
                        i &+= 1
                    }
                    countOut[part] = count
                }
            }
        }
        return counts.reduce(0, +)
    }

    /// Invalid pixels of `frame` and how many for each reason (a pixel counts once, for the
    /// first reason in `Reason`'s order).
    public func assess(_ frame: Frame) -> ValidityAssessment {
        let w = frame.width, h = frame.height
        var values = [UInt8](repeating: 0, count: w * h)
        var counts = [Reason: Int]()
        func mark(_ i: Int, _ reason: Reason) {
            if values[i] == 0 {
                values[i] = 1
                counts[reason, default: 0] += 1
            }
        }
        if let plate = plateMask(width: w, height: h) {
            for i in 0 ..< w * h where plate.values[i] != 0 { mark(i, .outsidePlate) }
        }
        frame.pixels.withUnsafeBufferPointer { pixels in
            for i in 0 ..< pixels.count {
                if let reason = reason(for: pixels[i]) { mark(i, reason) }
            }
        }
        return ValidityAssessment(mask: Mask(width: w, height: h, values: values),
                                  counts: Reason.allCases.compactMap { r in counts[r].map { (r, $0) } })
    }
}

/// The invalid pixels of one frame.
public struct ValidityAssessment: Sendable {
    /// 1 = invalid.
    public var mask: Mask
    /// How many pixels are invalid for each reason, in `Reason`'s order, non-zero only.
    public var counts: [(reason: DetectorValidity.Reason, count: Int)]

    public var invalidCount: Int { counts.reduce(0) { $0 + $1.count } }

    /// "1135236 outside the image plate's circle, 7557 zero on the image plate (not read)".
    public var summary: String {
        counts.isEmpty ? "none" : counts.map { "\($0.count) \($0.reason.rawValue)" }.joined(separator: ", ")
    }
}

extension ImageSource {
    /// The file's conventions for invalid pixels (see `DetectorValidity`).
    public var validity: DetectorValidity {
        var rules = DetectorValidity(pixelType: pixelType, metadata: metadata)
        if format == .mar345 {
            rules = DetectorValidity(plateDiameter: min(width, height), zeroIsUnread: true)
        }
        return rules
    }
}
