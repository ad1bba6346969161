import DponeTestSupport
import Flow
import Foundation
import Synchronization
import Testing

@testable import ClickHouseConnector

/// A `SourceOutput` that keeps every batch and checkpoint; safe from the client's thread. `onSend`
/// runs (on that thread) before each batch is recorded.
final class SourceRecordingOutput: SourceOutput {
    private struct Log {
        var batches: [Batch] = []
        var checkpoints: [StateValue] = []
    }

    private let log = Mutex(Log())
    private let onSend: @Sendable (Int) -> Void

    init(onSend: @escaping @Sendable (Int) -> Void = { _ in }) { self.onSend = onSend }

    func send(_ batch: Batch) async throws { try sendBlocking(batch) }
    func sendBlocking(_ batch: Batch) throws {
        let n = log.withLock { $0.batches.count }
        onSend(n)
        log.withLock { $0.batches.append(batch) }
    }

    func checkpoint(positions: StateValue) async throws -> CheckpointID { try checkpointBlocking(positions: positions) }
    func checkpointBlocking(positions: StateValue) throws -> CheckpointID {
        log.withLock { log in
            log.checkpoints.append(positions)
            return CheckpointID(UInt64(log.checkpoints.count))
        }
    }

    var batches: [Batch] { log.withLock { $0.batches } }
    var checkpoints: [StateValue] { log.withLock { $0.checkpoints } }
    var positions: StateValue? { checkpoints.last }
    var rows: [[Value]] { batches.flatMap { batch in (0..<batch.rowCount).map { batch.row($0) } } }
    var rowCount: Int { batches.reduce(0) { $0 + $1.rowCount } }

    func values(_ name: String) -> [Value] {
        batches.flatMap { batch in
            let column = batch.column(named: name)!
            return (0..<batch.rowCount).map { column.value(at: $0) }
        }
    }
}

/// A fresh database on `server` for one test, dropped afterwards (also when `body` throws). The
/// admin client allows LowCardinality on 18.16.
func withSourceDatabase(
    _ server: ClickHouseTestServer, _ body: (ClickHouseClient, String) async throws -> Void
) async throws {
    try server.require()
    let database = ClickHouseTestServer.uniqueDatabaseName("src")
    let settings = server.name == "legacy" ? ["allow_experimental_low_cardinality_type": "1"] : [:]
    let admin = try ClickHouseClient(ClickHouseConfiguration(url: server.url, settings: settings))
    try await admin.execute("CREATE DATABASE IF NOT EXISTS \(database)", idempotent: true)
    do {
        try await body(admin, database)
    } catch {
        try? await admin.execute("DROP DATABASE IF EXISTS \(database)", idempotent: true)
        await admin.close()
        throw error
    }
    try await admin.execute("DROP DATABASE IF EXISTS \(database)", idempotent: true)
    await admin.close()
}

/// Runs a fresh source once and returns what it emitted.
func readClickHouseSource(
    _ options: ClickHouseSourceOptions, resumeFrom: StateValue? = nil
) async throws -> SourceRecordingOutput {
    let source = try ClickHouseSource(options: options)
    let output = SourceRecordingOutput()
    _ = try await source.outputSchema()
    try await source.run(into: output, resumeFrom: resumeFrom)
    return output
}

extension Value {
    var sourceTestInt: Int64? { if case .int(let v) = self { v } else { nil } }
}

@Suite("ClickHouse source: reads", .tags(.integrationClickHouse), IntegrationGate.integration.trait)
struct SourceReadTests {
    static func createTypes(_ table: String, modern: Bool) -> String {
        """
        CREATE TABLE \(table) (
            id UInt32, i8 Int8, i16 Int16, i32 Int32, i64 Int64, u8 UInt8, u16 UInt16, u64 UInt64,
            f32 Float32, f64 Float64, dec Decimal(12, 3), s String, fs FixedString(4), u UUID, d Date,
            dt DateTime('UTC'), ns Nullable(String), ni Nullable(Int32), lc LowCardinality(String),
            e Enum8('red' = 1, 'green' = 2), arr Array(Int32)\(modern ? ", dt64 DateTime64(6, 'UTC')" : "")
        ) ENGINE = MergeTree() ORDER BY id
        """
    }

    static func insertTypes(_ table: String, modern: Bool) -> String {
        """
        INSERT INTO \(table) VALUES
        (1, -128, -32768, -2147483648, -9223372036854775808, 255, 65535, 18446744073709551615, 1.5, -2.25,
         123456789.123, 'héllo ✓ \\'q\\' \\\\ tab\\there\\nline', 'ab', '61f0c404-5cb3-11e7-907b-a6006ad3dba0',
         '2024-02-29', '2024-01-01 12:34:56', NULL, NULL, 'x', 'green', [1, 2, 3]\(modern ? ", '2024-01-01 12:34:56.123456'" : "")),
        (2, 127, 32767, 2147483647, 9223372036854775807, 0, 0, 0, 0, 1e300, -0.001, '', 'wxyz',
         '00000000-0000-0000-0000-000000000000', '1970-01-01', '1970-01-01 00:00:00', 'ns', 7, '', 'red',
         []\(modern ? ", '1969-12-31 23:59:59.999999'" : ""))
        """
    }

    @Test(arguments: ClickHouseTestServer.all)
    func fullReadOfManyTypesWithExactValues(_ server: ClickHouseTestServer) async throws {
        try await withSourceDatabase(server) { admin, db in
            let modern = server.name == "modern"
            let table = ClickHouseTableName(database: db, name: "all types").sql
            try await admin.execute(Self.createTypes(table, modern: modern))
            try await admin.execute(Self.insertTypes(table, modern: modern))
            let options = ClickHouseSourceOptions(url: server.url, database: db, table: "all types")
            let source = try ClickHouseSource(options: options)
            let schema = try await source.outputSchema()
            #expect(schema.names.prefix(4) == ["id", "i8", "i16", "i32"])
            #expect(schema.count == (modern ? 22 : 21))
            #expect(schema.fields.first { $0.name == "u64" }?.type == .decimal(precision: 20, scale: 0))
            #expect(schema.fields.first { $0.name == "ns" }?.nullable == true)
            #expect(schema.fields.first { $0.name == "arr" }?.type == .json)
            let out = SourceRecordingOutput()
            try await source.run(into: out, resumeFrom: nil)
            #expect(out.checkpoints == [.object(["table": .string("\(db).all types"), "rows": .int(2)])])
            let rows = out.rows.sorted { ($0[0].sourceTestInt ?? 0) < ($1[0].sourceTestInt ?? 0) }
            try #require(rows.count == 2)
            let uuid = codecBytes(hex: "61f0c4045cb311e7907ba6006ad3dba0")
            var first: [Value] = [
                .int(1), .int(-128), .int(-32768), .int(-2_147_483_648), .int(.min), .int(255), .int(65535),
                .decimal(Int128(UInt64.max), scale: 0), .float(1.5), .float(-2.25), .decimal(123_456_789_123, scale: 3),
                .string("héllo ✓ 'q' \\ tab\there\nline"), .string("ab"), .uuid(uuid), .date(codecDays(2024, 2, 29)),
                .timestamp(codecMicros(2024, 1, 1, 12, 34, 56), withTimeZone: true), .null, .null, .string("x"),
                .string("green"), .json("[1,2,3]"),
            ]
            var second: [Value] = [
                .int(2), .int(127), .int(32767), .int(2_147_483_647), .int(.max), .int(0), .int(0), .decimal(0, scale: 0),
                .float(0), .float(1e300), .decimal(-1, scale: 3), .string(""), .string("wxyz"),
                .uuid([UInt8](repeating: 0, count: 16)), .date(0), .timestamp(0, withTimeZone: true), .string("ns"),
                .int(7), .string(""), .string("red"), .json("[]"),
            ]
            if modern {
                first.append(.timestamp(codecMicros(2024, 1, 1, 12, 34, 56, 123_456), withTimeZone: true))
                second.append(.timestamp(-1, withTimeZone: true))
            }
            #expect(rows[0] == first)
            #expect(rows[1] == second)
        }
    }

    @Test(arguments: ClickHouseTestServer.all)
    func allowlistKeepsItsOrderAndPredicateFilters(_ server: ClickHouseTestServer) async throws {
        try await withSourceDatabase(server) { admin, db in
            try await admin.execute(
                "CREATE TABLE \(db).t (id UInt64, name String, odd UInt8, pad String) ENGINE = MergeTree() ORDER BY id")
            try await admin.execute(
                "INSERT INTO \(db).t SELECT number, concat('n', toString(number)), number % 2, 'x' FROM system.numbers LIMIT 100")
            let options = ClickHouseSourceOptions(
                url: server.url, database: db, table: "t", columns: ["name", "id"], customPredicate: "odd = 1 AND id < 10")
            let out = try await readClickHouseSource(options)
            #expect(out.batches.first?.schema.names == ["name", "id"])
            let rows = out.rows.sorted { $0[1] < $1[1] }
            #expect(rows == [1, 3, 5, 7, 9].map { [.string("n\($0)"), .decimal(Int128($0), scale: 0)] })
            #expect(out.positions == .object(["table": .string("\(db).t"), "rows": .int(5)]))
        }
    }

    @Test(arguments: ClickHouseTestServer.all)
    func unknownColumnsAndTablesAreSchemaErrors(_ server: ClickHouseTestServer) async throws {
        try await withSourceDatabase(server) { admin, db in
            try await admin.execute("CREATE TABLE \(db).t (id Int64, name String) ENGINE = MergeTree() ORDER BY id")
            let unknown = try ClickHouseSource(
                options: ClickHouseSourceOptions(url: server.url, database: db, table: "t", columns: ["id", "nope"]))
            let error = try await #require(throws: DponeError.self) { _ = try await unknown.outputSchema() }
            #expect(error.kind == .schema)
            #expect(error.message.contains("\"nope\""))
            #expect(error.hint?.contains("id, name") == true)

            let cursor = try ClickHouseSource(
                options: ClickHouseSourceOptions(url: server.url, database: db, table: "t", mode: .cursor(column: "ts")))
            let cursorError = try await #require(throws: DponeError.self) { _ = try await cursor.outputSchema() }
            #expect(cursorError.kind == .schema && cursorError.message.contains("incremental column \"ts\""))

            let missing = try ClickHouseSource(options: ClickHouseSourceOptions(url: server.url, database: db, table: "absent"))
            let missingError = try await #require(throws: DponeError.self) { _ = try await missing.outputSchema() }
            #expect(missingError.kind == .schema)
        }
    }

    @Test(arguments: ClickHouseTestServer.all)
    func unmappableTypeNamesColumnAndTypeUnlessExcluded(_ server: ClickHouseTestServer) async throws {
        try await withSourceDatabase(server) { admin, db in
            try await admin.execute("CREATE TABLE \(db).t (id Int64, pair Tuple(Int32, String)) ENGINE = MergeTree() ORDER BY id")
            try await admin.execute("INSERT INTO \(db).t VALUES (1, (2, 'x'))")
            let all = try ClickHouseSource(options: ClickHouseSourceOptions(url: server.url, database: db, table: "t"))
            let error = try await #require(throws: DponeError.self) { _ = try await all.outputSchema() }
            #expect(error.kind == .schema)
            #expect(error.message.contains("\"pair\"") && error.message.contains("Tuple(Int32, String)"))
            let out = try await readClickHouseSource(
                ClickHouseSourceOptions(url: server.url, database: db, table: "t", columns: ["id"]))
            #expect(out.rows == [[.int(1)]])
        }
    }

    @Test(arguments: ClickHouseTestServer.all)
    func finalReadsMergedRows(_ server: ClickHouseTestServer) async throws {
        try await withSourceDatabase(server) { admin, db in
            try await admin.execute(
                "CREATE TABLE \(db).r (id Int64, v Int64) ENGINE = ReplacingMergeTree(v) ORDER BY id")
            try await admin.execute("INSERT INTO \(db).r VALUES (1, 1), (2, 1)")
            try await admin.execute("INSERT INTO \(db).r VALUES (1, 2)")
            let plain = try await readClickHouseSource(ClickHouseSourceOptions(url: server.url, database: db, table: "r"))
            #expect(plain.rowCount == 3)
            let merged = try await readClickHouseSource(
                ClickHouseSourceOptions(url: server.url, database: db, table: "r", final: true))
            #expect(merged.rows.sorted { $0[0] < $1[0] } == [[.int(1), .int(2)], [.int(2), .int(1)]])
        }
    }

    @Test(arguments: ClickHouseTestServer.all)
    func streams200kRowsInBoundedBatches(_ server: ClickHouseTestServer) async throws {
        try await withSourceDatabase(server) { admin, db in
            try await admin.execute("CREATE TABLE \(db).big (id Int64, s String) ENGINE = MergeTree() ORDER BY id")
            try await admin.execute(
                "INSERT INTO \(db).big SELECT toInt64(number), toString(number) FROM system.numbers LIMIT 200000")
            let byRows = try await readClickHouseSource(
                ClickHouseSourceOptions(url: server.url, database: db, table: "big", batchRows: 7_000))
            #expect(byRows.rowCount == 200_000)
            #expect(byRows.batches.allSatisfy { $0.rowCount <= 7_000 })
            #expect(byRows.batches.count >= 29)
            let ids = byRows.values("id").compactMap(\.sourceTestInt)
            let total: Int64 = ids.reduce(0, +)
            #expect(total == Int64(19_999_900_000))
            #expect(Set(ids).count == 200_000)

            let byBytes = try await readClickHouseSource(
                ClickHouseSourceOptions(url: server.url, database: db, table: "big", batchBytes: 256 << 10))
            #expect(byBytes.rowCount == 200_000)
            #expect(byBytes.batches.allSatisfy { $0.byteCount <= (256 << 10) + 64 })
            #expect(byBytes.batches.dropLast().allSatisfy { $0.byteCount >= 128 << 10 })
            #expect(byBytes.checkpoints.count == 1)
        }
    }

    @Test(arguments: ClickHouseTestServer.all)
    func cancellationStopsTheReadWithoutCheckpoint(_ server: ClickHouseTestServer) async throws {
        try await withSourceDatabase(server) { admin, db in
            try await admin.execute("CREATE TABLE \(db).big (id Int64, s String) ENGINE = MergeTree() ORDER BY id")
            try await admin.execute(
                "INSERT INTO \(db).big SELECT toInt64(number), toString(number) FROM system.numbers LIMIT 200000")
            let started = Atomic<Bool>(false)
            let proceed = DispatchSemaphore(value: 0)
            let output = SourceRecordingOutput { n in
                if n == 0 {
                    started.store(true, ordering: .sequentiallyConsistent)
                    proceed.wait()
                }
            }
            let source = try ClickHouseSource(
                options: ClickHouseSourceOptions(url: server.url, database: db, table: "big", batchRows: 1_000))
            _ = try await source.outputSchema()
            let task = Task { try await source.run(into: output, resumeFrom: nil) }
            while !started.load(ordering: .sequentiallyConsistent) { try await Task.sleep(for: .milliseconds(5)) }
            task.cancel()
            proceed.signal()
            let error = try await #require(throws: DponeError.self) { try await task.value }
            #expect(error.kind == .cancelled)
            #expect(output.checkpoints.isEmpty)
            #expect(output.rowCount < 200_000)
        }
    }
}
