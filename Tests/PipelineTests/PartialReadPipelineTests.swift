import ClickHouseConnector
import DponeTestSupport
import Flow
import Foundation
import Manifest
import Pipeline
import PostgresConnector
import Testing

/// The data-loss defect end to end: a source that reads only what changed (xmin, a cursor column of
/// Postgres, ClickHouse or a file, Kafka offsets) into `snapshot_diff` (hard_delete) or `scd2`
/// (expire). The manifest validator refuses that pairing; here the document is changed after
/// validation, so the engine itself must hold: the source marks its second checkpoint partial and
/// the sink deletes or expires nothing. Before the fix the second run deleted 195 of 200 rows.
@Suite(.tags(.integrationPostgres, .integrationClickHouse, .integrationKafka), IntegrationGate.integration.trait, .serialized)
struct PartialReadPipelineTests {
    enum Source: String, CaseIterable, Sendable { case xmin, postgresCursor, fileCursor, clickHouseCursor, kafka }
    enum Target: String, CaseIterable, Sendable { case postgres, clickHouseLegacy, clickHouseModern }

    static let rows = 200
    static let changed = 5
    let space = PostgresTestServer.uniqueSchemaName("partial")
    let dir: String

    init() throws {
        dir = NSTemporaryDirectory() + "dpone-partial-" + UUID().uuidString
        try FileManager.default.createDirectory(atPath: dir, withIntermediateDirectories: true)
    }

    var pgSpace: String { PostgresSQL.quoteIdentifier(space) }
    var chSpace: String { ClickHouseSQL.quoteIdentifier(space) }
    static let schemaYAML = "[{name: id, type: int64, nullable: false}, {name: v, type: string}, {name: seq, type: int64}]"

    /// Rows `(id, v, seq)` as one source holds them: `seq` grows with every write.
    static func initial() -> [(Int, String, Int)] { (1...rows).map { ($0, "v\($0)", $0) } }
    static func changes() -> [(Int, String, Int)] { (1...changed).map { ($0, "changed", 1000 + $0) } }
    static func csv(_ rows: [(Int, String, Int)]) -> String { rows.map { "\($0.0),\($0.1),\($0.2)\n" }.joined() }
    static func messages(_ rows: [(Int, String, Int)]) -> [KafkaTestServer.Message] {
        rows.map { KafkaTestServer.Message(key: "{\"id\":\($0.0)}", value: "{\"id\":\($0.0),\"v\":\"\($0.1)\",\"seq\":\($0.2)}") }
    }

    /// Creates the source with `initial()` and returns its manifest mapping and a function that
    /// applies `changes()` to it.
    func makeSource(_ source: Source) async throws -> (yaml: String, change: @Sendable () async throws -> Void) {
        switch source {
        case .xmin, .postgresCursor:
            let pg = try await PostgresConnection.connect(url: PostgresTestServer.url)
            try await pg.execute(
                "CREATE SCHEMA \(pgSpace); CREATE TABLE \(pgSpace).src (id bigint PRIMARY KEY, v text, seq bigint); INSERT INTO \(pgSpace).src SELECT g, 'v' || g, g FROM generate_series(1, \(Self.rows)) g")
            // The first xmin window must end past the seed (a concurrent test's transaction can hold
            // it back, and the seed would then be read again by the second run).
            try await PostgresTestServer.awaitXminHorizon(after: pg)
            await pg.close()
            let options = source == .xmin ? "{incremental_strategy: xmin}" : "{incremental_column: seq}"
            let table = pgSpace
            return (
                "{type: postgres, connection: {url: \"\(PostgresTestServer.url)\"}, table: {schema: \(space), name: src}, options: \(options)}",
                {
                    let c = try await PostgresConnection.connect(url: PostgresTestServer.url)
                    try await c.execute("UPDATE \(table).src SET v = 'changed', seq = 1000 + id WHERE id <= \(Self.changed)")
                    try await PostgresTestServer.awaitXminHorizon(after: c)
                    await c.close()
                }
            )
        case .fileCursor:
            let path = "\(dir)/src.csv"
            try ("id,v,seq\n" + Self.csv(Self.initial())).write(toFile: path, atomically: true, encoding: .utf8)
            return (
                "{type: files, path: \(path), options: {incremental_column: seq, schema: \(Self.schemaYAML)}}",
                {
                    let handle = try FileHandle(forWritingTo: URL(fileURLWithPath: path))
                    try handle.seekToEnd()
                    try handle.write(contentsOf: Data(Self.csv(Self.changes()).utf8))
                    try handle.close()
                }
            )
        case .clickHouseCursor:
            let server = ClickHouseTestServer.legacy
            try server.require()
            let ch = try ClickHouseClient(url: server.url)
            try await ch.execute("CREATE DATABASE IF NOT EXISTS \(chSpace)", idempotent: true)
            try await ch.execute("CREATE TABLE \(chSpace).`src` (id Int64, v String, seq Int64) ENGINE = MergeTree ORDER BY seq")
            try await ch.execute("INSERT INTO \(chSpace).`src` SELECT number + 1, concat('v', toString(number + 1)), number + 1 FROM system.numbers LIMIT \(Self.rows)")
            await ch.close()
            let database = chSpace
            return (
                "{type: clickhouse, connection: {url: \"\(server.url)\"}, table: {schema: \(space), name: src}, options: {incremental_column: seq}}",
                {
                    // The source is a log: the new versions are appended.
                    let c = try ClickHouseClient(url: server.url)
                    try await c.execute("INSERT INTO \(database).`src` SELECT number + 1, 'changed', 1001 + number FROM system.numbers LIMIT \(Self.changed)")
                    await c.close()
                }
            )
        case .kafka:
            try KafkaTestServer.require()
            let topic = try KafkaTestServer.createTopic("partial", partitions: 2)
            try await KafkaTestServer.produce(topic, Self.messages(Self.initial()))
            return (
                "{type: kafka, connection: {url: \"\(try KafkaTestServer.url)\"}, topic: \(topic), options: {schema: \(Self.schemaYAML)}}",
                { try await KafkaTestServer.produce(topic, Self.messages(Self.changes())) }
            )
        }
    }

    func sinkYAML(_ target: Target, table: String, strategy: String) -> String {
        switch target {
        case .postgres:
            "{type: postgres, connection: {url: \"\(PostgresTestServer.url)\"}, table: {schema: \(space), name: \(table)}, strategy: \(strategy)}"
        case .clickHouseLegacy, .clickHouseModern:
            "{type: clickhouse, connection: {url: \"\(server(target)!.url)\"}, table: {schema: \(space), name: \(table)}, strategy: \(strategy)}"
        }
    }

    func server(_ target: Target) -> ClickHouseTestServer? {
        switch target {
        case .postgres: nil
        case .clickHouseLegacy: .legacy
        case .clickHouseModern: .modern
        }
    }

    /// `(rows, changed rows)` among the target's live rows (current versions for scd2).
    func liveRows(_ target: Target, table: String, history: Bool) async throws -> [String] {
        if let server = server(target) {
            let ch = try ClickHouseClient(url: server.url)
            defer { Task { await ch.close() } }
            let live = history ? " WHERE __dpone__is_current = 1" : ""
            return try await ch.queryRows("SELECT count(), countIf(v = 'changed') FROM \(chSpace).`\(table)`\(live)").first ?? []
        }
        let pg = try await PostgresConnection.connect(url: PostgresTestServer.url)
        defer { Task { await pg.close() } }
        let live = history ? " WHERE __dpone__is_current" : ""
        return try await pg.query("SELECT count(*)::text, count(*) FILTER (WHERE v = 'changed')::text FROM \(pgSpace).\(table)\(live)")
            .first?.compactMap { $0 } ?? []
    }

    func cleanup() async {
        if let pg = try? await PostgresConnection.connect(url: PostgresTestServer.url) {
            try? await pg.execute("DROP SCHEMA IF EXISTS \(pgSpace) CASCADE")
            await pg.close()
        }
        for server in ClickHouseTestServer.all {
            guard let ch = try? ClickHouseClient(url: server.url) else { continue }
            try? await ch.execute("DROP DATABASE IF EXISTS \(chSpace)")
            await ch.close()
        }
    }

    @Test(arguments: Source.allCases, Target.allCases)
    func aPartialSourceNeverDeletesUnchangedRows(_ source: Source, _ target: Target) async throws {
        try PostgresTestServer.require()
        try server(target)?.require()
        defer { Task { await cleanup() } }
        if let server = server(target) {
            let ch = try ClickHouseClient(url: server.url)
            try await ch.execute("CREATE DATABASE IF NOT EXISTS \(chSpace)", idempotent: true)
            await ch.close()
        } else if source != .xmin && source != .postgresCursor {
            let pg = try await PostgresConnection.connect(url: PostgresTestServer.url)
            try await pg.execute("CREATE SCHEMA \(pgSpace)")
            await pg.close()
        }
        let (sourceYAML, change) = try await makeSource(source)
        // Validated with delete_policy: ignore, then switched to the deleting default behind the
        // validator's back: what reaches the engine must still delete nothing on a partial read.
        let cases: [(table: String, strategy: String, history: Bool, force: @Sendable (inout StrategyConfig) -> Void)] = [
            ("diff", "{mode: snapshot_diff, unique_key: id, diff: {delete_policy: ignore}}", false, { $0.diffDeletePolicy = .hardDelete }),
            ("hist", "{mode: scd2, unique_key: id, scd2: {delete_policy: ignore}}", true, { $0.historyDeletePolicy = .expire }),
        ]
        var documents: [ManifestDocument] = []
        for c in cases {
            var doc = try ManifestLoader.parse(
                yaml: """
                    name: partial-\(c.table)
                    source: \(sourceYAML)
                    sink: \(sinkYAML(target, table: c.table, strategy: c.strategy))
                    state: {dir: \(dir)/state-\(c.table)}
                    """, path: "\(dir)/\(c.table).yml", environment: [:])
            c.force(&doc.sink.strategy)
            documents.append(doc)
            let first = await BatchPipeline.run(document: doc, options: BatchOptions())
            #expect(first.status == .succeeded, "\(source) -> \(target) \(c.table): \(first.error ?? "")")
            #expect(first.insertedRows == Self.rows)
        }
        try await change()
        for (c, doc) in zip(cases, documents) {
            let second = await BatchPipeline.run(document: doc, options: BatchOptions())
            #expect(second.status == .succeeded, "\(source) -> \(target) \(c.table): \(second.error ?? "")")
            #expect(second.extractedRows == Self.changed, "\(source) -> \(target) \(c.table): only the changed rows are read")
            #expect(second.updatedRows == Self.changed && second.deletedRows == 0, "\(source) -> \(target) \(c.table): \(second)")
            let live = try await liveRows(target, table: c.table, history: c.history)
            #expect(live == [String(Self.rows), String(Self.changed)], "\(source) -> \(target) \(c.table): every row kept")
        }
    }
}
