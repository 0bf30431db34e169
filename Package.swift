// swift-tools-version: 6.1
import PackageDescription

// Dependency set, kept lean on purpose (see README "Dependencies"):
//   swift-argument-parser  CLI parsing and sysexits-style usage errors
//   swift-log              the logging API every library takes a Logger from
//   swift-crypto           SHA-256/512 while streaming (BoringSSL, SHA-NI assembly)
//   Yams                   YAML with line/column marks for mirror-list errors
//   GRDB.swift             SQLite migrations, WAL and transactions over Debian's libsqlite3
let argumentParser = Target.Dependency.product(name: "ArgumentParser", package: "swift-argument-parser")
let logging = Target.Dependency.product(name: "Logging", package: "swift-log")
let crypto = Target.Dependency.product(name: "Crypto", package: "swift-crypto")
let yams = Target.Dependency.product(name: "Yams", package: "Yams")
let grdb = Target.Dependency.product(name: "GRDB", package: "GRDB.swift")

let package = Package(
    name: "ferry",
    platforms: [.macOS(.v15)],
    products: [
        .executable(name: "ferry", targets: ["ferry"])
    ],
    dependencies: [
        .package(url: "https://github.com/apple/swift-argument-parser", from: "1.8.2"),
        .package(url: "https://github.com/apple/swift-log", from: "1.16.2"),
        .package(url: "https://github.com/apple/swift-crypto", from: "4.5.2"),
        .package(url: "https://github.com/jpsim/Yams", from: "6.2.2"),
        .package(url: "https://github.com/groue/GRDB.swift", from: "7.10.0"),
    ],
    targets: [
        // The only target that sees libcurl's C types is CurlHTTP.
        .systemLibrary(name: "CCurl", pkgConfig: "libcurl", providers: [.apt(["libcurl4-openssl-dev"])]),

        .target(name: "OCIModel", dependencies: [crypto]),
        .target(name: "FerrySystem", dependencies: ["OCIModel"]),
        .target(name: "FerryHTTP", dependencies: ["OCIModel", "FerrySystem"]),
        .target(name: "CurlHTTP", dependencies: ["CCurl", "FerryHTTP", "FerrySystem", "OCIModel", crypto, logging]),
        .target(name: "OCIRegistry", dependencies: ["OCIModel", "FerryHTTP", "FerrySystem", logging]),
        .target(name: "LayoutStore", dependencies: ["OCIModel", "FerrySystem"]),
        // The only target that sees SQL.
        .target(name: "Ledger", dependencies: ["OCIModel", "FerrySystem", grdb]),
        .target(name: "MirrorConfig", dependencies: ["OCIModel", "FerrySystem", yams]),
        .target(name: "FerryPull", dependencies: ["OCIModel", "FerryHTTP", "OCIRegistry", "LayoutStore", logging]),
        .target(
            name: "FerryPush",
            dependencies: ["OCIModel", "FerryHTTP", "OCIRegistry", "FerryPull", "LayoutStore", "Ledger", "FerrySystem", logging]),
        .target(
            name: "FerrySync",
            dependencies: [
                "OCIModel", "FerryHTTP", "OCIRegistry", "FerryPull", "FerryPush", "LayoutStore", "Ledger", "MirrorConfig",
                "FerrySystem", logging,
            ]),
        .target(
            name: "FerryMaintenance",
            dependencies: ["OCIModel", "LayoutStore", "Ledger", "FerrySystem", "FerryPull", "OCIRegistry", logging]),
        .target(name: "FerryReports", dependencies: ["OCIModel", "Ledger", "FerrySystem"]),
        // Writes and reads bundles (tar + ferry-bundle.json) itself: no tar binary, no zlib.
        .target(name: "FerryBundle", dependencies: ["OCIModel", "LayoutStore", "Ledger", "FerrySystem", logging]),
        .target(
            name: "FerryCommands",
            dependencies: [
                "OCIModel", "FerryHTTP", "CurlHTTP", "OCIRegistry", "LayoutStore", "Ledger", "MirrorConfig",
                "FerryPull", "FerryPush", "FerrySync", "FerryMaintenance", "FerryReports", "FerryBundle", "FerrySystem",
                argumentParser, logging,
            ]),
        .executableTarget(name: "ferry", dependencies: ["FerryCommands"]),

        .target(
            name: "FerryTestSupport",
            dependencies: ["OCIModel", "FerryHTTP", "FerrySystem", crypto],
            path: "Tests/FerryTestSupport"),
        // The fuzz targets (parsers of hostile input and their properties), shared by the suite and the libFuzzer
        // drivers; test support, never shipped.
        .target(
            name: "FerryFuzz",
            dependencies: ["FerryTestSupport", "OCIModel", "FerryHTTP", "OCIRegistry", "MirrorConfig"],
            path: "Tests/FerryFuzz"),
        // Starts seeded registries for demos, benchmarks and scripts; never shipped.
        .executableTarget(name: "ferry-devtool", dependencies: ["FerryTestSupport"], path: "Tests/DevTool"),
        // In-process measurements for scripts/bench.sh (`make bench`); never shipped.
        .executableTarget(name: "ferry-bench", dependencies: ["OCIModel", "FerrySystem"], path: "Benchmarks/FerryBench"),

        .testTarget(name: "OCIModelTests", dependencies: ["OCIModel"]),
        .testTarget(name: "FerrySystemTests", dependencies: ["FerrySystem", "FerryTestSupport"]),
        .testTarget(name: "MirrorConfigTests", dependencies: ["MirrorConfig", "OCIModel", "FerryTestSupport"]),
        .testTarget(
            name: "CurlHTTPTests",
            dependencies: ["CurlHTTP", "FerryHTTP", "FerrySystem", "OCIModel", "OCIRegistry", "FerryTestSupport", logging]),
        .testTarget(name: "OCIRegistryTests", dependencies: ["OCIRegistry", "FerryHTTP", "OCIModel", "FerryTestSupport"]),
        .testTarget(name: "LayoutStoreTests", dependencies: ["LayoutStore", "OCIModel", "FerryTestSupport"]),
        .testTarget(name: "LedgerTests", dependencies: ["Ledger", "OCIModel", "FerryTestSupport"]),
        .testTarget(
            name: "FerryReportsTests",
            dependencies: ["FerryReports", "Ledger", "OCIModel", "FerrySystem", "FerryTestSupport"]),
        .testTarget(
            name: "FerryPullTests",
            dependencies: ["FerryPull", "OCIRegistry", "LayoutStore", "FerryHTTP", "FerrySystem", "OCIModel", "FerryTestSupport"]),
        .testTarget(
            name: "FerryPushTests",
            dependencies: ["FerryPush", "FerryPull", "Ledger", "OCIRegistry", "LayoutStore", "FerryHTTP", "OCIModel",
                           "FerryTestSupport", logging]),
        .testTarget(
            name: "FerryMaintenanceTests",
            dependencies: ["FerryMaintenance", "FerryPull", "Ledger", "OCIRegistry", "LayoutStore", "FerryHTTP", "OCIModel", "FerrySystem",
                           "FerryTestSupport", logging]),
        .testTarget(
            name: "FerrySyncTests",
            dependencies: ["FerrySync", "FerryPull", "Ledger", "MirrorConfig", "OCIRegistry", "LayoutStore", "FerryHTTP",
                           "OCIModel", "FerryTestSupport", logging]),
        .testTarget(
            name: "FerryBundleTests",
            dependencies: ["FerryBundle", "LayoutStore", "Ledger", "FerrySystem", "OCIModel", "FerryTestSupport", logging]),
        .testTarget(name: "FuzzTests", dependencies: ["FerryFuzz", "FerryTestSupport"]),
        // deploy/kubernetes: the manifests' YAML and what the API server and ferry require of them.
        .testTarget(name: "DeployTests", dependencies: ["MirrorConfig", yams]),
        .testTarget(
            name: "FerryCommandsTests",
            dependencies: ["FerryCommands", "FerryReports", "Ledger", "OCIModel", "FerryTestSupport"]),
        .testTarget(
            name: "IntegrationTests",
            dependencies: [
                "FerryCommands", "FerryBundle", "FerryPush", "FerryPull", "CurlHTTP", "OCIRegistry", "LayoutStore", "Ledger",
                "FerrySystem", "FerryTestSupport", "MirrorConfig", logging,
            ]),
    ],
    swiftLanguageModes: [.v6]
)

// libFuzzer drivers for scripts/fuzz.sh, only when it asks (FERRY_LIBFUZZER=1): they link only with
// `-sanitize=fuzzer`, whose runtime supplies the entry point, so an ordinary `swift build` must never see them. A
// separate fuzz package could not reach the modules: this package exports no library products, on purpose.
if Context.environment["FERRY_LIBFUZZER"] == "1" {
    package.targets.append(
        .executableTarget(name: "ferry-libfuzzer", dependencies: ["FerryFuzz"], path: "Tests/LibFuzzer"))
}
