// swift-tools-version: 6.0
// libvoicecore: the deterministic core of VoiceCore, exported through include/voicecore.h.
//
// The shipped shared library is built by `make build` (CMake drives SwiftPM) with
// `-static-stdlib`, so libvoicecore.so needs nothing but libc/libstdc++. That flag is passed on
// the command line rather than here, because the test bundle links the dynamic runtime.
import PackageDescription

let package = Package(
    name: "VoiceCore",
    products: [
        .library(name: "VoiceCore", type: .dynamic, targets: ["VoiceCore"]),
    ],
    targets: [
        // Inner-product kernels in C, so AVX2/AVX-512 variants can be picked at run time.
        .target(name: "VoiceCoreKernels", path: "Sources/VoiceCoreKernels"),
        .target(
            name: "VoiceCore",
            dependencies: ["VoiceCoreKernels"],
            path: "Sources/VoiceCore"
        ),
        // Coordinator and Scheduler benchmarks (Benchmarks/coordinator, `make bench`).
        .executableTarget(
            name: "vc-bench",
            dependencies: ["VoiceCore"],
            path: "Benchmarks/coordinator/vc-bench"
        ),
        .testTarget(
            name: "VoiceCoreTests",
            dependencies: ["VoiceCore"],
            path: "Tests/VoiceCoreTests"
        ),
    ],
    swiftLanguageModes: [.v6]
)
