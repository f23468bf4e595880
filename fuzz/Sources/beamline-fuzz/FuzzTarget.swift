import BeamlineSupport
import DetectorImage
import Foundation
import Integration
import PatternIO
import Pressure
import Reduction

/// One libFuzzer entry point for every parser; `BEAMLINE_FUZZ_TARGET` chooses which. Each input
/// is written to a file in /dev/shm (the parsers read files, through the same code paths as a
/// run) and parsed; a thrown error is the expected answer to a bad file, anything else (a trap,
/// a sanitizer report, a hang) is a finding.
enum Target: String, CaseIterable {
    case image, mar345, tiff, edf, cbf, hdf5, fit2dMask = "fit2d-mask", poni, pattern, ruby, runConf = "run-conf"

    /// The file name the input is written to (some parsers look at the extension).
    var fileName: String {
        switch self {
        case .image: return "input.img"
        case .mar345: return "input.mar3450"
        case .tiff: return "input.tif"
        case .edf: return "input.edf"
        case .cbf: return "input.cbf"
        case .hdf5: return "input.h5"
        case .fit2dMask: return "input.msk"
        case .poni: return "input.poni"
        case .pattern: return "input.xy"
        case .ruby: return "input.txt"
        case .runConf: return "run.conf"
        }
    }

    func parse(_ path: String) throws {
        switch self {
        case .image, .mar345, .tiff, .edf, .cbf, .hdf5:
            let source = try DetectorImageFile.open(path)
            // The first and last frames: a multi-frame file's index arithmetic is exercised too.
            _ = try source.frame(at: 0)
            if source.frameCount > 1 { _ = try source.frame(at: source.frameCount - 1) }
        case .fit2dMask:
            _ = try FIT2DMask(path: path).frame(at: 0)
        case .poni:
            _ = try PoniFile.read(path)
        case .pattern:
            _ = try PatternFile.read(path)
        case .ruby:
            // The reader only: the fit of a mutated spectrum (tens of ms) would cap the target at
            // a few dozen executions per second; fits of bad spectra are tested in PressureTests.
            _ = try Spectrum(path: path)
        case .runConf:
            let run = try RunConfiguration(contentsOf: path, checkFiles: false)
            _ = run.makefile()
        }
    }
}

nonisolated(unsafe) var chosen: Target?
nonisolated(unsafe) var scratch = ""

@_cdecl("LLVMFuzzerTestOneInput")
public func fuzzOneInput(_ data: UnsafePointer<UInt8>, _ size: Int) -> CInt {
    if chosen == nil {
        let name = ProcessInfo.processInfo.environment["BEAMLINE_FUZZ_TARGET"] ?? ""
        guard let target = Target(rawValue: name) else {
            let names = Target.allCases.map(\.rawValue).joined(separator: ", ")
            FileHandle.standardError.write(Data("BEAMLINE_FUZZ_TARGET must be one of: \(names)\n".utf8))
            exit(2)
        }
        chosen = target
        let directory = "/dev/shm/beamline-fuzz-\(getpid())"
        try? FileManager.default.createDirectory(atPath: directory, withIntermediateDirectories: true)
        scratch = directory + "/" + target.fileName
    }
    let bytes = Data(bytes: data, count: size)
    guard FileManager.default.createFile(atPath: scratch, contents: bytes) else { return 0 }
    do { try chosen!.parse(scratch) } catch {}
    return 0
}

/// libFuzzer's driver (compiler-rt, LLVM ≥ 11): parses libFuzzer's options and runs the loop.
@_silgen_name("LLVMFuzzerRunDriver")
func runFuzzerDriver(_ argc: UnsafeMutablePointer<CInt>,
                     _ argv: UnsafeMutablePointer<UnsafeMutablePointer<UnsafeMutablePointer<CChar>?>?>,
                     _ callback: @convention(c) (UnsafePointer<UInt8>, Int) -> CInt) -> CInt

/// SwiftPM links an executable's `main` to `<module>_main`; here that is libFuzzer's driver.
@_cdecl("beamline_fuzz_main")
public func beamlineFuzzMain(_ argc: CInt, _ argv: UnsafeMutablePointer<UnsafeMutablePointer<CChar>?>?) -> CInt {
    // Before libFuzzer's hooks: the HDF5 probe children come from this early, small process and
    // answer to the reader alone (an allocation libFuzzer finds too large, in a child that then
    // refuses the file, is not a finding; nor is the stale input such a child would save).
    HDF5Probe.startHelper()
    var count = argc
    var arguments = argv
    return runFuzzerDriver(&count, &arguments) { data, size in fuzzOneInput(data, size) }
}
