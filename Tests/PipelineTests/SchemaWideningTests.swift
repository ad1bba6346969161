import ClickHouseConnector
import DponeTestSupport
import Flow
import Foundation
import Manifest
import Pipeline
import PostgresConnector
import Testing

/// Everyday schema drift: a source column widened by a migration (integer -> bigint, numeric(12,2)
/// -> numeric(18,4)) widens the target column (Postgres: ALTER COLUMN TYPE in the publish
/// transaction; ClickHouse: MODIFY COLUMN, awaited, before staging) instead of failing every later
/// run; the run result lists each change. `schema_evolution: {widen: fail}` and changes of kind
/// still fail before any write.
@Suite(.tags(.integrationPostgres, .integrationClickHouse), IntegrationGate.integration.trait, .serialized)
struct SchemaWideningTests {
    enum Target: String, CaseIterable, Sendable { case postgres, clickHouseLegacy, clickHouseModern }

    let space = PostgresTestServer.uniqueSchemaName("widen")
    let dir: String

    init() throws {
        dir = NSTemporaryDirectory() + "dpone-widen-" + UUID().uuidString
        try FileManager.default.createDirectory(atPath: dir, withIntermediateDirectories: true)
    }

    var q: String { PostgresSQL.quoteIdentifier(space) }

    func server(_ target: Target) -> ClickHouseTestServer? {
        switch target {
        case .postgres: nil
        case .clickHouseLegacy: .legacy
        case .clickHouseModern: .modern
        }
    }

    func document(_ target: Target, table: String, widen: String? = nil) throws -> ManifestDocument {
        let options = widen.map { "{schema_evolution: {widen: \($0)}}" } ?? "{}"
        let sink =
            switch target {
            case .postgres: "{type: postgres, connection: {url: \"\(PostgresTestServer.url)\"}, table: {schema: \(space), name: \(table)}, strategy: {mode: incremental_merge, unique_key: id}, options: \(options)}"
            default: "{type: clickhouse, connection: {url: \"\(server(target)!.url)\"}, table: {schema: \(space), name: \(table)}, strategy: {mode: incremental_merge, unique_key: id}, options: \(options)}"
            }
        return try ManifestLoader.parse(
            yaml: """
                name: widen-\(table)
                source: {type: postgres, connection: {url: "\(PostgresTestServer.url)"}, table: {schema: \(space), name: src}}
                sink: \(sink)
                state: {dir: \(dir)/state-\(table)}
                """, path: "\(dir)/\(table).yml", environment: [:])
    }

    /// `(n, amount)` of row 1 and the target's column types, as text.
    func target(_ target: Target, table: String) async throws -> (row: [String], types: [String]) {
        if let server = server(target) {
            let ch = try ClickHouseClient(url: server.url)
            defer { Task { await ch.close() } }
            let row = try await ch.queryRows("SELECT toString(n), toString(amount) FROM \(ClickHouseSQL.quoteIdentifier(space)).`\(table)` FINAL WHERE id = 1").first ?? []
            let types = try await ch.queryRows(
                "SELECT type FROM system.columns WHERE database = \(ClickHouseSQL.quoteLiteral(space)) AND table = \(ClickHouseSQL.quoteLiteral(table)) AND name IN ('n', 'amount') ORDER BY name")
            return (row, types.map { $0[0] })
        }
        let pg = try await PostgresConnection.connect(url: PostgresTestServer.url)
        defer { Task { await pg.close() } }
        let row = try await pg.query("SELECT n::text, amount::text FROM \(q).\(table) WHERE id = 1").first?.compactMap { $0 } ?? []
        let types = try await pg.query(
            "SELECT format_type(atttypid, atttypmod) FROM pg_attribute WHERE attrelid = '\(q).\(table)'::regclass AND attname IN ('amount', 'n') ORDER BY attname")
        return (row, types.compactMap { $0[0] })
    }

    func cleanup() async {
        if let pg = try? await PostgresConnection.connect(url: PostgresTestServer.url) {
            try? await pg.execute("DROP SCHEMA IF EXISTS \(q) CASCADE")
            await pg.close()
        }
        for server in ClickHouseTestServer.all {
            guard let ch = try? ClickHouseClient(url: server.url) else { continue }
            try? await ch.execute("DROP DATABASE IF EXISTS \(ClickHouseSQL.quoteIdentifier(space))")
            await ch.close()
        }
    }

    @Test(arguments: Target.allCases)
    func aWidenedSourceColumnWidensTheTarget(_ target: Target) async throws {
        try PostgresTestServer.require()
        try server(target)?.require()
        defer { Task { await cleanup() } }
        let pg = try await PostgresConnection.connect(url: PostgresTestServer.url)
        try await pg.execute(
            "CREATE SCHEMA \(q); CREATE TABLE \(q).src (id bigint PRIMARY KEY, n integer NOT NULL, amount numeric(12,2)); INSERT INTO \(q).src SELECT g, g, g / 4.0 FROM generate_series(1, 100) g")
        for table in ["auto", "strict"] {
            let first = await BatchPipeline.run(document: try document(target, table: table, widen: table == "strict" ? "fail" : nil), options: BatchOptions())
            #expect(first.status == .succeeded, "\(target) \(table): \(first.error ?? "")")
        }
        try await pg.execute(
            "ALTER TABLE \(q).src ALTER COLUMN n TYPE bigint, ALTER COLUMN amount TYPE numeric(18,4); UPDATE \(q).src SET n = 5000000000, amount = 12345678901234.5678 WHERE id = 1")
        let widened = await BatchPipeline.run(document: try document(target, table: "auto"), options: BatchOptions())
        #expect(widened.status == .succeeded, "\(target): \(widened.error ?? "")")
        #expect(
            widened.schemaChanges?.sorted() == ["\(space).auto.amount: \(target == .postgres ? "decimal(12,2)" : server(target)!.name == "legacy" ? "Nullable(Decimal(12, 2))" : "Nullable(Decimal(12, 2))") -> decimal(18,4)", "\(space).auto.n: \(target == .postgres ? "int32" : "Int32") -> int64"].sorted(),
            "\(widened.schemaChanges ?? [])")
        #expect(widened.textSummary().contains("schema: \(space).auto."), "\(widened.textSummary())")
        let after = try await self.target(target, table: "auto")
        #expect(after.row == ["5000000000", "12345678901234.5678"], "\(target): the widened values arrive exactly")
        #expect(after.types == (target == .postgres ? ["numeric(18,4)", "bigint"] : ["Nullable(Decimal(18, 4))", "Int64"]), "\(after.types)")

        let strict = await BatchPipeline.run(document: try document(target, table: "strict", widen: "fail"), options: BatchOptions())
        #expect(strict.status == .failed)
        #expect(strict.error?.contains("a breaking type change") == true, "\(strict.error ?? "")")
        #expect(try await self.target(target, table: "strict").row == ["1", "0.25"], "the strict target is untouched")

        // A change of kind is never a widening.
        try await pg.execute("ALTER TABLE \(q).src ALTER COLUMN n TYPE text USING n::text")
        let kind = await BatchPipeline.run(document: try document(target, table: "auto"), options: BatchOptions())
        #expect(kind.status == .failed && kind.error?.contains("a breaking type change") == true, "\(kind.error ?? "")")
        await pg.close()
    }
}
