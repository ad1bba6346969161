import DponeTestSupport
import Flow
import Foundation
import Testing

@testable import ClickHouseConnector

/// `replace`, `snapshot_diff` and `scd2` against both servers, driven directly, mirroring the
/// PostgreSQL sink's tests: exact contents and counts, unchanged rows untouched, soft-delete revival,
/// history, the replace window check, and a checkpoint replayed after a crash converging.
@Suite("ClickHouse sink: replace, snapshot_diff, scd2", .tags(.integrationClickHouse), IntegrationGate.integration.trait)
struct SinkHistoryTests {
    typealias Row = (Int64, String?, Int?)

    static let hashedSchema = Schema(
        SinkFixture.schema.fields + [Field(TechnicalColumns.rowHash, .string, nullable: false)])

    /// A stand-in for the pipeline's row hash: 64 hex chars that change with name and amount.
    static func hash(_ name: String?, _ cents: Int?) -> String {
        let text = "\(name ?? "\u{0}")|\(cents.map(String.init) ?? "\u{0}")"
        return (0..<4).map { seed -> String in
            var h: UInt64 = 0xcbf2_9ce4_8422_2325 &+ UInt64(seed)
            for byte in text.utf8 { h = (h ^ UInt64(byte)) &* 0x100_0000_01b3 }
            let hex = String(h, radix: 16)
            return String(repeating: "0", count: 16 - hex.count) + hex
        }.joined()
    }

    static func batch(_ rows: [Row]) -> Batch {
        var builder = BatchBuilder(schema: hashedSchema)
        for (id, name, cents) in rows {
            builder.append(row: [
                .int(id), name.map { .string($0) } ?? .null, cents.map { .decimal(Int128($0), scale: 2) } ?? .null,
                .string(hash(name, cents)),
            ])
        }
        return builder.finish()
    }

    /// Opens, stages `rows` with their hash, finalizes `checkpoint` (a complete copy of the source
    /// unless `complete` is false), closes.
    @discardableResult
    static func load(
        _ f: SinkFixture, _ rows: [Row], mode: LoadStrategy, checkpoint: UInt64, complete: Bool = true
    ) async throws -> SinkCommit {
        let sink = f.sink(mode, key: ["id"])
        do {
            try await sink.open(schema: hashedSchema)
            try await sink.write(batch(rows))
            let commit = try await sink.finalize(SinkFixture.context(checkpoint, complete: complete))
            await sink.close()
            return commit
        } catch {
            await sink.abort()
            throw error
        }
    }

    /// A crashed attempt: stages `rows`, runs the publishing statements (all of them, or only the
    /// mutations) but never writes the ledger row, then dies (staging is left behind).
    static func crashedAttempt(
        _ f: SinkFixture, _ rows: [Row], mode: LoadStrategy, checkpoint: UInt64, mutationsOnly: Bool, loadID: String
    ) async throws {
        let sink = f.sink(mode, key: ["id"], loadID: loadID)
        try await sink.open(schema: hashedSchema)
        try await sink.write(batch(rows))
        try await sink.finishStaging()
        let plan = await sink.publishPlan()
        let client = try await sink.client
        if mutationsOnly {
            if case .replace(let predicate) = mode {
                try await sink.mutate(plan.replaceDelete(predicate), plan, what: "test", on: client)
            } else {
                for m in plan.diffMutations(ts: await sink.loadTimestampSQL(Date())) { try await sink.mutate(m, plan, what: "test", on: client) }
            }
        } else {
            _ = try await sink.publish(plan, checkpoint: checkpoint, on: client)
        }
        await sink.close()
    }

    @Test(arguments: ClickHouseTestServer.all, DiffDeletePolicy.allCases)
    func snapshotDiffConvergesAndLeavesUnchangedRowsAlone(_ server: ClickHouseTestServer, policy: DiffDeletePolicy) async throws {
        try await SinkFixture.with(server) { f in
            let mode = LoadStrategy.snapshotDiff(policy)
            let first = try await Self.load(f, [(1, "a", 100), (2, "b", 200), (3, "c", 300)], mode: mode, checkpoint: 1)
            #expect(first == SinkCommit(inserted: 3))
            let second = try await Self.load(f, [(1, "a", 100), (2, "B", 200), (4, "d", 400)], mode: mode, checkpoint: 2)
            #expect(second == SinkCommit(inserted: 1, updated: 1, deleted: policy == .ignore ? 0 : 1))
            let tagged = try await f.rows(columns: "id, name, __dpone__checkpoint")
            switch policy {
            case .hardDelete:
                #expect(tagged == [["1", "a", "1"], ["2", "B", "2"], ["4", "d", "2"]], "row 1 unchanged: not rewritten")
            case .ignore:
                #expect(tagged == [["1", "a", "1"], ["2", "B", "2"], ["3", "c", "1"], ["4", "d", "2"]])
            case .softDelete:
                #expect(tagged == [["1", "a", "1"], ["2", "B", "2"], ["3", "c", "1"], ["4", "d", "2"]])
                #expect(try await f.rows(columns: "id, isNotNull(__dpone__deleted_at)") == [["1", "0"], ["2", "0"], ["3", "1"], ["4", "0"]])
                let deletedAt = try await f.scalar("SELECT toString(__dpone__deleted_at) FROM \(f.target.sql) WHERE id = 3")
                #expect(deletedAt.count == 26, "YYYY-MM-DD HH:MM:SS.ffffff: \(deletedAt)")
                // A soft-deleted row is not deleted again; the key that comes back is live again.
                let back = try await Self.load(f, [(1, "a", 100), (2, "B", 200), (3, "c", 300), (4, "d", 400)], mode: mode, checkpoint: 3)
                #expect(back == SinkCommit(inserted: 0, updated: 1, deleted: 0))
                #expect(try await f.rows(columns: "id, isNotNull(__dpone__deleted_at), __dpone__checkpoint") == [
                    ["1", "0", "1"], ["2", "0", "2"], ["3", "0", "3"], ["4", "0", "2"],
                ])
            }
            let unchanged = try await Self.load(f, [(1, "a", 100)], mode: mode, checkpoint: 4)
            #expect(unchanged.inserted == 0 && unchanged.updated == 0)
            #expect(try await f.stagingTables() == "0")
        }
    }

    /// A partial checkpoint (an incremental read: only the rows that changed) applies its rows and
    /// deletes, soft-deletes or expires nothing, whatever the delete policy; a soft-deleted key it
    /// brings back is live again.
    @Test(arguments: ClickHouseTestServer.all)
    func aPartialCheckpointDetectsNoDeletes(_ server: ClickHouseTestServer) async throws {
        let rows: [Row] = (1...6).map { (Int64($0), "r\($0)", $0 * 100) }
        for mode in [LoadStrategy.snapshotDiff(.hardDelete), .snapshotDiff(.softDelete), .scd2(.expire)] {
            try await SinkFixture.with(server) { f in
                #expect(try await Self.load(f, rows, mode: mode, checkpoint: 1) == SinkCommit(inserted: 6))
                var complete = Array(rows.dropFirst())
                complete[0].1 = "r2 changed"
                // The complete checkpoint detects key 1 as deleted; the partial ones only apply.
                #expect(try await Self.load(f, complete, mode: mode, checkpoint: 2) == SinkCommit(updated: 1, deleted: 1))
                let partial = try await Self.load(
                    f, [(1, "r1", 100), (3, "r3 changed", 300), (7, "r7", 700)], mode: mode, checkpoint: 3, complete: false)
                // Key 1 comes back: a new row (hard_delete), a revived one (soft_delete), a new version (scd2).
                let revived = mode == .snapshotDiff(.softDelete)
                #expect(partial == SinkCommit(inserted: revived ? 1 : 2, updated: revived ? 2 : 1, deleted: 0), "\(mode)")
                let live: String
                switch mode {
                case .snapshotDiff(.softDelete): live = "SELECT id, name FROM \(f.target.sql) WHERE isNull(__dpone__deleted_at) ORDER BY id"
                case .scd2: live = "SELECT id, name FROM \(f.target.sql) WHERE __dpone__is_current = 1 ORDER BY id"
                default: live = "SELECT id, name FROM \(f.target.sql) ORDER BY id"
                }
                let expected: [[String?]] = [
                    ["1", "r1"], ["2", "r2 changed"], ["3", "r3 changed"], ["4", "r4"], ["5", "r5"], ["6", "r6"], ["7", "r7"],
                ]
                #expect(try await f.admin.queryNullableRows(live) == expected, "\(mode): no key the partial checkpoint lacked was removed")
            }
        }
    }

    @Test(arguments: ClickHouseTestServer.all)
    func scd2KeepsHistory(_ server: ClickHouseTestServer) async throws {
        try await SinkFixture.with(server) { f in
            let mode = LoadStrategy.scd2(.expire)
            let first = try await Self.load(f, [(1, "a", 100), (2, "b", 200)], mode: mode, checkpoint: 1)
            #expect(first == SinkCommit(inserted: 2))
            let second = try await Self.load(f, [(1, "a", 100), (2, "B", 200), (3, "c", 300)], mode: mode, checkpoint: 2)
            #expect(second == SinkCommit(inserted: 1, updated: 1))
            let third = try await Self.load(f, [(2, "B", 200), (3, "c", 300)], mode: mode, checkpoint: 3)
            #expect(third == SinkCommit(deleted: 1), "key 1 expired")
            let columns = "id, name, toUInt8(__dpone__is_current), isNull(__dpone__valid_to_at), __dpone__checkpoint"
            let history = try await f.admin.queryNullableRows("SELECT \(columns) FROM \(f.target.sql) ORDER BY id, __dpone__checkpoint")
            #expect(history == [
                ["1", "a", "0", "0", "1"], ["2", "b", "0", "0", "1"], ["2", "B", "1", "1", "2"], ["3", "c", "1", "1", "2"],
            ])
            let closed = try await f.scalar(
                "SELECT count() FROM \(f.target.sql) WHERE id = 2 AND __dpone__is_current = 0 AND __dpone__valid_to_at >= __dpone__valid_from_at")
            #expect(closed == "1")
            // The expired key comes back: a new current version.
            let back = try await Self.load(f, [(1, "a", 100), (2, "B", 200), (3, "c", 300)], mode: mode, checkpoint: 4)
            #expect(back == SinkCommit(inserted: 1))
            #expect(try await f.scalar("SELECT count() FROM \(f.target.sql) WHERE __dpone__is_current = 1") == "3")
            let types = try await f.admin.queryRows(
                "SELECT name, type FROM system.columns WHERE database = '\(f.database)' AND table = 'target' AND startsWith(name, '__dpone__')")
            let timestamp = server.name == "legacy" ? "String" : "DateTime64(6, 'UTC')"
            #expect(types.map(\.[1]).count == 5)
            #expect(types.first { $0[0] == "__dpone__valid_to_at" }?[1] == "Nullable(\(timestamp))", "\(types)")
            let sortingKey = try await f.scalar("SELECT sorting_key FROM system.tables WHERE database = '\(f.database)' AND name = 'target'")
            #expect(["id", "(id)"].contains(sortingKey), "technical columns stay out of the sorting key: \(sortingKey)")
        }
    }

    @Test(arguments: ClickHouseTestServer.all)
    func scd2IgnoreKeepsMissingKeysCurrent(_ server: ClickHouseTestServer) async throws {
        try await SinkFixture.with(server) { f in
            let mode = LoadStrategy.scd2(.ignore)
            _ = try await Self.load(f, [(1, "a", 100), (2, "b", 200)], mode: mode, checkpoint: 1)
            let second = try await Self.load(f, [(2, "B", 200)], mode: mode, checkpoint: 2)
            #expect(second == SinkCommit(inserted: 0, updated: 1))
            let current = try await f.admin.queryNullableRows(
                "SELECT id, name FROM \(f.target.sql) WHERE __dpone__is_current = 1 ORDER BY id")
            #expect(current == [["1", "a"], ["2", "B"]])
        }
    }

    @Test(arguments: ClickHouseTestServer.all)
    func replaceRewritesOnlyThePredicateWindow(_ server: ClickHouseTestServer) async throws {
        try await SinkFixture.with(server) { f in
            _ = try await f.load([(1, "a", 1), (2, "b", 2), (3, "c", 3)], mode: .fullRefresh(.exchange), checkpoint: 1)
            let mode = LoadStrategy.replace(predicate: "id >= 2")
            let second = try await f.load([(2, "B", 22)], mode: mode, checkpoint: 2)
            #expect(second == SinkCommit(inserted: 1, deleted: 2))
            #expect(try await f.rows(columns: "id, name, __dpone__checkpoint") == [["1", "a", "1"], ["2", "B", "2"]])
            do {
                try await f.load([(1, "x", 1)], mode: mode, checkpoint: 3)
                Issue.record("a staged row outside the window must fail")
            } catch {
                #expect("\(error)".contains("outside the replace window"), "\(error)")
            }
            #expect(try await f.rows(columns: "id, name") == [["1", "a"], ["2", "B"]], "target untouched")
            #expect(try await f.stagingTables() == "0")
        }
    }

    @Test(arguments: ClickHouseTestServer.all)
    func modesFailAtOpenWithoutWhatTheyNeed(_ server: ClickHouseTestServer) async throws {
        try await SinkFixture.with(server) { f in
            for mode in [LoadStrategy.snapshotDiff(.hardDelete), .scd2(.expire), .snapshotDiff(.softDelete)] {
                do {
                    try await f.sink(mode, key: ["id"]).open(schema: SinkFixture.schema)
                    Issue.record("\(mode) without the row hash must fail")
                } catch let error as DponeError {
                    #expect(error.kind == .schema && error.message.contains("__dpone__row_hash"), "\(error)")
                }
                do {
                    try await f.sink(mode).open(schema: Self.hashedSchema)
                    Issue.record("\(mode) without a unique key must fail")
                } catch let error as DponeError {
                    #expect(error.kind == .usage && error.message.contains("unique_key"), "\(error)")
                }
            }
            await #expect(throws: DponeError.self) { try await f.sink(.replace(predicate: " ")).open(schema: SinkFixture.schema) }
            // A Postgres merge policy is not a ClickHouse one.
            await #expect(throws: DponeError.self) {
                try await f.sink(.incrementalMerge(.upsert), key: ["id"]).open(schema: SinkFixture.schema)
            }
        }
    }

    /// A checkpoint whose publishing ran (fully, or only its mutations) but whose ledger row was never
    /// written is replayed: the target ends equal to an uninterrupted load's.
    @Test(arguments: ClickHouseTestServer.all, [false, true])
    func aReplayedCheckpointConverges(_ server: ClickHouseTestServer, mutationsOnly: Bool) async throws {
        let modes: [LoadStrategy] = [
            .snapshotDiff(.hardDelete), .snapshotDiff(.softDelete), .snapshotDiff(.ignore),
            .scd2(.expire), .scd2(.ignore), .replace(predicate: "id >= 2"),
        ]
        let firstRows: [Row] = [(1, "a", 100), (2, "b", 200), (3, "c", 300)]
        let secondRows: [Row] = [(2, "B", 200), (4, "d", 400)]
        let columns = "id, name, toFloat64(amount), __dpone__checkpoint"
        for mode in modes {
            var results: [[[String?]]] = []
            for crash in [false, true] {
                try await SinkFixture.with(server) { f in
                    let firstMode: LoadStrategy
                    if case .replace = mode { firstMode = .replace(predicate: "id >= 1") } else { firstMode = mode }
                    try await Self.load(f, firstRows, mode: firstMode, checkpoint: 1)
                    if crash {
                        try await Self.crashedAttempt(f, secondRows, mode: mode, checkpoint: 2, mutationsOnly: mutationsOnly, loadID: "crashed")
                    }
                    let commit = try await Self.load(f, secondRows, mode: mode, checkpoint: 2)
                    if !crash { #expect(commit.inserted + commit.updated > 0, "\(mode)") }
                    let extra: String
                    switch mode {
                    case .scd2: extra = ", toUInt8(__dpone__is_current), isNull(__dpone__valid_to_at)"
                    case .snapshotDiff(.softDelete): extra = ", isNull(__dpone__deleted_at)"
                    default: extra = ""
                    }
                    results.append(try await f.admin.queryNullableRows(
                        "SELECT \(columns)\(extra) FROM \(f.target.sql) ORDER BY id, __dpone__checkpoint"))
                    #expect(try await f.stagingTables() == "0")
                }
            }
            #expect(results.count == 2 && results[0] == results[1], "\(mode) replayed (mutations only: \(mutationsOnly)) on \(server.name)")
        }
    }
}
