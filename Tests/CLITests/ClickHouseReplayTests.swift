import ClickHouseConnector
import DponeTestSupport
import Flow
import Foundation
import PostgresConnector
import Testing

/// files -> ClickHouse on both servers: a run SIGKILLed at each fault point and re-run leaves the
/// target equal to an uninterrupted run (the ledger and the checkpoint column prevent doubles).
@Suite(
    .tags(.integrationReplay, .integrationClickHouse), IntegrationGate.replay.trait, IntegrationGate.integration.trait,
    .enabled(if: binaryBuilt, "dpone binary not built"), .serialized)
struct ClickHouseReplayTests {
    /// `incremental`: the source reads only ids above the cursor; the merge policies re-read every
    /// row instead, so the second load updates 3000 keys and a replay must not double them.
    static let strategies: [(name: String, yaml: String, incremental: Bool, read: String)] = [
        ("full_refresh", "{mode: full_refresh}", false, ""),
        ("incremental_append", "{mode: incremental_append}", true, ""),
        ("incremental_merge", "{mode: incremental_merge, unique_key: id}", true, "FINAL"),
        ("merge_mutation", "{mode: incremental_merge, unique_key: id, merge_policy: mutation_delete_insert}", false, ""),
        ("merge_shadow", "{mode: incremental_merge, unique_key: id, merge_policy: shadow_swap}", false, ""),
        ("partition_replace", "{mode: partition_replace, partition: {column: bucket}}", false, ""),
        ("snapshot_diff", "{mode: snapshot_diff, unique_key: id}", false, ""),
        ("scd2", "{mode: scd2, unique_key: id}", false, ""),
    ]

    struct Workspace {
        let dir: String
        let database: String
        let server: ClickHouseTestServer

        init(_ strategy: (name: String, yaml: String, incremental: Bool, read: String), server: ClickHouseTestServer) throws {
            self.server = server
            dir = NSTemporaryDirectory() + "dpone-chreplay-" + UUID().uuidString
            database = "dpone_replay_" + String(UInt64.random(in: 0...UInt64.max), radix: 36)
            try FileManager.default.createDirectory(atPath: dir, withIntermediateDirectories: true)
            try """
                name: chreplay
                source:
                  type: files
                  path: \(dir)/in.csv
                  options:
                    \(strategy.incremental ? "incremental_column: id" : "")
                    schema:
                      - {name: id, type: int64, nullable: false}
                      - {name: bucket, type: int32, nullable: false}
                      - {name: payload, type: string}
                sink:
                  type: clickhouse
                  connection: {url: "\(server.url)"}
                  table: {schema: \(database), name: target}
                  strategy: \(strategy.yaml)
                state: {dir: \(dir)/state}
                """.write(toFile: "\(dir)/pipeline.yml", atomically: true, encoding: .utf8)
        }

        func writeSource(_ ids: ClosedRange<Int>, version: Int) throws {
            let text = "id,bucket,payload\n" + ids.map { "\($0),\($0 % 4),v\(version)-\($0 % 7 == 0 ? version : 0)\n" }.joined()
            try text.write(toFile: "\(dir)/in.csv", atomically: true, encoding: .utf8)
        }

        func run(fault: String? = nil) async throws -> CLI.Output {
            try await CLI.run(["batch", "\(dir)/pipeline.yml", "--progress", "none"], environment: fault.map { ["DPONE_FAULT": $0] } ?? [:])
        }

        func target(_ read: String) async throws -> [[String]] {
            let client = try ClickHouseClient(url: server.url)
            defer { Task { await client.close() } }
            return try await client.queryRows(
                "SELECT id, bucket, payload FROM \(ClickHouseSQL.quoteIdentifier(database)).`target` \(read) ORDER BY id, bucket, payload")
        }

        func drop() async {
            guard let client = try? ClickHouseClient(url: server.url) else { return }
            try? await client.execute("DROP DATABASE IF EXISTS \(ClickHouseSQL.quoteIdentifier(database))")
            await client.close()
        }
    }

    func scenario(_ w: Workspace, fault: String?) async throws {
        try w.writeSource(1...3000, version: 1)
        if let fault {
            let killed = try await w.run(fault: fault)
            #expect(killed.died(at: fault), "killed at \(fault): \(killed.stdout) \(killed.stderr)")
        }
        let first = try await w.run()
        #expect(first.status == 0, "\(first.stdout) \(first.stderr)")
        try w.writeSource(1...4000, version: 2)
        if let fault {
            let killed = try await w.run(fault: fault)
            #expect(killed.died(at: fault))
        }
        let second = try await w.run()
        #expect(second.status == 0, "\(second.stdout) \(second.stderr)")
    }

    @Test(
        arguments: [
            "full_refresh", "incremental_append", "incremental_merge", "merge_mutation", "merge_shadow", "partition_replace",
            "snapshot_diff", "scd2",
        ],
        FaultPoint.allCases.map(\.rawValue))
    func killedAndRerunMatchesUninterrupted(strategyName: String, fault: String) async throws {
        let strategy = Self.strategies.first { $0.name == strategyName }!
        for server in ClickHouseTestServer.all {
            try server.require()
            let reference = try Workspace(strategy, server: server)
            let faulty = try Workspace(strategy, server: server)
            try await scenario(reference, fault: nil)
            try await scenario(faulty, fault: fault)
            let expected = try await reference.target(strategy.read)
            let actual = try await faulty.target(strategy.read)
            await reference.drop()
            await faulty.drop()
            #expect(!expected.isEmpty)
            #expect(actual.count == expected.count, "\(strategyName) at \(fault) on \(server.name): no lost or doubled rows")
            #expect(actual == expected, "\(strategyName) at \(fault) on \(server.name)")
        }
    }
}

/// The acceptance route itself: PostgreSQL -> ClickHouse, killed at every fault point and re-run,
/// for incremental_merge (xmin), snapshot_diff and partition_replace, on both servers.
@Suite(
    .tags(.integrationReplay, .integrationClickHouse, .integrationPostgres), IntegrationGate.replay.trait,
    IntegrationGate.integration.trait, .enabled(if: binaryBuilt, "dpone binary not built"), .serialized)
struct PostgresToClickHouseReplayTests {
    static let strategies: [String: (yaml: String, options: String, read: String)] = [
        "incremental_merge": ("{mode: incremental_merge, unique_key: id}", "{incremental_strategy: xmin}", "FINAL"),
        "snapshot_diff": ("{mode: snapshot_diff, unique_key: id}", "{}", ""),
        "partition_replace": ("{mode: partition_replace, partition: {column: bucket}}", "{}", ""),
    ]

    struct Workspace {
        let dir: String
        let name: String
        let server: ClickHouseTestServer

        init(strategy: (yaml: String, options: String, read: String), server: ClickHouseTestServer) throws {
            self.server = server
            name = PostgresTestServer.uniqueSchemaName("pgchreplay")
            dir = NSTemporaryDirectory() + "dpone-pgchreplay-" + UUID().uuidString
            try FileManager.default.createDirectory(atPath: dir, withIntermediateDirectories: true)
            try """
                name: pgchreplay
                source: {type: postgres, connection: {url: "\(PostgresTestServer.url)"}, table: {schema: \(name), name: src}, options: \(strategy.options)}
                sink: {type: clickhouse, connection: {url: "\(server.url)"}, table: {schema: \(name), name: target}, strategy: \(strategy.yaml)}
                state: {dir: \(dir)/state}
                """.write(toFile: "\(dir)/pipeline.yml", atomically: true, encoding: .utf8)
        }

        /// Upserts ids with payload version `version`; `delete` removes ids from the source.
        func writeSource(_ ids: ClosedRange<Int>, version: Int, delete: ClosedRange<Int>? = nil) async throws {
            let pg = try await PostgresConnection.connect(url: PostgresTestServer.url)
            let s = PostgresSQL.quoteIdentifier(name)
            try await pg.execute(
                """
                CREATE SCHEMA IF NOT EXISTS \(s);
                CREATE TABLE IF NOT EXISTS \(s).src (id bigint PRIMARY KEY, bucket integer NOT NULL, payload text);
                INSERT INTO \(s).src SELECT g, g % 4, 'v\(version)-' || (CASE WHEN g % 7 = 0 THEN \(version) ELSE 0 END)
                FROM generate_series(\(ids.lowerBound), \(ids.upperBound)) g
                ON CONFLICT (id) DO UPDATE SET payload = EXCLUDED.payload WHERE \(s).src.payload IS DISTINCT FROM EXCLUDED.payload;
                \(delete.map { "DELETE FROM \(s).src WHERE id BETWEEN \($0.lowerBound) AND \($0.upperBound);" } ?? "")
                """)
            // An xmin window ends at the oldest transaction still running anywhere on the server;
            // other tests' transactions can hold it back. Wait until it has passed this write, so
            // the next run is guaranteed to see it (otherwise it would come one run later).
            try await PostgresTestServer.awaitXminHorizon(after: pg)
            await pg.close()
        }

        func run(fault: String? = nil) async throws -> CLI.Output {
            try await CLI.run(["batch", "\(dir)/pipeline.yml", "--progress", "none"], environment: fault.map { ["DPONE_FAULT": $0] } ?? [:])
        }

        func target(_ read: String) async throws -> [[String]] {
            let client = try ClickHouseClient(url: server.url)
            defer { Task { await client.close() } }
            return try await client.queryRows(
                "SELECT id, bucket, payload FROM \(ClickHouseSQL.quoteIdentifier(name)).`target` \(read) ORDER BY id, bucket, payload")
        }

        func drop() async {
            if let client = try? ClickHouseClient(url: server.url) {
                try? await client.execute("DROP DATABASE IF EXISTS \(ClickHouseSQL.quoteIdentifier(name))")
                await client.close()
            }
            if let pg = try? await PostgresConnection.connect(url: PostgresTestServer.url) {
                try? await pg.execute("DROP SCHEMA IF EXISTS \(PostgresSQL.quoteIdentifier(name)) CASCADE")
                await pg.close()
            }
        }
    }

    func scenario(_ w: Workspace, fault: String?) async throws {
        try await w.writeSource(1...3000, version: 1)
        if let fault {
            let killed = try await w.run(fault: fault)
            #expect(killed.died(at: fault), "killed at \(fault): \(killed.stdout) \(killed.stderr)")
        }
        let first = try await w.run()
        #expect(first.status == 0, "\(first.stdout) \(first.stderr)")
        try await w.writeSource(1...4000, version: 2, delete: 10...20)
        if let fault {
            let killed = try await w.run(fault: fault)
            #expect(killed.died(at: fault))
        }
        let second = try await w.run()
        #expect(second.status == 0, "\(second.stdout) \(second.stderr)")
    }

    @Test(arguments: ["incremental_merge", "snapshot_diff", "partition_replace"], FaultPoint.allCases.map(\.rawValue))
    func killedAndRerunMatchesUninterrupted(strategyName: String, fault: String) async throws {
        let strategy = Self.strategies[strategyName]!
        try PostgresTestServer.require()
        for server in ClickHouseTestServer.all {
            try server.require()
            let reference = try Workspace(strategy: strategy, server: server)
            let faulty = try Workspace(strategy: strategy, server: server)
            try await scenario(reference, fault: nil)
            try await scenario(faulty, fault: fault)
            let expected = try await reference.target(strategy.read)
            let actual = try await faulty.target(strategy.read)
            await reference.drop()
            await faulty.drop()
            #expect(!expected.isEmpty)
            #expect(actual == expected, "\(strategyName) at \(fault) on \(server.name): \(actual.count) vs \(expected.count) rows")
        }
    }
}
