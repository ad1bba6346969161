// swift-tools-version: 6.1
import PackageDescription

/// Strict concurrency and Swift 6 language mode for every target.
let strict: [SwiftSetting] = [
    .swiftLanguageMode(.v6),
    .enableUpcomingFeature("ExistentialAny"),
]

func systemLibrary(_ name: String, pkgConfig: String, apt: String) -> Target {
    .systemLibrary(
        name: name,
        path: "Sources/CLibs/\(name)",
        pkgConfig: pkgConfig,
        providers: [.apt([apt])]
    )
}

let package = Package(
    name: "dpone",
    platforms: [.macOS(.v15)],
    products: [
        .executable(name: "dpone", targets: ["dpone"]),
        .library(name: "Flow", targets: ["Flow"]),
        .library(name: "Operators", targets: ["Operators"]),
        .library(name: "Formats", targets: ["Formats"]),
        .library(name: "ConnectorKit", targets: ["ConnectorKit"]),
        .library(name: "FilesConnector", targets: ["FilesConnector"]),
        .library(name: "PostgresConnector", targets: ["PostgresConnector"]),
        .library(name: "ClickHouseConnector", targets: ["ClickHouseConnector"]),
        .library(name: "KafkaCodecs", targets: ["KafkaCodecs"]),
        .library(name: "KafkaConnector", targets: ["KafkaConnector"]),
        .library(name: "RESTConnector", targets: ["RESTConnector"]),
        .library(name: "BigQueryConnector", targets: ["BigQueryConnector"]),
        .library(name: "Manifest", targets: ["Manifest"]),
        .library(name: "Pipeline", targets: ["Pipeline"]),
    ],
    dependencies: [
        .package(url: "https://github.com/apple/swift-async-algorithms", from: "1.1.4"),
        .package(url: "https://github.com/apple/swift-argument-parser", from: "1.8.2"),
        .package(url: "https://github.com/apple/swift-log", from: "1.16.2"),
        .package(url: "https://github.com/jpsim/Yams", from: "6.2.2"),
        // RS256 signing of Google service-account assertions (BigQuery auth): no hand-written RSA.
        .package(url: "https://github.com/apple/swift-crypto", from: "4.5.2"),
    ],
    targets: [
        // System libraries (pkg-config). Each has a module.modulemap and a shim.h.
        systemLibrary("CPostgres", pkgConfig: "libpq", apt: "libpq-dev"),
        systemLibrary("CKafka", pkgConfig: "rdkafka", apt: "librdkafka-dev"),
        systemLibrary("CODBC", pkgConfig: "odbc", apt: "unixodbc-dev"),
        systemLibrary("CCurl", pkgConfig: "libcurl", apt: "libcurl4-openssl-dev"),
        systemLibrary("CZstd", pkgConfig: "libzstd", apt: "libzstd-dev"),
        systemLibrary("CLZ4", pkgConfig: "liblz4", apt: "liblz4-dev"),

        // The engine: no connector, no C library.
        .target(
            name: "Flow",
            dependencies: [
                .product(name: "AsyncAlgorithms", package: "swift-async-algorithms"),
                .product(name: "Logging", package: "swift-log"),
            ],
            swiftSettings: strict
        ),
        .target(name: "Operators", dependencies: ["Flow"], exclude: ["ROW_HASH.md"], swiftSettings: strict),
        // The seam between the engine and the connectors: the staged-table sink driver and its
        // TargetDialect protocol.
        .target(name: "ConnectorKit", dependencies: ["Flow", "Formats", "Manifest", "CCurl"], swiftSettings: strict),
        // CSV and JSON Lines codecs and schema inference, shared by the connectors that read or
        // write text records (files, Kafka).
        .target(name: "Formats", dependencies: ["Flow"], swiftSettings: strict),
        .target(
            name: "FilesConnector",
            dependencies: ["Flow", "Formats", "ConnectorKit", "Manifest"],
            path: "Sources/Connectors/Files",
            exclude: ["README.md"],
            swiftSettings: strict
        ),
        .target(
            name: "PostgresConnector",
            dependencies: ["Flow", "Formats", "ConnectorKit", "Manifest", "CPostgres", .product(name: "Logging", package: "swift-log")],
            path: "Sources/Connectors/Postgres",
            swiftSettings: strict
        ),
        .target(
            name: "ClickHouseConnector",
            dependencies: ["Flow", "Formats", "ConnectorKit", "Manifest", "CCurl", "CZstd", "CLZ4", .product(name: "Logging", package: "swift-log")],
            path: "Sources/Connectors/ClickHouse",
            swiftSettings: strict
        ),
        .target(
            name: "ODBCConnector",
            dependencies: ["Flow", "ConnectorKit", "Manifest", "CODBC", .product(name: "Logging", package: "swift-log")],
            path: "Sources/Connectors/ODBC",
            swiftSettings: strict
        ),
        .target(
            name: "MSSQLConnector",
            dependencies: ["Flow", "ConnectorKit", "Manifest", "ODBCConnector", .product(name: "Logging", package: "swift-log")],
            path: "Sources/Connectors/MSSQL",
            swiftSettings: strict
        ),
        .target(
            name: "KafkaCodecs",
            dependencies: ["Flow"],
            path: "Sources/Connectors/KafkaCodecs",
            exclude: ["Avro/AVRO.md", "Protobuf/PROTOBUF.md"],
            swiftSettings: strict
        ),
        .target(
            name: "KafkaConnector",
            dependencies: [
                "Flow", "KafkaCodecs", "Formats", "ConnectorKit", "Manifest", "CKafka", "CCurl", .product(name: "Logging", package: "swift-log"),
            ],
            path: "Sources/Connectors/Kafka",
            swiftSettings: strict
        ),
        .target(
            name: "RESTConnector",
            dependencies: ["Flow", "Formats", "ConnectorKit", "Manifest", .product(name: "Logging", package: "swift-log")],
            path: "Sources/Connectors/REST",
            exclude: ["README.md"],
            swiftSettings: strict
        ),
        .target(
            name: "BigQueryConnector",
            dependencies: [
                "Flow", "Formats", "ConnectorKit", "Manifest", .product(name: "Logging", package: "swift-log"),
                .product(name: "Crypto", package: "swift-crypto"), .product(name: "_CryptoExtras", package: "swift-crypto"),
            ],
            path: "Sources/Connectors/BigQuery",
            exclude: ["README.md"],
            swiftSettings: strict
        ),
        .target(
            name: "Manifest",
            dependencies: ["Flow", .product(name: "Yams", package: "Yams")],
            swiftSettings: strict
        ),
        .target(
            name: "Pipeline",
            dependencies: [
                "Flow", "Operators", "ConnectorKit", "FilesConnector", "PostgresConnector", "ClickHouseConnector", "KafkaConnector",
                "ODBCConnector", "MSSQLConnector", "RESTConnector", "BigQueryConnector", "Manifest", .product(name: "Logging", package: "swift-log"),
            ],
            swiftSettings: strict
        ),
        .executableTarget(
            name: "dpone",
            dependencies: [
                "Pipeline", "Manifest", "Flow", "ConnectorKit",
                .product(name: "ArgumentParser", package: "swift-argument-parser"),
                .product(name: "Logging", package: "swift-log"),
            ],
            swiftSettings: strict
        ),

        // Development tool: a librdkafka mock cluster for tests, the demo and CI (not shipped).
        .executableTarget(name: "dpone-kafka-mock", dependencies: ["CKafka"], swiftSettings: strict),
        // Development tool: the deterministic REST fixture server of the tests, standalone (benchmarks).
        .executableTarget(name: "dpone-rest-mock", dependencies: ["DponeTestSupport"], swiftSettings: strict),
        // Development tool: the libFuzzer targets of the decoders (`scripts/fuzz.sh`; not shipped).
        .executableTarget(
            name: "dpone-fuzz",
            dependencies: ["Flow", "Formats", "Manifest", "Pipeline", "PostgresConnector", "ClickHouseConnector", "KafkaCodecs"],
            swiftSettings: strict),

        .target(name: "DponeTestSupport", dependencies: ["Flow", "CKafka", "PostgresConnector", "ClickHouseConnector"], path: "Tests/Support", swiftSettings: strict),
        .testTarget(name: "FlowTests", dependencies: ["Flow"], swiftSettings: strict),
        .testTarget(
            name: "RESTConnectorTests", dependencies: ["RESTConnector", "ConnectorKit", "Formats", "Flow", "Manifest", "Pipeline", "DponeTestSupport"],
            swiftSettings: strict),
        .testTarget(
            name: "BigQueryConnectorTests",
            dependencies: ["BigQueryConnector", "ConnectorKit", "Flow", "Manifest", "Pipeline", "DponeTestSupport"],
            exclude: ["Golden"], swiftSettings: strict),
        .testTarget(name: "ConnectorKitTests", dependencies: ["ConnectorKit", "Flow", "Manifest"], swiftSettings: strict),
        .testTarget(name: "OperatorsTests", dependencies: ["Operators", "Flow"], swiftSettings: strict),
        .testTarget(
            name: "MSSQLConnectorTests", dependencies: ["MSSQLConnector", "ODBCConnector", "ConnectorKit", "Flow", "DponeTestSupport"],
            exclude: ["Golden"], swiftSettings: strict),
        .testTarget(
            name: "ODBCConnectorTests", dependencies: ["ODBCConnector", "Flow", "PostgresConnector", "DponeTestSupport"],
            swiftSettings: strict),
        .testTarget(name: "FormatsTests", dependencies: ["Formats", "Flow", "DponeTestSupport"], swiftSettings: strict),
        .testTarget(
            name: "FilesConnectorTests", dependencies: ["FilesConnector", "Formats", "Flow", "DponeTestSupport"],
            swiftSettings: strict),
        .testTarget(
            name: "PostgresConnectorTests",
            dependencies: ["PostgresConnector", "Flow", "DponeTestSupport"],
            swiftSettings: strict
        ),
        .testTarget(
            name: "ClickHouseConnectorTests",
            dependencies: ["ClickHouseConnector", "Flow", "DponeTestSupport"],
            swiftSettings: strict
        ),
        .testTarget(
            name: "KafkaConnectorTests",
            dependencies: ["KafkaConnector", "KafkaCodecs", "Flow", "CKafka", "DponeTestSupport"],
            swiftSettings: strict
        ),
        .testTarget(name: "KafkaCodecsTests", dependencies: ["KafkaCodecs", "Flow", "DponeTestSupport"], swiftSettings: strict),
        .testTarget(
            name: "ManifestTests",
            dependencies: [
                "Manifest", "Flow", "Formats", "Pipeline", "FilesConnector", "PostgresConnector", "ClickHouseConnector", "KafkaConnector",
            ],
            exclude: ["Fixtures"], swiftSettings: strict),
        .testTarget(
            name: "PipelineTests",
            dependencies: [
                "Pipeline", "Manifest", "Flow", "ConnectorKit", "FilesConnector", "Operators", "PostgresConnector", "ClickHouseConnector",
                "KafkaConnector", "KafkaCodecs", "ODBCConnector", "DponeTestSupport",
            ],
            exclude: ["MatrixGolden"],
            swiftSettings: strict
        ),
        .testTarget(
            name: "CLibsTests",
            dependencies: ["CPostgres", "CKafka", "CODBC", "CCurl", "CZstd", "CLZ4"],
            swiftSettings: strict
        ),
        .testTarget(
            name: "CLITests", dependencies: ["Flow", "Pipeline", "PostgresConnector", "ClickHouseConnector", "BigQueryConnector", "DponeTestSupport"],
            exclude: ["Golden"],
            swiftSettings: strict),
    ]
)
