import DponeTestSupport
import Flow
import Foundation
import PostgresConnector
import Testing

/// A `dpone stream` process in the background (output to files, so pipes never fill).
final class StreamProcess: @unchecked Sendable {
    let process = Process()
    let log: String

    init(_ arguments: [String], log: String, environment extra: [String: String] = [:]) throws {
        self.log = log
        process.executableURL = URL(fileURLWithPath: CLI.binary)
        process.arguments = arguments
        var env = ProcessInfo.processInfo.environment.filter { !$0.key.hasPrefix("DPONE_") }
        env["DPONE_LOG_LEVEL"] = "info"
        for (k, v) in extra { env[k] = v }
        process.environment = env
        _ = FileManager.default.createFile(atPath: log, contents: nil)
        let handle = try FileHandle(forWritingTo: URL(fileURLWithPath: log))
        process.standardOutput = handle
        process.standardError = handle
        try process.run()
    }

    var output: String { (try? String(contentsOfFile: log, encoding: .utf8)) ?? "" }

    /// Waits up to `seconds` (without blocking a thread) until the process has logged `text`.
    func awaitOutput(containing text: String, seconds: Double = 30) async throws {
        let deadline = Date().addingTimeInterval(seconds)
        while !output.contains(text), Date() < deadline { try await Task.sleep(for: .milliseconds(100)) }
    }

    /// SIGTERM, then waits up to `seconds` for the exit status (without blocking a thread).
    func stop(within seconds: Double = 30) async -> Int32? {
        kill(process.processIdentifier, SIGTERM)
        return await waitExit(seconds)
    }

    /// SIGKILL when still running (for a `defer`: a failed expectation must not leave the daemon
    /// behind).
    func terminateIfRunning() {
        if process.isRunning { kill(process.processIdentifier, SIGKILL) }
    }

    func killHard() async {
        kill(process.processIdentifier, SIGKILL)
        _ = await waitExit(10)
    }

    /// Waits up to `seconds` for a process armed with `DPONE_FAULT=point` to kill itself, and
    /// requires that it did so at that point: the line the fault writes before the kill is in its
    /// output, and it died of SIGKILL. A process still running then is killed, and the test fails.
    func awaitFaultKill(_ point: FaultPoint, seconds: Double = 60, sourceLocation: SourceLocation = #_sourceLocation) async throws {
        let deadline = Date().addingTimeInterval(seconds)
        while process.isRunning, Date() < deadline { try await Task.sleep(for: .milliseconds(50)) }
        let reached = !process.isRunning
        if process.isRunning { await killHard() }
        #expect(reached, "the process did not die by itself within \(Int(seconds)) s", sourceLocation: sourceLocation)
        #expect(
            output.contains(point.reachedLine) && process.terminationReason == .uncaughtSignal && process.terminationStatus == SIGKILL,
            "fault point \(point.rawValue) did not fire: \(output.suffix(2000))", sourceLocation: sourceLocation)
    }

    func waitExit(_ seconds: Double) async -> Int32? {
        let deadline = Date().addingTimeInterval(seconds)
        while process.isRunning && Date() < deadline { try? await Task.sleep(for: .milliseconds(50)) }
        return process.isRunning ? nil : process.terminationStatus
    }
}

/// `dpone stream` Kafka -> Postgres: messages produced while it runs arrive exactly (merge by key),
/// SIGTERM finishes the checkpoint and exits 0, and two workers in one consumer group split a
/// 6-partition topic; killing one moves its partitions to the other without loss.
@Suite(
    .tags(.integrationReplay, .integrationKafka, .integrationPostgres), IntegrationGate.replay.trait,
    IntegrationGate.integration.trait, .enabled(if: binaryBuilt, "dpone binary not built"), .serialized)
struct KafkaStreamTests {
    let dir: String
    let schema = PostgresTestServer.uniqueSchemaName("kstream")

    init() throws {
        dir = NSTemporaryDirectory() + "dpone-kstream-" + UUID().uuidString
        try FileManager.default.createDirectory(atPath: dir, withIntermediateDirectories: true)
    }

    func manifest(topic: String, strategy: String = "{mode: incremental_merge, unique_key: id}") throws -> String {
        let path = "\(dir)/stream.yml"
        try """
            name: kstream
            source:
              type: kafka
              connection: {url: "\(try KafkaTestServer.url)"}
              topic: \(topic)
              options: {group_id: \(topic), schema: [{name: id, type: int64, nullable: false}, {name: payload, type: string}]}
            sink: {type: postgres, connection: {url: "\(PostgresTestServer.url)"}, table: {schema: \(schema), name: target}, strategy: \(strategy)}
            state: {dir: \(dir)/state}
            """.write(toFile: path, atomically: true, encoding: .utf8)
        return path
    }

    static func messages(_ ids: ClosedRange<Int>, version: Int) -> [KafkaTestServer.Message] {
        ids.map { KafkaTestServer.Message(key: "{\"id\":\($0)}", value: "{\"id\":\($0),\"payload\":\"v\(version)\"}") }
    }

    /// Polls the target until `count(*), count(v2)` equals `want` (or the deadline passes).
    func waitFor(_ want: [String], seconds: Double = 60) async throws -> [String] {
        let pg = try await PostgresConnection.connect(url: PostgresTestServer.url)
        defer { Task { await pg.close() } }
        var last: [String] = []
        let deadline = Date().addingTimeInterval(seconds)
        while Date() < deadline {
            let rows = try? await pg.query(
                "SELECT count(*)::text, count(DISTINCT id)::text, count(*) FILTER (WHERE payload = 'v2')::text FROM \(PostgresSQL.quoteIdentifier(schema)).target")
            last = rows?.first?.map { $0 ?? "" } ?? []
            if last == want { return last }
            try await Task.sleep(for: .milliseconds(200))
        }
        return last
    }

    func dropSchema() async {
        if let pg = try? await PostgresConnection.connect(url: PostgresTestServer.url) {
            try? await pg.execute("DROP SCHEMA IF EXISTS \(PostgresSQL.quoteIdentifier(schema)) CASCADE")
            await pg.close()
        }
    }

    @Test func messagesArrivingWhileRunningLandExactlyAndSIGTERMStopsCleanly() async throws {
        try KafkaTestServer.require()
        try PostgresTestServer.require()
        defer { Task { await dropSchema() } }
        let topic = try KafkaTestServer.createTopic("stream", partitions: 6)
        let path = try manifest(topic: topic)
        let port = try PrivateClickHouse.freePort()
        let worker = try StreamProcess(
            ["stream", path, "--checkpoint-interval", "300ms", "--metrics-port", String(port)], log: "\(dir)/worker.log")
        try await KafkaTestServer.produce(topic, Self.messages(1...200, version: 1))
        #expect(try await waitFor(["200", "200", "0"]) == ["200", "200", "0"], "\(worker.output)")
        try await KafkaTestServer.produce(topic, Self.messages(1...50, version: 2) + Self.messages(201...300, version: 1))
        #expect(try await waitFor(["300", "300", "50"]) == ["300", "300", "50"], "\(worker.output)")
        // The Prometheus endpoint: rows, checkpoints and their duration, consumer lag per partition.
        try await Task.sleep(for: .seconds(1.5))
        let metrics = try await MetricsScrape(port: port)
        #expect(metrics.value("dpone_source_rows_total") == 350, "\(metrics.text)")
        #expect((metrics.value("dpone_checkpoints_total") ?? 0) >= 2, "\(metrics.text)")
        #expect((metrics.value("dpone_checkpoint_duration_seconds_count") ?? 0) >= 2, "\(metrics.text)")
        let lags = (0..<6).compactMap { metrics.value("dpone_consumer_lag{topic=\"\(topic)\",partition=\"\($0)\"}") }
        #expect(!lags.isEmpty && lags.allSatisfy { $0 == 0 }, "every message consumed: lag 0 per partition \(lags)\n\(metrics.text)")
        #expect(metrics.text.contains("dpone_channel_occupancy_ratio{edge="), "\(metrics.text)")
        let status = await worker.stop()
        #expect(status == 0, "a stop request finishes the checkpoint and exits 0: \(worker.output)")
        let committed = try await KafkaTestServer.committedOffPool(topic, group: topic, partitions: 6)
        #expect(committed.reduce(0, +) == 350, "every consumed offset committed after its state: \(committed)")
        // A restart resumes from the committed offsets and reads nothing twice.
        try await KafkaTestServer.produce(topic, Self.messages(301...310, version: 1))
        let again = try StreamProcess(
            ["stream", path, "--checkpoint-interval", "300ms", "--max-duration", "20s", "--progress", "plain"], log: "\(dir)/again.log")
        #expect(try await waitFor(["310", "310", "50"]) == ["310", "310", "50"], "\(again.output)")
        try await Task.sleep(for: .seconds(5.5))
        #expect(again.output.contains("rows/s"), "a plain status line every 5 s: \(again.output)")
        #expect(await again.stop() == 0)
        #expect(try await KafkaTestServer.committedOffPool(topic, group: topic, partitions: 6).reduce(0, +) == 360)
    }

    @Test func twoWorkersSplitPartitionsAndSurviveAKill() async throws {
        try KafkaTestServer.require()
        try PostgresTestServer.require()
        defer { Task { await dropSchema() } }
        let topic = try KafkaTestServer.createTopic("group", partitions: 6)
        let path = try manifest(topic: topic)
        let a = try StreamProcess(["stream", path, "--checkpoint-interval", "300ms", "--worker", "a"], log: "\(dir)/a.log")
        let b = try StreamProcess(["stream", path, "--checkpoint-interval", "300ms", "--worker", "b"], log: "\(dir)/b.log")
        try await Task.sleep(for: .seconds(3))
        try await KafkaTestServer.produce(topic, Self.messages(1...600, version: 1))
        #expect(try await waitFor(["600", "600", "0"]) == ["600", "600", "0"], "a: \(a.output)\nb: \(b.output)")
        #expect(a.output.contains("partitions assigned") && b.output.contains("partitions assigned"), "both workers own partitions")
        await a.killHard()
        try await KafkaTestServer.produce(topic, Self.messages(301...600, version: 2) + Self.messages(601...900, version: 1))
        #expect(try await waitFor(["900", "900", "300"], seconds: 90) == ["900", "900", "300"], "b: \(b.output)")
        #expect(await b.stop() == 0, "\(b.output)")
    }

    /// A second worker joins while the first has a checkpoint in flight (a long interval, messages
    /// arriving through the rebalance): the partitions move, both workers consume, and the target
    /// is exact. With a real broker the revocation is orderly (published and committed before the
    /// partitions move). librdkafka's mock cluster answers an offset commit sent during the join
    /// with ILLEGAL_GENERATION, which makes librdkafka declare the assignment lost: the new owner
    /// then re-reads since the last commit, which `incremental_merge` absorbs (at-least-once).
    /// The two stops overlap a rebalance (a leaving while b commits): b's final commit is refused
    /// with REBALANCE_IN_PROGRESS or its assignment is declared lost, so the stop rejoins and
    /// commits again; every durable offset is committed in the end.
    @Test func aWorkerJoiningWithACheckpointInFlightLosesNothing() async throws {
        try KafkaTestServer.require()
        try PostgresTestServer.require()
        defer { Task { await dropSchema() } }
        let topic = try KafkaTestServer.createTopic("rebalance", partitions: 6)
        let path = try manifest(topic: topic)
        let a = try StreamProcess(["stream", path, "--checkpoint-interval", "3s", "--worker", "a"], log: "\(dir)/ra.log")
        // a owns every partition before b exists (a loaded CI once started b inside a's first
        // rebalance: then nothing moves away from a).
        try await a.awaitOutput(containing: "partitions assigned")
        try await KafkaTestServer.produce(topic, Self.messages(1...300, version: 1))
        try await Task.sleep(for: .seconds(1))
        // a has read these and not yet published them when b joins; more keep arriving meanwhile.
        let b = try StreamProcess(["stream", path, "--checkpoint-interval", "3s", "--worker", "b"], log: "\(dir)/rb.log")
        // Messages keep arriving through the rebalance (the mock's group takes a few seconds per round).
        var next = 301
        let deadline = Date().addingTimeInterval(40)
        while next <= 900 {
            try await KafkaTestServer.produce(topic, Self.messages(next...(next + 49), version: 1))
            next += 50
            try await Task.sleep(for: .milliseconds(400))
            // Hold the last messages back until the partitions have moved.
            while next > 700, !b.output.contains("partitions assigned"), Date() < deadline { try await Task.sleep(for: .milliseconds(200)) }
        }
        #expect(try await waitFor(["900", "900", "0"], seconds: 90) == ["900", "900", "0"], "a: \(a.output)\nb: \(b.output)")
        #expect(a.output.contains("partitions revoked"), "the join moved partitions away from a: \(a.output)")
        #expect(b.output.contains("partitions assigned"), "\(b.output)")
        #expect(!a.output.contains("revocation without a durable checkpoint"), "\(a.output)")
        #expect(!b.output.contains("Assertion"), "a worker stopped before or right after its first assignment exits cleanly: \(b.output)")
        #expect(await a.stop() == 0, "\(a.output)")
        #expect(await b.stop() == 0, "\(b.output)")
        #expect(try await waitFor(["900", "900", "0"], seconds: 5) == ["900", "900", "0"])
        let committed = try await KafkaTestServer.committedOffPool(topic, group: topic, partitions: 6)
        #expect(committed.reduce(0, +) == 900, "every offset committed by the stops: \(committed)\na: \(a.output)\nb: \(b.output)")
    }

    /// SIGTERM while the worker waits in a rebalance for its first partitions: it leaves the group
    /// and exits 0. (Once, a worker stopped in a stalled rebalance aborted inside librdkafka 2.0's
    /// cooperative-sticky assignor, librdkafka#4312; such a consumer is no longer destroyed. This
    /// timing does not reproduce that abort every time: the test guards the stop path itself.)
    @Test func aWorkerStoppedBeforeItsFirstAssignmentExitsZero() async throws {
        try KafkaTestServer.require()
        try PostgresTestServer.require()
        defer { Task { await dropSchema() } }
        let topic = try KafkaTestServer.createTopic("early", partitions: 2)
        let path = try manifest(topic: topic)
        let a = try StreamProcess(["stream", path, "--checkpoint-interval", "300ms", "--worker", "a"], log: "\(dir)/early-a.log")
        try await a.awaitOutput(containing: "partitions assigned")
        let b = try StreamProcess(["stream", path, "--checkpoint-interval", "300ms", "--worker", "b"], log: "\(dir)/early-b.log")
        try await Task.sleep(for: .milliseconds(1500))
        #expect(!b.output.contains("partitions assigned"), "stopped inside the (mock's 3 s) rebalance")
        #expect(await b.stop() == 0, "\(b.output)")
        #expect(!b.output.contains("Assertion"), "\(b.output)")
        #expect(await a.stop() == 0, "\(a.output)")
    }

    @Test func rewritingStrategiesAreRefused() async throws {
        let path = "\(dir)/refused.yml"
        try """
            name: refused
            source: {type: kafka, connection: {url: "kafka://127.0.0.1:1"}, topic: t}
            sink: {type: files, path: \(dir)/out.csv, strategy: {mode: full_refresh}}
            """.write(toFile: path, atomically: true, encoding: .utf8)
        let out = try await CLI.run(["stream", path])
        #expect(out.status == 2, "a usage error")
        #expect(out.stdout.contains("cannot run continuously"), "\(out.stdout) \(out.stderr)")
    }
}

extension KafkaStreamTests {
    /// "Offsets are committed only after the state is durable", observed while it happens: a
    /// `dpone stream` worker with a slow sink (every insert into the target sleeps 300 ms) consumes
    /// messages produced throughout, and the group's committed offsets are sampled continuously,
    /// each sample before a read of the durable state file. At every sample no partition is
    /// committed past the state (both are the next offset to read). The samples must include
    /// commits, so the check is not vacuous.
    @Test func committedOffsetsNeverRunAheadOfTheDurableState() async throws {
        try KafkaTestServer.require()
        try PostgresTestServer.require()
        defer { Task { await dropSchema() } }
        let topic = try KafkaTestServer.createTopic("observe", partitions: 4)
        let pg = try await PostgresConnection.connect(url: PostgresTestServer.url)
        let q = PostgresSQL.quoteIdentifier(schema)
        try await pg.execute(
            """
            CREATE SCHEMA \(q);
            CREATE TABLE \(q).target (id bigint NOT NULL, payload text);
            CREATE FUNCTION \(q).slow() RETURNS trigger LANGUAGE plpgsql AS $$ BEGIN PERFORM pg_sleep(0.3); RETURN NULL; END $$;
            CREATE TRIGGER slow AFTER INSERT ON \(q).target FOR EACH STATEMENT EXECUTE FUNCTION \(q).slow();
            """)
        await pg.close()
        let path = try manifest(topic: topic)
        let worker = try StreamProcess(["stream", path, "--checkpoint-interval", "200ms"], log: "\(dir)/observe.log")
        let producer = Task {
            for round in 0..<30 {
                try await KafkaTestServer.produce(topic, Self.messages((round * 20 + 1)...(round * 20 + 20), version: 1))
                try await Task.sleep(for: .milliseconds(150))
            }
        }
        let reader = try await PostgresConnection.connect(url: PostgresTestServer.url)
        defer { Task { await reader.close() } }
        var samples = 0
        var samplesWithCommits = 0
        var violations: [String] = []
        let deadline = Date().addingTimeInterval(60)
        while Date() < deadline {
            let committed = try await KafkaTestServer.committedOffPool(topic, group: topic, partitions: 4)
            let durable: [Int64] = {
                guard let data = try? Data(contentsOf: URL(fileURLWithPath: "\(dir)/state/kstream@0.json")),
                    let state = try? JSONDecoder().decode(PipelineState.self, from: data)
                else { return [Int64](repeating: -1, count: 4) }
                return (0..<4).map { state.source?["offsets"]?[String($0)]?.intValue ?? -1 }
            }()
            samples += 1
            if committed.contains(where: { $0 > 0 }) { samplesWithCommits += 1 }
            for p in 0..<4 where committed[p] >= 0 && committed[p] > durable[p] {
                violations.append("partition \(p): committed \(committed[p]) > durable \(durable[p])")
            }
            let loaded = try await reader.query("SELECT count(DISTINCT id)::text FROM \(q).target").first?.first ?? nil
            if loaded == "600" { break }
        }
        try await producer.value
        #expect(violations.isEmpty, "\(violations.prefix(5)) in \(samples) samples")
        #expect(samplesWithCommits >= 5, "only \(samplesWithCommits) of \(samples) samples saw committed offsets: \(worker.output.suffix(2000))")
        #expect(try await waitFor(["600", "600", "0"]) == ["600", "600", "0"], "\(worker.output.suffix(2000))")
        #expect(await worker.stop() == 0, "\(worker.output.suffix(2000))")
    }

    /// Killed after the state is durable and before the group commit (`after_state_before_ack`),
    /// an append-only stream resumes after what it published: the start is the furthest of the
    /// group's committed offset and dpone's state. (It resumed from the group's offset and appended
    /// the first checkpoint's messages twice: found by `scripts/soak.sh`.)
    @Test func aKillBetweenTheStateAndTheGroupCommitAppendsNothingTwice() async throws {
        try KafkaTestServer.require()
        try PostgresTestServer.require()
        defer { Task { await dropSchema() } }
        let topic = try KafkaTestServer.createTopic("statefirst", partitions: 2)
        let path = try manifest(topic: topic, strategy: "{mode: incremental_append}")
        try await KafkaTestServer.produce(topic, Self.messages(1...200, version: 1))
        let killed = try StreamProcess(
            ["stream", path, "--checkpoint-interval", "300ms"], log: "\(dir)/killed.log",
            environment: ["DPONE_FAULT": FaultPoint.afterStateBeforeAck.rawValue])
        try await killed.awaitFaultKill(.afterStateBeforeAck)
        let published = try await waitFor(["(a count read once)"], seconds: 1)
        #expect((Int(published.first ?? "") ?? 0) > 0, "the killed run published before it died: \(published)")
        let restarted = try StreamProcess(["stream", path, "--checkpoint-interval", "300ms"], log: "\(dir)/restarted.log")
        defer { restarted.terminateIfRunning() }
        try await KafkaTestServer.produce(topic, Self.messages(201...300, version: 1))
        #expect(try await waitFor(["300", "300", "0"]) == ["300", "300", "0"], "\(restarted.output.suffix(2000))")
        #expect(await restarted.stop() == 0, "\(restarted.output.suffix(2000))")
    }
}
