import DponeTestSupport
import Flow
import Foundation
import Manifest
import Pipeline
import PostgresConnector
import Testing

/// `type: odbc` through the real pipeline: a PostgreSQL table read through psqlODBC (column-wise
/// block fetch) lands exactly in a Postgres sink, checked by aggregates over every column; an
/// incremental run reads only the new rows.
@Suite(.tags(.integrationPostgres), IntegrationGate.integration.trait, .serialized)
struct ODBCToPostgresTests {
    let schema = PostgresTestServer.uniqueSchemaName("odbc2pg")
    let dir: String

    init() throws {
        dir = NSTemporaryDirectory() + "dpone-odbc2pg-" + UUID().uuidString
        try FileManager.default.createDirectory(atPath: dir, withIntermediateDirectories: true)
    }

    /// psqlODBC on the test server (booleans as SQL_BIT).
    static var odbcString: String {
        let url = PostgresTestServer.url
        let rest = url[url.range(of: "://")!.upperBound...]
        let at = rest.lastIndex(of: "@")!
        let user = rest[..<at].split(separator: ":", maxSplits: 1).map(String.init)
        let database = rest[rest.index(after: at)...].split(separator: "/").dropFirst().first.map { String($0.split(separator: "?")[0]) } ?? "postgres"
        let endpoint = PostgresTestServer.endpoint
        return "Driver={PostgreSQL Unicode};Server=\(endpoint.host);Port=\(endpoint.port);Database=\(database);Uid=\(user[0]);Pwd=\(user[1]);BoolsAsChar=0;"
    }

    func connection() async throws -> PostgresConnection {
        try PostgresTestServer.require()
        let dir = ProcessInfo.processInfo.environment["ODBCSYSINI"] ?? ""
        try #require(!dir.isEmpty, "export ODBCSYSINI=$(scripts/odbc.sh) to register the test drivers")
        return try await PostgresConnection.connect(url: PostgresTestServer.url)
    }

    func manifest(options: String = "{}", strategy: String = "{mode: full_refresh}") throws -> ManifestDocument {
        try ManifestLoader.parse(
            yaml: """
                name: odbc2pg
                source:
                  type: odbc
                  connection: {odbc: "${ODBC}"}
                  table: {schema: \(schema), name: src}
                  options: \(options)
                sink:
                  type: postgres
                  connection: {url: "\(PostgresTestServer.url)"}
                  table: {schema: \(schema), name: dst}
                  strategy: \(strategy)
                state: {dir: \(dir)/state}
                """, path: "\(dir)/p.yml", environment: ["ODBC": Self.odbcString])
    }

    /// Aggregates over every column: equal aggregates on 100k rows of varied values.
    func aggregates(_ table: String) async throws -> [String?] {
        let c = try await connection()
        defer { Task { await c.close() } }
        return try await c.query(
            """
            SELECT count(*)::text, sum(id)::text, sum(small)::text, sum(i)::text, sum(d)::text, sum(n)::text,
                   md5(string_agg(coalesce(vc, '∅'), ',' ORDER BY id)), count(*) FILTER (WHERE b)::text,
                   md5(string_agg(coalesce(dt::text, '∅'), ',' ORDER BY id)), md5(string_agg(coalesce(ts::text, '∅'), ',' ORDER BY id)),
                   count(*) FILTER (WHERE vc IS NULL)::text
            FROM \(schema).\(table)
            """)[0]
    }

    func cleanup() async {
        guard let c = try? await connection() else { return }
        try? await c.execute("DROP SCHEMA IF EXISTS \(schema) CASCADE")
        await c.close()
    }

    @Test func aTableArrivesExactlyThroughTheDriverThenIncrementally() async throws {
        let c = try await connection()
        try await c.execute(
            """
            CREATE SCHEMA \(schema);
            CREATE TABLE \(schema).src (id bigint PRIMARY KEY, small smallint, i integer, d double precision, n numeric(14,4),
                                        vc varchar(40), b boolean, dt date, ts timestamp);
            INSERT INTO \(schema).src
            SELECT g, (g % 30000)::smallint, g * 7, g / 3.0, g * 1.0001, CASE WHEN g % 97 = 0 THEN NULL ELSE 'row ' || g || ' ünï 🦆' END,
                   g % 2 = 0, date '2000-01-01' + (g % 9000), timestamp '2020-01-01' + g * interval '1.5 second'
            FROM generate_series(1, 100000) g;
            """)
        await c.close()
        defer { Task { await cleanup() } }
        let first = await BatchPipeline.run(
            document: try manifest(options: "{incremental_column: id}", strategy: "{mode: incremental_append}"), options: BatchOptions())
        #expect(first.status == .succeeded, "\(first.error ?? "")")
        #expect(first.extractedRows == 100_000 && first.insertedRows == 100_000)
        #expect(try await aggregates("dst") == aggregates("src"), "aggregates over every column agree")

        let more = try await connection()
        try await more.execute(
            "INSERT INTO \(schema).src SELECT g, 1, 1, 1, 1, 'new ' || g, true, '2026-12-07', '2026-12-07 00:00:00' FROM generate_series(100001, 100010) g")
        await more.close()
        let second = await BatchPipeline.run(
            document: try manifest(options: "{incremental_column: id}", strategy: "{mode: incremental_append}"), options: BatchOptions())
        #expect(second.status == .succeeded, "\(second.error ?? "")")
        #expect(second.extractedRows == 10, "only the rows past the stored cursor")
        #expect(try await aggregates("dst") == aggregates("src"))
    }

    /// A row committed late with a cursor value below the stored one is read by the next run when
    /// the lookback covers it, and incremental_merge keeps the re-read rows single.
    @Test func aLookbackReReadsLateRows() async throws {
        let c = try await connection()
        try await c.execute(
            """
            CREATE SCHEMA \(schema);
            CREATE TABLE \(schema).src (id bigint PRIMARY KEY, small smallint, i integer, d double precision, n numeric(14,4),
                                        vc varchar(40), b boolean, dt date, ts timestamp);
            INSERT INTO \(schema).src SELECT g, 1, g, 1, 1, 'v' || g, true, '2026-12-07', '2026-12-07' FROM generate_series(1, 100) g WHERE g <> 99;
            """)
        await c.close()
        defer { Task { await cleanup() } }
        let options = "{incremental_column: id, lookback: 5}"
        let strategy = "{mode: incremental_merge, unique_key: [id]}"
        let first = await BatchPipeline.run(document: try manifest(options: options, strategy: strategy), options: BatchOptions())
        #expect(first.status == .succeeded, "\(first.error ?? "")")
        let late = try await connection()
        try await late.execute("INSERT INTO \(schema).src VALUES (99, 1, 99, 1, 1, 'late', true, '2026-12-07', '2026-12-07')")
        await late.close()
        let second = await BatchPipeline.run(document: try manifest(options: options, strategy: strategy), options: BatchOptions())
        #expect(second.status == .succeeded, "\(second.error ?? "")")
        #expect(second.extractedRows == 5, "ids 96...100 (99 now among them) re-read from 100 - 5")
        #expect(try await aggregates("dst") == aggregates("src"), "the late row arrived once, nothing doubled")
    }

    /// A bad option is a manifest error with file, line and key; a closed port a connection error
    /// with the password masked, before anything is written.
    @Test func errorsNameTheKeyAndMaskThePassword() async throws {
        do {
            _ = try manifest(options: "{qurey: \"SELECT 1\"}")
            Issue.record("an unknown option was accepted")
        } catch let errors as ManifestErrors {
            let text = errors.description
            #expect(text.contains("p.yml:6:"), "\(text)")
            #expect(text.contains("unknown key 'qurey'") && text.contains("did you mean 'query'?"), "\(text)")
        }
        let closed = try ManifestLoader.parse(
            yaml: """
                name: odbc-closed
                source:
                  type: odbc
                  connection: {odbc: "Driver={PostgreSQL Unicode};Server=127.0.0.1;Port=1;Uid=u;Pwd={Hunter2;x}"}
                  table: t
                sink: {type: files, path: \(dir)/out.csv}
                state: {dir: \(dir)/state}
                """, path: "\(dir)/c.yml", environment: [:])
        let result = await BatchPipeline.run(document: closed, options: BatchOptions())
        #expect(result.status == .failed)
        #expect(result.error?.contains("[08001]") == true, "\(result.error ?? "")")
        #expect(result.error?.contains("Hunter2") == false, "\(result.error ?? "")")
        #expect(!FileManager.default.fileExists(atPath: "\(dir)/out.csv"), "nothing was written")
        #expect(!FileManager.default.fileExists(atPath: "\(dir)/state/odbc-closed.json"), "no state was written")
    }
}
