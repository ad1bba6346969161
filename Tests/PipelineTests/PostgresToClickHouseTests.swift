import ClickHouseConnector
import DponeTestSupport
import Flow
import Foundation
import Manifest
import Pipeline
import PostgresConnector
import Testing

/// PG -> ClickHouse through the real pipeline, on ClickHouse 18.16 and the modern 26.9 engine.
@Suite(.tags(.integrationPostgres, .integrationClickHouse), IntegrationGate.integration.trait, .serialized)
struct PostgresToClickHouseTests {
    let schema = PostgresTestServer.uniqueSchemaName("p2ch")
    var database: String { schema }
    let dir: String

    init() throws {
        dir = NSTemporaryDirectory() + "dpone-p2ch-" + UUID().uuidString
        try FileManager.default.createDirectory(atPath: dir, withIntermediateDirectories: true)
    }

    func seed() async throws {
        try PostgresTestServer.require()
        let c = try await PostgresConnection.connect(url: PostgresTestServer.url)
        try await c.execute(
            """
            CREATE SCHEMA \(PostgresSQL.quoteIdentifier(schema));
            CREATE TABLE \(PostgresSQL.quoteIdentifier(schema)).orders (
              id bigint PRIMARY KEY, customer text NOT NULL, amount numeric(12,2), paid boolean, placed date, note text);
            INSERT INTO \(PostgresSQL.quoteIdentifier(schema)).orders
            SELECT g, 'c' || (g % 7), g / 4.0, g % 2 = 0, date '2026-01-01' + g % 30, CASE WHEN g % 5 = 0 THEN NULL ELSE 'ünï ' || g END
            FROM generate_series(1, 5000) g;
            """)
        await c.close()
    }

    func manifest(_ server: ClickHouseTestServer, strategy: String) throws -> ManifestDocument {
        try ManifestLoader.parse(
            yaml: """
                name: p2ch
                source: {type: postgres, connection: {url: "\(PostgresTestServer.url)"}, table: {schema: \(schema), name: orders}}
                sink:
                  type: clickhouse
                  connection: {url: "\(server.url)"}
                  table: {schema: \(database), name: orders}
                  strategy: \(strategy)
                state: {dir: \(dir)/state-\(server.name.filter(\.isLetter))}
                """, path: "\(dir)/p.yml", environment: [:])
    }

    func cleanup(_ server: ClickHouseTestServer) async {
        if let c = try? await PostgresConnection.connect(url: PostgresTestServer.url) {
            try? await c.execute("DROP SCHEMA IF EXISTS \(PostgresSQL.quoteIdentifier(schema)) CASCADE")
            await c.close()
        }
        if let ch = try? ClickHouseClient(url: server.url) {
            try? await ch.execute("DROP DATABASE IF EXISTS \(ClickHouseSQL.quoteIdentifier(database))")
            await ch.close()
        }
    }

    @Test(arguments: ClickHouseTestServer.all)
    func fullRefreshThenMergeArriveExactly(_ server: ClickHouseTestServer) async throws {
        try server.require()
        try await seed()
        defer { Task { await cleanup(server) } }
        let full = await BatchPipeline.run(document: try manifest(server, strategy: "{mode: full_refresh}"), options: BatchOptions())
        #expect(full.status == .succeeded, "\(full.error ?? "")")
        #expect(full.insertedRows == 5000)

        let ch = try ClickHouseClient(url: server.url)
        let q = "\(ClickHouseSQL.quoteIdentifier(database)).`orders`"
        let summary = try await ch.queryRows(
            "SELECT count(), sum(id), toInt64(sum(amount) * 100), countIf(note IS NULL), max(placed) FROM \(q)")
        #expect(summary == [["5000", "12502500", "312562500", "1000", "2026-01-30"]])

        let c = try await PostgresConnection.connect(url: PostgresTestServer.url)
        try await c.execute("UPDATE \(PostgresSQL.quoteIdentifier(schema)).orders SET note = 'changed' WHERE id <= 10")
        await c.close()
        let merge = await BatchPipeline.run(
            document: try manifest(server, strategy: "{mode: incremental_merge, unique_key: id}"), options: BatchOptions())
        // The target was created by full_refresh as a plain MergeTree: merging needs a
        // ReplacingMergeTree, and the sink says so before writing anything.
        #expect(merge.status == .failed)
        #expect(merge.error?.contains("ReplacingMergeTree") == true, "\(merge.error ?? "")")

        try await ch.execute("DROP TABLE \(q)")
        let first = await BatchPipeline.run(
            document: try manifest(server, strategy: "{mode: incremental_merge, unique_key: id}"), options: BatchOptions())
        #expect(first.status == .succeeded, "\(first.error ?? "")")
        let changed = try await ch.queryRows("SELECT count() FROM \(q) FINAL WHERE note = 'changed'")
        #expect(changed == [["10"]])
        #expect(try await ch.queryRows("SELECT count() FROM \(q) FINAL") == [["5000"]])
        await ch.close()
    }
}

extension PostgresToClickHouseTests {
    /// ClickHouse -> PG: the reverse route, on both servers.
    @Test(arguments: ClickHouseTestServer.all)
    func clickHouseToPostgres(_ server: ClickHouseTestServer) async throws {
        try server.require()
        try PostgresTestServer.require()
        defer { Task { await cleanup(server) } }
        let ch = try ClickHouseClient(url: server.url)
        let db = ClickHouseSQL.quoteIdentifier(database)
        try await ch.execute("CREATE DATABASE IF NOT EXISTS \(db)")
        try await ch.execute(
            "CREATE TABLE \(db).`events` (id Int64, name String, amount Decimal(12, 2), day Date, score Nullable(Float64)) ENGINE = MergeTree ORDER BY id")
        try await ch.execute(
            "INSERT INTO \(db).`events` SELECT number, concat('é', toString(number)), toDecimal64(number / 4, 2), toDate('2026-01-01') + number % 10, if(number % 3 = 0, NULL, number / 2) FROM system.numbers LIMIT 1000")
        await ch.close()
        let doc = try ManifestLoader.parse(
            yaml: """
                name: ch2pg
                source: {type: clickhouse, connection: {url: "\(server.url)"}, table: {schema: \(database), name: events}, options: {incremental_column: id}}
                sink: {type: postgres, connection: {url: "\(PostgresTestServer.url)"}, table: {schema: \(schema), name: events}, strategy: {mode: incremental_merge, unique_key: id}}
                state: {dir: \(dir)/ch2pg-\(server.name.filter(\.isLetter))}
                """, path: "\(dir)/c.yml", environment: [:])
        let result = await BatchPipeline.run(document: doc, options: BatchOptions())
        #expect(result.status == .succeeded, "\(result.error ?? "")")
        #expect(result.insertedRows == 1000)
        let pg = try await PostgresConnection.connect(url: PostgresTestServer.url)
        let summary = try await pg.query(
            "SELECT count(*)::text, sum(id)::text, sum(amount)::text, count(*) FILTER (WHERE score IS NULL)::text, min(name) FROM \(PostgresSQL.quoteIdentifier(schema)).events")
        await pg.close()
        #expect(summary == [["1000", "499500", "124875.00", "334", "é0"]])
        let again = await BatchPipeline.run(document: doc, options: BatchOptions())
        #expect(again.status == .succeeded && again.extractedRows == 0, "the cursor is committed")
    }
}
