import ClickHouseConnector
import DponeTestSupport
import Flow
import Foundation
import Testing

/// The codecs against the real servers, through curl (not dpone's HTTP client): what the encoders write
/// is accepted and stored exactly, compressed blocks pass 18.16's checksum verification.
@Suite(.tags(.integrationClickHouse), IntegrationGate.integration.trait, .serialized)
struct CodecServerTests {
    static let legacyURL = ProcessInfo.processInfo.environment["DPONE_TEST_CLICKHOUSE_URL"] ?? "http://dpone:dpone@127.0.0.1:18123/"
    static let modernURL =
        ProcessInfo.processInfo.environment["DPONE_TEST_CLICKHOUSE_MODERN_URL"] ?? "http://dpone:dpone@127.0.0.1:18124/"

    @Test(arguments: [true, false])
    func nativeBlocksAreStoredByteForByte(legacy: Bool) async throws {
        let server = try await CodecServer.connect(url: legacy ? Self.legacyURL : Self.modernURL)
        let support: ClickHouseTypeSupport = legacy ? .legacy : .modern
        let schema = CodecGolden.encoderSchema
        let types = schema.fields.map { ClickHouseTypes.ddlType(for: $0, support: support) }
        try await server.withTable(columns: zip(schema.names, types).map { "\($0) \($1.name)" }) { table in
            let encoder = try NativeEncoder(schema: schema, targetTypes: types, support: support)
            var body: [UInt8] = []
            try encoder.encode(CodecGolden.encoderBatch, into: &body)
            try await server.run("INSERT INTO \(table) FORMAT Native", body: body)
            let stored = try await server.run("SELECT * FROM \(table) FORMAT Native")
            #expect(codecHex(stored) == codecHex(body))
            let (_, rows) = try codecDecodeRows(stored, chunkSize: 10)
            #expect(rows.count == 2)
        }
    }

    @Test(arguments: [true, false])
    func rowBinaryIsAccepted(legacy: Bool) async throws {
        let server = try await CodecServer.connect(url: legacy ? Self.legacyURL : Self.modernURL)
        let support: ClickHouseTypeSupport = legacy ? .legacy : .modern
        let schema = CodecGolden.encoderSchema
        let types = schema.fields.map { ClickHouseTypes.ddlType(for: $0, support: support) }
        try await server.withTable(columns: zip(schema.names, types).map { "\($0) \($1.name)" }) { table in
            let encoder = try RowBinaryEncoder(schema: schema, targetTypes: types, support: support)
            var body: [UInt8] = []
            try encoder.encode(CodecGolden.encoderBatch, into: &body)
            try await server.run("INSERT INTO \(table) FORMAT RowBinary", body: body)
            #expect(try await server.run("SELECT * FROM \(table) FORMAT RowBinary") == body)
        }
    }

    /// 18.16 verifies every CityHash128 checksum of a `decompress=1` body: a wrong hash is refused.
    @Test(arguments: ClickHouseCompression.allCases)
    func compressedBlocksPass1816ChecksumVerification(method: ClickHouseCompression) async throws {
        let server = try await CodecServer.connect(url: Self.legacyURL)
        let schema = Schema([Field("k", .int64, nullable: false), Field("s", .string, nullable: false)])
        let encoder = try NativeEncoder(schema: schema, targetTypes: [.int64, .string])
        var native: [UInt8] = []
        let rows: [[Value]] = (0..<20_000).map { [.int(Int64($0)), .string("row \($0 * 7919 % 1000)")] }
        try encoder.encode(codecBatch(schema, rows), into: &native)
        var body: [UInt8] = []
        // Blocks of odd sizes: hash inputs of every length class, tails of 0...127 bytes.
        native.withUnsafeBytes { CompressedBlock.encode($0, method: method, blockSize: 65_537, into: &body) }
        try await server.withTable(columns: ["k Int64", "s String"]) { table in
            try await server.run("INSERT INTO \(table) FORMAT Native", body: body, settings: ["decompress": "1"])
            let count = try await server.run("SELECT count(), sum(k) FROM \(table) FORMAT TSV")
            #expect(String(decoding: count, as: UTF8.self) == "20000\t199990000\n")
        }
        var tampered = body
        tampered[3] ^= 1
        try await server.withTable(columns: ["k Int64", "s String"]) { other in
            await #expect(throws: CodecServer.Failure.self) {
                try await server.run("INSERT INTO \(other) FORMAT Native", body: tampered, settings: ["decompress": "1"])
            }
        }
    }

    @Test func serverTypesDecode() async throws {
        let server = try await CodecServer.connect(url: Self.modernURL)
        let stored = try await server.run(
            "SELECT number AS n, toString(number) AS s, toDateTime64(number, 6, 'UTC') AS t, [number, 1] AS a, "
                + "toLowCardinality(toString(number % 3)) AS lc FROM numbers(100000) FORMAT Native")
        let (schema, rows) = try codecDecodeRows(stored, chunkSize: 65_536)
        #expect(schema?.fields.map(\.type) == [
            .decimal(precision: 20, scale: 0), .string, .timestamp(withTimeZone: true), .json, .string,
        ])
        #expect(rows.count == 100_000)
        #expect(rows[99_999] == [
            .decimal(99_999, scale: 0), .string("99999"), .timestamp(99_999_000_000, withTimeZone: true),
            .json("[99999,1]"), .string("0"),
        ])
    }
}

/// A ClickHouse server reached with curl.
struct CodecServer {
    struct Failure: Error, CustomStringConvertible { let description: String }

    let url: URL

    /// Checks the server is reachable and creates the `dpone_codec` database.
    static func connect(url: String) async throws -> CodecServer {
        let server = CodecServer(url: try #require(URL(string: url)))
        try IntegrationGate.requireService("ClickHouse", host: server.url.host ?? "127.0.0.1", port: server.url.port ?? 8123)
        try await server.run("CREATE DATABASE IF NOT EXISTS dpone_codec")
        return server
    }

    /// Runs `body` on a new Memory table in `dpone_codec` with these column definitions (its
    /// qualified name), and drops the table afterwards, also when `body` throws.
    func withTable(columns: [String], _ body: (String) async throws -> Void) async throws {
        let name = "dpone_codec.t_\(UInt32.random(in: 0...UInt32.max))"
        try await run("CREATE TABLE \(name) (\(columns.joined(separator: ", "))) ENGINE = Memory")
        do {
            try await body(name)
        } catch {
            _ = try? await run("DROP TABLE IF EXISTS \(name)")
            throw error
        }
        try await run("DROP TABLE IF EXISTS \(name)")
    }

    /// Runs `query` (in the URL) with `body`, returning the response body; a non-200 status throws.
    /// curl runs as a child process awaited off the cooperative pool (`OffPoolProcess`): these tests
    /// once held a pool thread for their whole run, and a 20 s deadline of another test expired.
    @discardableResult
    func run(_ query: String, body: [UInt8] = [], settings: [String: String] = [:]) async throws -> [UInt8] {
        var components = try #require(URLComponents(url: url, resolvingAgainstBaseURL: false))
        components.queryItems = [URLQueryItem(name: "query", value: query)]
            + settings.sorted { $0.key < $1.key }.map { URLQueryItem(name: $0.key, value: $0.value) }
        let dir = FileManager.default.temporaryDirectory
        let id = UUID().uuidString
        let input = dir.appendingPathComponent("dpone-codec-\(id).in")
        let output = dir.appendingPathComponent("dpone-codec-\(id).out")
        defer {
            try? FileManager.default.removeItem(at: input)
            try? FileManager.default.removeItem(at: output)
        }
        try Data(body).write(to: input)
        let curl = try await OffPoolProcess.run(
            "/usr/bin/curl",
            ["-sS", "-o", output.path, "-w", "%{http_code}", "--data-binary", "@" + input.path, try #require(components.url?.absoluteString)])
        let code = curl.stdout
        let response = (try? Data(contentsOf: output)).map { [UInt8]($0) } ?? []
        guard curl.status == 0, code == "200" else {
            throw Failure(description: "HTTP \(code): \(String(decoding: response.prefix(500), as: UTF8.self))")
        }
        return response
    }
}
