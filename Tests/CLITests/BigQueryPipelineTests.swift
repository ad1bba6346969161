import BigQueryConnector
import DponeTestSupport
import Flow
import Foundation
import PostgresConnector
import Testing

/// PostgreSQL → BigQuery through the `dpone` binary into the BigQuery emulator (`scripts/bigquery.sh`):
/// every strategy the sink publishes, exact row for row over every column after two loads of the
/// behaviour model (a wide row of every logical type, NULL-heavy, unicode, extreme decimals, µs
/// timestamps, far dates; then 20 % changed, 5 % deleted, 2 % new), and a kill at every fault point
/// followed by a re-run.
struct BigQueryPipeline {
    static let rows = 2_000
    let schema = PostgresTestServer.uniqueSchemaName("bq")
    let dataset = BigQueryTestServer.uniqueDataset("pg")
    let dir = NSTemporaryDirectory() + "dpone-bq-" + UUID().uuidString
    let pg: PostgresConnection
    let bq = BigQueryPipeline.client()

    /// A client of the emulator, or live of the project with the environment's credentials.
    static func client() -> BigQueryClient {
        let credentials =
            (try? BigQueryCredentials.resolve(
                credentialsFile: nil, emulator: BigQueryTestServer.host != nil, environment: ProcessInfo.processInfo.environment)) ?? .none
        return BigQueryClient(project: BigQueryTestServer.project, credentials: credentials, emulatorHost: BigQueryTestServer.host)
    }

    static func make() async throws -> BigQueryPipeline {
        try PostgresTestServer.require()
        try BigQueryTestServer.require()
        let p = BigQueryPipeline(pg: try await PostgresConnection.connect(url: PostgresTestServer.url))
        try FileManager.default.createDirectory(atPath: p.dir, withIntermediateDirectories: true)
        let s = PostgresSQL.quoteIdentifier(p.schema)
        try await p.pg.execute("CREATE SCHEMA \(s)")
        try await p.pg.execute(
            """
            CREATE TABLE \(s).src (id bigint PRIMARY KEY, version bigint NOT NULL, bucket int, s text, amt numeric(38,9), f float8,
              flag bool, d date, ts timestamptz, dt timestamp, t time, u uuid, b bytea, j jsonb)
            """)
        try await p.insert(1...rows, version: 1)
        return p
    }

    func close() async {
        try? await pg.execute("DROP SCHEMA IF EXISTS \(PostgresSQL.quoteIdentifier(schema)) CASCADE")
        await pg.close()
        try? FileManager.default.removeItem(atPath: dir)
    }

    /// Rows `ids` of the behaviour model.
    func insert(_ ids: ClosedRange<Int>, version: Int) async throws {
        try await pg.execute(
            """
            INSERT INTO \(PostgresSQL.quoteIdentifier(schema)).src
            SELECT g, \(version), g % 4,
              CASE WHEN g % 3 = 0 THEN NULL WHEN g % 7 = 0 THEN '' ELSE 'ünï "q" ' || g || E' 漢\\t' END,
              CASE WHEN g % 5 = 0 THEN NULL WHEN g % 11 = 0 THEN 99999999999999999999999999999.999999999 * (CASE WHEN g % 2 = 0 THEN 1 ELSE -1 END)
                   ELSE (g * 12345.123456789)::numeric(38,9) END,
              CASE WHEN g % 6 = 0 THEN NULL ELSE g / 7.0 END,
              CASE WHEN g % 4 = 0 THEN NULL ELSE g % 2 = 0 END,
              CASE WHEN g % 9 = 0 THEN NULL WHEN g % 10 = 1 THEN date '0001-01-01' + g WHEN g % 10 = 2 THEN date '9999-12-31' - g
                   ELSE date '2026-01-01' + g END,
              CASE WHEN g % 8 = 0 THEN NULL ELSE timestamptz '2026-01-01 00:00:00+00' + g * interval '1 second 1 microsecond' END,
              CASE WHEN g % 8 = 1 THEN NULL ELSE timestamp '1999-12-31 23:59:59.999999' + g * interval '1 hour 3 microseconds' END,
              CASE WHEN g % 8 = 2 THEN NULL ELSE time '00:00:00' + g * interval '37 seconds 1 microsecond' END,
              CASE WHEN g % 8 = 3 THEN NULL ELSE md5(g::text)::uuid END,
              CASE WHEN g % 8 = 4 THEN NULL ELSE decode(md5(g::text), 'hex') END,
              CASE WHEN g % 8 = 5 THEN NULL ELSE jsonb_build_object('g', g, 'name', 'n' || g, 'tags', jsonb_build_array(g % 3, 'ü')) END
            FROM generate_series(\(ids.lowerBound), \(ids.upperBound)) AS g
            """)
    }

    /// The second load: 20 % of the rows change, 5 % are deleted, 2 % are new.
    func change() async throws {
        let s = PostgresSQL.quoteIdentifier(schema)
        try await pg.execute("UPDATE \(s).src SET version = 2, s = 'changed ' || id, amt = amt / 2, flag = NOT coalesce(flag, false) WHERE id % 5 = 1")
        try await pg.execute("DELETE FROM \(s).src WHERE id % 20 = 2")
        try await insert((Self.rows + 1)...(Self.rows + Self.rows / 50), version: 2)
    }

    /// The business columns, canonical, in the order of `canonical(_:)`.
    static let columns = ["id", "version", "bucket", "s", "amt", "f", "flag", "d", "ts", "dt", "t", "u", "b", "j"]

    /// The source rows, canonical (see `normalize`).
    func sourceRows(where predicate: String = "TRUE") async throws -> [[String?]] {
        try await pg.query(
            """
            SELECT id::text, version::text, bucket::text, s, amt::text, f::text, flag::text, d::text,
              (extract(epoch FROM ts) * 1000000)::bigint::text, to_char(dt, 'YYYY-MM-DD HH24:MI:SS.US'), t::text, u::text,
              encode(b, 'base64'), j::text
            FROM \(PostgresSQL.quoteIdentifier(schema)).src WHERE \(predicate)
            """
        ).map(Self.normalize).sorted { $0.lexicographicallyPrecedes($1) { ($0 ?? "") < ($1 ?? "") } }
    }

    /// The target's business columns, canonical.
    func targetRows(where predicate: String = "TRUE") async throws -> [[String?]] {
        // The emulator stores a BYTES value loaded from JSON as the bytes of its base64 text (real
        // BigQuery decodes it): CAST AS STRING shows the base64 there, TO_BASE64 on BigQuery.
        let bytes = bq.isEmulator ? "CAST(`b` AS STRING)" : "TO_BASE64(`b`)"
        let rows = try await bq.query(
            """
            SELECT CAST(`id` AS STRING), CAST(`version` AS STRING), CAST(`bucket` AS STRING), `s`, CAST(`amt` AS STRING),
              CAST(`f` AS STRING), CAST(`flag` AS STRING), CAST(`d` AS STRING), CAST(UNIX_MICROS(`ts`) AS STRING), CAST(`dt` AS STRING),
              CAST(`t` AS STRING), `u`, \(bytes), TO_JSON_STRING(`j`)
            FROM `\(dataset)`.`items` WHERE \(predicate)
            """
        ).rows
        return rows.map(Self.normalize).sorted { $0.lexicographicallyPrecedes($1) { ($0 ?? "") < ($1 ?? "") } }
    }

    /// One spelling per value whatever the side printed: decimals without trailing zeros, floats
    /// as Swift prints the double, `T` or space in datetimes, fractions without trailing zeros,
    /// JSON with sorted keys.
    static func normalize(_ row: [String?]) -> [String?] {
        row.enumerated().map { i, value in
            guard let value else { return nil }
            switch columns[i] {
            case "amt": return trimFraction(value)
            case "f": return Double(value).map { "\($0)" } ?? value
            case "dt", "t": return trimFraction(value.replacingOccurrences(of: "T", with: " "))
            case "j":
                guard let object = try? JSONSerialization.jsonObject(with: Data(value.utf8)),
                    let data = try? JSONSerialization.data(withJSONObject: object, options: [.sortedKeys])
                else { return value }
                return String(decoding: data, as: UTF8.self)
            default: return value
            }
        }
    }

    static func trimFraction(_ text: String) -> String {
        guard text.contains(".") else { return text }
        var out = text
        while out.hasSuffix("0") { out.removeLast() }
        if out.hasSuffix(".") { out.removeLast() }
        return out == "-0" ? "0" : out
    }

    /// Writes the manifest: the source table (incremental on `version` when asked) into
    /// `<dataset>.items` with `strategy`.
    func manifest(
        _ strategy: String, incremental: Bool = false, sourcePredicate: String? = nil, state: String? = nil, sinkOptions: String? = nil
    ) throws -> String {
        var options: [String] = []
        if incremental { options.append("incremental_column: version") }
        if let sourcePredicate { options.append("custom_predicate: \"\(sourcePredicate)\"") }
        let path = "\(dir)/pipeline.yml"
        try """
            name: pg-to-bq
            source:
              type: postgres
              connection: {url: "\(PostgresTestServer.url)"}
              table: {schema: \(schema), name: src}
              options: {\(options.joined(separator: ", "))}
            sink:
              type: bigquery
              connection: {url: "bigquery://\(BigQueryTestServer.project)"}
              table: {schema: \(dataset), name: items}
              strategy: \(strategy)
              options: \(sinkOptions ?? "{}")
            state: \(state ?? "{dir: \(dir)/state}")
            """.write(toFile: path, atomically: true, encoding: .utf8)
        return path
    }

    func run(_ manifest: String, fault: String? = nil) async throws -> CLI.Output {
        var environment = BigQueryTestServer.processEnvironment
        if let fault { environment["DPONE_FAULT"] = fault }
        return try await CLI.run(["batch", manifest, "--progress", "none"], environment: environment)
    }

    /// The first load killed at `fault` then re-run, the change, the second load killed and re-run:
    /// the target must hold the merge of both loads (an incremental_merge manifest).
    func killAndRerunBothLoads(_ manifest: String, fault: String) async throws {
        let killed = try await run(manifest, fault: fault)
        #expect(killed.died(at: fault), "\(killed.stdout) \(killed.stderr)")
        _ = try await runOK(manifest)
        let first = try await sourceRows()
        #expect(try await targetRows() == first)
        try await change()
        let killedAgain = try await run(manifest, fault: fault)
        #expect(killedAgain.died(at: fault))
        _ = try await runOK(manifest)
        #expect(try await targetRows() == merged(first, try await sourceRows()), "nothing lost, nothing doubled after \(fault)")
    }

    func runOK(_ manifest: String) async throws -> CLI.Output {
        let output = try await run(manifest)
        #expect(output.status == 0, "\(output.stdout)\n\(output.stderr)")
        return output
    }
}

/// Merges `later` over `earlier` by id (the first column).
private func merged(_ earlier: [[String?]], _ later: [[String?]]) -> [[String?]] {
    var byID: [String: [String?]] = [:]
    for row in earlier + later { byID[row[0]!] = row }
    return byID.values.sorted { $0.lexicographicallyPrecedes($1) { ($0 ?? "") < ($1 ?? "") } }
}

private func sortedRows(_ rows: [[String?]]) -> [[String?]] {
    rows.sorted { $0.lexicographicallyPrecedes($1) { ($0 ?? "") < ($1 ?? "") } }
}

@Suite("PostgreSQL to BigQuery (emulator)", .tags(.integrationPostgres), IntegrationGate.integration.trait, .serialized)
struct BigQueryPipelineTests {
    /// A result of more rows than one response holds (the emulator pages at 10,000) comes back
    /// whole: the client follows pageToken (it returned the first page alone before).
    @Test func aQueryResultLargerThanOnePageComesBackWhole() async throws {
        try BigQueryTestServer.require()
        let rows = try await BigQueryPipeline.client().query("SELECT x FROM UNNEST(GENERATE_ARRAY(1, 25000)) AS x ORDER BY x").rows
        #expect(rows.count == 25_000)
        #expect(rows.first == ["1"] && rows.last == ["25000"], "\(String(describing: rows.first)) … \(String(describing: rows.last))")
        #expect(Set(rows.compactMap { $0.first ?? nil }).count == 25_000, "no page twice")
    }

    @Test func fullRefreshIsExactOverEveryColumnAfterBothLoads() async throws {
        let p = try await BigQueryPipeline.make()
        // 256 KiB chunks: each load is an upload of several chunks.
        let manifest = try p.manifest("{mode: full_refresh}", sinkOptions: "{chunk_bytes: 262144}")
        let first = try await p.runOK(manifest)
        #expect(first.stdout.contains("target window \(BigQueryPipeline.rows) rows: match"), "\(first.stdout)")
        #expect(try await p.targetRows() == p.sourceRows())
        try await p.change()
        _ = try await p.runOK(manifest)
        let expected = try await p.sourceRows()
        #expect(expected.count == BigQueryPipeline.rows - BigQueryPipeline.rows / 20 + BigQueryPipeline.rows / 50)
        #expect(try await p.targetRows() == expected)
        await p.close()
    }

    @Test(arguments: ["delete_insert", "upsert"])
    func incrementalMergeUpsertsChangedAndNewRows(policy: String) async throws {
        let p = try await BigQueryPipeline.make()
        let manifest = try p.manifest("{mode: incremental_merge, unique_key: [id], merge_policy: \(policy)}", incremental: true)
        _ = try await p.runOK(manifest)
        let first = try await p.sourceRows()
        try await p.change()
        let second = try await p.runOK(manifest)
        // delete_insert re-inserts every staged row; upsert inserts only the new keys.
        let changed = BigQueryPipeline.rows / 5
        let inserted = policy == "upsert" ? BigQueryPipeline.rows / 50 : changed + BigQueryPipeline.rows / 50
        #expect(second.stdout.contains("inserted \(inserted), updated \(changed),"), "\(second.stdout)")
        // An incremental source reports no deletes: deleted keys keep their last published row.
        #expect(try await p.targetRows() == merged(first, try await p.sourceRows()))
        await p.close()
    }

    @Test func incrementalAppendKeepsEveryPublishedRow() async throws {
        let p = try await BigQueryPipeline.make()
        let manifest = try p.manifest("{mode: incremental_append}", incremental: true)
        _ = try await p.runOK(manifest)
        let first = try await p.sourceRows()
        try await p.change()
        _ = try await p.runOK(manifest)
        _ = try await p.runOK(manifest)  // nothing new: nothing appended
        #expect(try await p.targetRows() == sortedRows(first + (try await p.sourceRows(where: "version = 2"))))
        await p.close()
    }

    @Test func snapshotDiffDeletesMissingKeysOnlyFromACompleteRead() async throws {
        let p = try await BigQueryPipeline.make()
        let manifest = try p.manifest("{mode: snapshot_diff, unique_key: [id], diff: {delete_policy: hard_delete}}")
        _ = try await p.runOK(manifest)
        try await p.change()
        let second = try await p.runOK(manifest)
        #expect(second.stdout.contains("deleted \(BigQueryPipeline.rows / 20)"), "\(second.stdout)")
        #expect(try await p.targetRows() == p.sourceRows())
        await p.close()
    }

    @Test func snapshotDiffFedByAnIncrementalSourceIsRefusedBeforeAnythingRuns() async throws {
        let p = try await BigQueryPipeline.make()
        let manifest = try p.manifest("{mode: snapshot_diff, unique_key: [id], diff: {delete_policy: hard_delete}}", incremental: true)
        let refused = try await p.run(manifest)
        #expect(refused.status == 2)
        #expect(refused.stderr.contains("sink.strategy.diff.delete_policy"), "\(refused.stderr)")
        #expect(try await p.bq.columns(of: BigQueryTable(project: BigQueryTestServer.project, dataset: p.dataset, name: "items")) == nil)
        await p.close()
    }

    @Test func scd2ClosesChangedAndDeletedKeysAndKeepsHistory() async throws {
        let p = try await BigQueryPipeline.make()
        let manifest = try p.manifest("{mode: scd2, unique_key: [id], scd2: {delete_policy: expire}}")
        _ = try await p.runOK(manifest)
        let first = try await p.sourceRows()
        try await p.change()
        _ = try await p.runOK(manifest)
        let current = try await p.sourceRows()
        #expect(try await p.targetRows(where: "`__dpone__is_current`") == current)
        let changed = BigQueryPipeline.rows / 5
        let deleted = BigQueryPipeline.rows / 20
        let closed = try await p.targetRows(where: "NOT `__dpone__is_current`")
        #expect(closed.count == changed + deleted)
        // Every closed row is a first-load row, unchanged, with its validity ended.
        let firstByID = Dictionary(uniqueKeysWithValues: first.map { ($0[0]!, $0) })
        #expect(closed.allSatisfy { firstByID[$0[0]!] == $0 })
        let open = try await p.bq.query(
            "SELECT COUNT(*) FROM `\(p.dataset)`.`items` WHERE NOT `__dpone__is_current` AND (`__dpone__valid_to_at` IS NULL OR `__dpone__valid_to_at` < `__dpone__valid_from_at`)")
        #expect(open.count == 0)
        await p.close()
    }

    @Test func replaceRewritesOnlyItsWindow() async throws {
        let p = try await BigQueryPipeline.make()
        let manifest = try p.manifest("{mode: replace, custom_predicate: \"bucket = 1\"}", sourcePredicate: "bucket = 1")
        _ = try await p.runOK(manifest)
        try await p.change()
        let second = try await p.runOK(manifest)
        #expect(second.stdout.contains("rows: match"), "\(second.stdout)")
        #expect(try await p.targetRows() == p.sourceRows(where: "bucket = 1"))
        await p.close()
    }

    @Test func partitionReplaceRewritesTheStagedPartitions() async throws {
        let p = try await BigQueryPipeline.make()
        let manifest = try p.manifest("{mode: partition_replace, partition: {column: bucket}}", sourcePredicate: "bucket IN (0, 1)")
        _ = try await p.runOK(manifest)
        try await p.change()
        // The second load only stages bucket 1: bucket 0 keeps its first-load rows.
        let bucket0 = try await p.targetRows(where: "`bucket` = 0")
        _ = try await p.runOK(try p.manifest("{mode: partition_replace, partition: {column: bucket}}", sourcePredicate: "bucket = 1"))
        #expect(try await p.targetRows() == sortedRows(bucket0 + (try await p.sourceRows(where: "bucket = 1"))))
        await p.close()
    }

    @Test func doctorReachesTheEndpointAndNamesAWrongOne() async throws {
        let p = try await BigQueryPipeline.make()
        let manifest = try p.manifest("{mode: full_refresh}")
        let good = try await CLI.run(["doctor", "--profile", "production", manifest], environment: BigQueryTestServer.processEnvironment)
        #expect(good.status == 0, "\(good.stdout) \(good.stderr)")
        #expect(good.stdout.contains("ok   pg-to-bq: bigquery sink"), "\(good.stdout)")
        #expect(good.stdout.contains("no ledger yet"), "\(good.stdout)")
        if !BigQueryTestServer.isLive {
            let bad = try await CLI.run(["doctor", "--profile", "production", manifest], environment: ["BIGQUERY_EMULATOR_HOST": "127.0.0.1:9"])
            #expect(bad.status == 1, "\(bad.stdout)")
            #expect(bad.stdout.contains("FAIL pg-to-bq: bigquery sink"), "\(bad.stdout)")
            #expect(bad.stdout.contains("BIGQUERY_EMULATOR_HOST"), "the fix names the setting: \(bad.stdout)")
        }
        await p.close()
    }

    @Test func aValueBigQueryRefusesFailsTheLoadJobBeforeTheTargetChanges() async throws {
        let p = try await BigQueryPipeline.make()
        let manifest = try p.manifest("{mode: full_refresh}")
        _ = try await p.runOK(manifest)
        let before = try await p.targetRows()
        // An unconstrained numeric loads as BIGNUMERIC: 10^60 does not fit it.
        let s = PostgresSQL.quoteIdentifier(p.schema)
        try await p.pg.execute("ALTER TABLE \(s).src ALTER COLUMN amt TYPE numeric")
        try await p.pg.execute("UPDATE \(s).src SET amt = 1e60 WHERE id = 3")
        let failed = try await p.run(manifest)
        #expect(failed.status == 1)
        #expect(failed.stdout.contains("BigQuery failed the load of"), "the job's errors are in the run error: \(failed.stdout)")
        #expect(failed.stdout.contains("decimal") || BigQueryTestServer.isLive, "the emulator says what it could not load: \(failed.stdout)")
        #expect(failed.stdout.contains("state: unchanged"), "\(failed.stdout)")
        #expect(try await p.targetRows() == before)
        await p.close()
    }

    @Test func aDuplicateKeyFailsBeforeTheTargetChanges() async throws {
        let p = try await BigQueryPipeline.make()
        let s = PostgresSQL.quoteIdentifier(p.schema)
        try await p.pg.execute("CREATE VIEW \(s).dup AS SELECT * FROM \(s).src UNION ALL SELECT * FROM \(s).src WHERE id = 7")
        let manifest = try p.manifest("{mode: incremental_merge, unique_key: [id], duplicate_policy: fail}")
        _ = try await p.runOK(manifest)
        let before = try await p.targetRows()
        try "\(try String(contentsOfFile: manifest, encoding: .utf8).replacingOccurrences(of: "name: src", with: "name: dup"))"
            .write(toFile: manifest, atomically: true, encoding: .utf8)
        let failed = try await p.run(manifest)
        #expect(failed.status != 0)
        #expect(failed.stdout.contains("duplicate unique keys (id)"), "\(failed.stdout)")
        #expect(try await p.targetRows() == before)
        await p.close()
    }
}

@Suite("BigQuery state store", .tags(.integrationReplay), IntegrationGate.replay.trait, .serialized)
struct BigQueryStateTests {
    func stateRow(_ p: BigQueryPipeline, _ dataset: String) async throws -> [String?]? {
        try await p.bq.query("SELECT CAST(`checkpoint` AS STRING), `document` FROM `\(dataset)`.`__dpone__state` WHERE `pipeline` = 'pg-to-bq'").rows.first
    }

    @Test(arguments: FaultPoint.allCases.map(\.rawValue))
    func targetAtomicStateIsWrittenInThePublishTransaction(fault: String) async throws {
        let p = try await BigQueryPipeline.make()
        let state = "{type: bigquery, connection: {url: \"bigquery://\(BigQueryTestServer.project)\"}, atomicity: target_atomic}"
        let manifest = try p.manifest("{mode: incremental_merge, unique_key: [id]}", incremental: true, state: state)
        try await p.killAndRerunBothLoads(manifest, fault: fault)
        // The state row sits beside the target, at the ledger's newest checkpoint, and no file
        // state was written.
        let row = try #require(try await stateRow(p, p.dataset))
        let newest = try await p.bq.query("SELECT CAST(MAX(`checkpoint`) AS STRING) FROM `\(p.dataset)`.`__dpone__loads`").rows.first?[0]
        #expect(row[0] == newest)
        #expect(row[1]?.contains("\"pipeline\":\"pg-to-bq\"") == true)
        #expect(!FileManager.default.fileExists(atPath: "\(p.dir)/state"))
        await p.close()
    }

    @Test func aBigQueryStoreKeepsTheStateOfAnotherSinksRunAndResets() async throws {
        let p = try await BigQueryPipeline.make()
        let stateDataset = BigQueryTestServer.uniqueDataset("state")
        let state = "{type: bigquery, connection: {url: \"bigquery://\(BigQueryTestServer.project)\"}, table: {schema: \(stateDataset), name: __dpone__state}}"
        let manifest = try p.manifest("{mode: incremental_append}", incremental: true, state: state)
        _ = try await p.runOK(manifest)
        _ = try await p.runOK(manifest)
        #expect(try await p.targetRows() == p.sourceRows(), "the second run read past the stored cursor: nothing doubled")
        #expect(try await stateRow(p, stateDataset)?[0] == "2")
        let reset = try await CLI.run(["state", "reset", manifest], environment: BigQueryTestServer.processEnvironment)
        #expect(reset.status == 0, "\(reset.stdout) \(reset.stderr)")
        let row = try #require(try await stateRow(p, stateDataset))
        #expect(row[0] == "2" && row[1]?.contains("\"source\"") == false, "reset keeps the checkpoint number, forgets the positions")
        await p.close()
    }
}

@Suite("PostgreSQL to BigQuery killed at every fault point", .tags(.integrationReplay), IntegrationGate.replay.trait, .serialized)
struct BigQueryReplayTests {
    @Test(arguments: FaultPoint.allCases.map(\.rawValue))
    func killedAndRerunIsExact(fault: String) async throws {
        let p = try await BigQueryPipeline.make()
        let manifest = try p.manifest("{mode: incremental_merge, unique_key: [id]}", incremental: true)
        try await p.killAndRerunBothLoads(manifest, fault: fault)
        let ledger = try await p.bq.query("SELECT COUNT(*), COUNT(DISTINCT `checkpoint`) FROM `\(p.dataset)`.`__dpone__loads`")
        #expect(ledger.rows.first?[0] == ledger.rows.first?[1], "one ledger row per checkpoint")
        let leftovers = try await p.bq.query(
            "SELECT COUNT(*) FROM `\(p.dataset)`.INFORMATION_SCHEMA.TABLES WHERE STARTS_WITH(table_name, '__dpone__stg_')")
        #expect(leftovers.count == 0, "the re-run left no staging table")
        await p.close()
    }
}

/// The vendor live layer: the suites above run against real BigQuery when it is configured
/// (`BigQueryTestServer.isLive`); this suite says so, or is skipped with what to set.
@Suite("BigQuery live", .tags(.integrationLive), .enabled(if: BigQueryTestServer.isLive, "set DPONE_RUN_INTEGRATION_LIVE=1, DPONE_CONN_BIGQUERY_PROJECT and GOOGLE_APPLICATION_CREDENTIALS to run against BigQuery"))
struct BigQueryLiveTests {
    @Test func theProjectAnswersWithTheseCredentials() async throws {
        let client = BigQueryPipeline.client()
        #expect(!client.isEmulator)
        #expect(try await client.query("SELECT 1").count == 1)
    }
}

/// Kafka → BigQuery `incremental_merge`: keys repeat inside a checkpoint (the last wins), tombstones
/// delete, and a run killed at every fault point is re-run exactly.
@Suite("Kafka to BigQuery (emulator)", .tags(.integrationKafka), IntegrationGate.replay.trait, .serialized)
struct KafkaToBigQueryTests {
    static func messages(_ ids: ClosedRange<Int>, version: Int) -> [KafkaTestServer.Message] {
        ids.map { KafkaTestServer.Message(key: "{\"id\":\($0)}", value: "{\"id\":\($0),\"payload\":\"v\(version)-\($0)\"}") }
    }

    @Test(arguments: FaultPoint.allCases.map(\.rawValue))
    func keyedEventsConvergeExactlyAfterAKill(fault: String) async throws {
        try KafkaTestServer.require()
        try BigQueryTestServer.require()
        let topic = try KafkaTestServer.createTopic("bq", partitions: 3)
        let dataset = BigQueryTestServer.uniqueDataset("kafka")
        let dir = NSTemporaryDirectory() + "dpone-kbq-" + UUID().uuidString
        try FileManager.default.createDirectory(atPath: dir, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(atPath: dir) }
        let manifest = "\(dir)/kafka-bq.yml"
        try """
            name: kafka-bq
            source:
              type: kafka
              connection: {url: "\(try KafkaTestServer.url)"}
              topic: \(topic)
              options: {offset_storage: kafka, group_id: bq-\(topic), tombstones: delete, schema: [{name: id, type: int64, nullable: false}, {name: payload, type: string}]}
            sink:
              type: bigquery
              connection: {url: "bigquery://\(BigQueryTestServer.project)"}
              table: {schema: \(dataset), name: events}
              strategy: {mode: incremental_merge, unique_key: [id]}
            state: {dir: \(dir)/state}
            """.write(toFile: manifest, atomically: true, encoding: .utf8)
        let environment = BigQueryTestServer.processEnvironment
        func load() async throws {
            let killed = try await CLI.run(["batch", manifest, "--progress", "none"], environment: environment.merging(["DPONE_FAULT": fault]) { $1 })
            #expect(killed.died(at: fault), "killed at \(fault): \(killed.stdout) \(killed.stderr)")
            let rerun = try await CLI.run(["batch", manifest, "--progress", "none"], environment: environment)
            #expect(rerun.status == 0, "\(rerun.stdout) \(rerun.stderr)")
        }
        let bq = BigQueryPipeline.client()
        func target() async throws -> [String] {
            try await bq.query("SELECT CONCAT(CAST(`id` AS STRING), '=', `payload`) FROM `\(dataset)`.`events` ORDER BY `id`").rows.map { $0[0] ?? "" }
        }
        func expected(_ pairs: [(ClosedRange<Int>, Int)]) -> [String] {
            pairs.flatMap { range, version in range.map { ($0, "\($0)=v\(version)-\($0)") } }.sorted { $0.0 < $1.0 }.map(\.1)
        }

        // Keys 1...50 arrive twice in the first checkpoint: the later event wins.
        try await KafkaTestServer.produce(topic, Self.messages(1...300, version: 1) + Self.messages(1...50, version: 2))
        try await load()
        #expect(try await target() == expected([(1...50, 2), (51...300, 1)]))
        // Updates, new keys and tombstones (deletes) of keys 201...210.
        let tombstones = (201...210).map { KafkaTestServer.Message(key: "{\"id\":\($0)}", value: nil) }
        try await KafkaTestServer.produce(topic, Self.messages(1...100, version: 3) + Self.messages(301...400, version: 1) + tombstones)
        try await load()
        #expect(try await target() == expected([(1...100, 3), (101...200, 1), (211...300, 1), (301...400, 1)]), "nothing lost, nothing doubled after \(fault)")
    }

    @Test func appendKeepsEveryEventOnceAcrossRuns() async throws {
        try KafkaTestServer.require()
        try BigQueryTestServer.require()
        let topic = try KafkaTestServer.createTopic("bqappend", partitions: 2)
        let dataset = BigQueryTestServer.uniqueDataset("kafkaappend")
        let dir = NSTemporaryDirectory() + "dpone-kbqa-" + UUID().uuidString
        try FileManager.default.createDirectory(atPath: dir, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(atPath: dir) }
        let manifest = "\(dir)/kafka-bq.yml"
        try """
            name: kafka-bq-append
            source:
              type: kafka
              connection: {url: "\(try KafkaTestServer.url)"}
              topic: \(topic)
              options: {offset_storage: kafka, group_id: bqa-\(topic), schema: [{name: id, type: int64, nullable: false}, {name: payload, type: string}]}
            sink:
              type: bigquery
              connection: {url: "bigquery://\(BigQueryTestServer.project)"}
              table: {schema: \(dataset), name: events}
              strategy: {mode: incremental_append}
            state: {dir: \(dir)/state}
            """.write(toFile: manifest, atomically: true, encoding: .utf8)
        let bq = BigQueryPipeline.client()
        func run() async throws {
            let output = try await CLI.run(["batch", manifest, "--progress", "none"], environment: BigQueryTestServer.processEnvironment)
            #expect(output.status == 0, "\(output.stdout) \(output.stderr)")
        }
        try await KafkaTestServer.produce(topic, Self.messages(1...200, version: 1) + Self.messages(1...20, version: 2))
        try await run()
        try await KafkaTestServer.produce(topic, Self.messages(1...50, version: 3))
        try await run()
        try await run()  // nothing new: nothing appended
        let counts = try await bq.query(
            "SELECT COUNT(*), COUNT(DISTINCT CONCAT(CAST(`id` AS STRING), `payload`)), SUM(`id`) FROM `\(dataset)`.`events`").rows.first
        #expect(counts?[0] == "270", "every event once: \(String(describing: counts))")
        #expect(counts?[1] == "270")
        let sum: Int = 200 * 201 / 2 + 20 * 21 / 2 + 50 * 51 / 2
        #expect(counts?[2] == String(sum))
    }
}
