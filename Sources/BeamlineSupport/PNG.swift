import Foundation

/// A minimal PNG encoder (8-bit greyscale, uncompressed "stored" deflate blocks), enough
/// to embed detector images in SVG pictures and HTML reports without a library.
/// Format: PNG specification (ISO/IEC 15948), zlib (RFC 1950), deflate stored blocks (RFC 1951).
public enum PNG {
    public static func greyscale(_ pixels: [UInt8], width: Int, height: Int) -> [UInt8] {
        precondition(pixels.count == width * height, "pixel count does not match the shape")
        return encode(pixels, width: width, height: height, colourType: 0, palette: nil)
    }

    /// An 8-bit palette image (colour type 3): `indices` into `palette`, at most 256 RGB entries.
    public static func indexed(_ indices: [UInt8], palette: [(UInt8, UInt8, UInt8)], width: Int,
                               height: Int) -> [UInt8] {
        precondition(indices.count == width * height, "pixel count does not match the shape")
        precondition(!palette.isEmpty && palette.count <= 256, "a PNG palette has 1 to 256 entries")
        let entries = palette.flatMap { [$0.0, $0.1, $0.2] }
        return encode(indices, width: width, height: height, colourType: 3, palette: entries)
    }

    static func encode(_ pixels: [UInt8], width: Int, height: Int, colourType: UInt8, palette: [UInt8]?) -> [UInt8] {
        var raw: [UInt8] = []
        raw.reserveCapacity((width + 1) * height)
        for y in 0 ..< height {
            raw.append(0)  // filter: none
            raw += pixels[y * width ..< (y + 1) * width]
        }
        var zlib: [UInt8] = [0x78, 0x01]
        var offset = 0
        repeat {
            let n = min(65535, raw.count - offset)
            let final: UInt8 = offset + n == raw.count ? 1 : 0
            zlib += [final, UInt8(n & 0xFF), UInt8(n >> 8), UInt8(~n & 0xFF), UInt8((~n >> 8) & 0xFF)]
            zlib += raw[offset ..< offset + n]
            offset += n
        } while offset < raw.count
        var a: UInt32 = 1, b: UInt32 = 0
        for byte in raw {
            a = (a + UInt32(byte)) % 65521
            b = (b + a) % 65521
        }
        zlib += bigEndian(b << 16 | a)
        var png: [UInt8] = [0x89, 0x50, 0x4E, 0x47, 0x0D, 0x0A, 0x1A, 0x0A]
        png += chunk("IHDR", bigEndian(UInt32(width)) + bigEndian(UInt32(height)) + [8, colourType, 0, 0, 0])
        if let palette { png += chunk("PLTE", palette) }
        png += chunk("IDAT", zlib)
        png += chunk("IEND", [])
        return png
    }

    static func bigEndian(_ v: UInt32) -> [UInt8] { [UInt8(v >> 24), UInt8((v >> 16) & 0xFF), UInt8((v >> 8) & 0xFF), UInt8(v & 0xFF)] }

    static func chunk(_ type: String, _ data: [UInt8]) -> [UInt8] {
        let typed = Array(type.utf8) + data
        return bigEndian(UInt32(data.count)) + typed + bigEndian(crc32(typed))
    }

    static func crc32(_ bytes: [UInt8]) -> UInt32 {
        var crc: UInt32 = 0xFFFF_FFFF
        for byte in bytes {
            crc ^= UInt32(byte)
            for _ in 0 ..< 8 { crc = (crc >> 1) ^ (0xEDB8_8320 & (0 &- (crc & 1))) }
        }
        return ~crc
    }

    /// A detector frame as a PNG of at most `maximum` pixels a side, on a logarithmic scale.
    public static func preview(_ pixels: [Float], width: Int, height: Int, maximum: Int = 600) -> (png: [UInt8], width: Int, height: Int) {
        let factor = max(1, (max(width, height) + maximum - 1) / maximum)
        let w = width / factor, h = height / factor
        var values = [Double](repeating: 0, count: w * h)
        for y in 0 ..< h {
            for x in 0 ..< w {
                var s = 0.0
                for dy in 0 ..< factor { for dx in 0 ..< factor {
                    let v = pixels[(y * factor + dy) * width + x * factor + dx]
                    s += v.isFinite ? Double(max(v, 0)) : 0
                } }
                values[y * w + x] = log1p(s / Double(factor * factor))
            }
        }
        let sorted = values.sorted()
        let lo = sorted[sorted.count / 100], hi = sorted[min(sorted.count - 1, sorted.count * 999 / 1000)]
        let bytes = values.map { UInt8(max(0, min(255, 255 * ($0 - lo) / max(hi - lo, 1e-9)))) }
        return (greyscale(bytes, width: w, height: h), w, h)
    }
}
