// swift-tools-version:6.0
import PackageDescription

let package = Package(
    name: "beamline",
    platforms: [.macOS(.v13)],
    products: [
        .executable(name: "beamline", targets: ["beamline"]),
        .library(name: "DetectorImage", targets: ["DetectorImage"]),
        // The parsers, for the libFuzzer package in fuzz/ (and anyone reading these files).
        .library(name: "BeamlineParsers", targets: ["BeamlineSupport", "DetectorImage", "Integration", "PatternIO",
                                                    "Pressure", "Reduction"]),
    ],
    dependencies: [
        .package(url: "https://github.com/apple/swift-argument-parser", from: "1.5.0"),
    ],
    targets: [
        // System libraries, located with pkg-config (Debian: libtiff-dev, libhdf5-dev).
        .systemLibrary(
            name: "SystemLibTIFF",
            pkgConfig: "libtiff-4",
            providers: [.apt(["libtiff-dev"]), .brew(["libtiff"])]
        ),
        .systemLibrary(
            name: "SystemLibHDF5",
            pkgConfig: "hdf5",
            providers: [.apt(["libhdf5-dev"]), .brew(["hdf5"])]
        ),
        // Thin C shims: a macro-free API and errors captured into buffers, never printed.
        .target(name: "CTIFF", dependencies: ["SystemLibTIFF"]),
        .target(name: "CHDF5", dependencies: ["SystemLibHDF5"]),

        // glibc's mallopt(3), for the executable's allocator policy.
        .systemLibrary(name: "CMalloc"),
        // Vector square roots for the geometry maps (header only).
        .systemLibrary(name: "CVectorMath"),
        .target(name: "CSHA256"),
        .target(name: "BeamlineSupport", dependencies: ["CSHA256"]),
        .target(name: "BeamlineNumerics"),
        .target(name: "DetectorImage", dependencies: ["CTIFF", "CHDF5", "BeamlineSupport"]),
        .target(name: "PatternIO", dependencies: ["BeamlineSupport"]),
        .target(name: "Integration", dependencies: ["DetectorImage", "PatternIO", "BeamlineSupport", "CVectorMath"]),
        .target(name: "Pressure", dependencies: ["PatternIO", "BeamlineNumerics", "BeamlineSupport"]),
        .target(name: "StructureFactor", dependencies: ["PatternIO", "BeamlineNumerics", "BeamlineSupport"]),
        .target(name: "Simulation", dependencies: ["Calibration", "StructureFactor", "Pressure", "Integration", "DetectorImage", "BeamlineNumerics", "BeamlineSupport"]),
        .target(name: "Analysis", dependencies: ["BeamlineNumerics", "BeamlineSupport", "PatternIO"]),
        .target(name: "Calibration", dependencies: ["Integration", "DetectorImage", "BeamlineNumerics", "BeamlineSupport"]),
        // Stage jobs and the records the stages exchange, between the stage modules and the CLI.
        .target(name: "Reduction", dependencies: ["Integration", "Calibration", "DetectorImage", "Analysis", "PatternIO",
                                                  "BeamlineSupport"]),
        // The HTML report and its plots.
        .target(name: "Report", dependencies: ["Reduction", "Analysis", "Integration", "PatternIO", "BeamlineSupport"]),

        .executableTarget(
            name: "beamline",
            dependencies: [
                "DetectorImage", "BeamlineSupport", "BeamlineNumerics", "Integration", "PatternIO", "Pressure",
                "StructureFactor", "Calibration", "Analysis", "Simulation", "Reduction", "Report", "CMalloc",
                .product(name: "ArgumentParser", package: "swift-argument-parser"),
            ]
        ),

        .executableTarget(
            name: "beamline-bench",
            dependencies: ["DetectorImage", "Integration", .product(name: "ArgumentParser", package: "swift-argument-parser")]
        ),

        .testTarget(name: "DetectorImageTests", dependencies: ["DetectorImage", "BeamlineSupport"],
                    resources: [.copy("Fixtures")]),
        .testTarget(name: "IntegrationTests", dependencies: ["Integration", "DetectorImage", "PatternIO", "BeamlineSupport"],
                    resources: [.copy("Fixtures")]),
        .testTarget(name: "PressureTests", dependencies: ["Pressure", "BeamlineNumerics", "PatternIO", "BeamlineSupport", "Integration", "DetectorImage", "Analysis"]),
        .testTarget(name: "StructureFactorTests", dependencies: ["StructureFactor", "PatternIO", "BeamlineSupport", "BeamlineNumerics", "Integration", "DetectorImage"]),
        .testTarget(name: "CalibrationTests", dependencies: ["Calibration", "Integration", "DetectorImage", "BeamlineSupport"]),
        .testTarget(name: "AnalysisTests", dependencies: ["Analysis", "BeamlineNumerics", "BeamlineSupport", "PatternIO"],
                    resources: [.copy("Fixtures")]),
        .testTarget(name: "ReportTests", dependencies: ["Report"]),
        .testTarget(name: "ReductionTests", dependencies: ["Reduction", "Analysis", "Integration", "DetectorImage", "BeamlineSupport"]),
        // Runs the built `beamline` executable; depends on it so that it is built first.
        .testTarget(name: "CLITests", dependencies: ["beamline"]),
    ],
    // Swift 5 mode: the numeric kernels hand raw buffers to DispatchQueue.concurrentPerform,
    // which Swift 6's Sendable checking would force through wrapper types.
    swiftLanguageModes: [.v5]
)
