import BeamlineSupport
import Foundation
import Testing
@testable import DetectorImage

/// Writing onto a full or read-only file system: one error naming the file and the cause,
/// no temporary file left behind. Needs a small tmpfs, which only root can mount.
struct FullDiskTests {
    /// A fresh tmpfs of `size` mounted at a new directory, or nil where mounting is not allowed.
    static func mountTmpfs(size: String, readOnly: Bool = false) -> String? {
        let dir = NSTemporaryDirectory() + "beamline-tmpfs-\(getpid())-\(UUID().uuidString)"
        try? FileManager.default.createDirectory(atPath: dir, withIntermediateDirectories: true)
        let process = Process()
        process.executableURL = URL(fileURLWithPath: "/bin/mount")
        process.arguments = ["-t", "tmpfs", "-o", "size=\(size)" + (readOnly ? ",ro" : ""), "tmpfs", dir]
        process.standardOutput = FileHandle.nullDevice
        process.standardError = FileHandle.nullDevice
        guard (try? process.run()) != nil else { return nil }
        process.waitUntilExit()
        return process.terminationStatus == 0 ? dir : nil
    }

    static func unmount(_ dir: String) {
        let process = Process()
        process.executableURL = URL(fileURLWithPath: "/bin/umount")
        process.arguments = [dir]
        try? process.run()
        process.waitUntilExit()
        try? FileManager.default.removeItem(atPath: dir)
    }

    static let canMount: Bool = {
        guard let dir = mountTmpfs(size: "16k") else { return false }
        unmount(dir)
        return true
    }()

    @Test(.enabled(if: canMount, "needs to mount a small tmpfs (root); skipped"))
    func fullDiskLeavesNoPartialFile() throws {
        let dir = try #require(Self.mountTmpfs(size: "64k"))
        defer { Self.unmount(dir) }
        let text = dir + "/big.txt"
        #expect {
            try AtomicFile.write(String(repeating: "0123456789\n", count: 20_000), to: text)
        } throws: { error in
            let e = error as? BeamlineError
            return e?.path == text && e!.message.contains("no space left")
        }
        let image = dir + "/big.tif"
        let pixels = [Float](repeating: 1234.5, count: 256 * 256)
        #expect {
            try TIFFWriter.write(pixels, width: 256, height: 256, to: image)
        } throws: { error in
            let e = error as? BeamlineError
            return e?.path == image && e!.message.contains("no space left")
        }
        #expect(try FileManager.default.contentsOfDirectory(atPath: dir).isEmpty, "a partial or temporary file was left")
    }

    @Test(.enabled(if: canMount, "needs to mount a small tmpfs (root); skipped"))
    func readOnlyDirectoryIsNamed() throws {
        let dir = try #require(Self.mountTmpfs(size: "64k", readOnly: true))
        defer { Self.unmount(dir) }
        let path = dir + "/pattern.xy"
        #expect {
            try AtomicFile.write("1 2\n", to: path)
        } throws: { error in
            (error as? BeamlineError)?.description == "\(path): cannot create the file: read-only file system"
        }
    }

    @Test func inputsThatAreNotFilesAreNamed() throws {
        let dir = NSTemporaryDirectory() + "beamline-notfile-\(getpid())"
        try FileManager.default.createDirectory(atPath: dir, withIntermediateDirectories: true)
        #expect(throws: BeamlineError(path: dir, "is a directory, not a file")) { try DetectorImageFile.open(dir) }
        #expect(throws: BeamlineError(path: "/dev/null", "is not a regular file")) { try DetectorImageFile.open("/dev/null") }
        #expect(throws: BeamlineError(path: dir + "/none.tif", "no such file")) { try DetectorImageFile.open(dir + "/none.tif") }
    }
}
