import BeamlineSupport
import Foundation
import Testing
@testable import DetectorImage

/// Writers produce files that our readers (and the conventions of pyFAI/FIT2D) read back unchanged.
struct RoundTripTests {
    static func pattern(width: Int, height: Int, seed: UInt64, maximum: Int = 70000) -> [Float] {
        var rng = SeededGenerator(seed: seed)
        return (0 ..< width * height).map { i in
            // Smooth rings plus noise plus a few very bright pixels: what a detector sees.
            let x = Double(i % width) - Double(width) / 2, y = Double(i / width) - Double(height) / 2
            let r = (x * x + y * y).squareRoot()
            var v = 200 + 3000 * exp(-pow((r.truncatingRemainder(dividingBy: 40) - 20) / 3, 2))
            v += Double(Int.random(in: 0 ... 50, using: &rng))
            if Int.random(in: 0 ..< 997, using: &rng) == 0 { v = Double(Int.random(in: 30000 ... maximum, using: &rng)) }
            return Float(v.rounded())
        }
    }

    @Test(arguments: [64, 300, 1200])
    func mar345RoundTrip(size: Int) throws {
        var pixels = Self.pattern(width: size, height: size, seed: UInt64(size))
        pixels[5] = 1_234_567  // overflow records
        pixels[size * size - 1] = 99_999
        let frame = Frame(id: FrameID(path: "mem", index: 0), width: size, height: size, pixels: pixels, pixelType: .uint32,
                          metadata: ImageMetadata(wavelength: 0.3738, distance: 0.2, pixelSizeX: 150e-6, pixelSizeY: 150e-6,
                                                  exposureTime: 60, beamCenterX: 150.5, beamCenterY: 149.25))
        let path = TestFiles.scratch("round_\(size).mar\(size)")
        try MAR345Writer.write(frame, to: path)
        let read = try DetectorImageFile.readFrame(path)
        #expect(read.width == size && read.height == size)
        #expect(read.pixels == pixels)
        #expect(read.metadata.wavelength == 0.3738)
        #expect(abs((read.metadata.distance ?? 0) - 0.2) < 1e-12)
        #expect(read.metadata.exposureTime == 60)
        #expect(read.metadata.beamCenterX == 150.5)
        #expect(try MAR345Image(path: path).overflowCount == pixels.filter { $0 > 65535 }.count)
    }

    /// Files written on big-endian machines: header words and overflow records byte-swapped.
    @Test func mar345BigEndian() throws {
        let size = 100
        var pixels = Self.pattern(width: size, height: size, seed: 8)
        pixels[17] = 250_000
        let frame = Frame(id: FrameID(path: "mem", index: 0), width: size, height: size, pixels: pixels, pixelType: .uint32,
                          metadata: ImageMetadata(wavelength: 0.5, distance: 0.3, pixelSizeX: 100e-6, pixelSizeY: 100e-6))
        var bytes = MAR345Writer.encode(frame)
        let overflowWords = ((pixels.filter { $0 > 65535 }.count + 7) / 8) * 16
        for word in Array(0 ..< 16) + Array(1024 ..< 1024 + overflowWords) {
            bytes[4 * word ..< 4 * word + 4].reverse()
        }
        let path = TestFiles.write(bytes, "big_endian.mar1200")
        let read = try DetectorImageFile.readFrame(path)
        #expect(read.pixels == pixels)
        #expect(read.metadata.wavelength == 0.5)
    }

    @Test func tiffRoundTrips() throws {
        let pixels = Self.pattern(width: 123, height: 77, seed: 3)
        let f32 = TestFiles.scratch("rt_f32.tif")
        try TIFFWriter.write(pixels.map { $0 + 0.25 }, width: 123, height: 77, to: f32, as: .float32)
        let a = try DetectorImageFile.readFrame(f32)
        #expect(a.pixelType == .float32 && a.pixels == pixels.map { $0 + 0.25 })
        let u32 = TestFiles.scratch("rt_u32.tif")
        try TIFFWriter.write(pixels, width: 123, height: 77, to: u32, as: .uint32)
        let b = try DetectorImageFile.readFrame(u32)
        #expect(b.pixelType == .uint32 && b.pixels == pixels && b.width == 123 && b.height == 77)
    }

    @Test func edfRoundTripAndBigEndian() throws {
        let pixels = Self.pattern(width: 50, height: 40, seed: 4).map { $0 - 100.5 }
        let path = TestFiles.scratch("rt.edf")
        try EDFWriter.write(pixels, width: 50, height: 40, to: path, extraHeader: [HeaderEntry("Wavelength", "0.3738")])
        let frame = try DetectorImageFile.readFrame(path)
        #expect(frame.pixels == pixels)
        #expect(frame.metadata.wavelength == 0.3738)

        // A big-endian, two-block file written by hand: two frames, byte-swapped.
        var bytes: [UInt8] = []
        for block in 0 ..< 2 {
            var header = "{\nByteOrder = HighByteFirst ;\nDataType = SignedShort ;\nDim_1 = 3 ;\nDim_2 = 2 ;\nSize = 12 ;\n"
            header += String(repeating: " ", count: 512 - header.utf8.count - 2) + "}\n"
            bytes += Array(header.utf8)
            for v in [-2, -1, 0, 1, 2, 300 + Int16(block)] as [Int16] { withUnsafeBytes(of: v.bigEndian) { bytes += $0 } }
        }
        let source = try DetectorImageFile.open(TestFiles.write(bytes, "be.edf"))
        #expect(source.frameCount == 2)
        #expect(try source.frame(at: 1).pixels == [-2, -1, 0, 1, 2, 301])
        #expect(source.pixelType == .int16)
    }

    @Test func cbfByteOffsetCodec() throws {
        let values: [Int64] = [0, 5, -3, 200, -200, 40000, -40000, 3_000_000_000, -5, 1 << 40, 0]
        let encoded = ByteOffset.encode(values)
        let decoded = try encoded.withUnsafeBufferPointer { try ByteOffset.decode($0, count: values.count) }
        #expect(decoded == values.map { Float($0) })
    }

    @Test(arguments: [Mask.FileFormat.tiff, .edf, .fit2d])
    func maskRoundTrip(format: Mask.FileFormat) throws {
        var rng = SeededGenerator(seed: 11)
        let mask = Mask(width: 70, height: 33, values: (0 ..< 70 * 33).map { _ in UInt8.random(in: 0 ... 5, using: &rng) == 0 ? 1 : 0 })
        let path = TestFiles.scratch("mask.\(format == .fit2d ? "msk" : format == .edf ? "edf" : "tif")")
        try mask.write(to: path)
        let read = try Mask(contentsOf: path)
        #expect(read == mask)
    }

    @Test func fit2dMaskMatchesReference() throws {
        let mask = try Mask(contentsOf: TestFiles.fixture("sample_mask.msk"))
        let path = TestFiles.scratch("copy.msk")
        try mask.write(to: path)
        let original = try Data(contentsOf: URL(fileURLWithPath: TestFiles.fixture("sample_mask.msk")))
        let ours = try Data(contentsOf: URL(fileURLWithPath: path))
        // Same bits after the 1024-byte header (header words beyond the size may differ).
        #expect(original.dropFirst(1024) == ours.dropFirst(1024))
        #expect(try Mask(contentsOf: path) == mask)
    }

    @Test func hdf5StackRoundTrip() throws {
        let frames = (0 ..< 4).map { Self.pattern(width: 40, height: 30, seed: UInt64(20 + $0)) }
        let path = TestFiles.scratch("stack.h5")
        try HDF5Writer.write(frames: frames, width: 40, height: 30, to: path,
                             metadata: ImageMetadata(wavelength: 0.6199, distance: 0.18, pixelSizeX: 172e-6, pixelSizeY: 172e-6))
        let source = try DetectorImageFile.open(path)
        #expect(source.frameCount == 4)
        #expect(source.metadata.wavelength == 0.6199)
        #expect(source.metadata.distance == 0.18)
        for i in 0 ..< 4 { #expect(try source.frame(at: i).pixels == frames[i]) }
        #expect(try source.frame(at: 2).id == FrameID(path: path, index: 2))
    }

    @Test func atomicWriteLeavesNoFileOnFailure() throws {
        let dir = TestFiles.scratch("atomic")
        try FileManager.default.createDirectory(atPath: dir, withIntermediateDirectories: true)
        let target = dir + "/out.tif"
        #expect(throws: BeamlineError.self) {
            try TIFFWriter.write([1, 2, 3], width: 2, height: 2, to: target)
        }
        #expect(try FileManager.default.contentsOfDirectory(atPath: dir).isEmpty)
    }
}
