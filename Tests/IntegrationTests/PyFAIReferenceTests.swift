import BeamlineSupport
import DetectorImage
import Foundation
import PatternIO
import Testing
@testable import Integration

/// Our integration against pyFAI's integrate1d of the same images with the same settings.
struct PyFAIReferenceTests {
    static var shared: String? {
        let root = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent()
            .deletingLastPathComponent().deletingLastPathComponent()
        let path = root.appendingPathComponent("shared").path
        return FileManager.default.fileExists(atPath: path + "/README.md") ? path : nil
    }

    struct Comparison {
        var worstIntensity = 0.0
        var worstSigma = 0.0
        var worstAxis = 0.0
        var compared = 0
    }

    /// Relative differences in every bin with more than `minimumCounts` counts.
    static func compare(_ ours: IntegrationResult, _ reference: Pattern, rawCounts: [Double]) -> Comparison {
        var result = Comparison()
        for i in 0 ..< min(ours.radial.count, reference.count) {
            result.worstAxis = max(result.worstAxis, abs(ours.radial[i] - reference.x[i]) / abs(reference.x[i]))
            guard rawCounts[i] > 100, reference.intensity[i] != 0 else { continue }
            result.worstIntensity = max(result.worstIntensity, abs(ours.intensity[i] - reference.intensity[i]) / abs(reference.intensity[i]))
            if reference.sigma[i] > 0 {
                result.worstSigma = max(result.worstSigma, abs(ours.sigma[i] - reference.sigma[i]) / reference.sigma[i])
            }
            result.compared += 1
        }
        return result
    }

    @Test(arguments: ["ce_293K_00", "ce_390K_04", "empty_cell"], [SplitMethod.none, .bbox])
    func matchesPyFAI(image: String, method: SplitMethod) throws {
        guard let shared = Self.shared else {
            print("skipped: ../shared is not present (pyFAI comparison of \(image), \(method))")
            return
        }
        let run = shared + "/data/dev-run"
        let geometry = try PoniFile.read(run + "/geometry.poni")
        let mask = try Mask(contentsOf: run + "/beamstop_mask.tif")
        var settings = IntegrationSettings()
        settings.bins = 3000
        settings.unit = .qInverseAngstrom
        settings.method = method
        settings.polarizationFactor = 0.99
        let engine = try IntegrationEngine(geometry: geometry, settings: settings, mask: mask)
        let frame = try DetectorImageFile.readFrame(run + "/images/\(image).mar2300")
        let ours = try engine.integrate(frame.pixels)
        let reference = try PatternFile.read(shared + "/data/reference/pyfai/\(image).\(method == .none ? "nosplit" : "bboxsplit").xy")
        #expect(reference.count == 3000)
        // Raw counts per bin: intensity × normalisation.
        let raw = (0 ..< 3000).map { ours.intensity[$0] * engine.binNorm[$0] }
        let c = Self.compare(ours, reference, rawCounts: raw)
        print("\(image) \(method): \(c.compared) bins, worst |ΔI|/I \(c.worstIntensity), worst |Δσ|/σ \(c.worstSigma), worst |Δq|/q \(c.worstAxis)")
        #expect(c.compared > 2500)
        #expect(c.worstAxis < 1e-6)
        #expect(c.worstIntensity < 1e-3)
        #expect(c.worstSigma < 1e-3)
    }
}
