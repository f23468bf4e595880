// swift-tools-version:6.0
// libFuzzer targets for every parser of the beamline package (issue 17). Not part of the main
// build: `make fuzz` at the top builds this package with -sanitize=fuzzer,address and runs each
// target for a fixed budget (fuzz/run.sh).
import PackageDescription

let package = Package(
    name: "beamline-fuzz",
    dependencies: [.package(name: "beamline", path: "..")],
    targets: [
        .executableTarget(
            name: "beamline-fuzz",
            dependencies: [.product(name: "BeamlineParsers", package: "beamline")]
        ),
    ],
    swiftLanguageModes: [.v5]
)
