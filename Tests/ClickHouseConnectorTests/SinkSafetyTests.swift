import DponeTestSupport
import Flow
import Foundation
import Testing

@testable import ClickHouseConnector

/// Failures leave the target untouched; replays publish nothing twice; schema evolution is additive.
@Suite("ClickHouse sink: safety", .tags(.integrationClickHouse), IntegrationGate.integration.trait)
struct SinkSafetyTests {
    /// Pipelines started together that write different targets of one database share its ledger
    /// and create it at once (the PostgreSQL sink raced on exactly this; see
    /// `SinkConcurrentOpenTests`). Every open must succeed, and there is one ledger.
    @Test(arguments: ClickHouseTestServer.all)
    func sinksOfDifferentTargetsOpenTogether(_ server: ClickHouseTestServer) async throws {
        try await SinkFixture.with(server) { f in
            let sinks = (0..<8).map { i in
                ClickHouseSink(
                    name: "ch\(i)",
                    options: ClickHouseSinkOptions(
                        url: server.url, target: ClickHouseTableName(database: f.database, name: "target\(i)"),
                        mode: .incrementalAppend(onlyNewRows: false), loadID: "l\(i)"))
            }
            let failures = await failuresOfConcurrent(sinks.count) { try await sinks[$0].open(schema: SinkFixture.schema) }
            for sink in sinks { await sink.abort() }
            #expect(failures.isEmpty, "\(failures.count) of 8 opens failed: \(failures.first ?? "")")
            let ledgers = try await f.admin.queryRows(
                "SELECT toString(count()) FROM system.tables WHERE database = '\(f.database)' AND name = '__dpone__loads'")
            #expect(ledgers == [["1"]])
        }
    }

    @Test(arguments: ClickHouseTestServer.all)
    func duplicateKeysFailBeforeTheTargetIsTouched(_ server: ClickHouseTestServer) async throws {
        try await SinkFixture.with(server) { f in
            _ = try await f.load([(1, "a", 1)], mode: .incrementalMerge(.replacingMergeTree), key: ["id"], checkpoint: 1)
            do {
                try await f.load([(2, "b", 2), (2, "c", 3)], mode: .incrementalMerge(.replacingMergeTree), key: ["id"], checkpoint: 2)
                Issue.record("duplicates must fail")
            } catch let error as DponeError {
                #expect(error.message.contains("1 duplicate unique keys") && error.message.contains(f.target.description), "\(error)")
            }
            #expect(try await f.rows(final: true, columns: "id, name") == [["1", "a"]])
            #expect(try await f.stagingTables() == "0")
        }
    }

    @Test(arguments: ClickHouseTestServer.all)
    func aNewColumnIsAddedAndADroppedOneIsKeptOrFailsClosed(_ server: ClickHouseTestServer) async throws {
        try await SinkFixture.with(server) { f in
            let narrow = Schema([Field("id", .int64, nullable: false), Field("name", .string)])
            _ = try await f.load([(1, "a", nil)], mode: .incrementalAppend(onlyNewRows: false), checkpoint: 1, schema: narrow)
            _ = try await f.load([(2, "b", 250)], mode: .incrementalAppend(onlyNewRows: false), checkpoint: 2)
            #expect(try await f.rows() == [["1", "a", nil], ["2", "b", "2.5"]])
            // schema_evolution.drop: fail refuses a column the source no longer has, before any write.
            do {
                try await f.load([(3, "c", nil)], mode: .incrementalAppend(onlyNewRows: false), checkpoint: 3, schema: narrow, keepDropped: false)
                Issue.record("a dropped column must fail with drop: fail")
            } catch let error as DponeError {
                #expect(error.message.contains("amount") && error.message.contains("breaking"), "\(error)")
            }
            #expect(try await f.rows().count == 2)
            // keep (the default): the column stays, made Nullable where it was not, NULL from then on.
            let commit = try await f.load([(3, "c", nil)], mode: .incrementalAppend(onlyNewRows: false), checkpoint: 3, schema: narrow)
            #expect(commit.schemaChanges.contains { $0.contains("amount: no longer in the source, kept") }, "\(commit.schemaChanges)")
            #expect(try await f.rows() == [["1", "a", nil], ["2", "b", "2.5"], ["3", "c", nil]])
            let incompatible = Schema([Field("id", .string, nullable: false), Field("name", .string), Field("amount", .decimal(precision: 12, scale: 2))])
            let sink = f.sink(.incrementalAppend(onlyNewRows: false))
            await #expect(throws: DponeError.self) { try await sink.open(schema: incompatible) }
            #expect(try await f.rows().count == 3, "target untouched")
        }
    }

    @Test(arguments: ClickHouseTestServer.all)
    func aReplayedCheckpointPublishesNothingMore(_ server: ClickHouseTestServer) async throws {
        try await SinkFixture.with(server) { f in
            for mode in [LoadStrategy.incrementalAppend(onlyNewRows: false), .incrementalMerge(.replacingMergeTree)] {
                try await f.admin.execute("DROP TABLE IF EXISTS \(f.target.sql)")
                try await f.admin.execute("DROP TABLE IF EXISTS \(f.database).__dpone__loads")
                let positions = StateValue.object(["offset": .int(42)])
                let sink = f.sink(mode, key: ["id"])
                try await sink.open(schema: SinkFixture.schema)
                try await sink.write(SinkFixture.batch([(1, "a", 1), (2, "b", 2)]))
                let first = try await sink.finalize(SinkFixture.context(5, positions: positions))
                try await sink.write(SinkFixture.batch([(1, "a", 1), (2, "b", 2), (3, "c", 3)]))
                let replay = try await sink.finalize(SinkFixture.context(5, positions: .object(["offset": .int(99)])))
                await sink.close()
                #expect(first == SinkCommit(inserted: 2))
                #expect(replay == SinkCommit(inserted: 2, publishedPositions: positions))
                #expect(try await f.rows(columns: "id, name") == [["1", "a"], ["2", "b"]], "\(mode)")
                #expect(try await f.stagingTables() == "0")
            }
        }
    }

    @Test(arguments: ClickHouseTestServer.all)
    func anAppendReplayAfterACrashBeforeTheLedgerEndsWithOneCopy(_ server: ClickHouseTestServer) async throws {
        try await SinkFixture.with(server) { f in
            let mode = LoadStrategy.incrementalAppend(onlyNewRows: false)
            _ = try await f.load([(1, "a", 1)], mode: mode, checkpoint: 1)
            // The crashed attempt of checkpoint 2: its rows are in the target, its ledger row is not.
            try await f.admin.execute("INSERT INTO \(f.target.sql) (id, name, amount, __dpone__checkpoint) VALUES (2, 'b', 0.02, 2), (3, 'c', 0.03, 2)")
            let replay = try await f.load([(2, "b", 2), (3, "c", 3)], mode: mode, checkpoint: 2)
            #expect(replay == SinkCommit(inserted: 2))
            #expect(try await f.rows(columns: "id, name, __dpone__checkpoint") == [["1", "a", "1"], ["2", "b", "2"], ["3", "c", "2"]])
        }
    }

    @Test(arguments: ClickHouseTestServer.all)
    func aNewerCheckpointInTheLedgerIsRefused(_ server: ClickHouseTestServer) async throws {
        try await SinkFixture.with(server) { f in
            let mode = LoadStrategy.incrementalAppend(onlyNewRows: false)
            _ = try await f.load([(1, "a", 1)], mode: mode, checkpoint: 7)
            do {
                try await f.load([(2, "b", 2)], mode: mode, checkpoint: 3)
                Issue.record("a state behind the target must be refused")
            } catch let error as DponeError {
                #expect(error.kind == .state && error.message.contains("already has checkpoint 7"), "\(error)")
            }
            #expect(try await f.rows(columns: "id") == [["1"]])
            #expect(try await f.stagingTables() == "0")
        }
    }
}
