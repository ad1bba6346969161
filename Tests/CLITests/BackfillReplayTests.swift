import DponeTestSupport
import Flow
import Foundation
import PostgresConnector
import Testing

/// `mode: backfill` end to end, PostgreSQL -> PostgreSQL with `inner_mode: incremental_append` (a
/// chunk published twice would double its rows, so exactness is visible): 30 chunks of 100 ids,
/// lanes in several processes, SIGKILLs at every fault point and at random moments, then resumed.
@Suite(
    .tags(.integrationReplay, .integrationPostgres), IntegrationGate.replay.trait, IntegrationGate.integration.trait,
    .enabled(if: binaryBuilt, "dpone binary not built"), .serialized)
struct BackfillReplayTests {
    static let rows = 3000

    struct Workspace {
        let dir = NSTemporaryDirectory() + "dpone-backfill-" + UUID().uuidString
        let schema = PostgresTestServer.uniqueSchemaName("bf")
        var manifest: String { "\(dir)/pipeline.yml" }

        init(lanes: Int, inner: String = "incremental_append", lease: Int = 60, postgresState: Bool = false) async throws {
            try FileManager.default.createDirectory(atPath: dir, withIntermediateDirectories: true)
            let c = try await PostgresConnection.connect(url: PostgresTestServer.url)
            let s = PostgresSQL.quoteIdentifier(schema)
            try await c.execute("CREATE SCHEMA \(s)")
            try await c.execute("CREATE TABLE \(s).src (id bigint PRIMARY KEY, payload text, amount numeric(12,2))")
            try await c.execute(
                "INSERT INTO \(s).src SELECT g, 'row-' || g, g * 1.25 FROM generate_series(1, \(BackfillReplayTests.rows)) g")
            await c.close()
            try """
                name: backfill
                source:
                  type: postgres
                  connection: {url: "\(PostgresTestServer.url)"}
                  table: {schema: \(schema), name: src}
                sink:
                  type: postgres
                  connection: {url: "\(PostgresTestServer.url)"}
                  table: {schema: \(schema), name: target}
                  strategy:
                    mode: backfill
                    backfill: {column: id, from: 1, to: \(BackfillReplayTests.rows), chunk: 100, inner_mode: \(inner), parallel_workers: \(lanes), lease_seconds: \(lease)}
                state: \(postgresState ? "{type: postgres, connection: {url: \"\(PostgresTestServer.url)\"}, table: {schema: \(schema), name: state}}" : "{dir: \(dir)/state}")
                """.write(toFile: manifest, atomically: true, encoding: .utf8)
        }

        func run(_ command: [String] = ["batch"], environment: [String: String] = [:]) async throws -> CLI.Output {
            try await CLI.run(command + [manifest, "--format", "json"], environment: environment)
        }

        func start(_ log: String, environment: [String: String] = [:]) throws -> StreamProcess {
            try StreamProcess(["batch", manifest, "--format", "json", "--progress", "plain"], log: "\(dir)/\(log)", environment: environment)
        }

        /// (rows, distinct ids, sum of amounts) of the target.
        func target() async throws -> [String?] {
            let c = try await PostgresConnection.connect(url: PostgresTestServer.url)
            defer { Task { await c.close() } }
            return try await c.query(
                "SELECT count(*), count(DISTINCT id), sum(amount), min(id), max(id) FROM \(PostgresSQL.quoteIdentifier(schema)).target")[0]
        }

        static let expected: [String?] = ["\(rows)", "\(rows)", String(format: "%.2f", Double(rows * (rows + 1) / 2) * 1.25), "1", "\(rows)"]

        func ledger() throws -> [String: Any] {
            let data = try Data(contentsOf: URL(fileURLWithPath: "\(dir)/state/backfill.backfill-default.json"))
            return try JSONSerialization.jsonObject(with: data) as! [String: Any]
        }

        func chunkStatuses() throws -> [String] { (try ledger()["chunks"] as! [[String: Any]]).map { $0["status"] as! String } }

        func runningOwners() throws -> [String] {
            (try ledger()["chunks"] as! [[String: Any]]).filter { $0["status"] as? String == "running" }.compactMap { $0["owner"] as? String }
        }

        func drop() async {
            guard let c = try? await PostgresConnection.connect(url: PostgresTestServer.url) else { return }
            try? await c.execute("DROP SCHEMA IF EXISTS \(PostgresSQL.quoteIdentifier(schema)) CASCADE")
            await c.close()
            try? FileManager.default.removeItem(atPath: dir)
        }
    }

    static func summary(_ output: String) throws -> [String: Any] {
        let start = try #require(output.firstIndex(of: "{"))
        let object = try JSONSerialization.jsonObject(with: Data(output[start...].utf8)) as! [String: Any]
        return try #require(object["backfill"] as? [String: Any], "no backfill summary in \(output.prefix(2000))")
    }

    /// With a file state store (one machine) and a PostgreSQL one (the ledger in tables, claims
    /// with FOR UPDATE SKIP LOCKED: lanes on any machine).
    @Test(arguments: [false, true])
    func twoProcessesOfTwoLanesPublishEveryChunkOnceAndARerunRedoesNothing(postgresState: Bool) async throws {
        try PostgresTestServer.require()
        let w = try await Workspace(lanes: 2, postgresState: postgresState)
        defer { Task { await w.drop() } }
        let plan = try await w.run(["backfill", "plan"])
        #expect(plan.status == 0, "\(plan.stderr)")
        #expect(plan.stdout.contains(#""range" : "[2901, 3000]""#), "\(plan.stdout.prefix(1500))")
        async let a = w.run()
        async let b = w.run()
        let (first, second) = try await (a, b)
        #expect(first.status == 0, "\(first.stdout) \(first.stderr)")
        #expect(second.status == 0, "\(second.stdout) \(second.stderr)")
        let published = try (Self.summary(first.stdout)["published"] as! Int) + (Self.summary(second.stdout)["published"] as! Int)
        #expect(published == 30, "the two processes published 30 chunks between them")
        #expect(try await w.target() == Workspace.expected)
        if postgresState {
            let c = try await PostgresConnection.connect(url: PostgresTestServer.url)
            let statuses = try await c.query(
                "SELECT status, count(*) FROM \(PostgresSQL.quoteIdentifier(w.schema)).__dpone__backfill_chunks GROUP BY status")
            await c.close()
            #expect(statuses == [["done", "30"]], "the ledger is in the state store's schema")
        } else {
            #expect(try w.chunkStatuses() == Array(repeating: "done", count: 30))
        }
        let again = try await w.run()
        #expect(again.status == 0, "\(again.stderr)")
        #expect(try Self.summary(again.stdout)["already_done"] as? Int == 30)
        #expect(try Self.summary(again.stdout)["published"] as? Int == 0)
        #expect(try await w.target() == Workspace.expected)
        let status = try await CLI.run(["backfill", "status", w.manifest])
        #expect(status.stdout.contains("30/30 done"), "\(status.stdout)")
    }

    /// Killed at each fault point of the 6th chunk checkpoint, then rerun: the dead run's chunk is
    /// taken over at once (its process is gone) and, where it had published, only recorded.
    @Test(arguments: FaultPoint.allCases)
    func killedAtAFaultPointAndRerunPublishesEveryChunkOnce(_ fault: FaultPoint) async throws {
        try PostgresTestServer.require()
        let w = try await Workspace(lanes: 1)
        defer { Task { await w.drop() } }
        let killed = try await w.run(environment: ["DPONE_FAULT": fault.rawValue, "DPONE_FAULT_AFTER": "5"])
        #expect(killed.died(at: fault.rawValue), "\(killed.stderr.suffix(1500))")
        #expect(try w.chunkStatuses().filter { $0 == "done" }.count == 5)
        let rerun = try await w.run(["resume"])
        #expect(rerun.status == 0, "\(rerun.stdout) \(rerun.stderr)")
        #expect(rerun.stderr.contains("5 of 30 chunks already done (skipped): 0-4"), "resume reports what it skips: \(rerun.stderr)")
        let summary = try Self.summary(rerun.stdout)
        #expect(summary["takeovers"] as? Int == 1, "\(summary)")
        let publishedBeforeDying = fault == .afterFinalizeBeforeState || fault == .afterStateBeforeAck
        #expect(summary["skipped_as_published"] as? Int == (publishedBeforeDying ? 1 : 0), "\(summary)")
        #expect(summary["published"] as? Int == (publishedBeforeDying ? 24 : 25))
        #expect(try await w.target() == Workspace.expected, "no chunk lost or doubled after a kill at \(fault.rawValue)")
    }

    /// Two processes of two lanes each, each SIGKILLed at a random moment (a random fault point
    /// after a random number of passes, so the kill lands mid-backfill however the machine is loaded),
    /// restarted, until the backfill is done: every chunk is published exactly once, and the dead
    /// lanes' chunks are taken over. Writes `test_artifacts/replay/<date>_backfill-2x2-kills.md` when
    /// DPONE_WRITE_REPLAY_ARTIFACT=1.
    @Test func twoByTwoLanesSurviveRandomKills() async throws {
        try PostgresTestServer.require()
        let w = try await Workspace(lanes: 2)
        defer { Task { await w.drop() } }
        var generator = SystemRandomNumberGenerator()
        let started = Date()
        let faults = (0..<2).map { _ in
            (FaultPoint.allCases.randomElement(using: &generator)!, Int.random(in: 1...4, using: &generator))
        }
        var processes = try (0..<2).map { i in
            try w.start("\(i == 0 ? "a" : "b")-0.log", environment: ["DPONE_FAULT": faults[i].0.rawValue, "DPONE_FAULT_AFTER": "\(faults[i].1)"])
        }
        defer { processes.forEach { $0.terminateIfRunning() } }
        var kills: [String] = []
        for i in 0..<2 {
            try await processes[i].awaitFaultKill(faults[i].0, seconds: 120)
            let done = (try? w.chunkStatuses().filter { $0 == "done" }.count) ?? 0
            kills.append("process \(i == 0 ? "A" : "B") SIGKILLed at \(faults[i].0.rawValue) after \(faults[i].1) passes; \(done)/30 chunks done when seen")
            processes[i] = try w.start("\(i == 0 ? "a" : "b")-1.log")
        }
        for p in processes {
            let status = await p.waitExit(120)
            #expect(status == 0, "\(p.output.suffix(2000))")
        }
        let seconds = Date().timeIntervalSince(started)
        #expect(try await w.target() == Workspace.expected, "every chunk exactly once after \(kills.count) kills")
        let ledger = try w.ledger()
        let chunks = ledger["chunks"] as! [[String: Any]]
        #expect(chunks.allSatisfy { $0["status"] as? String == "done" })
        let takeovers = ledger["takeovers"] as? Int ?? 0
        let logs = try FileManager.default.contentsOfDirectory(atPath: w.dir).filter { $0.hasSuffix(".log") }
            .map { (try? String(contentsOfFile: "\(w.dir)/\($0)", encoding: .utf8)) ?? "" }.joined()
        #expect(takeovers > 0, "a killed lane's chunk was taken over")
        #expect(logs.contains("taken over from"), "the takeover is logged")
        if ProcessInfo.processInfo.environment["DPONE_WRITE_REPLAY_ARTIFACT"] == "1" {
            let attempts = chunks.map { $0["attempts"] as? Int ?? 0 }
            let day = ISO8601DateFormatter().string(from: Date()).prefix(10)
            let text = """
                # Backfill replay: 2 processes x 2 lanes, random SIGKILLs (\(day))

                - test: `BackfillReplayTests.twoByTwoLanesSurviveRandomKills` (`swift test --filter twoByTwoLanes`, DPONE_WRITE_REPLAY_ARTIFACT=1)
                - pipeline: PostgreSQL 15 -> PostgreSQL 15, `mode: backfill`, column `id` 1..\(Self.rows), chunk 100, inner mode incremental_append, file ledger
                - chunks: \(chunks.count), all done; attempts per chunk: \(attempts.map(String.init).joined(separator: " "))
                - kills (each process killed itself at a random fault point after a random number of passes, then restarted): \(kills.count)
                \(kills.map { "  - \($0)" }.joined(separator: "\n"))
                - lease takeovers: \(takeovers)
                - target: \(Self.rows) rows, \(Self.rows) distinct ids, amounts sum as in the source (no chunk lost or doubled)
                - duration: \(String(format: "%.1f", seconds)) s

                """
            let folder = CLI.packageRoot.appendingPathComponent("test_artifacts/replay")
            try FileManager.default.createDirectory(at: folder, withIntermediateDirectories: true)
            try text.write(to: folder.appendingPathComponent("\(day)_backfill-2x2-kills.md"), atomically: true, encoding: .utf8)
        }
    }

    @Test func aFailedChunkFailsTheRunAndRetryFailedRunsOnlyIt() async throws {
        try PostgresTestServer.require()
        let w = try await Workspace(lanes: 1)
        defer { Task { await w.drop() } }
        // A row of chunk 7 that the target refuses: the target's column is made too narrow.
        let c = try await PostgresConnection.connect(url: PostgresTestServer.url)
        let s = PostgresSQL.quoteIdentifier(w.schema)
        try await c.execute("CREATE TABLE \(s).target (id bigint, payload text, amount numeric(12,2) CHECK (amount <> 800.00))")
        await c.close()
        let first = try await w.run()
        #expect(first.status == 1, "\(first.stdout)")
        #expect(first.stderr.contains("1 of 30 backfill chunks failed; first: chunk 6 [601, 700]"), "\(first.stderr)")
        #expect(first.stderr.contains("retry-failed"))
        let status = try await CLI.run(["backfill", "status", w.manifest])
        #expect(status.stdout.contains("29/30 done, 0 running, 1 failed"), "\(status.stdout)")
        #expect(status.stdout.contains("failed chunk 6 [601, 700] after 1 attempts"), "\(status.stdout)")
        let fix = try await PostgresConnection.connect(url: PostgresTestServer.url)
        try await fix.execute("ALTER TABLE \(s).target DROP CONSTRAINT target_amount_check")
        await fix.close()
        let retry = try await w.run(["backfill", "retry-failed"])
        #expect(retry.status == 0, "\(retry.stdout) \(retry.stderr)")
        #expect(try Self.summary(retry.stdout)["published"] as? Int == 1)
        #expect(try await w.target() == Workspace.expected)
    }
}
