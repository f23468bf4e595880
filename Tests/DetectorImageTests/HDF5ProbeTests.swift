import BeamlineSupport
import Foundation
import Testing
@testable import DetectorImage

/// The helper process that forks the children probing HDF5 files before libhdf5 reads them here.
struct HDF5ProbeTests {
    let good = TestFiles.fixture("sample_3frames_gzip.h5")
    let crashing = TestFiles.fixture("fuzz/hdf5-chunk-layout-crash.h5")

    func expectCrashReported(sourceLocation: SourceLocation = #_sourceLocation) {
        let error = #expect(throws: BeamlineError.self, sourceLocation: sourceLocation) {
            _ = try DetectorImageFile.open(crashing)
        }
        #expect(error?.path == crashing, sourceLocation: sourceLocation)
        #expect(error?.message.contains("libhdf5 crashed opening the file's datasets") == true,
                "\(String(describing: error))", sourceLocation: sourceLocation)
    }

    /// A file libhdf5 cannot open is refused with its words, passed back from the probe child (the
    /// reader does not open it itself): through the helper, and from a child of this process.
    func expectTruncationReported(sourceLocation: SourceLocation = #_sourceLocation) throws {
        let bytes = try Array(Data(contentsOf: URL(fileURLWithPath: good)))
        let truncated = TestFiles.write(Array(bytes.prefix(bytes.count / 3)), "probe-truncated.h5")
        let error = #expect(throws: BeamlineError.self, sourceLocation: sourceLocation) {
            _ = try DetectorImageFile.open(truncated)
        }
        #expect(error?.message.contains("truncated file") == true, "\(String(describing: error))",
                sourceLocation: sourceLocation)
    }

    /// A helper killed from outside is noticed by the next probe, which forks its own child (the
    /// damaged file is refused all the same), and the probe after that starts a new helper.
    @Test func aKilledHelperIsReplaced() throws {
        #expect(try DetectorImageFile.open(good).frame(at: 2).pixels.count > 0)
        try expectTruncationReported()  // through the helper
        let helper = try #require(HDF5Probe.helperProcess)
        #expect(kill(helper, SIGKILL) == 0)
        try expectTruncationReported()  // from a child of this process
        #expect(try DetectorImageFile.open(good).frame(at: 0).pixels.count > 0)
        let second = try #require(HDF5Probe.helperProcess)
        #expect(second != helper)
        #expect(kill(second, SIGKILL) == 0)
        expectCrashReported()
        #expect(try DetectorImageFile.open(good).frame(at: 0).pixels.count > 0)
        let replacement = try #require(HDF5Probe.helperProcess)
        #expect(replacement != second)
        expectCrashReported()
        // The helper holds none of this process's descriptors beyond its socket and the standard three
        // (an inherited one would keep a file's lock or a pipe's end alive).
        let descriptors = try FileManager.default.contentsOfDirectory(atPath: "/proc/\(replacement)/fd")
        #expect(Set(descriptors.compactMap { Int($0) }).isSubset(of: [0, 1, 2, 3]), "\(descriptors)")
    }
}
