import BeamlineSupport
import DetectorImage
import Foundation
import Testing

/// Whole-file reads: the size fstat gives, files that report no size (procfs), refusals by name.
@Suite struct InputFileTests {
    @Test(arguments: [0, 1, 4095, 4096, 65537, 3 << 20])
    func readsEveryByte(size: Int) throws {
        let path = NSTemporaryDirectory() + "inputfile-\(getpid())-\(size).bin"
        defer { try? FileManager.default.removeItem(atPath: path) }
        let bytes = (0 ..< size).map { UInt8(truncatingIfNeeded: $0 &* 2654435761 >> 7) }
        try Data(bytes).write(to: URL(fileURLWithPath: path))
        #expect(try InputFile.bytes(of: path) == bytes)
        #expect(try InputFile.contents(of: path) == Data(bytes))
    }

    /// procfs files say they are empty and are not: read to their end all the same.
    @Test func readsFilesLargerThanTheirStatedSize() throws {
        let text = String(decoding: try InputFile.bytes(of: "/proc/self/status"), as: UTF8.self)
        #expect(text.contains("Name:"), "\(text.prefix(200))")
        #expect(text.contains("VmRSS:"))
    }

    @Test func refusesByName() {
        #expect(throws: BeamlineError.self) { try InputFile.bytes(of: "/no/such/file") }
        #expect(InputFile.problem(NSTemporaryDirectory()) == "is a directory, not a file")
        #expect(InputFile.problem("/dev/null") == "is not a regular file")
    }
}

/// A frame decoded into an earlier frame's buffer is the frame decoded afresh.
@Suite struct FrameReuseTests {
    @Test func mar345FrameIntoAGivenBuffer() throws {
        let source = try DetectorImageFile.open(TestFiles.fixture("sample.mar2300"))
        let fresh = try source.frame(at: 0)
        var storage = [Float](repeating: -7, count: source.width * source.height)
        let reused = try source.frame(at: 0, reusing: &storage)
        #expect(storage.isEmpty)
        #expect(reused.pixels == fresh.pixels)
        var wrongSize = [Float](repeating: 1, count: 10)
        #expect(try source.frame(at: 0, reusing: &wrongSize).pixels == fresh.pixels)
        #expect(wrongSize.isEmpty)
    }
}
