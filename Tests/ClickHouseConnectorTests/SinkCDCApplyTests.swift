import DponeTestSupport
import Flow
import Foundation
import Testing

@testable import ClickHouseConnector

/// cdc_apply into ClickHouse on 18.16 and the modern engine: the last event per key, deletes as
/// tombstones, unchanged TOAST columns filled (same key, across a key change, from the published
/// row), replays after a crash between publish and state harmless, a chained key change refused.
@Suite("ClickHouse sink: cdc_apply", .tags(.integrationClickHouse), IntegrationGate.integration.trait)
struct SinkCDCApplyTests {
    static let schema = Schema([
        Field("id", .int64, nullable: false), Field("name", .string), Field("big", .string),
        Field(TechnicalColumns.lsn, .int64, nullable: false), Field(TechnicalColumns.unchanged, .string),
    ])

    typealias Event = (op: RowOperation, id: Int64, name: String?, big: String?, lsn: Int64, unchanged: String?)

    static func batch(_ events: [Event]) -> Batch {
        var b = BatchBuilder(schema: schema)
        for e in events {
            b.append(row: [
                .int(e.id), e.name.map(Value.string) ?? .null, e.big.map(Value.string) ?? .null, .int(e.lsn),
                e.unchanged.map(Value.string) ?? .null,
            ])
        }
        return b.finish(operations: events.map(\.op))
    }

    /// One sink per checkpoint (as after a restart), opened, written, finalized, closed.
    @discardableResult
    func publish(_ f: SinkFixture, _ id: UInt64, _ events: [Event]) async throws -> SinkCommit {
        let sink = f.sink(.cdcApply, key: ["id"], loadID: "l\(id)")
        do {
            try await sink.open(schema: Self.schema)
            try await sink.write(Self.batch(events))
            let commit = try await sink.finalize(SinkFixture.context(id))
            await sink.close()
            return commit
        } catch {
            await sink.abort()
            throw error
        }
    }

    /// The live rows as readers see them (`FINAL`, tombstones filtered).
    func live(_ f: SinkFixture) async throws -> [[String?]] {
        try await f.admin.queryNullableRows(
            "SELECT toString(id), name, big, toString(__dpone__lsn) FROM \(f.target.sql) FINAL WHERE __dpone__is_deleted = 0 ORDER BY id")
    }

    @Test(arguments: ClickHouseTestServer.all)
    func appliesTheLastEventPerKeyAndFillsUnchangedColumns(_ server: ClickHouseTestServer) async throws {
        try await SinkFixture.with(server) { f in
            try await publish(f, 1, [
                (.insert, 1, "a", "A", 10, nil), (.insert, 2, "b", "B", 10, nil), (.insert, 3, "c", "C", 10, nil),
                (.insert, 4, "d", "D", 10, nil),
            ])
            let kept = #"["big"]"#
            let moved = #"["big","__dpone__moved"]"#
            // Several events per key; unchanged TOAST; a key change 4 -> 40 with big unchanged (from
            // the published row), a key change 1 -> 10 after an update in the checkpoint, then an
            // update of the moved row with big unchanged again.
            let commit = try await publish(f, 2, [
                (.update, 2, "b1", nil, 20, kept),
                (.update, 2, "b2", nil, 21, kept),
                (.delete, 3, nil, nil, 21, nil),
                (.insert, 5, "e", "E", 22, nil),
                (.update, 5, "e1", nil, 23, kept),
                (.delete, 4, nil, nil, 24, nil),
                (.update, 40, "d1", nil, 24, moved),
                (.update, 1, "a1", "A1", 25, nil),
                (.delete, 1, nil, nil, 26, nil),
                (.update, 10, "a2", nil, 26, moved),
                (.update, 10, "a3", nil, 27, kept),
            ])
            #expect(commit.inserted == 3 && commit.updated == 1 && commit.deleted == 3, "\(commit)")
            let want: [[String?]] = [
                ["2", "b2", "B", "21"], ["5", "e1", "E", "23"], ["10", "a3", "A1", "27"], ["40", "d1", "D", "24"],
            ]
            #expect(try await live(f) == want)
            #expect(try await f.scalar("SELECT engine FROM system.tables WHERE database = '\(f.database)' AND name = 'target'") == "ReplacingMergeTree")
            #expect(try await f.stagingTables() == "0")
        }
    }

    /// A crash between publish and state: the replay's checkpoints are cut differently and carry
    /// events already applied; the ledger's applied lsn skips them (the moved row keeps its big
    /// value, a row inserted and deleted in one checkpoint stays deleted).
    @Test(arguments: ClickHouseTestServer.all)
    func aReplayOfAppliedEventsIsAFirstApplication(_ server: ClickHouseTestServer) async throws {
        try await SinkFixture.with(server) { f in
            let moved = #"["big","__dpone__moved"]"#
            try await publish(f, 1, [(.insert, 1, "a", "V0", 50, nil), (.insert, 2, "b", "B", 50, nil)])
            try await publish(f, 2, [(.delete, 1, nil, nil, 100, nil), (.update, 101, "a", nil, 100, moved)])
            #expect(try await live(f) == [["2", "b", "B", "50"], ["101", "a", "V0", "100"]])
            try await publish(f, 2, [
                (.delete, 1, nil, nil, 100, nil), (.update, 101, "a", nil, 100, moved), (.update, 101, "a2", nil, 300, #"["big"]"#),
            ])
            #expect(try await live(f) == [["2", "b", "B", "50"], ["101", "a2", "V0", "300"]])
            try await publish(f, 3, [(.insert, 7, "g", "G", 400, nil), (.delete, 7, nil, nil, 500, nil)])
            try await publish(f, 3, [(.insert, 7, "g", "G", 400, nil)])
            try await publish(f, 4, [(.delete, 7, nil, nil, 500, nil), (.update, 2, "b2", nil, 600, #"["big"]"#)])
            #expect(try await live(f) == [["2", "b2", "B", "600"], ["101", "a2", "V0", "300"]])
            let applied = try await f.admin.queryRows(
                "SELECT toString(checkpoint), toString(max(applied_lsn)) FROM \(f.database).__dpone__loads GROUP BY checkpoint ORDER BY checkpoint")
            #expect(applied == [["1", "50"], ["2", "300"], ["3", "500"], ["4", "600"]])
        }
    }

    /// A key change whose old key was itself moved in the same checkpoint, with the column unchanged
    /// both times: refused, target untouched.
    @Test(arguments: ClickHouseTestServer.all)
    func aChainedKeyChangeWithUnchangedValuesIsRefused(_ server: ClickHouseTestServer) async throws {
        try await SinkFixture.with(server) { f in
            let moved = #"["big","__dpone__moved"]"#
            try await publish(f, 1, [(.insert, 1, "a", "V0", 50, nil)])
            let error = await #expect(throws: DponeError.self) {
                try await publish(f, 2, [
                    (.delete, 1, nil, nil, 60, nil), (.update, 2, "a", nil, 60, moved),
                    (.delete, 2, nil, nil, 70, nil), (.update, 3, "a", nil, 70, moved),
                ])
            }
            #expect(error?.message.contains("key changed earlier in the same checkpoint") == true, "\(String(describing: error))")
            #expect(try await live(f) == [["1", "a", "V0", "50"]])
        }
    }
}
