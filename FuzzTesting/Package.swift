// swift-tools-version: 6.1
// Fuzz targets for hvreplay's decoders (docs/FUZZING.md). A separate package so that the
// main build never needs libFuzzer; build it with FuzzTesting/run.sh, which runs
//   swift build -c release --sanitize=fuzzer --sanitize=address \
//     -Xswiftc -sanitize=fuzzer,address -Xswiftc -parse-as-library --scratch-path .build-fuzz

import PackageDescription

/// One executable per fuzz target: `Sources/<name>/main.swift`.
let targets = [
  "FuzzCSVTrace",
  "FuzzNativeTrace",
  "FuzzBlktrace",
  "FuzzBlkparse",
  "FuzzFioLog",
  "FuzzBlockCSV",
  "FuzzVSCSI",
  "FuzzSchedText",
  "FuzzDetect",
  "FuzzReportJSON",
  "FuzzModelJSON",
]

let package = Package(
  name: "hvreplay-fuzz",
  platforms: [.macOS(.v13)],
  dependencies: [.package(name: "hvreplay", path: "..")],
  targets: [
    .target(
      name: "FuzzSupport",
      dependencies: [.product(name: "HVReplay", package: "hvreplay")]
    )
  ]
    + targets.map { name in
      .executableTarget(
        name: name,
        dependencies: ["FuzzSupport", .product(name: "HVReplay", package: "hvreplay")]
      )
    }
)
