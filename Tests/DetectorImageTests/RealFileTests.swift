import BeamlineSupport
import Foundation
import Testing
@testable import DetectorImage

/// Real third-party files read as their authors' programs read them (fabio, tifffile, h5py).
/// The fixtures and `real/reference.json` come from `real/make_reference.py`; see real/README.md.
struct RealFileTests {
    struct Reference {
        var entries: [String: [String: Any]]

        init() throws {
            let data = try Data(contentsOf: URL(fileURLWithPath: TestFiles.fixture("real/reference.json")))
            entries = try JSONSerialization.jsonObject(with: data) as! [String: [String: Any]]
        }

        subscript(name: String) -> [String: Any] { entries[name] ?? [:] }
    }

    /// Every frame of `source`, as the reference's dtype, checked against its SHA-256 and statistics.
    static func expectMatches(_ source: any ImageSource, _ entry: [String: Any], _ name: String) throws {
        let type = try #require(PixelType(rawValue: entry["dtype"] as! String))
        var bytes: [UInt8] = []
        var sum = 0.0, lo = Double.infinity, hi = -Double.infinity, count = 0
        for index in 0 ..< source.frameCount {
            let frame = try source.frame(at: index)
            bytes += PixelConversion.littleEndianBytes(frame.pixels, as: type)
            for v in frame.pixels {
                sum += Double(v)
                lo = min(lo, Double(v))
                hi = max(hi, Double(v))
            }
            count += frame.pixels.count
        }
        let shape = entry["shape"] as! [Int]
        #expect(shape.reduce(1, *) == count, "\(name): pixel count")
        #expect(source.width == shape.last && source.height == shape[shape.count - 2])
        #expect(SHA256.hex(of: bytes) == entry["sha256_le"] as? String, "\(name): pixels differ from \(entry["reader"]!)")
        #expect(sum == Double(entry["sum"] as! Int), "\(name): sum")
        #expect(lo == entry["min"] as? Double && hi == entry["max"] as? Double, "\(name): range")
    }

    @Test("real MAR345 plates decode exactly as fabio", arguments: ["example.mar2300", "nx09_strain_006.mar2300"])
    func mar345AsFabio(name: String) throws {
        let source = try DetectorImageFile.open(TestFiles.fixture("real/" + name))
        #expect(source.format == .mar345)
        try Self.expectMatches(source, try Reference()[name], name)
    }

    /// A MAR scanner's word stream in which pixels reach 32768–65535 without the 16-bit sum
    /// ever turning negative: the case the old "first negative value" guess decoded 16384 too high.
    @Test func wordStreamAboveHalfRangeWithoutNegativeSums() throws {
        let size = 64
        var pixels = [Float](repeating: 30000, count: size * size)
        for y in 20 ..< size { for x in 0 ..< size { pixels[y * size + x] = 34625 + Float((x * 7 + y * 3) % 11) } }
        let frame = Frame(id: FrameID(path: "mem", index: 0), width: size, height: size, pixels: pixels, pixelType: .uint32)
        let path = TestFiles.write(MAR345Writer.encode(frame), "plateau.mar64")
        let read = try DetectorImageFile.readFrame(path)
        #expect(read.pixels == pixels)
    }

    /// An overflow record with address 0 is empty: skipped, as the mar345 programs and fabio do.
    @Test func emptyOverflowRecordIsSkipped() throws {
        let size = 40
        var pixels = RoundTripTests.pattern(width: size, height: size, seed: 3, maximum: 60000)
        pixels[10] = 123_456
        pixels[20] = 234_567
        let frame = Frame(id: FrameID(path: "mem", index: 0), width: size, height: size, pixels: pixels, pixelType: .uint32)
        var bytes = MAR345Writer.encode(frame)
        for k in 0 ..< 4 { bytes[4096 + k] = 0 }  // the first record's address
        let read = try DetectorImageFile.readFrame(TestFiles.write(bytes, "empty_record.mar40"))
        #expect(read.pixels[10] == 65535)  // the stream's value, as fabio gives it
        #expect(read.pixels[20] == 234_567)
    }

    @Test func ccp4LongStreamsNeedLongArithmetic() throws {
        let size = 90
        let pixels = RoundTripTests.pattern(width: size, height: size, seed: 5, maximum: 400_000).map { Int32($0) }
        let stream = CCP4Pack.encode(pixels, width: size)
        let decoded = try stream.withUnsafeBufferPointer {
            try CCP4Pack.decode($0, width: size, height: size, version: .v1, arithmetic: .long)
        }
        #expect(decoded == pixels)
    }

    /// Version 2 headers are 4 + 4 bits (counts up to 32768; widths 0, 4 … 16, 32), as in
    /// CCP4's pack_c.c and fabio's ccp4_unpack_v2.
    @Test func ccp4Version2BlockHeaders() throws {
        // One block of 256 zero differences: count code 8, width code 0 → the byte 0x08.
        let zeros = try [UInt8]([0x08]).withUnsafeBufferPointer {
            try CCP4Pack.decode($0, width: 16, height: 16, version: .v2)
        }
        #expect(zeros == [Int32](repeating: 0, count: 256))
        // Two pixels of width code 1 (4 bits): header 0x11, then the differences 5 and 3.
        let pair = try [UInt8]([0x11, 0x35]).withUnsafeBufferPointer {
            try CCP4Pack.decode($0, width: 2, height: 1, version: .v2, arithmetic: .long)
        }
        #expect(pair == [5, 8])
    }

    @Test func inconsistentStreamsAreErrorsWithTheByteOffset() throws {
        let source = try Data(contentsOf: URL(fileURLWithPath: TestFiles.fixture("sample.mar2300")))
        let truncated = TestFiles.write([UInt8](source.prefix(source.count - 500)), "cut.mar2300")
        #expect {
            _ = try DetectorImageFile.readFrame(truncated)
        } throws: { error in
            let e = error as? BeamlineError
            return e?.path == truncated && e!.message.contains("at byte") && e!.message.contains("ends")
        }
        // A block of 128 pixels in a 2x2 image runs past its end.
        #expect(throws: CCP4Pack.DecodeError.self) {
            try [UInt8]([0x07, 0, 0]).withUnsafeBufferPointer { try CCP4Pack.decode($0, width: 2, height: 2, version: .v1) }
        }
        // Width code 15 does not exist in version 2.
        #expect(throws: CCP4Pack.DecodeError.self) {
            try [UInt8]([0xF0, 0, 0]).withUnsafeBufferPointer { try CCP4Pack.decode($0, width: 2, height: 1, version: .v2) }
        }
    }

    @Test func pilatusCropAsTifffileWithGapsInvalid() throws {
        let reference = try Reference()["pilatus1m_crop.tif"]
        let source = try DetectorImageFile.open(TestFiles.fixture("real/pilatus1m_crop.tif"))
        try Self.expectMatches(source, reference, "pilatus1m_crop.tif")
        let assessment = source.validity.assess(try source.frame(at: 0))
        #expect(assessment.invalidCount == reference["negative_pixels"] as? Int)
        #expect(assessment.counts.map(\.reason) == [.negativeMarker])
    }

    @Test(.enabled(if: TestFiles.shared != nil, "needs ../shared/data/real"))
    func wholePilatusImageGapsInvalid() throws {
        let path = TestFiles.shared! + "/data/real/dioptas/CeO2_Pilatus1M.tif"
        let source = try DetectorImageFile.open(path)
        let reference = try Reference()["pilatus1m_crop.tif"]
        #expect([source.height, source.width] == reference["full_image_shape"] as? [Int])
        let assessment = source.validity.assess(try source.frame(at: 0))
        #expect(assessment.invalidCount == reference["full_image_negative_pixels"] as? Int)
    }

    @Test func mar345PlateOutsideItsCircleIsInvalid() throws {
        let source = try DetectorImageFile.open(TestFiles.fixture("real/nx09_strain_006.mar2300"))
        let frame = try source.frame(at: 0)
        let assessment = source.validity.assess(frame)
        let counts = Dictionary(uniqueKeysWithValues: assessment.counts.map { ($0.reason, $0.count) })
        // Pixel centres farther than 1150 px from the image centre (numpy on the same grid).
        #expect(counts[.outsidePlate] == 1_135_236)
        // Every pixel left on the disc is either read (non-zero) or reported as not read.
        let plate = try #require(source.validity.plateMask(width: 2300, height: 2300))
        let zerosOnDisc = zip(frame.pixels, plate.values).filter { $0.0 == 0 && $0.1 == 0 }.count
        #expect(counts[.unreadOnPlate] == zerosOnDisc)
        #expect(zerosOnDisc == 144)
    }

    @Test func lambdaNeXusReadWithoutNamingTheDataset() throws {
        let reference = try Reference()["lambda_m1_part00000.nxs"]
        let source = try #require(try DetectorImageFile.open(TestFiles.fixture("real/lambda_m1_part00000.nxs")) as? HDF5Image)
        #expect(source.datasetNames == [reference["dataset"] as! String])
        #expect(source.datasetChoice.contains("NXdetector"))
        #expect(source.frameCount == 10)
        #expect(abs((source.metadata.pixelSizeX ?? 0) - 55e-6) < 1e-12)
        #expect(abs((source.metadata.exposureTime ?? 0) - 0.1) < 1e-12)
        try Self.expectMatches(source, reference, "lambda")
    }

    @Test func nexusDefaultAttributesAreFollowed() throws {
        let reference = try Reference()["nexus_default.h5"]
        let source = try #require(try DetectorImageFile.open(TestFiles.fixture("real/nexus_default.h5")) as? HDF5Image)
        #expect(source.datasetNames == ["/scan/plots/frames"])
        #expect(source.datasetChoice.contains("NeXus default"))
        try Self.expectMatches(source, reference, "nexus_default.h5")
        // --dataset still wins.
        let decoy = try DetectorImageFile.open(TestFiles.fixture("real/nexus_default.h5"), dataset: "/entry/data/data")
        #expect(decoy.width == 5)
    }

    @Test func severalCandidateImagesAreListed() throws {
        let path = TestFiles.fixture("real/nexus_two_images.h5")
        #expect {
            _ = try DetectorImageFile.open(path)
        } throws: { error in
            let message = (error as? BeamlineError)?.message ?? ""
            return message.contains("/measurement/image_a") && message.contains("/measurement/image_b")
                && message.contains("--dataset") && !message.contains("counts")
        }
    }
}
