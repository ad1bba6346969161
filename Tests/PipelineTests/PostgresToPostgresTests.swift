import DponeTestSupport
import Flow
import Foundation
import Manifest
import Pipeline
import PostgresConnector
import Testing

/// PG -> PG through the real pipeline: every type, NULLs, unicode, numeric edges, timestamps around
/// DST and far dates arrive exactly; xmin picks up changes; unmappable types fail before any write.
@Suite(.tags(.integrationPostgres), IntegrationGate.integration.trait, .serialized)
struct PostgresToPostgresTests {
    let schema = PostgresTestServer.uniqueSchemaName("p2p")
    let dir: String

    init() throws {
        dir = NSTemporaryDirectory() + "dpone-p2p-" + UUID().uuidString
        try FileManager.default.createDirectory(atPath: dir, withIntermediateDirectories: true)
    }

    func connection() async throws -> PostgresConnection {
        try PostgresTestServer.require()
        return try await PostgresConnection.connect(url: PostgresTestServer.url)
    }

    var q: String { PostgresSQL.quoteIdentifier(schema) }

    func seed() async throws {
        let c = try await connection()
        try await c.execute(
            """
            CREATE SCHEMA \(q);
            CREATE TABLE \(q).src (
              id bigint PRIMARY KEY, small smallint, i integer, r real, d double precision, n numeric(20,6),
              t text, vc varchar(10), b boolean, dt date, tm time, ts timestamp, tstz timestamptz, u uuid,
              j json, jb jsonb, by bytea, arr integer[]
            );
            INSERT INTO \(q).src VALUES
              (1, 1, 1, 1.5, 2.25, 0, 'plain', 'v', true, '2026-01-01', '00:00:00', '2026-01-01 00:00:00',
               '2026-03-08 06:59:59+00', '00000000-0000-0000-0000-000000000001', '{"a":1}', '{"b": [1, 2]}', '\\x00ff', '{1,2,3}'),
              (2, -32768, -2147483648, -0.5, -1e300, -0.000001, 'ünïcödé ☃ 漢字 🎉', '', false, '0001-01-01',
               '23:59:59.999999', '9999-12-31 23:59:59.999999', '2026-03-08 07:00:00+00',
               'ffffffff-ffff-ffff-ffff-ffffffffffff', '[]', '{}', '\\x', '{}'),
              (3, 32767, 2147483647, 3.4e38, 1.7976931348623157e308, 99999999999999.999999, 'quote '' and "dq" and \\ backslash',
               'tab\tnl', NULL, '9999-12-31', '12:34:56.789', '1970-01-01 00:00:00', '2026-11-01 05:30:00+00',
               NULL, NULL, 'null', NULL, NULL),
              (4, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL);
            """)
        await c.close()
    }

    func manifest(strategy: String, options: String = "{}") throws -> ManifestDocument {
        try ManifestLoader.parse(
            yaml: """
                name: p2p
                source:
                  type: postgres
                  connection: {url: "\(PostgresTestServer.url)"}
                  table: {schema: \(schema), name: src}
                  options: \(options)
                sink:
                  type: postgres
                  connection: {url: "\(PostgresTestServer.url)"}
                  table: {schema: \(schema), name: dst}
                  strategy: \(strategy)
                state: {dir: \(dir)/state}
                """, path: "\(dir)/p.yml", environment: [:])
    }

    /// Rows of `table` as text; json compared as jsonb (json lands as jsonb in targets, by documented
    /// policy: same value, normalised whitespace).
    func snapshot(_ table: String, where condition: String = "true") async throws -> [[String?]] {
        let c = try await connection()
        defer { Task { await c.close() } }
        return try await c.query(
            "SELECT id::text, small::text, i::text, r::text, d::text, n::text, t, vc, b::text, dt::text, tm::text, ts::text, tstz::text, u::text, j::jsonb::text, jb::text, by::text, arr::text FROM \(q).\(PostgresSQL.quoteIdentifier(table)) WHERE \(condition) ORDER BY id"
        )
    }

    func cleanup() async {
        guard let c = try? await connection() else { return }
        try? await c.execute("DROP SCHEMA IF EXISTS \(q) CASCADE")
        await c.close()
    }

    @Test func everyTypeArrivesExactly() async throws {
        try await seed()
        defer { Task { await cleanup() } }
        let result = await BatchPipeline.run(document: try manifest(strategy: "{mode: full_refresh}"), options: BatchOptions())
        #expect(result.status == .succeeded, "\(result.error ?? "")")
        #expect(result.extractedRows == 4 && result.insertedRows == 4)
        let source = try await snapshot("src")
        let target = try await snapshot("dst")
        #expect(source.count == 4)
        for (s, t) in zip(source, target) {
            for (column, (a, b)) in zip(s, t).enumerated() where a != b {
                Issue.record("row \(s[0] ?? "?") column \(column): source \(a ?? "NULL") target \(b ?? "NULL")")
            }
        }
        let c = try await connection()
        let types = try await c.query(
            "SELECT column_name, data_type FROM information_schema.columns WHERE table_schema = $1 AND table_name = 'dst' ORDER BY ordinal_position",
            parameters: [schema])
        await c.close()
        #expect(types.contains(["tstz", "timestamp with time zone"]))
        #expect(types.contains(["n", "numeric"]))
        #expect(types.contains(["arr", "ARRAY"]), "an integer[] is a list<int32> and lands as integer[]")
    }

    @Test func xminIncrementalMergePicksUpChanges() async throws {
        try await seed()
        defer { Task { await cleanup() } }
        let doc = try manifest(strategy: "{mode: incremental_merge, unique_key: id}", options: "{incremental_strategy: xmin}")
        let first = await BatchPipeline.run(document: doc, options: BatchOptions())
        #expect(first.status == .succeeded, "\(first.error ?? "")")
        #expect(first.extractedRows == 4)
        let c = try await connection()
        try await c.execute("UPDATE \(q).src SET t = 'changed' WHERE id = 2; INSERT INTO \(q).src (id, t) VALUES (5, 'new')")
        try await PostgresTestServer.awaitXminHorizon(after: c)
        await c.close()
        let second = await BatchPipeline.run(document: doc, options: BatchOptions())
        #expect(second.status == .succeeded, "\(second.error ?? "")")
        #expect(second.extractedRows >= 2)
        #expect(try await snapshot("src") == snapshot("dst"))
    }

    @Test func anUnmappableTypeFailsBeforeAnyWrite() async throws {
        let c = try await connection()
        try await c.execute("CREATE SCHEMA \(q); CREATE TABLE \(q).src (id bigint, p point); INSERT INTO \(q).src VALUES (1, '(1,2)')")
        await c.close()
        defer { Task { await cleanup() } }
        let result = await BatchPipeline.run(document: try manifest(strategy: "{mode: full_refresh}"), options: BatchOptions())
        #expect(result.status == .failed)
        #expect(result.error?.contains("point") == true, "\(result.error ?? "")")
        let c2 = try await connection()
        let exists = try await c2.query("SELECT to_regclass($1) IS NULL", parameters: ["\(schema).dst"])
        await c2.close()
        #expect(exists == [["t"]], "the target was not even created")
        #expect(result.state == nil)
    }
}

extension PostgresToPostgresTests {
    @Test func aPostgresStateStoreFencesAConcurrentRunAndTargetAtomicCommitsWithTheData() async throws {
        try await seed()
        defer { Task { await cleanup() } }
        let yaml = """
            name: fenced
            source: {type: postgres, connection: {url: "\(PostgresTestServer.url)"}, table: {schema: \(schema), name: src}, options: {incremental_column: id}}
            sink: {type: postgres, connection: {url: "\(PostgresTestServer.url)"}, table: {schema: \(schema), name: dst}, strategy: {mode: incremental_append}}
            state: {type: postgres, connection: {url: "\(PostgresTestServer.url)"}, table: {schema: \(schema), name: state}, atomicity: target_atomic}
            """
        let doc = try ManifestLoader.parse(yaml: yaml, path: "f.yml", environment: [:])
        let held = try await PostgresPipelineLock.acquire(
            url: PostgresTestServer.url, stateTable: TableName(schema: schema, name: "state"), pipeline: "fenced")
        let refused = await BatchPipeline.run(document: doc, options: BatchOptions())
        #expect(refused.status == .failed)
        #expect(refused.error?.contains("already running") == true, "\(refused.error ?? "")")
        await held.release()

        let result = await BatchPipeline.run(document: doc, options: BatchOptions())
        #expect(result.status == .succeeded, "\(result.error ?? "")")
        #expect(result.insertedRows == 4)
        let c = try await connection()
        let state = try await c.query("SELECT checkpoint::text, document->'source'->'cursor'->>'value' FROM \(q).state")
        await c.close()
        #expect(state == [["1", "4"]])
        let again = await BatchPipeline.run(document: doc, options: BatchOptions())
        #expect(again.status == .succeeded && again.extractedRows == 0)
    }
}

/// Every strategy PG -> PG over the wide table: load, then insert/update/delete in the source, load
/// again, and compare the target's (current) rows with what the strategy promises.
let wideTableStrategyCases: [(name: String, yaml: String, expectation: String)] = [
        ("full_refresh", "{mode: full_refresh}", "mirror"),
        ("exchange", "{mode: full_refresh, overwrite_type: exchange}", "mirror"),
        ("snapshot_diff", "{mode: snapshot_diff, unique_key: id}", "mirror"),
        ("merge", "{mode: incremental_merge, unique_key: id}", "upsert"),
        ("upsert", "{mode: incremental_merge, unique_key: id, merge_policy: upsert}", "upsert"),
        ("scd2", "{mode: scd2, unique_key: id}", "mirror-current"),
        ("append_only_new", "{mode: incremental_append, unique_key: id, only_new_rows: true}", "keep-first"),
        ("replace", "{mode: replace, custom_predicate: \"id > 0\"}", "mirror"),
        ("partition_replace", "{mode: partition_replace, partition: {column: b}}", "partitions"),
    ]

extension PostgresToPostgresTests {
    @Test(arguments: [
        "full_refresh", "exchange", "snapshot_diff", "merge", "upsert", "scd2", "append_only_new", "replace",
        "partition_replace",
    ])
    func strategyOverTheWideTable(name: String) async throws {
        let strategy = wideTableStrategyCases.first { $0.name == name }!
        try await seed()
        defer { Task { await cleanup() } }
        let doc = try manifest(strategy: strategy.yaml)
        let first = await BatchPipeline.run(document: doc, options: BatchOptions())
        #expect(first.status == .succeeded, "\(first.error ?? "")")
        let initial = try await snapshot("src")

        let c = try await connection()
        try await c.execute(
            """
            UPDATE \(q).src SET t = 'updated ✓', n = -12345678901234.000001, tstz = '2026-11-01 06:00:00+00' WHERE id = 2;
            DELETE FROM \(q).src WHERE id = 3;
            INSERT INTO \(q).src (id, t, b, dt) VALUES (9, 'inserted', true, '2000-02-29');
            """)
        await c.close()
        let second = await BatchPipeline.run(document: doc, options: BatchOptions())
        #expect(second.status == .succeeded, "\(second.error ?? "")")
        let source = try await snapshot("src")
        let current = strategy.expectation == "mirror-current"
            ? try await snapshot("dst", where: "__dpone__is_current") : try await snapshot("dst")
        let row3 = initial.first { $0[0] == "3" }!
        let row2Before = initial.first { $0[0] == "2" }!
        switch strategy.expectation {
        case "mirror", "mirror-current":
            #expect(current == source)
        case "upsert":
            // Deletes are not propagated by a merge: row 3 stays as it was.
            #expect(current == (source + [row3]).sorted { Int($0[0]!)! < Int($1[0]!)! })
        case "keep-first":
            // Existing keys are never rewritten: row 2 keeps its first version, 3 stays, 9 arrives.
            let expected = source.filter { $0[0] != "2" } + [row2Before, row3]
            #expect(current == expected.sorted { Int($0[0]!)! < Int($1[0]!)! })
        case "partitions":
            // Partitions (values of b) present in the source are replaced; row 3 had b = NULL, and
            // NULL is still present (row 4), so it is replaced too: the target mirrors the source.
            #expect(current == source)
        default:
            Issue.record("unknown expectation")
        }
        #expect(second.extractedRows == 4)
    }
}

extension PostgresToPostgresTests {
    /// A reset keeps checkpoint numbering, so the next load is published (not mistaken for a replay
    /// by the ledger); a state deleted behind dpone's back is recovered from the target's ledger:
    /// numbering continues after its newest checkpoint and its xmin positions are restored, so the
    /// next run reads only what changed (it used to publish nothing, or fail).
    @Test func stateResetReloadsAndALostStateResumesFromTheLedger() async throws {
        try await seed()
        defer { Task { await cleanup() } }
        let doc = try manifest(strategy: "{mode: incremental_merge, unique_key: id}", options: "{incremental_strategy: xmin}")
        #expect(await BatchPipeline.run(document: doc, options: BatchOptions()).status == .succeeded)
        #expect(await BatchPipeline.run(document: doc, options: BatchOptions()).status == .succeeded)
        let kept = try await StateStores.reset(document: doc, override: nil)
        #expect(kept?.checkpoint == CheckpointID(2) && kept?.source == nil)

        let c = try await connection()
        try await c.execute("UPDATE \(q).src SET t = 'after reset' WHERE id = 1")
        // Checkpoint 3's xmin window must end past every write so far (a concurrent test's
        // transaction can hold it back): the run after the lost state then reads only row 2.
        try await PostgresTestServer.awaitXminHorizon(after: c)
        await c.close()
        let reloaded = await BatchPipeline.run(document: doc, options: BatchOptions())
        #expect(reloaded.status == .succeeded, "\(reloaded.error ?? "")")
        #expect(reloaded.state?.checkpoint == CheckpointID(3) && reloaded.extractedRows == 4)
        #expect(try await snapshot("src") == snapshot("dst"))

        try FileManager.default.removeItem(atPath: "\(dir)/state/p2p.json")
        let c2 = try await connection()
        try await c2.execute("UPDATE \(q).src SET t = 'after the state was lost' WHERE id = 2")
        try await PostgresTestServer.awaitXminHorizon(after: c2)
        await c2.close()
        let lost = await BatchPipeline.run(document: doc, options: BatchOptions())
        #expect(lost.status == .succeeded, "\(lost.error ?? "")")
        #expect(lost.recovery == StateRecovery(checkpoint: 3, sink: "postgres:\(schema).dst", positionsRestored: true))
        #expect(lost.state?.checkpoint == CheckpointID(4))
        #expect(lost.extractedRows == 1 && lost.updatedRows == 1, "only the row changed since checkpoint 3 is read: \(lost)")
        #expect(lost.textSummary().contains("recovery: state missing; postgres:\(schema).dst records checkpoint 3"), "\(lost.textSummary())")
        #expect(lost.jsonString().contains("\"positions_restored\" : true"), "\(lost.jsonString())")
        #expect(try await snapshot("src") == snapshot("dst"))
        let next = await BatchPipeline.run(document: doc, options: BatchOptions())
        #expect(next.status == .succeeded && next.recovery == nil && next.state?.checkpoint == CheckpointID(5))
    }
}

extension PostgresToPostgresTests {
    /// A plain `numeric` (and one wider than 38 digits) is copied exactly by default: any
    /// precision, the scale each value was written with, NaN and ±Infinity. `unbounded_numeric:
    /// fail` still refuses it, naming the column, before the target exists.
    @Test func unboundedNumericArrivesExactlyByDefault() async throws {
        let c = try await connection()
        try await c.execute(
            """
            CREATE SCHEMA \(q);
            CREATE TABLE \(q).src (id bigint PRIMARY KEY, n numeric, w numeric(60,10));
            INSERT INTO \(q).src VALUES
              (1, 123456789012345678901234567890123456789012345678901234567890.123456789012345678901234567890,
                  12345678901234567890123456789012345678901234567890.0123456789),
              (2, 'NaN', -0.0000000001), (3, 'Infinity', 0), (4, '-Infinity', NULL), (5, 1.50, 1.5),
              (6, -0.000000000000000000000000000001, -99999999999999999999999999999999999999999999999999.9999999999),
              (7, NULL, NULL), (8, 0.000, 1e49);
            """)
        await c.close()
        defer { Task { await cleanup() } }
        let result = await BatchPipeline.run(document: try manifest(strategy: "{mode: full_refresh}"), options: BatchOptions())
        #expect(result.status == .succeeded, "\(result.error ?? "")")
        #expect(result.insertedRows == 8)
        let c2 = try await connection()
        let rows = "SELECT id::text, n::text, w::text FROM \(q).%@ ORDER BY id"
        let source = try await c2.query(rows.replacingOccurrences(of: "%@", with: "src"))
        let target = try await c2.query(rows.replacingOccurrences(of: "%@", with: "dst"))
        #expect(source.count == 8)
        #expect(target == source)
        let types = try await c2.query(
            "SELECT column_name, data_type, coalesce(numeric_precision::text, '-') FROM information_schema.columns WHERE table_schema = $1 AND table_name = 'dst' ORDER BY ordinal_position",
            parameters: [schema])
        #expect(types == [["id", "bigint", "64"], ["n", "numeric", "-"], ["w", "numeric", "-"]])
        // Equal as numbers too, not only as text.
        let unequal = try await c2.query(
            "SELECT count(*)::text FROM \(q).src s JOIN \(q).dst d USING (id) WHERE s.n IS DISTINCT FROM d.n OR s.w IS DISTINCT FROM d.w")
        #expect(unequal == [["0"]])
        try await c2.execute("DROP TABLE \(q).dst")
        await c2.close()

        let refused = await BatchPipeline.run(
            document: try manifest(strategy: "{mode: full_refresh}", options: "{unbounded_numeric: fail}"), options: BatchOptions())
        #expect(refused.status == .failed)
        #expect(refused.error?.contains("\"n\"") == true, "\(refused.error ?? "")")
        let c3 = try await connection()
        #expect(try await c3.query("SELECT to_regclass($1) IS NULL", parameters: ["\(schema).dst"]) == [["t"]])
        await c3.close()
    }
}

extension PostgresToPostgresTests {
    /// Arrays of scalars are lists and land as arrays of the same element type: NULL elements,
    /// empty arrays, NULL arrays, quotes and unicode in text elements, exact decimals, instants.
    /// A two-dimensional value cannot be a list: the run fails naming the column, before the target
    /// is written.
    @Test func arraysOfScalarsArriveAsArrays() async throws {
        let c = try await connection()
        try await c.execute(
            """
            CREATE SCHEMA \(q);
            CREATE TABLE \(q).src (id bigint PRIMARY KEY, ints integer[], texts text[], amounts numeric(10,2)[],
              instants timestamptz[], days date[], flags boolean[], ids uuid[], blobs bytea[], floats float8[], big bigint[]);
            INSERT INTO \(q).src VALUES
              (1, '{1,NULL,3}', ARRAY['a "quoted", comma', NULL, 'ünï ☃', ''], '{1.50,-0.01,NULL}',
               ARRAY['2026-03-08 06:59:59.123456+00'::timestamptz, NULL], '{2026-01-01,0001-01-01}', '{true,false,NULL}',
               '{00000000-0000-0000-0000-000000000001}', ARRAY['\\x00ff'::bytea, NULL], '{1.5,NaN,-Infinity}',
               '{-9223372036854775808,9223372036854775807}'),
              (2, '{}', '{}', '{}', '{}', '{}', '{}', '{}', '{}', '{}', '{}'),
              (3, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL);
            """)
        await c.close()
        defer { Task { await cleanup() } }
        let result = await BatchPipeline.run(document: try manifest(strategy: "{mode: full_refresh}"), options: BatchOptions())
        #expect(result.status == .succeeded, "\(result.error ?? "")")
        #expect(result.insertedRows == 3)
        let c2 = try await connection()
        let columns = "id::text, ints::text, texts::text, amounts::text, instants::text, days::text, flags::text, ids::text, blobs::text, floats::text, big::text"
        let source = try await c2.query("SELECT \(columns) FROM \(q).src ORDER BY id")
        let target = try await c2.query("SELECT \(columns) FROM \(q).dst ORDER BY id")
        #expect(target == source)
        let types = try await c2.query(
            "SELECT column_name, udt_name FROM information_schema.columns WHERE table_schema = $1 AND table_name = 'dst' ORDER BY ordinal_position",
            parameters: [schema])
        #expect(types.map { $0[1] } == ["int8", "_int4", "_text", "_numeric", "_timestamptz", "_date", "_bool", "_uuid", "_bytea", "_float8", "_int8"])

        try await c2.execute("DROP TABLE \(q).dst; INSERT INTO \(q).src (id, ints) VALUES (4, '{{1,2},{3,4}}')")
        await c2.close()
        let refused = await BatchPipeline.run(document: try manifest(strategy: "{mode: full_refresh}"), options: BatchOptions())
        #expect(refused.status == .failed)
        #expect(refused.error?.contains("\"ints\"") == true && refused.error?.contains("nested array") == true, "\(refused.error ?? "")")
        let c3 = try await connection()
        #expect(try await c3.query("SELECT to_regclass($1) IS NULL OR NOT EXISTS (SELECT 1 FROM \(q).dst)", parameters: ["\(schema).dst"]) == [["t"]])
        await c3.close()
    }
}
