import ClickHouseConnector
import DponeTestSupport
import Flow
import Foundation
import PostgresConnector
import Synchronization
import Testing

/// REST sources end to end through the `dpone` binary, against the fixture API on loopback:
/// incremental runs into files, Postgres and ClickHouse deliver only new records, exactly once, and
/// a kill at every fault point followed by a re-run is exact.
struct RESTPipeline {
    let api: RESTFixtureAPI
    let server: RESTTestServer
    let dir: String

    init(records: Int) throws {
        let api = RESTFixtureAPI(records: records, perPage: 25)
        let base = Mutex("")
        let server = try RESTTestServer { request in api.handle(request, baseURL: base.withLock { $0 }) }
        base.withLock { $0 = server.url }
        self.api = api
        self.server = server
        dir = NSTemporaryDirectory() + "dpone-rest-" + UUID().uuidString
        try FileManager.default.createDirectory(atPath: dir, withIntermediateDirectories: true)
    }

    /// Writes the manifest: the fixture's `/page` resource, incremental on `updated_at`, into `sink`.
    func manifest(sink: String, extraSource: String = "") throws -> String {
        let path = "\(dir)/pipeline.yml"
        try """
            name: rest-e2e
            source:
              type: rest
              connection: {url: "\(server.url)"}
              options:
                path: /page
                records: data
                paginator: {type: page_number, param: page, total_pages_path: total_pages}
                incremental: {cursor_path: updated_at, param: since}
                flatten: true
                schema:
                  - {name: id, type: int64, nullable: false}
                  - {name: name, type: string}
                  - {name: amount, type: "decimal(12,2)"}
                  - {name: updated_at, type: timestamptz}
                  - {name: meta__source, type: string}
                \(extraSource)
            \(sink)
            state: {dir: \(dir)/state}
            """.write(toFile: path, atomically: true, encoding: .utf8)
        return path
    }

    func run(_ manifest: String, fault: String? = nil) async throws -> CLI.Output {
        try await CLI.run(["batch", manifest, "--progress", "none"], environment: fault.map { ["DPONE_FAULT": $0] } ?? [:])
    }

    /// A `sink:` section into `<schema>.items` on the test Postgres.
    static func postgresSink(_ schema: String, mode: String, key: Bool = false) -> String {
        "sink: {type: postgres, connection: {url: \"\(PostgresTestServer.url)\"}, table: {schema: \(schema), name: items}, strategy: {mode: \(mode)\(key ? ", unique_key: id" : "")}}"
    }

    /// A `sink:` section into `<database>.items` on a test ClickHouse.
    static func clickhouseSink(_ server: ClickHouseTestServer, _ database: String, mode: String) -> String {
        "sink: {type: clickhouse, connection: {url: \"\(server.url)\"}, table: {schema: \(database), name: items}, strategy: {mode: \(mode)}}"
    }

    /// `id|name|amount` of `<schema>.items` on Postgres, by id.
    static func rows(_ pg: PostgresConnection, _ schema: String) async throws -> [String] {
        try await pg.query("SELECT id::text || '|' || name || '|' || amount::text FROM \(PostgresSQL.quoteIdentifier(schema)).items ORDER BY id")
            .map { $0[0] ?? "" }
    }

    /// `id|name|amount` of records 1...n, as the target should hold them.
    static func expected(_ n: Int) -> [String] {
        (1...n).map { i in
            let name = i % 10 == 0 ? "item-\(i) é漢 \"q\"" : "item-\(i)"
            return "\(i)|\(name)|\(String(format: "%.2f", Double(i) * 1.25))"
        }
    }
}

@Suite(.tags(.integrationMatrixMock), .enabled(if: binaryBuilt, "dpone binary not built"))
struct RESTToFilesTests {
    @Test("REST -> files, incremental_append: a second run delivers only the records added in between")
    func incrementalAppend() async throws {
        let p = try RESTPipeline(records: 60)
        defer { p.server.stop() }
        let manifest = try p.manifest(sink: "sink: {type: files, path: \(p.dir)/out, options: {format: jsonl}, strategy: {mode: incremental_append}}")
        let first = try await p.run(manifest)
        #expect(first.status == 0, "\(first.stdout) \(first.stderr)")
        p.api.append(35)
        let second = try await p.run(manifest)
        #expect(second.status == 0, "\(second.stderr)")
        #expect(second.stdout.contains("extracted 35"), "\(second.stdout)")
        let third = try await p.run(manifest)
        #expect(third.stdout.contains("extracted 0"), "\(third.stdout)")
        let parts = try FileManager.default.contentsOfDirectory(atPath: "\(p.dir)/out").sorted()
        let ids = try parts.flatMap { part in
            try String(contentsOfFile: "\(p.dir)/out/\(part)", encoding: .utf8).split(separator: "\n").map { line -> Int in
                let object = try JSONSerialization.jsonObject(with: Data(line.utf8)) as! [String: Any]
                return (object["id"] as! NSNumber).intValue
            }
        }
        #expect(ids == Array(1...95))
        // The second run asked for records after the stored cursor.
        let sinces = p.server.requests.compactMap { $0.query["since"] }
        #expect(sinces.contains(RESTFixtureAPI.updatedAt(60)))
    }

    @Test("examples/github-issues.yml runs against the fixture: Link-header paging, incremental, token kept out of the output")
    func githubExample() async throws {
        let p = try RESTPipeline(records: 230)
        defer { p.server.stop() }
        let example = CLI.packageRoot.appendingPathComponent("examples/github-issues.yml").path
        let env = ["GITHUB_API": p.server.url, "GITHUB_TOKEN": "ghp_exampleSECRET", "DEMO_DIR": p.dir]
        let first = try await CLI.run(["batch", example, "--progress", "none"], environment: env)
        #expect(first.status == 0, "\(first.stdout) \(first.stderr)")
        #expect(first.stdout.contains("extracted 230"), "\(first.stdout)")
        p.api.append(20)
        let second = try await CLI.run(["batch", example, "--progress", "none"], environment: env)
        #expect(second.stdout.contains("extracted 20"), "\(second.stdout)")
        #expect(!(first.stdout + first.stderr + second.stdout + second.stderr).contains("ghp_exampleSECRET"))
        let issues = p.server.requests.filter { $0.path == "/repos/dpone/demo/issues" }
        #expect(issues.allSatisfy { $0.headers["authorization"] == "Bearer ghp_exampleSECRET" })
        // Each run first samples one page to infer the schema (the example declares none), then reads:
        // 1 + 3 pages of 100, then 1 + 1 page of new issues.
        #expect(issues.count == 6, "\(issues.map(\.target))")
        let lines = try FileManager.default.contentsOfDirectory(atPath: "\(p.dir)/out/github-issues").reduce(0) { n, part in
            n + (try String(contentsOfFile: "\(p.dir)/out/github-issues/\(part)", encoding: .utf8).split(separator: "\n").count)
        }
        #expect(lines == 250)
    }

    @Test("manifest render masks secrets; snapshot_diff over an incremental rest source is refused at validation")
    func renderAndPartialRead() async throws {
        let dir = NSTemporaryDirectory() + "dpone-rest-r-" + UUID().uuidString
        try FileManager.default.createDirectory(atPath: dir, withIntermediateDirectories: true)
        try """
            name: rest-r
            source:
              type: rest
              connection: {url: "http://127.0.0.1:1"}
              options:
                path: /items
                auth: {type: oauth2_client_credentials, token_url: "http://127.0.0.1:1/token", client_id: me, client_secret: "${CLIENT_SECRET}"}
                headers: {Authorization: "Token hdr-SECRET-9"}
                incremental: {cursor_path: updated_at, param: since}
            sink: {type: postgres, connection: {url: "postgresql://u@127.0.0.1/db"}, table: {name: t}, strategy: {mode: MODE, unique_key: id}}
            """.write(toFile: "\(dir)/template.yml", atomically: true, encoding: .utf8)
        let template = try String(contentsOfFile: "\(dir)/template.yml", encoding: .utf8)
        try template.replacingOccurrences(of: "MODE", with: "incremental_merge").write(toFile: "\(dir)/p.yml", atomically: true, encoding: .utf8)
        try template.replacingOccurrences(of: "MODE", with: "snapshot_diff").write(toFile: "\(dir)/diff.yml", atomically: true, encoding: .utf8)
        let render = try await CLI.run(["manifest", "render", "\(dir)/p.yml"], environment: ["CLIENT_SECRET": "cs-SECRET-7"])
        let rendered = render.stdout + render.stderr
        #expect(rendered.contains("oauth2_client_credentials me:***"), "\(rendered)")
        #expect(!rendered.contains("cs-SECRET-7") && !rendered.contains("hdr-SECRET-9"), "\(rendered)")
        let validate = try await CLI.run(["manifest", "validate", "\(dir)/diff.yml"], environment: ["CLIENT_SECRET": "x"])
        #expect(validate.status != 0)
        #expect((validate.stdout + validate.stderr).contains("an incremental rest source reads only the records past its stored cursor"))
    }

    @Test("a malformed page fails the run; neither the target nor the state changes")
    func malformedPageChangesNothing() async throws {
        let server = try RESTTestServer { request in
            request.query["page"] == "2" ? .json("{\"data\":[{\"id\":3,}]}") : .json("{\"data\":[{\"id\":1},{\"id\":2}]}")
        }
        defer { server.stop() }
        let dir = NSTemporaryDirectory() + "dpone-rest-bad-" + UUID().uuidString
        try FileManager.default.createDirectory(atPath: dir, withIntermediateDirectories: true)
        try """
            name: rest-bad
            source:
              type: rest
              connection: {url: "\(server.url)"}
              options: {path: /items, records: data, paginator: {type: page_number}, schema: [{name: id, type: int64}]}
            sink: {type: files, path: \(dir)/out.csv, strategy: {mode: full_refresh}}
            state: {dir: \(dir)/state}
            """.write(toFile: "\(dir)/p.yml", atomically: true, encoding: .utf8)
        let run = try await CLI.run(["batch", "\(dir)/p.yml", "--progress", "none"])
        #expect(run.status != 0)
        let text = run.stdout + run.stderr
        #expect(text.contains("page 2 of \(server.url)/items?page=2"), "\(text)")
        #expect(text.contains("at byte 18"), "\(text)")
        #expect(!FileManager.default.fileExists(atPath: "\(dir)/out.csv"))
        #expect(!FileManager.default.fileExists(atPath: "\(dir)/state/rest-bad.json"))
    }

    @Test("manifest errors name the file, line and key")
    func manifestErrors() async throws {
        let dir = NSTemporaryDirectory() + "dpone-rest-m-" + UUID().uuidString
        try FileManager.default.createDirectory(atPath: dir, withIntermediateDirectories: true)
        try """
            name: rest-m
            source:
              type: rest
              connection: {url: "http://127.0.0.1:1"}
              options:
                path: /items
                paginator: {type: page_numbr}
                auth: {type: bearer}
                poll_interval: 1s
            sink: {type: files, path: \(dir)/o.csv, strategy: {mode: full_refresh}}
            """.write(toFile: "\(dir)/p.yml", atomically: true, encoding: .utf8)
        let run = try await CLI.run(["manifest", "validate", "\(dir)/p.yml"])
        #expect(run.status != 0)
        let text = run.stdout + run.stderr
        #expect(text.contains("p.yml:7:"), "\(text)")
        #expect(text.contains("page_numbr"), "\(text)")
        #expect(text.contains("page_number"), "did you mean: \(text)")
        #expect(text.contains("p.yml:8:"), "\(text)")
        #expect(text.contains("token"), "\(text)")
        #expect(text.contains("poll_interval needs incremental"), "\(text)")
    }
}

@Suite(
    .tags(.integrationPostgres, .integrationClickHouse, .integrationMatrixMock), IntegrationGate.integration.trait,
    .enabled(if: binaryBuilt, "dpone binary not built"))
struct RESTToDatabaseTests {
    @Test("REST -> Postgres incremental_merge: run, add records, run again: exact")
    func toPostgres() async throws {
        try PostgresTestServer.require()
        let schema = PostgresTestServer.uniqueSchemaName("rest")
        let p = try RESTPipeline(records: 80)
        defer { p.server.stop() }
        let manifest = try p.manifest(
            sink: RESTPipeline.postgresSink(schema, mode: "incremental_merge", key: true))
        let pg = try await PostgresConnection.connect(url: PostgresTestServer.url)
        defer { Task { try? await pg.execute("DROP SCHEMA IF EXISTS \(PostgresSQL.quoteIdentifier(schema)) CASCADE"); await pg.close() } }
        let first = try await p.run(manifest)
        #expect(first.status == 0, "\(first.stdout) \(first.stderr)")
        p.api.append(45)
        let second = try await p.run(manifest)
        #expect(second.status == 0, "\(second.stderr)")
        #expect(second.stdout.contains("extracted 45"), "\(second.stdout)")
        let rows = try await RESTPipeline.rows(pg, schema)
        #expect(rows == RESTPipeline.expected(125))
    }

    @Test("REST -> ClickHouse incremental_append on both engines: exact after two runs")
    func toClickHouse() async throws {
        for server in ClickHouseTestServer.all {
            try server.require()
            let database = ClickHouseTestServer.uniqueDatabaseName("rest")
            let p = try RESTPipeline(records: 70)
            defer { p.server.stop() }
            let manifest = try p.manifest(
                sink: RESTPipeline.clickhouseSink(server, database, mode: "incremental_append"))
            let client = try ClickHouseClient(url: server.url)
            let first = try await p.run(manifest)
            #expect(first.status == 0, "\(server): \(first.stdout) \(first.stderr)")
            p.api.append(30)
            let second = try await p.run(manifest)
            #expect(second.status == 0, "\(server): \(second.stderr)")
            let rows = try await client.queryRows(
                "SELECT concat(toString(id), '|', name, '|', toString(amount)) FROM \(ClickHouseSQL.quoteIdentifier(database)).items ORDER BY id")
            #expect(rows.map { $0[0] }.count == 100, "\(server)")
            #expect(rows.map { $0[0].split(separator: "|")[0] } == (1...100).map { Substring(String($0)) }, "\(server)")
            try? await client.execute("DROP DATABASE IF EXISTS \(ClickHouseSQL.quoteIdentifier(database))")
            await client.close()
        }
    }
}

@Suite(
    .tags(.integrationReplay, .integrationPostgres, .integrationClickHouse), IntegrationGate.replay.trait, IntegrationGate.integration.trait,
    .enabled(if: binaryBuilt, "dpone binary not built"))
struct RESTReplayTests {
    /// The scenario: 60 records, a kill, a re-run; 40 more, a kill, a re-run. `target` reads the
    /// published ids in order.
    func killAndRerun(_ p: RESTPipeline, manifest: String, fault: String, target: () async throws -> [Int]) async throws {
        let killed = try await p.run(manifest, fault: fault)
        #expect(killed.died(at: fault), "\(killed.stdout) \(killed.stderr)")
        #expect(try await p.run(manifest).status == 0)
        p.api.append(40)
        let killedAgain = try await p.run(manifest, fault: fault)
        #expect(killedAgain.died(at: fault))
        let last = try await p.run(manifest)
        #expect(last.status == 0, "\(last.stderr)")
        #expect(try await target() == Array(1...100), "nothing lost, nothing doubled after \(fault)")
    }

    @Test("REST -> Postgres incremental_append killed at each fault point, then re-run: exact", arguments: FaultPoint.allCases.map(\.rawValue))
    func killedAndRerunIntoPostgres(fault: String) async throws {
        try PostgresTestServer.require()
        let schema = PostgresTestServer.uniqueSchemaName("restkill")
        let p = try RESTPipeline(records: 60)
        defer { p.server.stop() }
        let manifest = try p.manifest(
            sink: RESTPipeline.postgresSink(schema, mode: "incremental_append"))
        let pg = try await PostgresConnection.connect(url: PostgresTestServer.url)
        defer { Task { try? await pg.execute("DROP SCHEMA IF EXISTS \(PostgresSQL.quoteIdentifier(schema)) CASCADE"); await pg.close() } }
        try await killAndRerun(p, manifest: manifest, fault: fault) {
            let rows = try await RESTPipeline.rows(pg, schema)
            #expect(rows == RESTPipeline.expected(100))
            return rows.compactMap { Int($0.split(separator: "|")[0]) }
        }
    }

    @Test("REST -> ClickHouse incremental_append killed at each fault point, then re-run: exact", arguments: FaultPoint.allCases.map(\.rawValue))
    func killedAndRerunIntoClickHouse(fault: String) async throws {
        let server = ClickHouseTestServer.legacy
        try server.require()
        let database = ClickHouseTestServer.uniqueDatabaseName("restkill")
        let p = try RESTPipeline(records: 60)
        defer { p.server.stop() }
        let manifest = try p.manifest(
            sink: RESTPipeline.clickhouseSink(server, database, mode: "incremental_append"))
        let client = try ClickHouseClient(url: server.url)
        try await killAndRerun(p, manifest: manifest, fault: fault) {
            try await client.queryRows("SELECT toString(id) FROM \(ClickHouseSQL.quoteIdentifier(database)).items ORDER BY id").compactMap { Int($0[0]) }
        }
        try? await client.execute("DROP DATABASE IF EXISTS \(ClickHouseSQL.quoteIdentifier(database))")
        await client.close()
    }

    @Test("REST -> files incremental_append killed at each fault point, then re-run: exact", arguments: FaultPoint.allCases.map(\.rawValue))
    func killedAndRerunIntoFiles(fault: String) async throws {
        let p = try RESTPipeline(records: 60)
        defer { p.server.stop() }
        let manifest = try p.manifest(sink: "sink: {type: files, path: \(p.dir)/out, strategy: {mode: incremental_append}}")
        try await killAndRerun(p, manifest: manifest, fault: fault) {
            let parts = try FileManager.default.contentsOfDirectory(atPath: "\(p.dir)/out").sorted()
            #expect(parts.allSatisfy { $0.hasPrefix("part-") }, "no temp file is published: \(parts)")
            return try parts.flatMap { part in
                try String(contentsOfFile: "\(p.dir)/out/\(part)", encoding: .utf8).split(separator: "\n").dropFirst()
                    .compactMap { Int($0.split(separator: ",")[0]) }
            }
        }
    }

    @Test("dpone stream polls the API every second, picks up added records, and SIGTERM drains to a durable checkpoint")
    func streamPolling() async throws {
        try PostgresTestServer.require()
        let schema = PostgresTestServer.uniqueSchemaName("restpoll")
        let p = try RESTPipeline(records: 40)
        defer { p.server.stop() }
        let manifest = try p.manifest(
            sink: RESTPipeline.postgresSink(schema, mode: "incremental_merge", key: true), extraSource: "poll_interval: 1s")
        let pg = try await PostgresConnection.connect(url: PostgresTestServer.url)
        defer { Task { try? await pg.execute("DROP SCHEMA IF EXISTS \(PostgresSQL.quoteIdentifier(schema)) CASCADE"); await pg.close() } }
        func count() async -> Int {
            (try? await pg.query("SELECT count(*)::text FROM \(PostgresSQL.quoteIdentifier(schema)).items").first?[0]).flatMap { $0.flatMap(Int.init) } ?? 0
        }
        func converge(_ n: Int) async throws -> Bool {
            let deadline = Date().addingTimeInterval(60)
            while Date() < deadline {
                if await count() == n { return true }
                try await Task.sleep(for: .milliseconds(200))
            }
            return false
        }
        let worker = try StreamProcess(["stream", manifest, "--checkpoint-interval", "500ms"], log: "\(p.dir)/stream.log")
        #expect(try await converge(40), "first poll: \(worker.output)")
        p.api.append(25)
        #expect(try await converge(65), "added while running: \(worker.output)")
        #expect(await worker.stop() == 0, "SIGTERM drains: \(worker.output)")
        let state = try String(contentsOfFile: "\(p.dir)/state/rest-e2e@0.json", encoding: .utf8)
        #expect(state.contains(RESTFixtureAPI.updatedAt(65)), "the durable cursor is the last record's: \(state)")
        let rows = try await RESTPipeline.rows(pg, schema)
        #expect(rows == RESTPipeline.expected(65))
    }
}
