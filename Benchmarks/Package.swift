// swift-tools-version: 6.1
// Microbenchmarks of dpone's hot paths (package-benchmark). Its own package, so the root build and
// CI stay lean; it depends on the root package by path. Run: `cd Benchmarks && swift package benchmark`.
import PackageDescription

let package = Package(
    name: "dpone-benchmarks",
    platforms: [.macOS(.v15)],
    dependencies: [
        // `name:`: a path dependency's identity is its folder name, which differs between clones.
        .package(name: "dpone", path: ".."),
        // Only MallocInterposer: leaving out the default RuntimeInterposer trait keeps SwiftPM from
        // fetching ordo-one/swift-runtime-interposer (Linux + Swift 6.3), which is not mirrored here.
        .package(url: "https://github.com/ordo-one/benchmark", from: "1.38.1", traits: ["MallocInterposer"]),
    ],
    targets: [
        .executableTarget(
            name: "DponeBenchmarks",
            dependencies: [
                .product(name: "Benchmark", package: "benchmark"),
                .product(name: "Flow", package: "dpone"),
                .product(name: "Operators", package: "dpone"),
                .product(name: "Formats", package: "dpone"),
            ],
            path: "Benchmarks/DponeBenchmarks",
            plugins: [.plugin(name: "BenchmarkPlugin", package: "benchmark")]
        )
    ]
)
