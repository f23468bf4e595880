import BeamlineSupport
import Foundation
import Testing
@testable import DetectorImage

/// Bad input gives a clear error naming the file and the problem: never a crash, a hang or a wrong number.
struct BadInputTests {
    func expectError(_ path: String, containing words: [String], sourceLocation: SourceLocation = #_sourceLocation) {
        do {
            let source = try DetectorImageFile.open(path)
            for i in 0 ..< source.frameCount { _ = try source.frame(at: i) }
            Issue.record("no error for \(path)", sourceLocation: sourceLocation)
        } catch let error as BeamlineError {
            #expect(error.path == path, "error should name the file: \(error)", sourceLocation: sourceLocation)
            for word in words {
                #expect(error.message.lowercased().contains(word.lowercased()), "\"\(error.message)\" lacks \"\(word)\"", sourceLocation: sourceLocation)
            }
        } catch {
            Issue.record("unexpected error type \(error)", sourceLocation: sourceLocation)
        }
    }

    func bytes(_ fixture: String) throws -> [UInt8] {
        [UInt8](try Data(contentsOf: URL(fileURLWithPath: TestFiles.fixture(fixture))))
    }

    /// Inputs libFuzzer found (fuzz/run.sh), kept as regression tests: a TIFF whose header claims
    /// a 2 GB frame (allocated before the fix), an HDF5 file that makes libhdf5 ask for 2⁴⁸ bytes,
    /// a TIFF whose tiles claim 4 GB, and a MAR345 input that took over a
    /// second.
    @Test func fuzzerFindings() {
        expectError(TestFiles.fixture("fuzz/tiff-huge-shape.tif"), containing: ["more than any detector"])
        expectError(TestFiles.fixture("fuzz/tiff-huge-tile.tif"), containing: ["larger than the"])
        // Over a second under the sanitizer: a 64 kB MAR345 plate claiming 3450² pixels (the whole
        // image was allocated, then the stream ended).
        expectError(TestFiles.fixture("fuzz/mar345-short-stream.mar3450"), containing: ["truncated"])
        checkHDF5("fuzz/hdf5-huge-allocation.h5")
        // Files of damaged groups, each found crashing or hanging libhdf5 1.10 further on (looping on
        // the root's @default in a global heap; filling 268 MB of unwritten chunks; allocating a
        // 4 GB chunk of a 13 kB file; dereferencing NULL looking a NeXus path up through a group
        // whose symbol table cannot be read). Every HDF5 file is first opened and listed in a child
        // process, and one that libhdf5 cannot list is refused there, before any of that.
        let start = Date()
        for name in ["hdf5-vlen-attribute-hang", "hdf5-unwritten-chunks", "hdf5-4gb-chunk",
                     "hdf5-unlistable-group-crash"] {
            expectError(TestFiles.fixture("fuzz/\(name).h5"), containing: ["cannot list the file's groups", "damaged"])
        }
        #expect(Date().timeIntervalSince(start) < 15, "a damaged file was not refused at once")
        // libhdf5 1.10 writes out of bounds (SIGSEGV) opening this file's dataset (H5D__chunk_set_sizes):
        // the child opening every dataset crashes instead.
        expectError(TestFiles.fixture("fuzz/hdf5-chunk-layout-crash.h5"), containing: ["crashed", "damaged"])
        // Its filter message gone, a deflated 1762-byte chunk was read as a raw 4096-byte one:
        // libhdf5 copied a whole chunk out of a 1762-byte buffer (a heap over-read under ASan,
        // other memory as pixels without it). This file lists: the chunk sizes are checked when the
        // dataset is opened (counting a dataset's chunks walks its whole index: once, not per frame).
        expectError(TestFiles.fixture("fuzz/hdf5-short-unfiltered-chunk.h5"),
                    containing: ["dataset /entry/data/data", "stored in 1762 bytes, not the 4096", "damaged"])
        // A float type of 4294967295 bytes for y_pixel_size: libhdf5 allocated a 4 GB conversion
        // buffer to read the one number (the read then failed, and the field was quietly skipped).
        expectError(TestFiles.fixture("fuzz/hdf5-4gb-float-type.h5"),
                    containing: ["y_pixel_size' claims 4294967295-byte floats", "damaged"])
        // Chunks of 1 × 32 × 262144 for a 1 × 32 × 32 frame that cannot grow, and 32-byte elements
        // stored for a 4-byte float: libhdf5 wrote past the frame's buffer reading it (SIGSEGV in
        // the plain build too). The element size is what broke the read (see below); the same
        // file with 4-byte elements stored (patched by hand) is refused for its chunk shape.
        expectError(TestFiles.fixture("fuzz/hdf5-chunk-beyond-extent.h5"),
                    containing: ["chunk layout stores elements of 32 bytes, its datatype 4", "damaged"])
        expectError(TestFiles.fixture("fuzz/hdf5-chunk-beyond-fixed-extent.h5"),
                    containing: ["chunks of 262144 along dimension 2, which cannot exceed 32", "damaged"])
        // The same chunks with the extent free to grow to 2097152 (legal), stored in 1762 deflated
        // bytes that inflate to 4096: libhdf5 1.10 copied the 32 MB chunk out of them (SIGSEGV in
        // H5VM_memcpyvv, the plain build too). Deflate expands at most 1032-fold.
        expectError(TestFiles.fixture("fuzz/hdf5-deflated-chunk-too-small.h5"),
                    containing: ["a deflated chunk of 1762 bytes cannot hold the 33554432 bytes", "damaged"])
        // An object header claiming 4 GB: libhdf5 allocated it to open the object, listing the file
        // (the open then failed, and the listing passed over the object). The probe child, its
        // address space capped, refuses a file with a hard link to an object it cannot open.
        expectError(TestFiles.fixture("fuzz/hdf5-4gb-object-header.h5"),
                    containing: ["cannot open an object the file links to", "damaged"])
        // Deflate in the pipeline, but the chunk's filter mask says it skipped it: libhdf5 copied a
        // raw 4096-byte chunk out of 1762 stored bytes (other memory as pixels in the plain build).
        expectError(TestFiles.fixture("fuzz/hdf5-chunk-skips-deflate.h5"),
                    containing: ["stored without compression takes 1762 bytes, not the 4096", "damaged"])
        // The wavelength as a compact scalar stored in 0 bytes: libhdf5 copied it from NULL.
        expectError(TestFiles.fixture("fuzz/hdf5-compact-scalar-empty.h5"),
                    containing: ["incident_wavelength': its data are stored in 0 bytes, not the 8", "damaged"])
        // A root object header whose chunk claims more memory than the probe child may have: libhdf5
        // refused it there, and the reader then opened the file itself, uncapped; in the fuzzer's
        // long-running process the allocation succeeded and libhdf5 read past it (SEGV in H5Fopen).
        // The reader no longer opens a file the child could not open. libhdf5 reads this header
        // differently with another history in the process: in a fresh one it asks for more memory
        // than the machine has ("more memory than a file of this size can justify"), in the test
        // runner it reads from an address beyond the file ("cannot open: addr overflow"); refused
        // in the child either way, with libhdf5's words.
        expectError(TestFiles.fixture("fuzz/hdf5-open-needs-huge-buffer.h5"), containing: ["HDF5: ", "open"])
        // A superblock whose driver-information block claims 4 GB: the probe child, capped, could
        // not open the file; the reader then opened it itself and libhdf5 reallocated 4 GB for
        // the block (libFuzzer out-of-memory at 995 926 executions; in the plain build the open
        // succeeded). A file the child cannot open is no longer opened by the reader.
        expectError(TestFiles.fixture("fuzz/hdf5-superblock-4gb-driver-block.h5"),
                    containing: ["more memory than a file of this size can justify", "damaged"])
        // The first file above with a dimension that can grow (so its chunk shape is legal): the
        // 32-byte elements alone made libhdf5 1.10 lay the decoded chunk out with the one size and
        // copy with the other, reading far past it (SIGSEGV in H5Dread, the plain build too). The
        // stored size is read from the object header.
        expectError(TestFiles.fixture("fuzz/hdf5-chunk-element-size.h5"),
                    containing: ["chunk layout stores elements of 32 bytes, its datatype 4", "damaged"])
    }

    /// h5py's file of three 100×70 frames in 32×32 chunks, of which only the first was written:
    /// that frame reads (edge chunks included), the next is refused by name, not read as zeros.
    @Test func unwrittenFramesAreRefused() throws {
        let path = TestFiles.fixture("h5py-unwritten-frames.h5")
        let source = try DetectorImageFile.open(path)
        #expect(source.frameCount == 3)
        let first = try source.frame(at: 0)
        #expect(first.pixels.count == 7000 && first.pixels.allSatisfy { $0 == 5 })
        let error = #expect(throws: BeamlineError.self) { try source.frame(at: 1) }
        #expect(error?.message.contains("frame 1 of /entry/data/data: the chunk at (1,0,0) was never written") == true)
    }

    /// An error naming the file, or frames read: never a crash or a hang.
    func checkHDF5(_ name: String) {
        do {
            let source = try DetectorImageFile.open(TestFiles.fixture(name))
            for i in 0 ..< source.frameCount { _ = try source.frame(at: i) }
        } catch let error as BeamlineError {
            #expect(error.path == TestFiles.fixture(name), "\(error)")
        } catch {
            Issue.record("unexpected error type \(error)")
        }
    }

    @Test func missingFile() {
        expectError("/nonexistent/image.mar2300", containing: ["no such file"])
    }

    @Test func wrongMagic() {
        expectError(TestFiles.write(Array("hello, this is not an image".utf8), "text.tif"), containing: ["unknown image format"])
        expectError(TestFiles.write([], "empty.cbf"), containing: ["empty"])
    }

    @Test func truncatedFiles() throws {
        let mar = try bytes("sample.mar2300")
        expectError(TestFiles.write(Array(mar.prefix(mar.count / 2)), "half.mar2300"), containing: ["truncated"])
        expectError(TestFiles.write(Array(mar.prefix(3000)), "header.mar2300"), containing: ["truncated"])
        let cbf = try bytes("sample_i32.cbf")
        expectError(TestFiles.write(Array(cbf.prefix(cbf.count - 5000)), "short.cbf"), containing: ["truncated"])
        let edf = try bytes("sample_f32.edf")
        expectError(TestFiles.write(Array(edf.prefix(edf.count - 10)), "short.edf"), containing: ["truncated"])
        let tif = try bytes("sample_u16.tif")
        expectError(TestFiles.write(Array(tif.prefix(tif.count / 2)), "short.tif"), containing: [])
        let h5 = try bytes("sample_3frames_gzip.h5")
        expectError(TestFiles.write(Array(h5.prefix(h5.count / 2)), "short.h5"), containing: [])
    }

    @Test func headerThatLiesAboutTheSize() throws {
        var edf = String(decoding: try bytes("sample_u16.edf"), as: UTF8.self).replacingOccurrences(of: "Dim_2 = 256", with: "Dim_2 = 999")
        expectError(TestFiles.write(Array(edf.utf8), "lying.edf"), containing: [])
        edf = String(decoding: try bytes("sample_u16.edf"), as: UTF8.self).replacingOccurrences(of: "Dim_1 = 256", with: "Dim_1 = abc")
        expectError(TestFiles.write(Array(edf.utf8), "nodim.edf"), containing: ["Dim_1"])

        var cbf = try bytes("sample_i32.cbf")
        let text = String(decoding: cbf.prefix(1500), as: UTF8.self)
        if let range = text.range(of: "X-Binary-Size-Second-Dimension: 256") {
            let offset = text.utf8.distance(from: text.startIndex, to: range.lowerBound)
            let replacement = Array("X-Binary-Size-Second-Dimension: 512".utf8)
            cbf.replaceSubrange(offset ..< offset + replacement.count, with: replacement)
        }
        expectError(TestFiles.write(cbf, "lying.cbf"), containing: ["elements"])

        var mar = try bytes("sample.mar2300")
        withUnsafeBytes(of: Int32(99999).littleEndian) { mar.replaceSubrange(4 ..< 8, with: $0) }
        expectError(TestFiles.write(mar, "lying.mar2300"), containing: ["scan size"])
        mar = try bytes("sample.mar2300")
        withUnsafeBytes(of: Int32(1 << 30).littleEndian) { mar.replaceSubrange(8 ..< 12, with: $0) }
        expectError(TestFiles.write(mar, "highs.mar2300"), containing: ["overflow"])
    }

    @Test func missingHDF5Dataset() throws {
        do {
            _ = try DetectorImageFile.open(TestFiles.fixture("sample_3frames_gzip.h5"), dataset: "/entry/nothing/here")
            Issue.record("no error")
        } catch let error as BeamlineError {
            #expect(error.path == TestFiles.fixture("sample_3frames_gzip.h5"))
            #expect(error.message.contains("/entry/nothing/here"))
        }
        let source = try DetectorImageFile.open(TestFiles.fixture("sample_3frames_gzip.h5"))
        #expect(throws: BeamlineError.self) { try source.frame(at: 3) }
    }

    /// Thousands of truncated and randomly corrupted MAR345 files (seeded): each either
    /// decodes to an image of the right shape or throws a BeamlineError naming the file.
    @Test func fuzzMAR345() throws {
        let size = 48
        let pixels = RoundTripTests.pattern(width: size, height: size, seed: 99)
        let frame = Frame(id: FrameID(path: "mem", index: 0), width: size, height: size, pixels: pixels, pixelType: .uint32)
        let good = MAR345Writer.encode(frame)
        var rng = SeededGenerator(seed: 2026)
        var errors = 0, decoded = 0
        for trial in 0 ..< 3000 {
            var bytes = good
            switch trial % 3 {
            case 0: bytes = Array(bytes.prefix(Int.random(in: 0 ..< bytes.count, using: &rng)))
            case 1:
                for _ in 0 ..< Int.random(in: 1 ... 8, using: &rng) {
                    bytes[Int.random(in: 4096 ..< bytes.count, using: &rng)] = UInt8.random(in: 0 ... 255, using: &rng)
                }
            default:
                for _ in 0 ..< Int.random(in: 1 ... 20, using: &rng) {
                    bytes[Int.random(in: 0 ..< bytes.count, using: &rng)] = UInt8.random(in: 0 ... 255, using: &rng)
                }
            }
            let reader = ByteReader(bytes: bytes, path: "fuzz-\(trial)")
            do {
                let image = try MAR345Image(reader: reader)
                let f = try image.frame(at: 0)
                #expect(f.pixels.count == f.width * f.height)
                decoded += 1
            } catch let error as BeamlineError {
                #expect(error.path == "fuzz-\(trial)")
                errors += 1
            }
        }
        #expect(errors > 500 && decoded > 500, "both outcomes should occur: \(errors) errors, \(decoded) decoded")
    }

    @Test func fuzzCBF() throws {
        let good = try bytes("sample_i32.cbf")
        var rng = SeededGenerator(seed: 77)
        var errors = 0
        for trial in 0 ..< 2000 {
            var bytes = good
            if trial % 2 == 0 {
                bytes = Array(bytes.prefix(Int.random(in: 0 ..< bytes.count, using: &rng)))
            } else {
                for _ in 0 ..< Int.random(in: 1 ... 30, using: &rng) {
                    bytes[Int.random(in: 0 ..< bytes.count, using: &rng)] = UInt8.random(in: 0 ... 255, using: &rng)
                }
            }
            let path = TestFiles.write(bytes, "fuzz.cbf")
            do {
                let f = try DetectorImageFile.readFrame(path)
                #expect(f.pixels.count == 256 * 256)
            } catch let error as BeamlineError {
                #expect(error.path == path)
                errors += 1
            }
        }
        #expect(errors > 1000)
        // The codec directly, on random streams: never out of bounds.
        for _ in 0 ..< 2000 {
            let stream = (0 ..< Int.random(in: 0 ... 64, using: &rng)).map { _ in UInt8.random(in: 0 ... 255, using: &rng) }
            _ = try? stream.withUnsafeBufferPointer { try ByteOffset.decode($0, count: 32) }
        }
    }
}
