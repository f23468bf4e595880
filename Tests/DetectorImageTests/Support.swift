import BeamlineSupport
import Foundation
@testable import DetectorImage

/// Where test inputs live: the bundled fixtures, ../shared when present, and a scratch directory.
enum TestFiles {
    static var fixtures: String {
        Bundle.module.url(forResource: "Fixtures", withExtension: nil)!.path
    }

    static func fixture(_ name: String) -> String { fixtures + "/" + name }

    /// ../shared beside the repository, if this machine has it.
    static var shared: String? {
        let root = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent()
            .deletingLastPathComponent().deletingLastPathComponent()
        let path = root.appendingPathComponent("shared").path
        return FileManager.default.fileExists(atPath: path + "/README.md") ? path : nil
    }

    /// A fresh path named `name`: each call gets its own directory, so tests (and the cases of
    /// one parameterised test) that run in parallel never share a file.
    static func scratch(_ name: String) -> String {
        let dir = NSTemporaryDirectory() + "beamline-tests-\(getpid())/" + UUID().uuidString
        try? FileManager.default.createDirectory(atPath: dir, withIntermediateDirectories: true)
        return dir + "/" + name
    }

    static func write(_ bytes: [UInt8], _ name: String) -> String {
        let path = scratch(name)
        try? Data(bytes).write(to: URL(fileURLWithPath: path))
        return path
    }
}

typealias SeededGenerator = SplitMix

extension Frame {
    func sha256(as type: PixelType) -> String {
        SHA256.hex(of: PixelConversion.littleEndianBytes(pixels, as: type))
    }
}
