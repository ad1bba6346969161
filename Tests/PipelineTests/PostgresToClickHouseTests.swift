import ClickHouseConnector
import DponeTestSupport
import Flow
import Foundation
import Manifest
import Pipeline
import PostgresConnector
import Testing

/// PG -> ClickHouse through the real pipeline, on ClickHouse 18.16 and the modern 26.9 engine.
@Suite(.tags(.integrationPostgres, .integrationClickHouse), IntegrationGate.integration.trait, .serialized)
struct PostgresToClickHouseTests {
    let schema = PostgresTestServer.uniqueSchemaName("p2ch")
    var database: String { schema }
    let dir: String

    init() throws {
        dir = NSTemporaryDirectory() + "dpone-p2ch-" + UUID().uuidString
        try FileManager.default.createDirectory(atPath: dir, withIntermediateDirectories: true)
    }

    func seed() async throws {
        try PostgresTestServer.require()
        let c = try await PostgresConnection.connect(url: PostgresTestServer.url)
        try await c.execute(
            """
            CREATE SCHEMA \(PostgresSQL.quoteIdentifier(schema));
            CREATE TABLE \(PostgresSQL.quoteIdentifier(schema)).orders (
              id bigint PRIMARY KEY, customer text NOT NULL, amount numeric(12,2), paid boolean, placed date, note text);
            INSERT INTO \(PostgresSQL.quoteIdentifier(schema)).orders
            SELECT g, 'c' || (g % 7), g / 4.0, g % 2 = 0, date '2026-01-01' + g % 30, CASE WHEN g % 5 = 0 THEN NULL ELSE 'ünï ' || g END
            FROM generate_series(1, 5000) g;
            """)
        await c.close()
    }

    func manifest(
        _ server: ClickHouseTestServer, strategy: String, sinkOptions: String = "{}", state: String? = nil
    ) throws -> ManifestDocument {
        try ManifestLoader.parse(
            yaml: """
                name: p2ch
                source: {type: postgres, connection: {url: "\(PostgresTestServer.url)"}, table: {schema: \(schema), name: orders}}
                sink:
                  type: clickhouse
                  connection: {url: "\(server.url)"}
                  table: {schema: \(database), name: orders}
                  strategy: \(strategy)
                  options: \(sinkOptions)
                state: \(state ?? "{dir: \(dir)/state-\(server.name.filter(\.isLetter))}")
                """, path: "\(dir)/p.yml", environment: [:])
    }

    func cleanup(_ server: ClickHouseTestServer) async {
        if let c = try? await PostgresConnection.connect(url: PostgresTestServer.url) {
            try? await c.execute("DROP SCHEMA IF EXISTS \(PostgresSQL.quoteIdentifier(schema)) CASCADE")
            await c.close()
        }
        if let ch = try? ClickHouseClient(url: server.url) {
            try? await ch.execute("DROP DATABASE IF EXISTS \(ClickHouseSQL.quoteIdentifier(database))")
            await ch.close()
        }
    }

    @Test(arguments: ClickHouseTestServer.all)
    func fullRefreshThenMergeArriveExactly(_ server: ClickHouseTestServer) async throws {
        try server.require()
        try await seed()
        defer { Task { await cleanup(server) } }
        let full = await BatchPipeline.run(document: try manifest(server, strategy: "{mode: full_refresh}"), options: BatchOptions())
        #expect(full.status == .succeeded, "\(full.error ?? "")")
        #expect(full.insertedRows == 5000)

        let ch = try ClickHouseClient(url: server.url)
        let q = "\(ClickHouseSQL.quoteIdentifier(database)).`orders`"
        let summary = try await ch.queryRows(
            "SELECT count(), sum(id), toInt64(sum(amount) * 100), countIf(note IS NULL), max(placed) FROM \(q)")
        #expect(summary == [["5000", "12502500", "312562500", "1000", "2026-01-30"]])

        let c = try await PostgresConnection.connect(url: PostgresTestServer.url)
        try await c.execute("UPDATE \(PostgresSQL.quoteIdentifier(schema)).orders SET note = 'changed' WHERE id <= 10")
        await c.close()
        let merge = await BatchPipeline.run(
            document: try manifest(server, strategy: "{mode: incremental_merge, unique_key: id}"), options: BatchOptions())
        // The target was created by full_refresh as a plain MergeTree: merging needs a
        // ReplacingMergeTree, and the sink says so before writing anything.
        #expect(merge.status == .failed)
        #expect(merge.error?.contains("ReplacingMergeTree") == true, "\(merge.error ?? "")")

        try await ch.execute("DROP TABLE \(q)")
        let first = await BatchPipeline.run(
            document: try manifest(server, strategy: "{mode: incremental_merge, unique_key: id}"), options: BatchOptions())
        #expect(first.status == .succeeded, "\(first.error ?? "")")
        let changed = try await ch.queryRows("SELECT count() FROM \(q) FINAL WHERE note = 'changed'")
        #expect(changed == [["10"]])
        #expect(try await ch.queryRows("SELECT count() FROM \(q) FINAL") == [["5000"]])
        await ch.close()
    }
}

extension PostgresToClickHouseTests {
    /// ClickHouse -> PG: the reverse route, on both servers.
    @Test(arguments: ClickHouseTestServer.all)
    func clickHouseToPostgres(_ server: ClickHouseTestServer) async throws {
        try server.require()
        try PostgresTestServer.require()
        defer { Task { await cleanup(server) } }
        let ch = try ClickHouseClient(url: server.url)
        let db = ClickHouseSQL.quoteIdentifier(database)
        try await ch.execute("CREATE DATABASE IF NOT EXISTS \(db)")
        try await ch.execute(
            "CREATE TABLE \(db).`events` (id Int64, name String, amount Decimal(12, 2), day Date, score Nullable(Float64)) ENGINE = MergeTree ORDER BY id")
        try await ch.execute(
            "INSERT INTO \(db).`events` SELECT number, concat('é', toString(number)), toDecimal64(number / 4, 2), toDate('2026-01-01') + number % 10, if(number % 3 = 0, NULL, number / 2) FROM system.numbers LIMIT 1000")
        await ch.close()
        let doc = try ManifestLoader.parse(
            yaml: """
                name: ch2pg
                source: {type: clickhouse, connection: {url: "\(server.url)"}, table: {schema: \(database), name: events}, options: {incremental_column: id}}
                sink: {type: postgres, connection: {url: "\(PostgresTestServer.url)"}, table: {schema: \(schema), name: events}, strategy: {mode: incremental_merge, unique_key: id}}
                state: {dir: \(dir)/ch2pg-\(server.name.filter(\.isLetter))}
                """, path: "\(dir)/c.yml", environment: [:])
        let result = await BatchPipeline.run(document: doc, options: BatchOptions())
        #expect(result.status == .succeeded, "\(result.error ?? "")")
        #expect(result.insertedRows == 1000)
        let pg = try await PostgresConnection.connect(url: PostgresTestServer.url)
        let summary = try await pg.query(
            "SELECT count(*)::text, sum(id)::text, sum(amount)::text, count(*) FILTER (WHERE score IS NULL)::text, min(name) FROM \(PostgresSQL.quoteIdentifier(schema)).events")
        await pg.close()
        #expect(summary == [["1000", "499500", "124875.00", "334", "é0"]])
        let again = await BatchPipeline.run(document: doc, options: BatchOptions())
        #expect(again.status == .succeeded && again.extractedRows == 0, "the cursor is committed")
    }
}

/// Every ClickHouse strategy PG -> ClickHouse through the pipeline, on both servers: load, change the
/// source (update, delete, insert), load again, compare with what the strategy promises.
let clickHouseStrategyCases: [(name: String, yaml: String, read: String, expectation: String)] = [
    ("full_refresh", "{mode: full_refresh}", "", "mirror"),
    ("append_only_new", "{mode: incremental_append, unique_key: id, only_new_rows: true}", "", "keep-first"),
    ("merge", "{mode: incremental_merge, unique_key: id}", "FINAL", "upsert"),
    ("merge_mutation", "{mode: incremental_merge, unique_key: id, merge_policy: mutation_delete_insert}", "", "upsert"),
    ("merge_shadow", "{mode: incremental_merge, unique_key: id, merge_policy: shadow_swap}", "", "upsert"),
    ("replace", "{mode: replace, custom_predicate: \"id > 0\"}", "", "mirror"),
    ("partition_replace", "{mode: partition_replace, partition: {column: bucket}}", "", "mirror"),
    ("snapshot_diff", "{mode: snapshot_diff, unique_key: id}", "", "mirror"),
    ("scd2", "{mode: scd2, unique_key: id}", "WHERE __dpone__is_current = 1", "mirror"),
]


/// Compares a target read (rows led by the id as text) with what `expectation` makes of the source
/// before and after the change every strategy test applies (ids 2 and 3 updated, 5 deleted, one
/// new id): `mirror` is the source after, `upsert` keeps the deleted row (a merge propagates no
/// deletes), `keep-first` keeps the first version of existing keys (only_new_rows).
func expectTarget(
    _ target: [[String?]], _ expectation: String, before: [[String?]], after: [[String?]], _ what: String,
    sourceLocation: SourceLocation = #_sourceLocation
) {
    let got = target.map { $0.map { $0 ?? "\\N" } }
    let want: [[String?]]
    switch expectation {
    case "upsert":  // deletes are not propagated by a merge
        want = (after + [before.first { $0[0] == "5" }!]).sorted { Int($0[0]!)! < Int($1[0]!)! }
    case "keep-first":  // existing keys never rewritten
        want = (after.filter { !["2", "3"].contains($0[0]) } + before.filter { ["2", "3", "5"].contains($0[0]) })
            .sorted { Int($0[0]!)! < Int($1[0]!)! }
    default:
        want = after.sorted { Int($0[0]!)! < Int($1[0]!)! }
    }
    #expect(got.count == want.count, "\(what)", sourceLocation: sourceLocation)
    let wanted = want.map { $0.map { $0 ?? "\\N" } }
    if let i = got.indices.first(where: { $0 < wanted.count && got[$0] != wanted[$0] }) {
        Issue.record("\(what): row \(i) target \(got[i]) expected \(wanted[i])", sourceLocation: sourceLocation)
    }
}

extension PostgresToClickHouseTests {
    @Test(arguments: [
        "full_refresh", "append_only_new", "merge", "merge_mutation", "merge_shadow", "replace", "partition_replace",
        "snapshot_diff", "scd2",
    ])
    func everyStrategy(name: String) async throws {
        let strategy = clickHouseStrategyCases.first { $0.name == name }!
        for server in ClickHouseTestServer.all {
            try server.require()
            let pgSchema = PostgresTestServer.uniqueSchemaName("p2chs")
            let chDatabase = pgSchema
            let pg = try await PostgresConnection.connect(url: PostgresTestServer.url)
            let s = PostgresSQL.quoteIdentifier(pgSchema)
            try await pg.execute(
                """
                CREATE SCHEMA \(s);
                CREATE TABLE \(s).t (id bigint PRIMARY KEY, bucket integer NOT NULL, name text, amount numeric(12,2), day date);
                INSERT INTO \(s).t SELECT g, g % 3, CASE WHEN g % 4 = 0 THEN NULL ELSE 'ñ' || g END, g / 8.0, date '2026-03-01' + g % 9
                FROM generate_series(1, 300) g;
                """)
            let doc = try ManifestLoader.parse(
                yaml: """
                    name: p2chs
                    source: {type: postgres, connection: {url: "\(PostgresTestServer.url)"}, table: {schema: \(pgSchema), name: t}}
                    sink: {type: clickhouse, connection: {url: "\(server.url)"}, table: {schema: \(chDatabase), name: t}, strategy: \(strategy.yaml)}
                    state: {dir: \(dir)/\(name)-\(server.name.filter(\.isLetter))}
                    """, path: "\(dir)/s.yml", environment: [:])
            let first = await BatchPipeline.run(document: doc, options: BatchOptions())
            #expect(first.status == .succeeded, "\(name) on \(server.name): \(first.error ?? "")")
            let before = try await pg.query("SELECT id::text, bucket::text, coalesce(name, '\\N'), ((amount * 100)::bigint)::text, day::text FROM \(s).t ORDER BY id")
            try await pg.execute(
                "UPDATE \(s).t SET name = 'changed', amount = 99.99 WHERE id IN (2, 3); DELETE FROM \(s).t WHERE id = 5; INSERT INTO \(s).t VALUES (301, 1, 'new', 1.25, '2026-12-31')")
            let second = await BatchPipeline.run(document: doc, options: BatchOptions())
            #expect(second.status == .succeeded, "\(name) on \(server.name): \(second.error ?? "")")
            let source = try await pg.query("SELECT id::text, bucket::text, coalesce(name, '\\N'), ((amount * 100)::bigint)::text, day::text FROM \(s).t ORDER BY id")
            try await pg.execute("DROP SCHEMA \(s) CASCADE")
            await pg.close()

            let ch = try ClickHouseClient(url: server.url)
            let read = strategy.read.hasPrefix("WHERE") ? strategy.read : "\(strategy.read)"
            let target = try await ch.queryNullableRows(
                "SELECT toString(id), toString(bucket), ifNull(name, '\\\\N'), toString(toInt64(amount * 100)), toString(day) FROM \(ClickHouseSQL.quoteIdentifier(chDatabase)).`t` \(read) ORDER BY id")
            try? await ch.execute("DROP DATABASE IF EXISTS \(ClickHouseSQL.quoteIdentifier(chDatabase))")
            await ch.close()
            expectTarget(target, strategy.expectation, before: before, after: source, "\(name) on \(server.name)")
        }
    }
}

extension PostgresToClickHouseTests {
    /// ClickHouse -> ClickHouse, both servers: every strategy loads, the source changes (updates, a
    /// delete, an insert), loads again, and the target equals what the strategy promises, row by row.
    @Test(arguments: ClickHouseTestServer.all)
    func clickHouseToClickHouse(_ server: ClickHouseTestServer) async throws {
        try server.require()
        let ch = try ClickHouseClient(url: server.url)
        let read = "SELECT toString(id), toString(bucket), ifNull(sku, '\\\\N'), toString(toInt64(price * 100)), toString(seen) FROM"
        for strategy in clickHouseStrategyCases {
            let source = PostgresTestServer.uniqueSchemaName("ch2ch_src")
            let target = PostgresTestServer.uniqueSchemaName("ch2ch_dst")
            let src = "\(ClickHouseSQL.quoteIdentifier(source)).`items`"
            try await ch.execute("CREATE DATABASE \(ClickHouseSQL.quoteIdentifier(source))")
            // The source as the strategy tests change it: version 1, then ids 2 and 3 updated, 5 gone, 301 new.
            func fill(_ version: Int) async throws {
                try? await ch.execute("DROP TABLE IF EXISTS \(src)")
                try await ch.execute(
                    "CREATE TABLE \(src) (id UInt32, bucket UInt8, sku Nullable(String), price Decimal(10, 2), seen Date) ENGINE = MergeTree ORDER BY id")
                let changed = version == 1 ? "0" : "number IN (2, 3)"
                try await ch.execute(
                    """
                    INSERT INTO \(src) SELECT number, number % 3, if(\(changed), 'changed', if(number % 4 = 0, NULL, concat('sku-', toString(number)))),
                      toDecimal32(number / 8, 2), toDate('2026-05-01') + number % 9
                    FROM (SELECT number FROM system.numbers LIMIT 302)
                    WHERE number >= 1 AND number <= \(version == 1 ? 300 : 301) AND (\(version) = 1 OR number != 5)
                    """)
            }
            try await fill(1)
            let doc = try ManifestLoader.parse(
                yaml: """
                    name: ch2ch
                    source: {type: clickhouse, connection: {url: "\(server.url)"}, table: {schema: \(source), name: items}}
                    sink: {type: clickhouse, connection: {url: "\(server.url)"}, table: {schema: \(target), name: items}, strategy: \(strategy.yaml)}
                    state: {dir: \(dir)/ch2ch-\(strategy.name)-\(server.name.filter(\.isLetter))}
                    """, path: "\(dir)/cc.yml", environment: [:])
            let first = await BatchPipeline.run(document: doc, options: BatchOptions())
            #expect(first.status == .succeeded, "\(strategy.name) on \(server.name): \(first.error ?? "")")
            let before = try await ch.queryNullableRows("\(read) \(src) ORDER BY id")
            try await fill(2)
            let second = await BatchPipeline.run(document: doc, options: BatchOptions())
            #expect(second.status == .succeeded, "\(strategy.name) on \(server.name): \(second.error ?? "")")
            let after = try await ch.queryNullableRows("\(read) \(src) ORDER BY id")
            let got = try await ch.queryNullableRows("\(read) \(ClickHouseSQL.quoteIdentifier(target)).`items` \(strategy.read) ORDER BY id")
            expectTarget(got, strategy.expectation, before: before, after: after, "ch -> ch \(strategy.name) on \(server.name)")
            try? await ch.execute("DROP DATABASE IF EXISTS \(ClickHouseSQL.quoteIdentifier(source))")
            try? await ch.execute("DROP DATABASE IF EXISTS \(ClickHouseSQL.quoteIdentifier(target))")
        }
        await ch.close()
    }
}

extension PostgresToClickHouseTests {
    /// Lineage columns (`sink.options.lineage: true`) are created with a new target and added to an
    /// existing one by evolution (dpone-python's first incremental run failed on a missing
    /// `__dpone__load_id`), on both servers.
    @Test(arguments: ClickHouseTestServer.all)
    func lineageColumnsAreCreatedAndAddedLater(_ server: ClickHouseTestServer) async throws {
        try server.require()
        try await seed()
        defer { Task { await cleanup(server) } }
        func run(_ strategy: String, lineage: Bool) throws -> ManifestDocument {
            try manifest(server, strategy: strategy, sinkOptions: "{lineage: \(lineage)}", state: "{type: disabled}")
        }
        let plain = await BatchPipeline.run(document: try run("{mode: full_refresh}", lineage: false), options: BatchOptions())
        #expect(plain.status == .succeeded, "\(plain.error ?? "")")
        let withLineage = await BatchPipeline.run(
            document: try run("{mode: incremental_append}", lineage: true), options: BatchOptions())
        #expect(withLineage.status == .succeeded, "\(withLineage.error ?? "")")
        let ch = try ClickHouseClient(url: server.url)
        let q = "\(ClickHouseSQL.quoteIdentifier(database)).`orders`"
        let rows = try await ch.queryNullableRows(
            "SELECT count(), countIf(isNull(__dpone__load_id)), uniqExact(__dpone__load_id), countIf(__dpone__loaded_at > '2026-01-01 00:00:00') FROM \(q)")
        #expect(rows == [["10000", "5000", "1", "5000"]], "the appended rows carry one load id and a load time; the earlier rows NULL")
        let types = try await ch.queryRows(
            "SELECT name, type FROM system.columns WHERE database = \(ClickHouseSQL.quoteLiteral(database)) AND table = 'orders' AND name LIKE '__dpone__load%' ORDER BY name")
        #expect(types.map { $0[0] } == ["__dpone__load_id", "__dpone__loaded_at"])
        await ch.close()
    }
}

/// Every Postgres strategy ClickHouse -> PG, on both ClickHouse servers: load, change the source
/// (rows updated, deleted, inserted: the table is rebuilt with the new content), load again, compare.
let clickHouseToPostgresCases: [(name: String, yaml: String, read: String, expectation: String)] = [
    ("full_refresh", "{mode: full_refresh}", "", "mirror"),
    ("append_only_new", "{mode: incremental_append, unique_key: id, only_new_rows: true}", "", "keep-first"),
    ("merge", "{mode: incremental_merge, unique_key: id}", "", "upsert"),
    ("merge_upsert", "{mode: incremental_merge, unique_key: id, merge_policy: upsert}", "", "upsert"),
    ("replace", "{mode: replace, custom_predicate: \"id > 0\"}", "", "mirror"),
    ("partition_replace", "{mode: partition_replace, partition: {column: bucket}}", "", "mirror"),
    ("snapshot_diff", "{mode: snapshot_diff, unique_key: id}", "", "mirror"),
    ("scd2", "{mode: scd2, unique_key: id}", "WHERE __dpone__is_current", "mirror"),
]

extension PostgresToClickHouseTests {
    @Test(arguments: clickHouseToPostgresCases.map { $0.name })
    func everyStrategyFromClickHouse(name: String) async throws {
        let strategy = clickHouseToPostgresCases.first { $0.name == name }!
        for server in ClickHouseTestServer.all {
            try server.require()
            try PostgresTestServer.require()
            let space = PostgresTestServer.uniqueSchemaName("ch2pgs")
            let ch = try ClickHouseClient(url: server.url)
            let db = ClickHouseSQL.quoteIdentifier(space)
            func fill(_ select: String) async throws {
                try await ch.execute("DROP TABLE IF EXISTS \(db).`t`")
                try await ch.execute(
                    "CREATE TABLE \(db).`t` (id Int64, bucket Int32, name Nullable(String), amount Decimal(12, 2), day Date) ENGINE = MergeTree ORDER BY id")
                try await ch.execute("INSERT INTO \(db).`t` \(select)")
            }
            let base =
                "SELECT number + 1 AS id, toInt32((number + 1) % 3), if((number + 1) % 4 = 0, NULL, concat('ñ', toString(number + 1))), toDecimal64((number + 1) / 8, 2), toDate('2026-03-01') + (number + 1) % 9 FROM system.numbers"
            try await ch.execute("CREATE DATABASE \(db)")
            try await fill("\(base) LIMIT 300")
            let doc = try ManifestLoader.parse(
                yaml: """
                    name: ch2pgs
                    source: {type: clickhouse, connection: {url: "\(server.url)"}, table: {schema: \(space), name: t}}
                    sink: {type: postgres, connection: {url: "\(PostgresTestServer.url)"}, table: {schema: \(space), name: t}, strategy: \(strategy.yaml)}
                    state: {dir: \(dir)/ch2pg-\(name)-\(server.name.filter(\.isLetter))}
                    """, path: "\(dir)/c.yml", environment: [:])
            let first = await BatchPipeline.run(document: doc, options: BatchOptions())
            #expect(first.status == .succeeded, "\(name) on \(server.name): \(first.error ?? "")")
            let read = "SELECT toString(id), toString(bucket), ifNull(name, '\\\\N'), toString(toInt64(amount * 100)), toString(day) FROM \(db).`t` ORDER BY id"
            func readSource() async throws -> [[String]] { try await ch.queryNullableRows(read).map { $0.map { $0 ?? "\\N" } } }
            let before = try await readSource()
            try await fill("SELECT * FROM (\(base) LIMIT 300) WHERE id != 5")
            try await ch.execute("ALTER TABLE \(db).`t` UPDATE name = 'changed', amount = toDecimal64(99.99, 2) WHERE id IN (2, 3)")
            var pending = 200  // 18.16 runs mutations in the background
            while pending > 0, try await ch.queryRows("SELECT count() FROM system.mutations WHERE database = \(ClickHouseSQL.quoteLiteral(space)) AND is_done = 0") != [["0"]] {
                pending -= 1
                try await Task.sleep(for: .milliseconds(50))
            }
            try await ch.execute("INSERT INTO \(db).`t` VALUES (301, 1, 'new', 1.25, '2026-12-31')")
            let source = try await readSource()
            #expect(source.count == 300 && source.filter { $0[2] == "changed" }.count == 2, "the rebuilt source holds the changes")
            let second = await BatchPipeline.run(document: doc, options: BatchOptions())
            #expect(second.status == .succeeded, "\(name) on \(server.name): \(second.error ?? "")")
            try? await ch.execute("DROP DATABASE IF EXISTS \(db)")
            await ch.close()

            let pg = try await PostgresConnection.connect(url: PostgresTestServer.url)
            let s = PostgresSQL.quoteIdentifier(space)
            let got = try await pg.query(
                "SELECT id::text AS k, bucket::text, coalesce(name, '\\N'), ((amount * 100)::bigint)::text, day::text FROM \(s).t \(strategy.read) ORDER BY id")
                .map { $0.map { $0 ?? "\\N" } }
            try await pg.execute("DROP SCHEMA IF EXISTS \(s) CASCADE")
            await pg.close()
            let want: [[String]]
            switch strategy.expectation {
            case "upsert":  // deletes are not propagated by a merge
                want = (source + [before.first { $0[0] == "5" }!]).sorted { Int($0[0])! < Int($1[0])! }
            case "keep-first":  // existing keys never rewritten
                want = (source.filter { !["2", "3"].contains($0[0]) } + before.filter { ["2", "3", "5"].contains($0[0]) })
                    .sorted { Int($0[0])! < Int($1[0])! }
            default:
                want = source
            }
            #expect(got.count == want.count, "\(name) on \(server.name)")
            if let i = got.indices.first(where: { $0 < want.count && got[$0] != want[$0] }) {
                Issue.record("\(name) on \(server.name): row \(i) target \(got[i]) expected \(want[i])")
            }
        }
    }
}

extension PostgresToClickHouseTests {
    /// The state file is lost (a new container without the state volume) while the ClickHouse ledger
    /// holds checkpoints 1...3: the next full refresh numbers its checkpoint 4 and publishes the
    /// source as it is now. It used to match ledger row 1, publish nothing and report success.
    @Test(arguments: ClickHouseTestServer.all)
    func aLostStateContinuesAfterTheLedgerAndPublishes(_ server: ClickHouseTestServer) async throws {
        try server.require()
        try await seed()
        defer { Task { await cleanup(server) } }
        let doc = try manifest(server, strategy: "{mode: full_refresh}")
        for _ in 1...3 { #expect(await BatchPipeline.run(document: doc, options: BatchOptions()).status == .succeeded) }
        try FileManager.default.removeItem(atPath: "\(dir)/state-\(server.name.filter(\.isLetter))/p2ch.json")
        let pg = try await PostgresConnection.connect(url: PostgresTestServer.url)
        let orders = "\(PostgresSQL.quoteIdentifier(schema)).orders"
        try await pg.execute("DELETE FROM \(orders); INSERT INTO \(orders) SELECT g, 'b', g, true, date '2026-02-01', NULL FROM generate_series(1, 1000) g")
        await pg.close()
        let run = await BatchPipeline.run(document: doc, options: BatchOptions())
        #expect(run.status == .succeeded, "\(run.error ?? "")")
        #expect(run.recovery?.checkpoint == 3 && run.state?.checkpoint == CheckpointID(4), "\(run.textSummary())")
        #expect(run.insertedRows == 1000)
        let ch = try ClickHouseClient(url: server.url)
        let rows = try await ch.queryRows(
            "SELECT count(), countIf(customer = 'b') FROM \(ClickHouseSQL.quoteIdentifier(database)).`orders`")
        await ch.close()
        #expect(rows == [["1000", "1000"]], "the target holds the source as it is now")
    }
}

extension PostgresToClickHouseTests {
    /// Creates the source schema and runs `sql` (table DDL and rows) in it.
    func createSource(_ sql: String) async throws -> PostgresConnection {
        try PostgresTestServer.require()
        let pg = try await PostgresConnection.connect(url: PostgresTestServer.url)
        try await pg.execute("CREATE SCHEMA \(PostgresSQL.quoteIdentifier(schema));\n" + sql)
        return pg
    }

    /// A plain PostgreSQL `numeric` lands exactly: Decimal(76, 20) on servers with Decimal256, its
    /// exact text in a String on 18.16. A value Decimal(76, 20) cannot hold exactly (more than 20
    /// fraction digits, NaN) fails the run naming the value, and the target keeps what it had.
    @Test(arguments: ClickHouseTestServer.all)
    func unboundedNumericArrivesExactly(_ server: ClickHouseTestServer) async throws {
        try server.require()
        defer { Task { await cleanup(server) } }
        let s = PostgresSQL.quoteIdentifier(schema)
        let pg = try await createSource(
            """
            CREATE TABLE \(s).orders (id bigint PRIMARY KEY, n numeric);
            INSERT INTO \(s).orders VALUES
              (1, 12345678901234567890123456789012345678901234567890123456.12345678901234567891),
              (2, -0.5), (3, 1.50), (4, NULL), (5, -99999999999999999999999999999999999999999999999999999999.99999999999999999999);
            """)
        let full = await BatchPipeline.run(document: try manifest(server, strategy: "{mode: full_refresh}"), options: BatchOptions())
        #expect(full.status == .succeeded, "\(full.error ?? "")")
        #expect(full.insertedRows == 5)
        let ch = try ClickHouseClient(url: server.url)
        let q = "\(ClickHouseSQL.quoteIdentifier(database)).`orders`"
        let type = try await ch.queryRows("SELECT type FROM system.columns WHERE database = '\(database)' AND table = 'orders' AND name = 'n'")
        let modern = server.name == "modern"
        #expect(type == [[modern ? "Nullable(Decimal(76, 20))" : "Nullable(String)"]])
        // Compared as text at the column's scale on the modern engine (toString drops trailing
        // zeros there; the digits are what matters), as stored on 18.16.
        let stored = try await ch.queryRows("SELECT id, ifNull(toString(n), 'NULL') FROM \(q) ORDER BY id")
        #expect(stored == [
            ["1", "12345678901234567890123456789012345678901234567890123456.12345678901234567891"],
            ["2", modern ? "-0.5" : "-0.5"], ["3", modern ? "1.5" : "1.50"], ["4", "NULL"],
            ["5", "-99999999999999999999999999999999999999999999999999999999.99999999999999999999"],
        ])
        guard modern else {
            await ch.close()
            return
        }
        try await pg.execute("INSERT INTO \(s).orders VALUES (6, 0.000000000000000000001), (7, 'NaN')")
        let refused = await BatchPipeline.run(document: try manifest(server, strategy: "{mode: full_refresh}"), options: BatchOptions())
        #expect(refused.status == .failed)
        #expect(refused.error?.contains("0.000000000000000000001") == true, "\(refused.error ?? "")")
        #expect(try await ch.queryRows("SELECT count() FROM \(q)") == [["5"]], "the target keeps what it had")
        await pg.close()
        await ch.close()
    }

    /// PostgreSQL arrays of scalars land as ClickHouse Array(Nullable(T)) on both servers, NULL
    /// elements kept; ClickHouse has no Nullable arrays, so a NULL array lands as [] (documented).
    @Test(arguments: ClickHouseTestServer.all)
    func arraysOfScalarsArriveAsArrays(_ server: ClickHouseTestServer) async throws {
        try server.require()
        defer { Task { await cleanup(server) } }
        let s = PostgresSQL.quoteIdentifier(schema)
        let pg = try await createSource(
            """
            CREATE TABLE \(s).orders (id bigint PRIMARY KEY, ints integer[], texts text[], amounts numeric(10,2)[]);
            INSERT INTO \(s).orders VALUES
              (1, '{1,NULL,3}', ARRAY['a "q", c', NULL, 'ünï'], '{1.50,-0.01}'), (2, '{}', '{}', '{}'), (3, NULL, NULL, NULL);
            """)
        await pg.close()
        let full = await BatchPipeline.run(document: try manifest(server, strategy: "{mode: full_refresh}"), options: BatchOptions())
        #expect(full.status == .succeeded, "\(full.error ?? "")")
        let ch = try ClickHouseClient(url: server.url)
        let q = "\(ClickHouseSQL.quoteIdentifier(database)).`orders`"
        let types = try await ch.queryRows(
            "SELECT name, type FROM system.columns WHERE database = '\(database)' AND table = 'orders' AND name NOT LIKE '\\_\\_dpone%' ORDER BY name")
        #expect(types == [
            ["amounts", "Array(Nullable(Decimal(10, 2)))"], ["id", "Int64"], ["ints", "Array(Nullable(Int32))"],
            ["texts", "Array(Nullable(String))"],
        ])
        let rows = try await ch.queryRows("SELECT id, length(ints), toString(ints), texts[1], isNull(texts[2]), toInt64(amounts[1] * 100) FROM \(q) ORDER BY id")
        try #require(rows.count == 3)
        #expect(rows[0] == ["1", "3", "[1,NULL,3]", "a \"q\", c", "1", "150"])
        #expect(rows[1][1] == "0" && rows[2][1] == "0")
        await ch.close()
    }
}
