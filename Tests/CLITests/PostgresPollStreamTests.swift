import DponeTestSupport
import Flow
import Foundation
import PostgresConnector
import Testing

/// `dpone stream` over a Postgres table without a slot: `poll_interval` with xmin re-reads the
/// rows written since the last durable checkpoint, merges them, and keeps going until SIGTERM; a
/// restart resumes from the state.
@Suite(
    .tags(.integrationReplay, .integrationPostgres), IntegrationGate.replay.trait, IntegrationGate.integration.trait,
    .enabled(if: binaryBuilt, "dpone binary not built"))
struct PostgresPollStreamTests {
    let schema = PostgresTestServer.uniqueSchemaName("pgpoll")
    var s: String { PostgresSQL.quoteIdentifier(schema) }

    func digest(_ pg: PostgresConnection, _ table: String) async throws -> [String?] {
        try await pg.query(
            "SELECT count(*)::text, coalesce(md5(string_agg(format('%s|%s|%s', r.id, r.name, r.amount), ',' ORDER BY r.id)), '') FROM \(s).\(table) AS r"
        ).first ?? []
    }

    func converge(_ pg: PostgresConnection, seconds: Double = 60) async throws -> Bool {
        let deadline = Date().addingTimeInterval(seconds)
        while Date() < deadline {
            if let target = try? await digest(pg, "dst"), try await digest(pg, "src") == target { return true }
            try await Task.sleep(for: .milliseconds(200))
        }
        return false
    }

    @Test func xminPollingFollowsInsertsAndUpdatesAndResumes() async throws {
        try PostgresTestServer.require()
        let dir = NSTemporaryDirectory() + "dpone-pgpoll-" + UUID().uuidString
        try FileManager.default.createDirectory(atPath: dir, withIntermediateDirectories: true)
        let pg = try await PostgresConnection.connect(url: PostgresTestServer.url)
        do {
            try await pg.execute(
                """
                CREATE SCHEMA \(s);
                CREATE TABLE \(s).src (id int PRIMARY KEY, name text, amount numeric(10,2));
                INSERT INTO \(s).src SELECT i, 'n' || i, i * 1.5 FROM generate_series(1, 50) AS i;
                """)
            let path = "\(dir)/poll.yml"
            try """
                name: pgpoll
                source:
                  type: postgres
                  connection: {url: "\(PostgresTestServer.url)"}
                  table: {schema: \(schema), name: src}
                  options: {incremental_strategy: xmin, poll_interval: 300ms}
                sink: {type: postgres, connection: {url: "\(PostgresTestServer.url)"}, table: {schema: \(schema), name: dst}, strategy: {mode: incremental_merge, unique_key: id}}
                state: {dir: \(dir)/state}
                """.write(toFile: path, atomically: true, encoding: .utf8)
            let worker = try StreamProcess(["stream", path, "--checkpoint-interval", "300ms"], log: "\(dir)/poll.log")
            #expect(try await converge(pg), "first read: \(worker.output)")
            for i in 0..<20 {
                try await pg.execute(
                    i % 2 == 0
                        ? "INSERT INTO \(s).src VALUES (\(100 + i), 'new', \(i))"
                        : "UPDATE \(s).src SET name = 'upd\(i)', amount = amount + 1 WHERE id = \(i)")
                try await Task.sleep(for: .milliseconds(50))
            }
            #expect(try await converge(pg), "while polling: \(worker.output)")
            #expect(await worker.stop() == 0, "SIGTERM stops it cleanly: \(worker.output)")
            // Written while stopped: the restart reads them from the state's xmin window.
            try await pg.execute("INSERT INTO \(s).src VALUES (500, 'offline', 1); UPDATE \(s).src SET name = 'offline' WHERE id = 1")
            let again = try StreamProcess(["stream", path, "--checkpoint-interval", "300ms"], log: "\(dir)/poll2.log")
            #expect(try await converge(pg), "after the restart: \(again.output)")
            #expect(await again.stop() == 0, "\(again.output)")
        } catch {
            Issue.record(error)
        }
        try? await pg.execute("DROP SCHEMA IF EXISTS \(s) CASCADE")
        await pg.close()
    }
}
