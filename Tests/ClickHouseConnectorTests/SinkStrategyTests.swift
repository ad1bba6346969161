import DponeTestSupport
import Flow
import Foundation
import Testing

@testable import ClickHouseConnector

/// Every ClickHouse sink strategy against both servers, driven directly: exact target contents and counts.
@Suite("ClickHouse sink: strategies", .tags(.integrationClickHouse), IntegrationGate.integration.trait)
struct SinkStrategyTests {
    @Test(arguments: ClickHouseTestServer.all)
    func fullRefreshCreatesTheTargetAndReplacesIt(_ server: ClickHouseTestServer) async throws {
        try await SinkFixture.with(server) { f in
            // The swap is EXCHANGE TABLES on the modern server, the RENAME pair on 18.16
            // (`ClickHousePublishPlan.swap(exchange:)`): both must publish the same rows.
            let exchange = try await f.admin.serverInfo().supports(.exchangeTables)
            #expect(exchange == (server.name != ClickHouseTestServer.legacy.name))
            let first = try await f.load([(1, "ann", 150), (2, "bøb ☃", nil), (3, nil, -1)], mode: .fullRefresh(.exchange), checkpoint: 1)
            #expect(first == SinkCommit(inserted: 3))
            #expect(try await f.rows() == [["1", "ann", "1.5"], ["2", "bøb ☃", nil], ["3", nil, "-0.01"]])
            let types = try await f.admin.queryRows("SELECT name, type FROM system.columns WHERE database = '\(f.database)' AND table = 'target'")
            #expect(types.map { $0 } == [
                ["id", "Int64"], ["name", "Nullable(String)"], ["amount", "Nullable(Decimal(12, 2))"], ["__dpone__checkpoint", "UInt64"],
            ])
            let second = try await f.load([(7, "zed", 9_999_999_999)], mode: .fullRefresh(.exchange), checkpoint: 2)
            #expect(second == SinkCommit(inserted: 1, deleted: 3))
            #expect(try await f.rows(columns: "id, name, toFloat64(amount), __dpone__checkpoint") == [["7", "zed", "99999999.99", "2"]])
            #expect(try await f.stagingTables() == "0")
        }
    }

    @Test(arguments: ClickHouseTestServer.all)
    func appendAndOnlyNewRows(_ server: ClickHouseTestServer) async throws {
        try await SinkFixture.with(server) { f in
            let first = try await f.load([(1, "a", 100), (2, "b", 200)], mode: .incrementalAppend(onlyNewRows: false), checkpoint: 1)
            #expect(first.inserted == 2)
            let second = try await f.load(
                [(2, "b2", 200), (3, "c", 300)], mode: .incrementalAppend(onlyNewRows: true), key: ["id"], checkpoint: 2)
            #expect(second == SinkCommit(inserted: 1))
            #expect(try await f.rows(columns: "id, name, __dpone__checkpoint") == [["1", "a", "1"], ["2", "b", "1"], ["3", "c", "2"]])
        }
    }

    @Test(arguments: ClickHouseTestServer.all)
    func mergeUpdatesAndInsertsByKey(_ server: ClickHouseTestServer) async throws {
        try await SinkFixture.with(server) { f in
            let first = try await f.load([(1, "a", 100), (2, "b", 200)], mode: .incrementalMerge(.replacingMergeTree), key: ["id"], checkpoint: 1)
            #expect(first == SinkCommit(inserted: 2))
            let second = try await f.load([(2, "B", 2000), (3, "c", 300)], mode: .incrementalMerge(.replacingMergeTree), key: ["id"], checkpoint: 2)
            #expect(second == SinkCommit(inserted: 1, updated: 1))
            #expect(try await f.rows(final: true) == [["1", "a", "1"], ["2", "B", "20"], ["3", "c", "3"]])
            let argMax = try await f.admin.queryNullableRows(
                "SELECT id, argMax(name, __dpone__version) FROM \(f.target.sql) GROUP BY id ORDER BY id")
            #expect(argMax == [["1", "a"], ["2", "B"], ["3", "c"]])
            let engine = try await f.scalar("SELECT engine FROM system.tables WHERE database = '\(f.database)' AND name = 'target'")
            #expect(engine == "ReplacingMergeTree")
        }
    }

    @Test(arguments: ClickHouseTestServer.all)
    func partitionReplaceRewritesOnlyStagedPartitions(_ server: ClickHouseTestServer) async throws {
        try await SinkFixture.with(server) { f in
            let mode = LoadStrategy.partitionReplace(column: "name", maxPartitions: 10)
            _ = try await f.load([(1, "a", 1), (2, "a", 2), (3, "b", 3)], mode: mode, checkpoint: 1)
            let second = try await f.load([(5, "a", 5)], mode: mode, checkpoint: 2)
            #expect(second == SinkCommit(inserted: 1, deleted: 2))
            #expect(try await f.rows(columns: "id, name") == [["3", "b"], ["5", "a"]])
            await #expect(throws: DponeError.self) {
                try await f.load([(7, "x", 1), (8, "y", 1)], mode: .partitionReplace(column: "name", maxPartitions: 1), checkpoint: 3)
            }
            #expect(try await f.rows(columns: "id, name") == [["3", "b"], ["5", "a"]], "target untouched")
            do {
                try await f.load([(9, nil, 1)], mode: mode, checkpoint: 3)
                Issue.record("a NULL partition value must fail")
            } catch {
                #expect("\(error)".contains("NULL in name"), "\(error)")
            }
            #expect(try await f.stagingTables() == "0")
        }
    }

    @Test(arguments: ClickHouseTestServer.all)
    func anEmptyCheckpointStillRunsTheStrategy(_ server: ClickHouseTestServer) async throws {
        try await SinkFixture.with(server) { f in
            _ = try await f.load([(1, "a", 1), (2, "b", 2)], mode: .fullRefresh(.exchange), checkpoint: 1)
            let sink = f.sink(.fullRefresh(.exchange))
            try await sink.open(schema: SinkFixture.schema)
            let empty = try await sink.finalize(SinkFixture.context(2))
            await sink.close()
            #expect(empty == SinkCommit(inserted: 0, deleted: 2))
            #expect(try await f.rows() == [])
        }
    }
}
