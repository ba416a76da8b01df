// swift-tools-version:6.0
import PackageDescription

let strictSettings: [SwiftSetting] = [
    .enableUpcomingFeature("ExistentialAny")
]

let package = Package(
    name: "ImagesKit",
    platforms: [.macOS(.v15)],
    products: [
        .library(name: "ImagesKit", targets: ["ImagesKit"]),
        .library(name: "ImagesKitFileSystem", targets: ["ImagesKitFileSystem"]),
        .library(name: "ImagesKitMemory", targets: ["ImagesKitMemory"]),
        .library(name: "ImagesKitGzip", targets: ["ImagesKitGzip"]),
        .library(name: "ImagesKitXz", targets: ["ImagesKitXz"]),
        .library(name: "ImagesKitS3", targets: ["ImagesKitS3"]),
        .executable(name: "imagesctl", targets: ["imagesctl"]),
    ],
    targets: [
        .systemLibrary(
            name: "CImagesKitZlib",
            pkgConfig: "zlib",
            providers: [.apt(["zlib1g-dev"])]
        ),
        .systemLibrary(
            name: "CImagesKitIsal",
            pkgConfig: "libisal",
            providers: [.apt(["libisal-dev"])]
        ),
        .systemLibrary(
            name: "CImagesKitLzma",
            pkgConfig: "liblzma",
            providers: [.apt(["liblzma-dev"])]
        ),
        .systemLibrary(
            name: "CImagesKitCrypto",
            pkgConfig: "libcrypto",
            providers: [.apt(["libssl-dev"])]
        ),
        .systemLibrary(
            name: "CImagesKitCurl",
            pkgConfig: "libcurl",
            providers: [.apt(["libcurl4-openssl-dev"])]
        ),
        .systemLibrary(name: "CImagesKitSystem"),
        .target(
            name: "ImagesKit",
            dependencies: ["CImagesKitCrypto", "CImagesKitSystem"],
            swiftSettings: strictSettings
        ),
        .target(
            name: "ImagesKitFileSystem",
            dependencies: ["ImagesKit"],
            swiftSettings: strictSettings
        ),
        .target(
            name: "ImagesKitMemory",
            dependencies: ["ImagesKit"],
            swiftSettings: strictSettings
        ),
        .target(
            name: "ImagesKitGzip",
            dependencies: ["ImagesKit", "CImagesKitZlib", "CImagesKitIsal"],
            swiftSettings: strictSettings
        ),
        .target(
            name: "ImagesKitXz",
            dependencies: ["ImagesKit", "CImagesKitLzma"],
            swiftSettings: strictSettings
        ),
        .target(
            name: "ImagesKitS3",
            dependencies: ["ImagesKit", "CImagesKitCrypto", "CImagesKitCurl"],
            swiftSettings: strictSettings
        ),
        .target(
            name: "ImagesKitStoreContract",
            dependencies: ["ImagesKit"],
            swiftSettings: strictSettings
        ),
        .target(
            name: "ImagesKitTestSupport",
            path: "Tests/ImagesKitTestSupport",
            swiftSettings: strictSettings
        ),
        .executableTarget(
            name: "imagesctl",
            dependencies: ["ImagesKit", "ImagesKitFileSystem", "ImagesKitGzip", "ImagesKitXz", "ImagesKitS3"],
            path: "Examples/imagesctl",
            swiftSettings: strictSettings
        ),
        .executableTarget(
            name: "imageskit-bench",
            dependencies: ["ImagesKit", "ImagesKitFileSystem", "ImagesKitGzip", "ImagesKitXz", "ImagesKitS3"],
            path: "Examples/imageskit-bench",
            swiftSettings: strictSettings
        ),
        .testTarget(
            name: "ImagesKitTests",
            dependencies: ["ImagesKitTestSupport", "ImagesKit", "ImagesKitMemory", "ImagesKitGzip", "ImagesKitXz"],
            swiftSettings: strictSettings
        ),
        .testTarget(
            name: "ImagesKitConcurrencyTests",
            dependencies: [
                "ImagesKitTestSupport", "ImagesKit", "ImagesKitFileSystem", "ImagesKitGzip", "ImagesKitMemory",
            ],
            swiftSettings: strictSettings
        ),
        .testTarget(
            name: "ImagesKitFileSystemTests",
            dependencies: [
                "ImagesKitTestSupport", "ImagesKit", "ImagesKitFileSystem", "ImagesKitStoreContract", "ImagesKitGzip",
                "ImagesKitXz",
            ],
            swiftSettings: strictSettings
        ),
        .testTarget(
            name: "ImagesKitMemoryTests",
            dependencies: ["ImagesKit", "ImagesKitMemory", "ImagesKitStoreContract"],
            swiftSettings: strictSettings
        ),
        .testTarget(
            name: "ImagesKitGzipTests",
            dependencies: ["ImagesKitTestSupport", "ImagesKit", "ImagesKitGzip"],
            swiftSettings: strictSettings
        ),
        .testTarget(
            name: "ImagesKitXzTests",
            dependencies: ["ImagesKitTestSupport", "ImagesKit", "ImagesKitXz"],
            swiftSettings: strictSettings
        ),
        .testTarget(
            name: "ImagesKitS3Tests",
            dependencies: [
                "ImagesKitTestSupport", "ImagesKit", "ImagesKitS3", "ImagesKitStoreContract", "ImagesKitGzip",
                "ImagesKitFileSystem",
            ],
            swiftSettings: strictSettings
        ),
        .testTarget(
            name: "ImagesctlTests",
            dependencies: ["ImagesKit", "ImagesKitTestSupport", "imagesctl"],
            swiftSettings: strictSettings
        ),
        .testTarget(
            name: "ImagesKitEndToEndTests",
            dependencies: ["ImagesKitTestSupport", "ImagesKit", "ImagesKitFileSystem", "ImagesKitGzip"],
            swiftSettings: strictSettings
        ),
    ]
)
