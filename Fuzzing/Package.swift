// swift-tools-version:6.0
import PackageDescription

// libFuzzer targets for ImagesKit, kept apart so the main package builds and tests without them.
// scripts/fuzz.sh builds them with `-sanitize=fuzzer` and runs them; see README.md.

let settings: [SwiftSetting] = [
    .enableUpcomingFeature("ExistentialAny")
]

func fuzzTarget(_ name: String, _ products: [String]) -> Target {
    .executableTarget(
        name: name,
        dependencies: ["FuzzSupport"] + products.map { .product(name: $0, package: "ImagesKit") },
        swiftSettings: settings
    )
}

let package = Package(
    name: "ImagesKitFuzzing",
    platforms: [.macOS(.v15)],
    dependencies: [.package(name: "ImagesKit", path: "..")],
    targets: [
        .target(name: "CImagesKitFuzzDriver"),
        .target(
            name: "FuzzSupport",
            dependencies: ["CImagesKitFuzzDriver", .product(name: "ImagesKit", package: "ImagesKit")],
            swiftSettings: settings
        ),
        fuzzTarget("FuzzGzip", ["ImagesKit", "ImagesKitGzip"]),
        fuzzTarget("FuzzIndexedGzip", ["ImagesKit", "ImagesKitGzip"]),
        fuzzTarget("FuzzXz", ["ImagesKit", "ImagesKitXz"]),
        fuzzTarget("FuzzDiskProbe", ["ImagesKit", "ImagesKitMemory"]),
        fuzzTarget("FuzzRecords", ["ImagesKit", "ImagesKitFileSystem"]),
    ]
)
