import BeamlineSupport
import Foundation
import Testing
@testable import DetectorImage

/// The helper process that forks the children probing HDF5 files before libhdf5 reads them here.
@Suite(.serialized) struct HDF5ProbeTests {
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

    /// The helper after probing the good file. None is started while this process holds an HDF5
    /// file open, which other tests running beside this one may do for a moment: tried a few times.
    func helperAfterProbing() throws -> Int32? {
        for _ in 0 ..< 50 {
            #expect(try DetectorImageFile.open(good).frame(at: 0).pixels.count > 0)
            if let helper = HDF5Probe.helperProcess { return helper }
            usleep(20_000)
        }
        return nil
    }

    /// A helper killed from outside is noticed by the next probe, which forks its own child (the
    /// damaged file is refused all the same), and the probe after that starts a new helper.
    @Test func aKilledHelperIsReplaced() throws {
        let helper = try #require(try helperAfterProbing())
        try expectTruncationReported()  // through the helper
        #expect(kill(helper, SIGKILL) == 0)
        try expectTruncationReported()  // from a child of this process
        let second = try #require(try helperAfterProbing())
        #expect(second != helper)
        #expect(kill(second, SIGKILL) == 0)
        expectCrashReported()
        let replacement = try #require(try helperAfterProbing())
        #expect(replacement != second)
        expectCrashReported()
        // The helper holds none of this process's descriptors beyond its socket and the standard three
        // (an inherited one would keep a file's lock or a pipe's end alive).
        let descriptors = try FileManager.default.contentsOfDirectory(atPath: "/proc/\(replacement)/fd")
        #expect(Set(descriptors.compactMap { Int($0) }).isSubset(of: [0, 1, 2, 3]), "\(descriptors)")
    }
}

extension HDF5ProbeTests {
    /// A file held open here while the helper is gone is still probed soundly. A helper forked now
    /// would inherit libhdf5's table of open files without their descriptors, and libhdf5 hands a
    /// second open of a file the inherited entry: its child failed to list the sound file ("cannot
    /// list the file's groups"; seen when another test killed the helper while one held this file).
    @Test func aFileHeldOpenIsProbedSoundlyWhenTheHelperIsGone() throws {
        let path = TestFiles.fixture("real/nexus_default.h5")
        do {
            let held = try DetectorImageFile.open(path)
            // None when another test held a file open as this one was probed: nothing to kill.
            if let helper = HDF5Probe.helperProcess { #expect(kill(helper, SIGKILL) == 0) }
            // The probe that notices the helper has gone forks its own child.
            #expect(try DetectorImageFile.open(good).frame(at: 1).pixels.count > 0)
            // The next one would have started a new helper, whose child could not list this file.
            let again = try DetectorImageFile.open(path, dataset: "/entry/data/data")
            #expect(again.width == 5 && held.width > 5)
        }
        // With nothing open, a probe starts a helper again.
        #expect(try helperAfterProbing() != nil)
    }
}
