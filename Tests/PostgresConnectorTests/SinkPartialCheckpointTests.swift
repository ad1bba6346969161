import DponeTestSupport
import Flow
import PostgresConnector
import Testing

/// Delete detection runs only on a checkpoint that is a complete copy of the source: a partial one
/// (an incremental read: only what changed) applies its rows and deletes, soft-deletes or expires
/// nothing, whatever the delete policy. Without this, an xmin source into `snapshot_diff` deleted
/// every row that had not changed.
@Suite(.tags(.integrationPostgres), IntegrationGate.integration.trait)
struct SinkPartialCheckpointTests {
    static let schema = Schema([
        Field("id", .int64, nullable: false), Field("name", .string), Field(TechnicalColumns.rowHash, .string, nullable: false),
    ])

    static func batch(_ rows: [(Int64, String)]) -> Batch {
        var b = BatchBuilder(schema: schema)
        for (id, name) in rows { b.append(row: [.int(id), .string(name), .string("h:" + name)]) }
        return b.finish()
    }

    func publish(_ options: PostgresSinkOptions, _ id: UInt64, _ rows: [(Int64, String)], complete: Bool) async throws -> SinkCommit {
        let sink = PostgresSink(name: "t", options: options)
        try await sink.open(schema: Self.schema)
        do {
            try await sink.write(Self.batch(rows))
            let commit = try await sink.finalize(
                CheckpointContext(
                    id: CheckpointID(id), pipeline: "partial", positions: .object(["n": .int(Int64(id))]), loadID: "l\(id)",
                    runID: "r", isComplete: complete))
            await sink.close()
            return commit
        } catch {
            await sink.abort()
            throw error
        }
    }

    @Test(arguments: [LoadStrategy.snapshotDiff(.hardDelete), .snapshotDiff(.softDelete), .scd2(.expire)])
    func aPartialCheckpointDetectsNoDeletes(_ mode: LoadStrategy) async throws {
        try await withTestSchema("partial") { conn, schema in
            let target = TableName(schema: schema, name: "dst")
            let options = PostgresSinkOptions(url: PostgresTestServer.url, target: target, mode: mode, uniqueKey: ["id"])
            let rows: [(Int64, String)] = (1...6).map { (Int64($0), "r\($0)") }
            #expect(try await publish(options, 1, rows, complete: true) == SinkCommit(inserted: 6))
            var complete = Array(rows.dropFirst())
            complete[0].1 = "r2 changed"
            // A complete checkpoint still detects key 1 as deleted.
            #expect(try await publish(options, 2, complete, complete: true) == SinkCommit(updated: 1, deleted: 1))
            let partial = try await publish(options, 3, [(1, "r1"), (3, "r3 changed"), (7, "r7")], complete: false)
            // Key 1 comes back: a new row (hard_delete), a revived one (soft_delete), a new version (scd2).
            let revived = mode == .snapshotDiff(.softDelete)
            #expect(partial == SinkCommit(inserted: revived ? 1 : 2, updated: revived ? 2 : 1, deleted: 0), "\(mode)")
            let live =
                switch mode {
                case .snapshotDiff(.softDelete): "__dpone__deleted_at IS NULL"
                case .scd2: "__dpone__is_current"
                default: "true"
                }
            let found = try await conn.query("SELECT id::text, name FROM \(target.sql) WHERE \(live) ORDER BY id")
            #expect(
                found == [["1", "r1"], ["2", "r2 changed"], ["3", "r3 changed"], ["4", "r4"], ["5", "r5"], ["6", "r6"], ["7", "r7"]],
                "\(mode): no key the partial checkpoint lacked was removed")
        }
    }
}
