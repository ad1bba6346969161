import DponeTestSupport
import Flow
import Foundation
import Manifest
import Pipeline
import PostgresConnector
import Testing

/// Every Postgres strategy through the real pipeline and server: CSV source -> postgres sink.
/// Target contents are compared exactly; counts are exact; failures leave target and state untouched.
@Suite(.tags(.integrationPostgres), IntegrationGate.integration.trait, .serialized)
struct PostgresSinkStrategyTests {
    let dir: String
    let schema: String

    init() throws {
        dir = NSTemporaryDirectory() + "dpone-pgsink-" + UUID().uuidString
        try FileManager.default.createDirectory(atPath: dir, withIntermediateDirectories: true)
        schema = PostgresTestServer.uniqueSchemaName("sink")
    }

    func connection() async throws -> PostgresConnection {
        try PostgresTestServer.require()
        return try await PostgresConnection.connect(url: PostgresTestServer.url)
    }

    /// Loads `csv` (header `id,name,amount`) with `strategy` (YAML flow mapping) and returns the result.
    func load(_ csv: String, strategy: String, extraSink: String = "", name: String = "load", url: String? = nil)
        async throws -> RunResult
    {
        try ("id,name,amount\n" + csv).write(toFile: "\(dir)/in.csv", atomically: true, encoding: .utf8)
        let yaml = """
            name: \(name)
            source:
              type: files
              path: \(dir)/in.csv
              options:
                schema:
                  - {name: id, type: int64, nullable: false}
                  - {name: name, type: string}
                  - {name: amount, type: "decimal(12,2)"}
            sink:
              type: postgres
              connection: {url: "\(url ?? PostgresTestServer.url)"}
              table: {schema: \(schema), name: target}
              strategy: \(strategy)
              \(extraSink)
            state: {dir: \(dir)/state}
            """
        let doc = try ManifestLoader.parse(yaml: yaml, path: "\(dir)/p.yml", environment: [:])
        return await BatchPipeline.run(document: doc, options: BatchOptions())
    }

    func rows(_ columns: String = "id, name, amount") async throws -> [[String?]] {
        let c = try await connection()
        defer { Task { await c.close() } }
        return try await c.query("SELECT \(columns) FROM \"\(schema)\".target ORDER BY id, 1")
    }

    func cleanup() async throws {
        let c = try await connection()
        try await c.execute("DROP SCHEMA IF EXISTS \"\(schema)\" CASCADE")
        await c.close()
    }

    @Test func fullRefreshCreatesAFaithfulTargetAndReplacesIt() async throws {
        defer { Task { try? await cleanup() } }
        let first = try await load("1,ann,1.50\n2,bøb ☃,\n3,,-0.01\n", strategy: "{mode: full_refresh}")
        #expect(first.status == .succeeded, "\(first.error ?? "")")
        #expect(first.insertedRows == 3)
        #expect(try await rows() == [["1", "ann", "1.50"], ["2", "bøb ☃", nil], ["3", nil, "-0.01"]])
        let c = try await connection()
        let columns = try await c.query(
            "SELECT column_name, data_type, is_nullable, numeric_precision::text, numeric_scale::text FROM information_schema.columns WHERE table_schema = $1 AND table_name = 'target' ORDER BY ordinal_position",
            parameters: [schema])
        await c.close()
        #expect(columns[0] == ["id", "bigint", "NO", "64", "0"])
        #expect(columns[2] == ["amount", "numeric", "YES", "12", "2"])

        let second = try await load("7,zed,99999999.99\n", strategy: "{mode: full_refresh, overwrite_type: exchange}")
        #expect(second.status == .succeeded, "\(second.error ?? "")")
        #expect(second.insertedRows == 1 && second.deletedRows == 3)
        #expect(try await rows() == [["7", "zed", "99999999.99"]])
    }

    @Test func appendAndOnlyNewRows() async throws {
        defer { Task { try? await cleanup() } }
        _ = try await load("1,a,1\n2,b,2\n", strategy: "{mode: incremental_append}")
        let again = try await load("2,b2,2\n3,c,3\n", strategy: "{mode: incremental_append, only_new_rows: true, unique_key: id}")
        #expect(again.status == .succeeded, "\(again.error ?? "")")
        #expect(again.insertedRows == 1)
        #expect(try await rows("id, name") == [["1", "a"], ["2", "b"], ["3", "c"]])
    }

    @Test(arguments: ["delete_insert", "upsert"])
    func mergeUpdatesAndInsertsByKey(policy: String) async throws {
        defer { Task { try? await cleanup() } }
        let first = try await load("1,a,1.00\n2,b,2.00\n", strategy: "{mode: incremental_merge, unique_key: id, merge_policy: \(policy)}")
        #expect(first.status == .succeeded, "\(first.error ?? "")")
        let second = try await load("2,B,20.00\n3,c,3.00\n", strategy: "{mode: incremental_merge, unique_key: id, merge_policy: \(policy)}")
        #expect(second.status == .succeeded, "\(second.error ?? "")")
        #expect(second.insertedRows == 1 && second.updatedRows == 1)
        #expect(try await rows() == [["1", "a", "1.00"], ["2", "B", "20.00"], ["3", "c", "3.00"]])
    }

    @Test func replaceRewritesOnlyThePredicateWindow() async throws {
        defer { Task { try? await cleanup() } }
        _ = try await load("1,a,1\n2,b,2\n3,c,3\n", strategy: "{mode: full_refresh}")
        let result = try await load("2,B,22\n", strategy: "{mode: replace, custom_predicate: \"id >= 2\"}")
        #expect(result.status == .succeeded, "\(result.error ?? "")")
        #expect(result.deletedRows == 2 && result.insertedRows == 1)
        #expect(try await rows("id, name") == [["1", "a"], ["2", "B"]])
        let outside = try await load("1,x,1\n", strategy: "{mode: replace, custom_predicate: \"id >= 2\"}")
        #expect(outside.status == .failed)
        #expect(outside.error?.contains("outside the replace window") == true, "\(outside.error ?? "")")
        #expect(try await rows("id, name") == [["1", "a"], ["2", "B"]], "target untouched")
    }

    @Test(arguments: ["hard_delete", "soft_delete", "ignore"])
    func snapshotDiffConvergesAndLeavesUnchangedRowsAlone(policy: String) async throws {
        defer { Task { try? await cleanup() } }
        let strategy = "{mode: snapshot_diff, unique_key: id, diff: {delete_policy: \(policy)}}"
        let first = try await load("1,a,1.00\n2,b,2.00\n3,c,3.00\n", strategy: strategy)
        #expect(first.status == .succeeded, "\(first.error ?? "")")
        let c = try await connection()
        let before = try await c.query("SELECT id, xmin::text FROM \"\(schema)\".target WHERE id = 1")
        let second = try await load("1,a,1.00\n2,B,2.00\n4,d,4.00\n", strategy: strategy)
        #expect(second.status == .succeeded, "\(second.error ?? "")")
        #expect(second.insertedRows == 1 && second.updatedRows == 1)
        #expect(second.deletedRows == (policy == "ignore" ? 0 : 1))
        let after = try await c.query("SELECT id, xmin::text FROM \"\(schema)\".target WHERE id = 1")
        #expect(before == after, "an unchanged row is not rewritten")
        switch policy {
        case "hard_delete":
            #expect(try await rows("id, name") == [["1", "a"], ["2", "B"], ["4", "d"]])
        case "soft_delete":
            let deleted = try await c.query("SELECT id FROM \"\(schema)\".target WHERE __dpone__deleted_at IS NOT NULL")
            #expect(deleted == [["3"]])
            // The key comes back: it is live again.
            let back = try await load("1,a,1.00\n2,B,2.00\n3,c,3.00\n4,d,4.00\n", strategy: strategy)
            #expect(back.status == .succeeded && back.updatedRows == 1)
            #expect(try await c.query("SELECT count(*) FROM \"\(schema)\".target WHERE __dpone__deleted_at IS NOT NULL") == [["0"]])
        default:
            #expect(try await rows("id, name") == [["1", "a"], ["2", "B"], ["3", "c"], ["4", "d"]])
        }
        await c.close()
    }

    @Test func scd2KeepsHistory() async throws {
        defer { Task { try? await cleanup() } }
        let strategy = "{mode: scd2, unique_key: id}"
        _ = try await load("1,a,1.00\n2,b,2.00\n", strategy: strategy)
        let second = try await load("1,a,1.00\n2,B,2.00\n3,c,3.00\n", strategy: strategy)
        #expect(second.status == .succeeded, "\(second.error ?? "")")
        #expect(second.updatedRows == 1 && second.insertedRows == 1)
        let third = try await load("2,B,2.00\n3,c,3.00\n", strategy: strategy)
        #expect(third.deletedRows == 1, "key 1 expired")
        let history = try await rows("id, name, __dpone__is_current, __dpone__valid_to_at IS NULL")
        #expect(history == [
            ["1", "a", "f", "f"], ["2", "b", "f", "f"], ["2", "B", "t", "t"], ["3", "c", "t", "t"],
        ])
    }

    @Test func duplicateKeysFailBeforeTheTargetIsTouched() async throws {
        defer { Task { try? await cleanup() } }
        _ = try await load("1,a,1\n", strategy: "{mode: incremental_merge, unique_key: id}")
        let bad = try await load("2,b,2\n2,c,3\n", strategy: "{mode: incremental_merge, unique_key: id}")
        #expect(bad.status == .failed && bad.exitCode == 1)
        #expect(bad.error?.contains("duplicate unique keys") == true, "\(bad.error ?? "")")
        #expect(try await rows("id, name") == [["1", "a"]])
        let c = try await connection()
        let staging = try await c.query("SELECT count(*) FROM pg_tables WHERE schemaname = $1 AND tablename LIKE '__dpone__stg%'", parameters: [schema])
        await c.close()
        #expect(staging == [["0"]], "the staging table is dropped")
        #expect(bad.state == nil)
    }

    /// A column the source no longer has: `schema_evolution.drop: fail` refuses it before any write;
    /// `keep` (the default) leaves it in the target, made nullable, NULL (or its default) from then on.
    @Test func aDroppedSourceColumnIsKeptOrFailsClosed() async throws {
        defer { Task { try? await cleanup() } }
        let c = try await connection()
        try await c.execute("CREATE SCHEMA \"\(schema)\"; CREATE TABLE \"\(schema)\".target (id bigint, name text, amount numeric(12,2), region text NOT NULL DEFAULT 'eu')")
        try await c.execute("INSERT INTO \"\(schema)\".target VALUES (0, 'old', 0, 'us')")
        await c.close()
        let strict = try await load("1,a,1\n", strategy: "{mode: incremental_append}", extraSink: "options: {schema_evolution: {drop: fail}}")
        #expect(strict.status == .failed)
        #expect(strict.error?.contains("region") == true && strict.error?.contains("breaking") == true, "\(strict.error ?? "")")
        #expect(try await rows("id") == [["0"]])
        let kept = try await load("1,a,1\n", strategy: "{mode: incremental_append}")
        #expect(kept.status == .succeeded, "\(kept.error ?? "")")
        #expect(kept.schemaChanges?.contains { $0.contains("region: no longer in the source, kept") } == true, "\(kept.schemaChanges ?? [])")
        // Rows written from now on omit it: the target column's default applies ('eu' here), else NULL.
        #expect(try await rows("id, region") == [["0", "us"], ["1", "eu"]])
        let c2 = try await connection()
        let nullable = try await c2.query(
            "SELECT is_nullable FROM information_schema.columns WHERE table_schema = $1 AND table_name = 'target' AND column_name = 'region'",
            parameters: [schema])
        await c2.close()
        #expect(nullable == [["YES"]], "the kept column was made nullable")
    }

    @Test func aNewSourceColumnIsAddedToTheTarget() async throws {
        defer { Task { try? await cleanup() } }
        let c = try await connection()
        try await c.execute("CREATE SCHEMA \"\(schema)\"; CREATE TABLE \"\(schema)\".target (id bigint, name text)")
        let result = try await load("1,a,1.25\n", strategy: "{mode: incremental_append}")
        #expect(result.status == .succeeded, "\(result.error ?? "")")
        #expect(try await rows() == [["1", "a", "1.25"]])
        await c.close()
    }

    @Test func aWrongPasswordIsAClearErrorWithoutThePassword() async throws {
        try PostgresTestServer.require()
        let result = try await load("1,a,1\n", strategy: "{mode: full_refresh}", url: PostgresTestServer.url(password: "hunter2-wrong"))
        #expect(result.status == .failed && result.exitCode == 1)
        #expect(result.error?.contains("28P01") == true || result.error?.contains("password") == true, "\(result.error ?? "")")
        #expect(result.jsonString().contains("hunter2-wrong") == false)
    }
}

extension PostgresSinkStrategyTests {
    @Test func anEmptyCheckpointStillRunsTheStrategy() async throws {
        defer { Task { try? await cleanup() } }
        _ = try await load("1,a,1\n2,b,2\n", strategy: "{mode: full_refresh}")
        let empty = try await load("", strategy: "{mode: full_refresh}")
        #expect(empty.status == .succeeded, "\(empty.error ?? "")")
        #expect(empty.deletedRows == 2 && empty.insertedRows == 0)
        #expect(try await rows() == [])
        let append = try await load("", strategy: "{mode: incremental_append}")
        #expect(append.status == .succeeded, "\(append.error ?? "")")
    }
}

extension PostgresSinkStrategyTests {
    @Test func partitionReplaceRewritesOnlyStagedPartitions() async throws {
        defer { Task { try? await cleanup() } }
        let strategy = "{mode: partition_replace, partition: {column: name}}"
        let first = try await load("1,a,1\n2,a,2\n3,b,3\n4,,4\n", strategy: "{mode: full_refresh}")
        #expect(first.status == .succeeded)
        let second = try await load("5,a,5\n6,,6\n", strategy: strategy)
        #expect(second.status == .succeeded, "\(second.error ?? "")")
        #expect(second.deletedRows == 3 && second.insertedRows == 2, "partitions a and NULL replaced, b untouched")
        #expect(try await rows("id, name") == [["3", "b"], ["5", "a"], ["6", nil]])
        let tooMany = try await load("7,x,1\n8,y,1\n", strategy: "{mode: partition_replace, partition: {column: name, max_partitions_per_run: 1}}")
        #expect(tooMany.status == .failed)
        #expect(tooMany.error?.contains("max_partitions_per_run") == true, "\(tooMany.error ?? "")")
        #expect(try await rows("id, name") == [["3", "b"], ["5", "a"], ["6", nil]], "target untouched")
    }

    @Test func partitionReplaceOnADeclarativelyPartitionedTarget() async throws {
        defer { Task { try? await cleanup() } }
        let c = try await connection()
        try await c.execute(
            """
            CREATE SCHEMA "\(schema)";
            CREATE TABLE "\(schema)".target (id bigint NOT NULL, name text, amount numeric(12,2)) PARTITION BY LIST (name);
            CREATE TABLE "\(schema)".target_a PARTITION OF "\(schema)".target FOR VALUES IN ('a');
            CREATE TABLE "\(schema)".target_b PARTITION OF "\(schema)".target FOR VALUES IN ('b');
            INSERT INTO "\(schema)".target VALUES (1, 'a', 1), (2, 'b', 2);
            """)
        await c.close()
        let result = try await load("3,a,3\n", strategy: "{mode: partition_replace, partition: {column: name}}")
        #expect(result.status == .succeeded, "\(result.error ?? "")")
        #expect(try await rows("id, name") == [["2", "b"], ["3", "a"]])
    }
}

extension PostgresSinkStrategyTests {
    @Test func upsertWithoutAUniqueIndexFailsBeforeStaging() async throws {
        defer { Task { try? await cleanup() } }
        let c = try await connection()
        try await c.execute("CREATE SCHEMA \"\(schema)\"; CREATE TABLE \"\(schema)\".target (id bigint, name text, amount numeric(12,2)); INSERT INTO \"\(schema)\".target VALUES (1, 'a', 1)")
        await c.close()
        let result = try await load("1,b,2\n", strategy: "{mode: incremental_merge, unique_key: id, merge_policy: upsert}")
        #expect(result.status == .failed)
        #expect(result.error?.contains("needs a unique index on (id)") == true, "\(result.error ?? "")")
        #expect(try await rows("id, name") == [["1", "a"]])
    }
}

extension PostgresSinkStrategyTests {
    /// A CSV as spreadsheets export it (a UTF-8 byte-order mark, money as fixed-point text) into
    /// Postgres without a declared schema: the first column is `id`, not `\u{FEFF}id`, and amounts
    /// land as numeric with their scale, not double precision.
    @Test func aSpreadsheetCSVKeepsItsColumnNameAndMoneyScale() async throws {
        defer { Task { try? await cleanup() } }
        let csv = [UInt8]([0xEF, 0xBB, 0xBF]) + Array("id,amount\n1,1.50\n2,12.30\n3,-0.05\n".utf8)
        try Data(csv).write(to: URL(fileURLWithPath: "\(dir)/sheet.csv"))
        let doc = try ManifestLoader.parse(
            yaml: """
                name: sheet
                source: {type: files, path: \(dir)/sheet.csv}
                sink:
                  type: postgres
                  connection: {url: "\(PostgresTestServer.url)"}
                  table: {schema: \(schema), name: sheet}
                  strategy: {mode: full_refresh}
                state: {dir: \(dir)/state-sheet}
                """, path: "\(dir)/sheet.yml", environment: [:])
        let result = await BatchPipeline.run(document: doc, options: BatchOptions())
        #expect(result.status == .succeeded, "\(result.error ?? "")")
        let c = try await connection()
        let columns = try await c.query(
            "SELECT column_name, data_type, numeric_precision::text, numeric_scale::text FROM information_schema.columns WHERE table_schema = $1 AND table_name = 'sheet' ORDER BY ordinal_position",
            parameters: [schema])
        let amounts = try await c.query("SELECT amount::text FROM \"\(schema)\".sheet ORDER BY id")
        await c.close()
        #expect(columns == [["id", "bigint", "64", "0"], ["amount", "numeric", "4", "2"]])
        #expect(amounts == [["1.50"], ["12.30"], ["-0.05"]])
    }
}
