import DponeTestSupport
import Flow
import PostgresConnector
import Testing

/// The cdc_apply finalizer against a real server: last event per key by lsn then staging order,
/// deletes, stale events ignored by `__dpone__lsn`, unchanged TOAST columns kept (same key and across
/// a key change), and a replayed checkpoint is harmless.
@Suite(.tags(.integrationPostgres), IntegrationGate.integration.trait)
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

    func publish(_ sink: PostgresSink, _ id: UInt64, _ events: [Event]) async throws -> SinkCommit {
        try await sink.write(Self.batch(events))
        return try await sink.finalize(
            CheckpointContext(id: CheckpointID(id), pipeline: "cdc", positions: .object(["lsn": .int(Int64(id))]), loadID: "l\(id)", runID: "r"))
    }

    func rows(_ conn: PostgresConnection, _ table: String) async throws -> [[String?]] {
        try await conn.query("SELECT r.id::text, r.name, r.big, r.__dpone__lsn::text FROM \(table) AS r ORDER BY r.id")
    }

    @Test func appliesTheLastEventPerKeyAndIgnoresStaleOnes() async throws {
        try await withTestSchema("cdcapply") { conn, schema in
            let target = TableName(schema: schema, name: "dst")
            let sink = PostgresSink(
                name: "t", options: PostgresSinkOptions(url: PostgresTestServer.url, target: target, mode: .cdcApply, uniqueKey: ["id"]))
            try await sink.open(schema: Self.schema)
            // Checkpoint 1: a snapshot at lsn 10.
            _ = try await publish(sink, 1, [
                (.insert, 1, "a", "A", 10, nil), (.insert, 2, "b", "B", 10, nil), (.insert, 3, "c", "C", 10, nil),
                (.insert, 4, "d", "D", 10, nil),
            ])
            let kept = #"["big"]"#
            let moved = #"["big", "__dpone__moved"]"#
            // Checkpoint 2: several events per key; unchanged TOAST; a key change 4 -> 40 with big
            // unchanged (from the target), a key change 1 -> 10 after an update in the checkpoint.
            let commit = try await publish(sink, 2, [
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
                (.insert, 6, "f", "F", 9, nil),  // older than nothing: inserted
            ])
            #expect(commit.deleted == 3)
            let t = target.sql
            let want: [[String?]] = [
                ["2", "b2", "B", "21"], ["5", "e1", "E", "23"], ["6", "f", "F", "9"], ["10", "a3", "A1", "27"],
                ["40", "d1", "D", "24"],
            ]
            let got = try await rows(conn, t)
            #expect(got == want, "\(got)")
            // A replay of checkpoint 2 (more events than first published) is harmless; a stale
            // update (lsn <= the row's) is ignored.
            _ = try await publish(sink, 2, [
                (.update, 2, "stale", "X", 21, nil), (.delete, 3, nil, nil, 21, nil), (.update, 6, "f2", nil, 30, kept),
            ])
            #expect(try await rows(conn, t) == [
                ["2", "b2", "B", "21"], ["5", "e1", "E", "23"], ["6", "f2", "F", "30"], ["10", "a3", "A1", "27"],
                ["40", "d1", "D", "24"],
            ])
            let ledger = try await conn.query(
                "SELECT checkpoint::text FROM \(PostgresSQL.quoteIdentifier(schema)).__dpone__loads ORDER BY checkpoint")
            #expect(ledger == [["1"], ["2"]])
            await sink.close()
        }
    }

    /// A replay after a kill between publish and state (PostgreSQL CDC: monotonic lsn) re-delivers
    /// events already applied, in checkpoints cut differently. Found by the CDC crash loop: a key
    /// change with unchanged TOAST filled from the old key's target row, which the first
    /// publication had deleted, so the value became NULL, and a later update in the same replay
    /// carried that NULL into the target. A row inserted and deleted in one checkpoint came back
    /// while a replay held only its insert. With the ledger's applied_lsn those events are skipped.
    @Test func aReplayOfAppliedEventsIsAFirstApplication() async throws {
        try await withTestSchema("cdcreplay") { conn, schema in
            let target = TableName(schema: schema, name: "dst")
            let sink = PostgresSink(
                name: "t",
                options: PostgresSinkOptions(
                    url: PostgresTestServer.url, target: target, mode: .cdcApply, uniqueKey: ["id"], monotonicLSN: true))
            try await sink.open(schema: Self.schema)
            let t = target.sql
            let moved = #"["big", "__dpone__moved"]"#
            _ = try await publish(sink, 1, [(.insert, 1, "a", "V0", 50, nil), (.insert, 2, "b", "B", 50, nil)])
            // Checkpoint 2: key 1 moves to 101 with big unchanged (filled from the target's row 1).
            _ = try await publish(sink, 2, [(.delete, 1, nil, nil, 100, nil), (.update, 101, "a", nil, 100, moved)])
            #expect(try await rows(conn, t) == [["2", "b", "B", "50"], ["101", "a", "V0", "100"]])
            // The state stayed at 1: the replay's checkpoint 2 holds the move again and a later update
            // of the moved row that leaves big unchanged.
            _ = try await publish(sink, 2, [
                (.delete, 1, nil, nil, 100, nil), (.update, 101, "a", nil, 100, moved),
                (.update, 101, "a2", nil, 300, #"["big"]"#),
            ])
            #expect(try await rows(conn, t) == [["2", "b", "B", "50"], ["101", "a2", "V0", "300"]])
            // Checkpoint 3 inserts and deletes key 7; its replay is cut after the insert.
            _ = try await publish(sink, 3, [(.insert, 7, "g", "G", 400, nil), (.delete, 7, nil, nil, 500, nil)])
            _ = try await publish(sink, 3, [(.insert, 7, "g", "G", 400, nil)])
            #expect(try await rows(conn, t) == [["2", "b", "B", "50"], ["101", "a2", "V0", "300"]])
            // The shorter replay did not lower the watermark: checkpoint 4 replays the delete and a
            // new change; only the new one applies.
            _ = try await publish(sink, 4, [(.delete, 7, nil, nil, 500, nil), (.update, 2, "b2", nil, 600, #"["big"]"#)])
            #expect(try await rows(conn, t) == [["2", "b2", "B", "600"], ["101", "a2", "V0", "300"]])
            let applied = try await conn.query(
                "SELECT checkpoint::text, applied_lsn::text FROM \(PostgresSQL.quoteIdentifier(schema)).__dpone__loads ORDER BY checkpoint")
            #expect(applied == [["1", "50"], ["2", "300"], ["3", "500"], ["4", "600"]])
            await sink.close()
        }
    }
}
