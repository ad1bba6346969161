import ClickHouseConnector
import DponeTestSupport
import Flow
import Foundation
import PostgresConnector
import Testing

/// A run that widens target columns (integer -> bigint, numeric(12,2) -> numeric(18,4)) SIGKILLed at
/// every `DPONE_FAULT` point and re-run: the target ends widened, with exactly the source's rows, on
/// Postgres (the ALTER commits with the publication or not at all) and ClickHouse (the awaited
/// MODIFY COLUMN happens before staging; repeating it changes nothing).
@Suite(
    .tags(.integrationReplay, .integrationPostgres, .integrationClickHouse), IntegrationGate.replay.trait,
    IntegrationGate.integration.trait, .enabled(if: binaryBuilt, "dpone binary not built"), .serialized)
struct SchemaWideningReplayTests {
    @Test(arguments: ["postgres", "clickhouse"], FaultPoint.allCases.map { $0.rawValue })
    func aWideningRunKilledAnywhereConverges(target: String, fault: String) async throws {
        try PostgresTestServer.require()
        let server = ClickHouseTestServer.legacy
        if target == "clickhouse" { try server.require() }
        let space = PostgresTestServer.uniqueSchemaName("wreplay")
        let q = PostgresSQL.quoteIdentifier(space)
        let dir = NSTemporaryDirectory() + "dpone-wreplay-" + UUID().uuidString
        try FileManager.default.createDirectory(atPath: dir, withIntermediateDirectories: true)
        let pg = try await PostgresConnection.connect(url: PostgresTestServer.url)
        try await pg.execute(
            "CREATE SCHEMA \(q); CREATE TABLE \(q).src (id bigint PRIMARY KEY, n integer NOT NULL, amount numeric(12,2)); INSERT INTO \(q).src SELECT g, g, g / 4.0 FROM generate_series(1, 500) g")
        let sink =
            target == "postgres"
            ? "{type: postgres, connection: {url: \"\(PostgresTestServer.url)\"}, table: {schema: \(space), name: dst}, strategy: {mode: incremental_merge, unique_key: id}}"
            : "{type: clickhouse, connection: {url: \"\(server.url)\"}, table: {schema: \(space), name: dst}, strategy: {mode: incremental_merge, unique_key: id, merge_policy: mutation_delete_insert}}"
        try """
            name: wreplay
            source: {type: postgres, connection: {url: "\(PostgresTestServer.url)"}, table: {schema: \(space), name: src}}
            sink: \(sink)
            state: {dir: \(dir)/state}
            """.write(toFile: "\(dir)/p.yml", atomically: true, encoding: .utf8)
        let first = try await CLI.run(["batch", "\(dir)/p.yml", "--progress", "none"])
        #expect(first.status == 0, "\(first.stdout) \(first.stderr)")
        try await pg.execute(
            "ALTER TABLE \(q).src ALTER COLUMN n TYPE bigint, ALTER COLUMN amount TYPE numeric(18,4); UPDATE \(q).src SET n = n + 5000000000, amount = amount + 0.0001 WHERE id % 5 = 0")
        let killed = try await CLI.run(["batch", "\(dir)/p.yml", "--progress", "none"], environment: ["DPONE_FAULT": fault])
        #expect(killed.died(at: fault), "killed at \(fault): \(killed.stdout) \(killed.stderr)")
        let rerun = try await CLI.run(["batch", "\(dir)/p.yml", "--progress", "none"])
        #expect(rerun.status == 0, "\(rerun.stdout) \(rerun.stderr)")

        let expected = try await pg.query("SELECT sum(n)::text, sum(amount)::text, count(*)::text FROM \(q).src").first ?? []
        let found: [String?]
        if target == "postgres" {
            found = try await pg.query("SELECT sum(n)::text, sum(amount)::text, count(*)::text FROM \(q).dst").first ?? []
            let types = try await pg.query(
                "SELECT format_type(atttypid, atttypmod) FROM pg_attribute WHERE attrelid = '\(q).dst'::regclass AND attname IN ('amount', 'n') ORDER BY attname")
            #expect(types == [["numeric(18,4)"], ["bigint"]], "\(fault)")
            try await pg.execute("DROP SCHEMA \(q) CASCADE")
        } else {
            let ch = try ClickHouseClient(url: server.url)
            found = try await ch.queryRows("SELECT toString(sum(n)), toString(sum(amount)), toString(count()) FROM \(ClickHouseSQL.quoteIdentifier(space)).`dst`").first ?? []
            try await ch.execute("DROP DATABASE IF EXISTS \(ClickHouseSQL.quoteIdentifier(space))")
            await ch.close()
            try await pg.execute("DROP SCHEMA \(q) CASCADE")
        }
        await pg.close()
        #expect(found.map { $0.map { $0.hasSuffix(".0000") ? String($0.dropLast(5)) : $0 } } == expected.map { $0.map { $0.hasSuffix(".0000") ? String($0.dropLast(5)) : $0 } }, "\(target) at \(fault): every row exactly once, widened values exact")
    }
}
