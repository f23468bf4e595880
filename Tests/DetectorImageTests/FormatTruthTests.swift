import BeamlineSupport
import Foundation
import Testing
@testable import DetectorImage

/// Every reader reproduces, bit for bit, the arrays that fabio, tifffile and h5py wrote.
struct FormatTruthTests {
    struct Entry {
        var name: String
        var shape: [Int]
        var dtype: PixelType
        var sha: String
        var min: Double
        var max: Double
        var mean: Double
    }

    static func truth() throws -> [Entry] {
        let data = try Data(contentsOf: URL(fileURLWithPath: TestFiles.fixture("truth.json")))
        let json = try JSONSerialization.jsonObject(with: data) as! [String: Any]
        let files = json["files"] as! [String: [String: Any]]
        return files.keys.sorted().map { name in
            let f = files[name]!
            return Entry(name: name, shape: f["shape"] as! [Int], dtype: PixelType(rawValue: f["dtype"] as! String)!,
                         sha: f["sha256_le"] as! String, min: f["min"] as! Double, max: f["max"] as! Double,
                         mean: f["mean"] as! Double)
        }
    }

    static var names: [String] { (try? truth().map(\.name).filter { $0 != "sample_bslz4.h5" }) ?? [] }

    @Test("reader reproduces the reference array", arguments: names)
    func reproducesReference(name: String) throws {
        let entry = try #require(try Self.truth().first { $0.name == name })
        let source = try DetectorImageFile.open(TestFiles.fixture(name))
        let frames = entry.shape.count == 3 ? entry.shape[0] : 1
        #expect(source.frameCount == frames)
        #expect(source.height == entry.shape[entry.shape.count - 2])
        #expect(source.width == entry.shape[entry.shape.count - 1])
        var bytes: [UInt8] = []
        var all: [Float] = []
        for i in 0 ..< frames {
            let frame = try source.frame(at: i)
            bytes += PixelConversion.littleEndianBytes(frame.pixels, as: entry.dtype)
            all += frame.pixels
        }
        #expect(SHA256.hex(of: bytes) == entry.sha, "\(name): pixel array differs from the reference")
        let stats = PixelStatistics(all)
        #expect(stats.minimum == entry.min)
        #expect(stats.maximum == entry.max)
        #expect(abs(stats.mean - entry.mean) <= 1e-9 * max(1, abs(entry.mean)))
    }

    @Test func pixelTypesAreRemembered() throws {
        #expect(try DetectorImageFile.open(TestFiles.fixture("sample_u16.tif")).pixelType == .uint16)
        #expect(try DetectorImageFile.open(TestFiles.fixture("sample_i32_lzw.tif")).pixelType == .int32)
        #expect(try DetectorImageFile.open(TestFiles.fixture("sample_f32.edf")).pixelType == .float32)
        #expect(try DetectorImageFile.open(TestFiles.fixture("sample_i32.cbf")).pixelType == .int32)
        #expect(try DetectorImageFile.open(TestFiles.fixture("sample_3frames_gzip.h5")).pixelType == .uint32)
    }

    @Test func marHeaderMetadata() throws {
        let source = try DetectorImageFile.open(TestFiles.fixture("sample.mar2300"))
        #expect(source.format == .mar345)
        #expect(source.metadata.wavelength == 0.3738)
        #expect(abs((source.metadata.distance ?? 0) - 0.2) < 1e-12)
        #expect(abs((source.metadata.pixelSizeX ?? 0) - 150e-6) < 1e-15)
        let mar = try MAR345Image(path: TestFiles.fixture("sample.mar2300"))
        #expect(mar.overflowCount == 2)
    }

    @Test func bitshuffleWithoutPluginNamesTheFilter() throws {
        let source = try DetectorImageFile.open(TestFiles.fixture("sample_bslz4.h5"))
        #expect(source.frameCount == 1)
        do {
            let frame = try source.frame(at: 0)
            // The plugin is installed (HDF5_PLUGIN_PATH): then the data must be right.
            let entry = try #require(try Self.truth().first { $0.name == "sample_bslz4.h5" })
            #expect(frame.sha256(as: .uint32) == entry.sha)
        } catch let error as BeamlineError {
            #expect(error.path == TestFiles.fixture("sample_bslz4.h5"))
            #expect(error.message.contains("32008"))
            #expect(error.message.contains("bitshuffle"))
            #expect(error.message.contains("HDF5_PLUGIN_PATH"))
        }
    }

    @Test func formatIsDetectedFromContentNotExtension() throws {
        let original = try Data(contentsOf: URL(fileURLWithPath: TestFiles.fixture("sample_i32.cbf")))
        let renamed = TestFiles.write([UInt8](original), "looks_like.tif")
        let source = try DetectorImageFile.open(renamed)
        #expect(source.format == .cbf)
        let edf = try Data(contentsOf: URL(fileURLWithPath: TestFiles.fixture("sample_u16.edf")))
        #expect(try DetectorImageFile.open(TestFiles.write([UInt8](edf), "noext")).format == .edf)
    }
}
