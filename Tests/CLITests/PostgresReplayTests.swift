import DponeTestSupport
import Flow
import Foundation
import PostgresConnector
import Testing

/// For every Postgres strategy and every `DPONE_FAULT` point: a files -> postgres run SIGKILLed there
/// and re-run leaves the target exactly as an uninterrupted run does (no lost, no doubled rows).
@Suite(
    .tags(.integrationReplay, .integrationPostgres), IntegrationGate.replay.trait, IntegrationGate.integration.trait,
    .enabled(if: binaryBuilt, "dpone binary not built"), .serialized)
struct PostgresReplayTests {
    /// Strategy, whether the source reads incrementally, and the columns to compare (volatile
    /// load-time columns are left out).
    static let strategies: [(name: String, yaml: String, incremental: Bool, compare: String)] = [
        ("full_refresh", "{mode: full_refresh}", false, "id, payload, amount"),
        ("exchange", "{mode: full_refresh, overwrite_type: exchange}", false, "id, payload, amount"),
        ("incremental_append", "{mode: incremental_append}", true, "id, payload, amount"),
        ("incremental_merge", "{mode: incremental_merge, unique_key: id}", true, "id, payload, amount"),
        ("upsert", "{mode: incremental_merge, unique_key: id, merge_policy: upsert}", true, "id, payload, amount"),
        ("snapshot_diff", "{mode: snapshot_diff, unique_key: id}", false, "id, payload, amount, __dpone__row_hash"),
        ("scd2", "{mode: scd2, unique_key: id}", false, "id, payload, amount, __dpone__is_current"),
        ("replace", "{mode: replace, custom_predicate: \"id > 0\"}", false, "id, payload, amount"),
        ("partition_replace", "{mode: partition_replace, partition: {column: payload}}", false, "id, payload, amount"),
    ]

    struct Workspace {
        let dir: String
        let schema: String

        init(strategy: (name: String, yaml: String, incremental: Bool, compare: String), targetAtomic: Bool = false) throws {
            dir = NSTemporaryDirectory() + "dpone-pgreplay-" + UUID().uuidString
            schema = PostgresTestServer.uniqueSchemaName("replay")
            let state =
                targetAtomic
                ? "{type: postgres, connection: {url: \"\(PostgresTestServer.url)\"}, table: {schema: \(schema), name: state}, atomicity: target_atomic}"
                : "{dir: \(dir)/state}"
            try FileManager.default.createDirectory(atPath: dir, withIntermediateDirectories: true)
            try """
                name: replay
                source:
                  type: files
                  path: \(dir)/in.csv
                  options:
                    \(strategy.incremental ? "incremental_column: id" : "")
                    schema:
                      - {name: id, type: int64, nullable: false}
                      - {name: payload, type: string}
                      - {name: amount, type: "decimal(10,2)"}
                sink:
                  type: postgres
                  connection: {url: "\(PostgresTestServer.url)"}
                  table: {schema: \(schema), name: target}
                  strategy: \(strategy.yaml)
                state: \(state)
                """.write(toFile: "\(dir)/pipeline.yml", atomically: true, encoding: .utf8)
        }

        /// Writes the source file: rows `ids`, with payload version `version` (changes rows on reload).
        func writeSource(_ ids: ClosedRange<Int>, version: Int) throws {
            let text = "id,payload,amount\n" + ids.map { "\($0),v\(version)-\($0 % 7 == 0 ? version : 0),\($0 % 100).25\n" }.joined()
            try text.write(toFile: "\(dir)/in.csv", atomically: true, encoding: .utf8)
        }

        func run(fault: String? = nil) async throws -> CLI.Output {
            try await CLI.run(["batch", "\(dir)/pipeline.yml", "--progress", "none"], environment: fault.map { ["DPONE_FAULT": $0] } ?? [:])
        }

        func target(_ columns: String) async throws -> [[String?]] {
            let c = try await PostgresConnection.connect(url: PostgresTestServer.url)
            defer { Task { await c.close() } }
            let order = (1...columns.split(separator: ",").count).map(String.init).joined(separator: ", ")
            return try await c.query("SELECT \(columns) FROM \(TableName(schema: schema, name: "target").sql) ORDER BY \(order)")
        }

        func drop() async {
            guard let c = try? await PostgresConnection.connect(url: PostgresTestServer.url) else { return }
            try? await c.execute("DROP SCHEMA IF EXISTS \(PostgresSQL.quoteIdentifier(schema)) CASCADE")
            try? await c.execute("DELETE FROM \"dpone\".\"__dpone__state\" WHERE false")
            await c.close()
        }
    }

    /// Load 1..3000 (v1), then 1..4000 (v2: some rows changed, 1000 new; for incremental sources the
    /// file grows and only new ids are read).
    func scenario(_ w: Workspace, fault: String?) async throws {
        try w.writeSource(1...3000, version: 1)
        if let fault {
            let killed = try await w.run(fault: fault)
            #expect(killed.died(at: fault), "killed at \(fault): \(killed.stderr)")
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

    @Test(arguments: strategies.map(\.name), FaultPoint.allCases.map(\.rawValue))
    func killedAndRerunMatchesUninterrupted(strategyName: String, fault: String) async throws {
        try PostgresTestServer.require()
        let strategy = Self.strategies.first { $0.name == strategyName }!
        let reference = try Workspace(strategy: strategy)
        let faulty = try Workspace(strategy: strategy)
        defer {
            Task {
                await reference.drop()
                await faulty.drop()
            }
        }
        try await scenario(reference, fault: nil)
        try await scenario(faulty, fault: fault)
        let expected = try await reference.target(strategy.compare)
        let actual = try await faulty.target(strategy.compare)
        #expect(!expected.isEmpty)
        #expect(actual.count == expected.count, "\(strategyName) at \(fault): no lost or doubled rows")
        let firstDifference = actual.indices.first { $0 < expected.count && actual[$0] != expected[$0] }
        #expect(firstDifference == nil, "\(strategyName) at \(fault): first difference at row \(firstDifference ?? -1)")
    }

    /// With target-atomic state the data and the state commit in one transaction: a kill anywhere
    /// leaves both or neither, so even a plain append is exactly once.
    @Test(arguments: ["incremental_append", "incremental_merge"], FaultPoint.allCases.map(\.rawValue))
    func targetAtomicStateIsExactlyOnce(strategyName: String, fault: String) async throws {
        try PostgresTestServer.require()
        let strategy = Self.strategies.first { $0.name == strategyName }!
        let reference = try Workspace(strategy: strategy, targetAtomic: true)
        let faulty = try Workspace(strategy: strategy, targetAtomic: true)
        defer {
            Task {
                await reference.drop()
                await faulty.drop()
            }
        }
        try await scenario(reference, fault: nil)
        try await scenario(faulty, fault: fault)
        let expected = try await reference.target(strategy.compare)
        let actual = try await faulty.target(strategy.compare)
        #expect(actual.count == 4000 && expected.count == 4000, "\(strategyName) at \(fault): every id exactly once")
        #expect(actual == expected)
        let c = try await PostgresConnection.connect(url: PostgresTestServer.url)
        let state = try await c.query(
            "SELECT document->'source'->'cursor'->>'value' FROM \(TableName(schema: faulty.schema, name: "state").sql) WHERE pipeline = 'replay'")
        await c.close()
        #expect(state == [["4000"]], "the state row committed with the data")
    }
}
