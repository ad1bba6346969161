import ClickHouseConnector
import DponeTestSupport
import Flow
import Foundation
import Testing

/// files -> ClickHouse on both servers: a run SIGKILLed at each fault point and re-run leaves the
/// target equal to an uninterrupted run (the ledger and the checkpoint column prevent doubles).
@Suite(
    .tags(.integrationReplay, .integrationClickHouse), IntegrationGate.replay.trait, IntegrationGate.integration.trait,
    .enabled(if: binaryBuilt, "dpone binary not built"), .serialized)
struct ClickHouseReplayTests {
    static let strategies: [(name: String, yaml: String, incremental: Bool, read: String)] = [
        ("full_refresh", "{mode: full_refresh}", false, ""),
        ("incremental_append", "{mode: incremental_append}", true, ""),
        ("incremental_merge", "{mode: incremental_merge, unique_key: id}", true, "FINAL"),
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

        func run(fault: String? = nil) throws -> CLI.Output {
            try CLI.run(["batch", "\(dir)/pipeline.yml", "--progress", "none"], environment: fault.map { ["DPONE_FAULT": $0] } ?? [:])
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

    func scenario(_ w: Workspace, fault: String?) throws {
        try w.writeSource(1...3000, version: 1)
        if let fault {
            let killed = try w.run(fault: fault)
            #expect(killed.killed && killed.status == SIGKILL, "killed at \(fault): \(killed.stdout) \(killed.stderr)")
        }
        let first = try w.run()
        #expect(first.status == 0, "\(first.stdout) \(first.stderr)")
        try w.writeSource(1...4000, version: 2)
        if let fault {
            let killed = try w.run(fault: fault)
            #expect(killed.killed && killed.status == SIGKILL)
        }
        let second = try w.run()
        #expect(second.status == 0, "\(second.stdout) \(second.stderr)")
    }

    @Test(
        arguments: ["full_refresh", "incremental_append", "incremental_merge", "partition_replace", "snapshot_diff", "scd2"],
        FaultPoint.allCases.map(\.rawValue))
    func killedAndRerunMatchesUninterrupted(strategyName: String, fault: String) async throws {
        let strategy = Self.strategies.first { $0.name == strategyName }!
        for server in ClickHouseTestServer.all {
            try server.require()
            let reference = try Workspace(strategy, server: server)
            let faulty = try Workspace(strategy, server: server)
            try scenario(reference, fault: nil)
            try scenario(faulty, fault: fault)
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
