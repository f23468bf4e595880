import Foundation
import Testing

/// The `beamline` executable: exit codes and messages as a user sees them.
struct CLITests {
    struct Result {
        var status: Int32
        var stdout: String
        var stderr: String
    }

    static var executable: URL {
        URL(fileURLWithPath: CommandLine.arguments[0]).deletingLastPathComponent().appendingPathComponent("beamline")
    }

    static var fixtures: URL {
        URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent()
            .appendingPathComponent("DetectorImageTests/Fixtures")
    }

    static func run(_ arguments: [String]) throws -> Result {
        let process = Process()
        process.executableURL = executable
        process.arguments = arguments
        let out = Pipe(), err = Pipe()
        process.standardOutput = out
        process.standardError = err
        try process.run()
        let stdout = out.fileHandleForReading.readDataToEndOfFile()
        let stderr = err.fileHandleForReading.readDataToEndOfFile()
        process.waitUntilExit()
        return Result(status: process.terminationStatus, stdout: String(decoding: stdout, as: UTF8.self),
                      stderr: String(decoding: stderr, as: UTF8.self))
    }

    @Test func infoDescribesImages() throws {
        let mar = Self.fixtures.appendingPathComponent("sample.mar2300").path
        let h5 = Self.fixtures.appendingPathComponent("sample_3frames_gzip.h5").path
        let result = try Self.run(["info", mar, h5])
        #expect(result.status == 0)
        #expect(result.stdout.contains("MAR345"))
        #expect(result.stdout.contains("2300 x 2300"))
        #expect(result.stdout.contains("0.3738 Å"))
        #expect(result.stdout.contains("frames      3"))
    }

    @Test func infoJSON() throws {
        let tif = Self.fixtures.appendingPathComponent("sample_u16.tif").path
        let result = try Self.run(["info", "--json", tif])
        #expect(result.status == 0)
        let json = try JSONSerialization.jsonObject(with: Data(result.stdout.utf8)) as! [[String: Any]]
        #expect(json[0]["format"] as? String == "TIFF")
        #expect(json[0]["pixelType"] as? String == "uint16")
        let stats = (json[0]["statistics"] as! [[String: Any]])[0]
        #expect(stats["max"] as? Double == 65535)
    }

    @Test func badInputExitsNonZeroNamingTheFile() throws {
        let missing = try Self.run(["info", "/no/such/image.cbf"])
        #expect(missing.status != 0)
        #expect(missing.stderr.contains("/no/such/image.cbf"))
        #expect(missing.stderr.contains("no such file"))

        let path = NSTemporaryDirectory() + "cli-truncated-\(getpid()).mar2300"
        let bytes = try Data(contentsOf: Self.fixtures.appendingPathComponent("sample.mar2300"))
        try bytes.prefix(bytes.count / 3).write(to: URL(fileURLWithPath: path))
        let truncated = try Self.run(["info", path])
        #expect(truncated.status != 0)
        #expect(truncated.stderr.contains(path))
        #expect(truncated.stderr.contains("truncated"))
    }

    @Test func convertWritesAtomicallyAndRoundTrips() throws {
        let mar = Self.fixtures.appendingPathComponent("sample.mar2300").path
        let out = NSTemporaryDirectory() + "cli-convert-\(getpid()).tif"
        let result = try Self.run(["convert", mar, out, "--integer"])
        #expect(result.status == 0, "\(result.stderr)")
        let info = try Self.run(["info", "--json", out])
        let json = try JSONSerialization.jsonObject(with: Data(info.stdout.utf8)) as! [[String: Any]]
        let stats = (json[0]["statistics"] as! [[String: Any]])[0]
        #expect(stats["max"] as? Double == 1_234_567)
        let bad = try Self.run(["convert", mar, NSTemporaryDirectory() + "x.png"])
        #expect(bad.status != 0)
        #expect(!FileManager.default.fileExists(atPath: NSTemporaryDirectory() + "x.png"))
    }
}
