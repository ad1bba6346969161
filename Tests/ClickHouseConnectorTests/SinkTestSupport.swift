import DponeTestSupport
import Flow
import Foundation
import Testing

@testable import ClickHouseConnector

/// One test's database on one server, with helpers to drive a `ClickHouseSink` directly.
struct SinkFixture {
    let server: ClickHouseTestServer
    let database: String
    let admin: ClickHouseClient

    static let schema = Schema([
        Field("id", .int64, nullable: false), Field("name", .string), Field("amount", .decimal(precision: 12, scale: 2)),
    ])

    /// Runs `body` with a fresh database on `server`, dropped afterwards (also when `body` throws).
    static func with(_ server: ClickHouseTestServer, _ body: (SinkFixture) async throws -> Void) async throws {
        try server.require()
        let admin = try ClickHouseClient(url: server.url)
        let fixture = SinkFixture(server: server, database: ClickHouseTestServer.uniqueDatabaseName("sink"), admin: admin)
        try await admin.execute("CREATE DATABASE IF NOT EXISTS \(fixture.database)", idempotent: true)
        do {
            try await body(fixture)
        } catch {
            await fixture.dropAll()
            throw error
        }
        await fixture.dropAll()
    }

    /// Drops each table, then the database (tables first: gentler on 18.16).
    func dropAll() async {
        let tables = (try? await admin.queryRows("SELECT name FROM system.tables WHERE database = '\(database)'")) ?? []
        for row in tables { try? await admin.execute("DROP TABLE IF EXISTS \(database).`\(row[0])`") }
        try? await admin.execute("DROP DATABASE IF EXISTS \(database)", idempotent: true)
        await admin.close()
    }

    var target: ClickHouseTableName { ClickHouseTableName(database: database, name: "target") }

    func sink(_ mode: LoadStrategy, key: [String] = [], loadID: String = "l1", keepDropped: Bool = true) -> ClickHouseSink {
        var options = ClickHouseSinkOptions(url: server.url, target: target, mode: mode, uniqueKey: key, loadID: loadID)
        options.keepDropped = keepDropped
        return ClickHouseSink(name: "ch", options: options)
    }

    /// `(id, name, amount)` rows; amount in cents.
    static func batch(_ rows: [(Int64, String?, Int?)], schema: Schema = SinkFixture.schema) -> Batch {
        var builder = BatchBuilder(schema: schema)
        for (id, name, cents) in rows {
            var row: [Value] = [.int(id), name.map { .string($0) } ?? .null, cents.map { .decimal(Int128($0), scale: 2) } ?? .null]
            row = Array(row.prefix(schema.count))
            builder.append(row: row)
        }
        return builder.finish()
    }

    /// - Parameter complete: the staged rows are a complete copy of the source (a full read).
    static func context(_ id: UInt64, positions: StateValue = .object(["offset": .int(1)]), complete: Bool = false) -> CheckpointContext {
        CheckpointContext(id: CheckpointID(id), pipeline: "p", positions: positions, loadID: "l\(id)", runID: "r", isComplete: complete)
    }

    /// Opens a sink, writes `rows`, finalizes checkpoint `checkpoint` and closes it.
    @discardableResult
    func load(
        _ rows: [(Int64, String?, Int?)], mode: LoadStrategy, key: [String] = [], checkpoint: UInt64,
        schema: Schema = SinkFixture.schema, keepDropped: Bool = true
    ) async throws -> SinkCommit {
        let sink = sink(mode, key: key, keepDropped: keepDropped)
        do {
            try await sink.open(schema: schema)
            try await sink.write(Self.batch(rows, schema: schema))
            let commit = try await sink.finalize(Self.context(checkpoint))
            await sink.close()
            return commit
        } catch {
            await sink.abort()
            throw error
        }
    }

    /// `id, name, amount` (as Float64: 18.16 and current servers print decimals differently) ordered by id (`FINAL` for ReplacingMergeTree).
    func rows(final: Bool = false, columns: String = "id, name, toFloat64(amount)") async throws -> [[String?]] {
        try await admin.queryNullableRows("SELECT \(columns) FROM \(target.sql)\(final ? " FINAL" : "") ORDER BY id")
    }

    func scalar(_ sql: String) async throws -> String { try await admin.queryRows(sql).first?.first ?? "" }

    func stagingTables() async throws -> String {
        try await scalar("SELECT count() FROM system.tables WHERE database = '\(database)' AND startsWith(name, '__dpone__') AND name != '__dpone__loads'")
    }
}
