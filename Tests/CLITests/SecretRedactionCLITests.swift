import DponeTestSupport
import Foundation
import Testing

/// At `DPONE_LOG_LEVEL=trace`, a password holding `/`, `?`, `#`, `@` and `%` appears nowhere a
/// run writes (stdout, stderr, the state directory), whether the run fails (PostgreSQL and
/// ClickHouse 18.16 refuse the password) or succeeds (the modern ClickHouse accepts any).
@Suite(
    .tags(.integrationPostgres, .integrationClickHouse), IntegrationGate.integration.trait,
    .enabled(if: binaryBuilt, "dpone binary not built"), .serialized)
struct SecretRedactionCLITests {
    static let secret = "Zq9/x?y#z@W%v"
    /// The secret percent-encoded, as it stands in a connection URL.
    static var encoded: String { secret.addingPercentEncoding(withAllowedCharacters: .alphanumerics)! }

    func run(sinkType: String, url: String) async throws -> (output: CLI.Output, artifacts: String) {
        try await run(
            source: "{type: files, path: IN, options: {format: csv, schema: [{name: id, type: int64, nullable: false}, {name: name, type: string}]}}",
            sink: "{type: \(sinkType), connection: {url: \"\(url)\"}, table: {schema: dpone_secret_check, name: t}, strategy: {mode: full_refresh}}")
    }

    /// A run of `source` into `sink` (YAML flow mappings; `IN` stands for the input CSV, `DIR` for the run's directory).
    func run(source: String, sink: String, environment: [String: String] = [:]) async throws -> (output: CLI.Output, artifacts: String) {
        let dir = NSTemporaryDirectory() + "dpone-secret-" + UUID().uuidString
        try FileManager.default.createDirectory(atPath: dir, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(atPath: dir) }
        try "id,name\n1,a\n2,b\n".write(toFile: "\(dir)/in.csv", atomically: true, encoding: .utf8)
        try """
            name: secret_check
            source: \(source.replacingOccurrences(of: "IN", with: "\(dir)/in.csv"))
            sink: \(sink.replacingOccurrences(of: "DIR", with: dir))
            state: {dir: \(dir)/state}
            """.write(toFile: "\(dir)/p.yml", atomically: true, encoding: .utf8)
        let output = try await CLI.run(
            ["batch", "\(dir)/p.yml", "--format", "json"], environment: environment.merging(["DPONE_LOG_LEVEL": "trace"]) { $1 })
        var artifacts = ""
        if let files = FileManager.default.enumerator(atPath: "\(dir)/state") {
            for case let file as String in files { artifacts += (try? String(contentsOfFile: "\(dir)/state/\(file)", encoding: .utf8)) ?? "" }
        }
        return (output, artifacts)
    }

    func expectNoSecret(_ result: (output: CLI.Output, artifacts: String), _ what: String) {
        for (name, text) in [("stdout", result.output.stdout), ("stderr", result.output.stderr), ("state", result.artifacts)] {
            for form in [Self.secret, Self.encoded, "Zq9", "W%v"] {
                #expect(!text.contains(form), "\(what): \(form) in \(name): \(text.suffix(1500))")
            }
        }
    }

    @Test func aPasswordAppearsInNoOutputOrArtifactOfAFailingOrSucceedingRun() async throws {
        try PostgresTestServer.require()
        let postgres = try await run(sinkType: "postgres", url: PostgresTestServer.url(password: Self.encoded))
        #expect(postgres.output.status != 0, "the wrong password fails: \(postgres.output.stdout)")
        expectNoSecret(postgres, "postgres, failing")

        try ClickHouseTestServer.legacy.require()
        let legacy = try await run(sinkType: "clickhouse", url: ClickHouseTestServer.legacy.url(user: "default", password: Self.encoded))
        #expect(legacy.output.status != 0, "18.16 refuses the password: \(legacy.output.stdout)")
        expectNoSecret(legacy, "clickhouse 18.16, failing")

        try ClickHouseTestServer.modern.require()
        let modern = try await run(sinkType: "clickhouse", url: ClickHouseTestServer.modern.url(user: "default", password: Self.encoded))
        #expect(modern.output.status == 0, "the modern engine checks no password: \(modern.output.stderr.suffix(1500))")
        #expect(modern.output.stderr.contains("trace") || modern.output.stderr.contains("debug") || modern.output.stderr.contains("info"),
                "the run logged at trace level")
        expectNoSecret(modern, "clickhouse modern, succeeding")
    }

    /// The same scan through every other connector: Kafka (SASL credentials in the URL and a schema
    /// registry password), an ODBC source (a braced `PWD=` psqlODBC refuses) and a SQL Server sink
    /// (Driver 18, nothing listening).
    @Test func noConnectorLetsThePasswordThrough() async throws {
        try KafkaTestServer.require()
        let bootstrap = try KafkaTestServer.bootstrap
        let topic = try KafkaTestServer.createTopic("secret")
        let kafka = try await run(
            source: "{type: files, path: IN, options: {format: csv, schema: [{name: id, type: int64, nullable: false}, {name: name, type: string}]}}",
            sink: "{type: kafka, connection: {url: \"kafka://dpone:\(Self.encoded)@\(bootstrap)\"}, topic: \(topic), options: {format: avro, delivery_timeout: 5, schema_registry: {url: \"\(SchemaRegistryTestServer.url)\", username: dpone, password: \"\(Self.secret)\"}}}")
        expectNoSecret(kafka, "kafka with SASL and a registry password (exit \(kafka.output.status))")

        let sysini = ProcessInfo.processInfo.environment["ODBCSYSINI"] ?? ""
        try #require(!sysini.isEmpty, "export ODBCSYSINI=$(scripts/odbc.sh) to register the ODBC drivers")
        try PostgresTestServer.require()
        let endpoint = PostgresTestServer.endpoint
        let odbc = try await run(
            source: "{type: odbc, connection: {odbc: \"Driver={PostgreSQL Unicode};Server=\(endpoint.host);Port=\(endpoint.port);Database=dpone;Uid=dpone;Pwd={\(Self.secret)}\"}, table: pg_catalog.pg_class}",
            sink: "{type: files, path: DIR/out.csv}", environment: ["ODBCSYSINI": sysini])
        #expect(odbc.output.status != 0, "psqlODBC refuses the password: \(odbc.output.stdout)")
        expectNoSecret(odbc, "odbc, failing")

        let mssql = try await run(
            source: "{type: files, path: IN, options: {format: csv, schema: [{name: id, type: int64, nullable: false}, {name: name, type: string}]}}",
            sink: "{type: mssql, connection: {url: \"mssql://sa:\(Self.encoded)@127.0.0.1:1/db\"}, table: {schema: dbo, name: t}, strategy: {mode: full_refresh}, options: {encrypt: \"no\"}}",
            environment: ["ODBCSYSINI": sysini])
        #expect(mssql.output.status != 0, "nothing listens: \(mssql.output.stdout)")
        #expect(mssql.output.stdout.contains("08001") || mssql.output.stderr.contains("08001"), "\(mssql.output.stdout)")
        expectNoSecret(mssql, "mssql, failing")
    }
}
