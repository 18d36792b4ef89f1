// swift-tools-version: 6.1
import PackageDescription

let package = Package(
  name: "hvreplay",
  platforms: [.macOS(.v13)],
  products: [
    .executable(name: "hvreplay", targets: ["hvreplay"]),
    .library(name: "HVReplay", targets: ["HVReplay"]),
  ],
  dependencies: [
    // Major versions only move on purpose; hdrhistogram-swift is 0.x, where a minor
    // release may break, so it is held to 0.2.x. Package.resolved pins the tested versions.
    .package(url: "https://github.com/apple/swift-argument-parser", from: "1.8.2"),
    .package(url: "https://github.com/apple/swift-collections", from: "1.6.0"),
    .package(url: "https://github.com/apple/swift-system", from: "1.8.1"),
    .package(
      url: "https://github.com/HdrHistogram/hdrhistogram-swift", .upToNextMinor(from: "0.2.0")),
  ],
  targets: [
    .systemLibrary(
      name: "CZstd",
      pkgConfig: "libzstd",
      providers: [.apt(["libzstd-dev"]), .brew(["zstd"])]
    ),
    .systemLibrary(
      name: "CZlib",
      pkgConfig: "zlib",
      providers: [.apt(["zlib1g-dev"]), .brew(["zlib"])]
    ),
    // glibc's mallopt, for the command's malloc arenas (no library to link).
    .systemLibrary(name: "CMalloc"),
    .target(
      name: "HVReplay",
      dependencies: [
        "CZstd",
        "CZlib",
        .product(name: "DequeModule", package: "swift-collections"),
        .product(name: "HeapModule", package: "swift-collections"),
        .product(name: "Histogram", package: "hdrhistogram-swift"),
        .product(name: "SystemPackage", package: "swift-system"),
      ]
    ),
    .executableTarget(
      name: "hvreplay",
      dependencies: [
        "HVReplay",
        "CMalloc",
        .product(name: "ArgumentParser", package: "swift-argument-parser"),
      ]
    ),
    .testTarget(
      name: "HVReplayTests",
      dependencies: ["HVReplay", "CZstd"]
    ),
    .testTarget(
      name: "EndToEndTests",
      dependencies: ["hvreplay", "HVReplay"]
    ),
  ]
)
