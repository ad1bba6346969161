import DponeTestSupport
import Flow
import Foundation
import PostgresConnector
import Testing

/// `dpone stream` is a daemon: it rides out a restart of the servers it reads from, the way
/// Debezium does, instead of exiting. Each test takes a private server down under a running stream
/// and a concurrent workload (the shared servers serve every other suite in parallel). It requires a
/// line proving the outage was seen (the stream's retry line; for the broker, librdkafka's report
/// and the lost group session) and a process still running. Once the server is back, the target must
/// equal the source exactly, and SIGTERM must end the run with exit 0. Two of these found defects:
/// a registry away made a message "undecodable" (the run ended, or with quarantine the message was
/// set aside), and a partition lost and given back re-read from a stale committed offset (999
/// duplicates). The ClickHouse sink's crash is `StreamRetryCLITests`.
@Suite(
    .tags(.integrationReplay, .integrationPostgres, .integrationKafka), IntegrationGate.replay.trait,
    IntegrationGate.integration.trait, .enabled(if: binaryBuilt, "dpone binary not built"), .serialized)
struct StreamServerRestartTests {
    static let retried = "will be retried from the last durable checkpoint"
    let dir: String
    let schema = PostgresTestServer.uniqueSchemaName("restart")
    var s: String { PostgresSQL.quoteIdentifier(schema) }

    init() throws {
        dir = NSTemporaryDirectory() + "dpone-restart-" + UUID().uuidString
        try FileManager.default.createDirectory(atPath: dir, withIntermediateDirectories: true)
    }

    /// `count(*)` and `count(DISTINCT key)` of a table of the shared PostgreSQL, polled until they
    /// are `want` (or the deadline passes); returns the last answer.
    func waitForCounts(_ want: [String], table: String, key: String = "id", seconds: Double = 90) async throws -> [String] {
        let pg = try await PostgresConnection.connect(url: PostgresTestServer.url)
        defer { Task { await pg.close() } }
        var last: [String] = []
        let deadline = Date().addingTimeInterval(seconds)
        while Date() < deadline {
            if let row = try? await pg.query("SELECT count(*)::text, count(DISTINCT \(key))::text FROM \(s).\(table)").first {
                last = row.map { $0 ?? "" }
            }
            if last == want { return last }
            try await Task.sleep(for: .milliseconds(250))
        }
        return last
    }

    func dropSchema() async {
        guard let pg = try? await PostgresConnection.connect(url: PostgresTestServer.url) else { return }
        _ = try? await pg.execute("DROP SCHEMA IF EXISTS \(s) CASCADE")
        await pg.close()
        try? FileManager.default.removeItem(atPath: dir)
    }

    // MARK: PostgreSQL, the CDC source

    /// Inserts, updates and deletes on the source until `stop` is set, through server restarts: a
    /// failed statement reconnects and runs again (each is idempotent, so a commit whose reply was
    /// lost does no harm). Returns how many statements it ran and how many failed.
    final class Workload: @unchecked Sendable {
        let url: String
        let table: String
        private let lock = NSLock()
        private var stopped = false
        private(set) var statements = 0
        private(set) var failures = 0

        init(url: String, table: String) {
            self.url = url
            self.table = table
        }

        var isStopped: Bool { lock.withLock { stopped } }
        func stop() { lock.withLock { stopped = true } }

        func run(from first: Int) async {
            var connection: PostgresConnection?
            var i = first
            while !isStopped {
                let sql =
                    switch i % 10 {
                    case 3: "UPDATE \(table) SET name = 'u\(i)', amount = amount + 1 WHERE id = \(i - 50)"
                    case 7: "DELETE FROM \(table) WHERE id = \(i - 100)"
                    default:
                        "INSERT INTO \(table) VALUES (\(i), 'n\(i)', \(i).25) ON CONFLICT (id) DO UPDATE SET name = EXCLUDED.name"
                    }
                do {
                    if connection == nil { connection = try await PostgresConnection.connect(url: url) }
                    try await connection?.execute(sql)
                    statements += 1
                    i += 1
                } catch {
                    failures += 1
                    if let c = connection { await c.close() }
                    connection = nil
                    try? await Task.sleep(for: .milliseconds(200))
                }
                try? await Task.sleep(for: .milliseconds(10))
            }
            if let c = connection { await c.close() }
        }
    }

    @Test(.timeLimit(.minutes(5)))
    func aRestartOfTheCDCSourceIsRiddenOutWithNothingLostOrDoubled() async throws {
        try PostgresTestServer.require()
        let source = try PrivatePostgres()
        defer { source.stopQuietly() }
        try await source.run("start")
        let pg = try await PostgresConnection.connect(url: source.url)
        try await pg.execute(
            """
            CREATE TABLE public.src (id int PRIMARY KEY, name text, amount numeric(10,2));
            INSERT INTO public.src SELECT i, 'n' || i, i * 1.5 FROM generate_series(1, 300) AS i;
            """)
        await pg.close()
        defer { Task { await dropSchema() } }
        let target = try await PostgresConnection.connect(url: PostgresTestServer.url)
        try await target.execute("CREATE SCHEMA \(s)")
        await target.close()
        try """
            name: restart
            source:
              type: postgres
              connection: {url: "\(source.url)"}
              table: {schema: public, name: src}
              options: {cdc: {slot: dpone_restart, publication: dpone_restart}}
            sink: {type: postgres, connection: {url: "\(PostgresTestServer.url)"}, table: {schema: \(schema), name: dst}, strategy: {mode: cdc_apply, unique_key: id}}
            state: {dir: \(dir)/state}
            retry: {initial: 300ms, max: 2s, max_elapsed: 3m}
            """.write(toFile: "\(dir)/stream.yml", atomically: true, encoding: .utf8)
        let stream = try StreamProcess(["stream", "\(dir)/stream.yml", "--checkpoint-interval", "300ms"], log: "\(dir)/stream.log")
        defer { stream.terminateIfRunning() }
        #expect(try await waitForCounts(["300", "300"], table: "dst") == ["300", "300"], "snapshot: \(stream.output.suffix(3000))")

        let workload = Workload(url: source.url, table: "public.src")
        let writer = Task { await workload.run(from: 301) }
        try await Task.sleep(for: .seconds(2))
        try await source.run("stop")
        try await stream.awaitOutput(containing: Self.retried, seconds: 60)
        #expect(stream.output.contains(Self.retried), "the outage was seen: \(stream.output.suffix(3000))")
        #expect(stream.process.isRunning, "the daemon did not exit: \(stream.output.suffix(3000))")
        try await source.run("start")
        try await Task.sleep(for: .seconds(3))
        workload.stop()
        await writer.value
        #expect(workload.failures > 0, "the workload saw the restart too")

        let want = try await digest(url: source.url, table: "public.src")
        var got: [String] = []
        let deadline = Date().addingTimeInterval(90)
        while Date() < deadline {
            got = (try? await digest(url: PostgresTestServer.url, table: "\(s).dst")) ?? []
            if got == want { break }
            try await Task.sleep(for: .milliseconds(250))
        }
        #expect(got == want, "the target equals the source after the restart: \(stream.output.suffix(3000))")
        #expect(stream.process.isRunning)
        #expect(await stream.stop() == 0, "\(stream.output.suffix(3000))")
    }

    /// Count and a digest of every row of `table` at `url`.
    func digest(url: String, table: String) async throws -> [String] {
        let pg = try await PostgresConnection.connect(url: url)
        defer { Task { await pg.close() } }
        let rows = try await pg.query(
            "SELECT count(*)::text, coalesce(md5(string_agg(format('%s|%s|%s', id, name, amount), ',' ORDER BY id)), '') FROM \(table)")
        return rows.first?.map { $0 ?? "" } ?? []
    }

    // MARK: the Kafka broker

    static var mockBinary: String {
        URL(fileURLWithPath: CLI.binary).deletingLastPathComponent().appendingPathComponent("dpone-kafka-mock").path
    }

    static func messages(_ ids: ClosedRange<Int>) -> [KafkaTestServer.Message] {
        ids.map { KafkaTestServer.Message(key: "{\"id\":\($0)}", value: "{\"id\":\($0),\"payload\":\"p\($0)\"}") }
    }

    @Test(.timeLimit(.minutes(5)))
    func aBrokerRestartIsRiddenOutWithNothingLostOrDoubled() async throws {
        try PostgresTestServer.require()
        let broker = try await PrivateKafkaMock.start(binary: Self.mockBinary)
        defer { broker.stop() }
        defer { Task { await dropSchema() } }
        let topic = try broker.createTopic("restart", partitions: 2)
        try """
            name: brokerrestart
            source:
              type: kafka
              connection: {url: "\(broker.url)"}
              topic: \(topic)
              options: {group_id: \(topic), schema: [{name: id, type: int64, nullable: false}, {name: payload, type: string}]}
            sink: {type: postgres, connection: {url: "\(PostgresTestServer.url)"}, table: {schema: \(schema), name: target}, strategy: {mode: incremental_append}}
            state: {dir: \(dir)/state}
            retry: {initial: 300ms, max: 2s, max_elapsed: 3m}
            """.write(toFile: "\(dir)/stream.yml", atomically: true, encoding: .utf8)
        let stream = try StreamProcess(["stream", "\(dir)/stream.yml", "--checkpoint-interval", "300ms"], log: "\(dir)/stream.log")
        defer { stream.terminateIfRunning() }
        try await KafkaTestServer.produce(topic, Self.messages(1...500), bootstrap: broker.bootstrap)
        #expect(try await waitForCounts(["500", "500"], table: "target") == ["500", "500"], "\(stream.output.suffix(3000))")

        try broker.command("down")
        // Produced while the broker is down: delivered once it is back (the producer retries).
        let producer = Task { try await KafkaTestServer.produce(topic, Self.messages(501...1000), bootstrap: broker.bootstrap) }
        // A broker away is not a failure of the run: librdkafka reconnects by itself, and an offset
        // commit that fails meanwhile is only a warning (dpone's state, not the group's offsets,
        // says where a run resumes). The client's own report proves the outage was seen.
        let down = "brokers are down"
        try await stream.awaitOutput(containing: down, seconds: 30)
        #expect(stream.output.contains(down), "the outage was seen: \(stream.output.suffix(3000))")
        // Down long enough for the group session to expire: the partitions are lost while their
        // last offset commit failed, and come back to this member from an older committed offset
        // (it re-read 999 messages before `resumeOffsets`).
        let lost = "lost=true partitions=[0, 1]"
        try await stream.awaitOutput(containing: lost, seconds: 60)
        #expect(stream.output.contains(lost), "the session expired: \(stream.output.suffix(3000))")
        #expect(stream.process.isRunning, "the daemon did not exit: \(stream.output.suffix(3000))")
        try broker.command("up")
        try await producer.value
        #expect(
            try await waitForCounts(["1000", "1000"], table: "target") == ["1000", "1000"],
            "every message once after the restart: \(stream.output.suffix(3000))")
        #expect(stream.process.isRunning)
        #expect(await stream.stop() == 0, "\(stream.output.suffix(3000))")
    }

    // MARK: the schema registry

    /// Confluent-framed Avro of `{id: long, payload: string}` written with schema `schemaID`.
    static func avroMessage(_ id: Int, schemaID: Int32) -> KafkaTestServer.Message {
        func varint(_ v: Int64) -> [UInt8] {
            var z = UInt64(bitPattern: (v << 1) ^ (v >> 63))
            var out: [UInt8] = []
            while z >= 0x80 {
                out.append(UInt8(z & 0x7F) | 0x80)
                z >>= 7
            }
            return out + [UInt8(z)]
        }
        let payload = Array("p\(id)".utf8)
        let header: [UInt8] = [0] + withUnsafeBytes(of: schemaID.bigEndian) { Array($0) }
        return KafkaTestServer.Message(
            key: Array("{\"id\":\(id)}".utf8), value: header + varint(Int64(id)) + varint(Int64(payload.count)) + payload)
    }

    /// Registers `schema` under `subject` through the fake's REST API and returns its id.
    static func register(_ schema: String, subject: String, registry: String) async throws -> Int32 {
        let body = try JSONSerialization.data(withJSONObject: ["schema": schema])
        let out = try await OffPoolProcess.run(
            "/usr/bin/curl",
            [
                "-sS", "--max-time", "10", "-X", "POST", "-H", "Content-Type: application/vnd.schemaregistry.v1+json",
                "--data-binary", String(decoding: body, as: UTF8.self), "\(registry)/subjects/\(subject)/versions",
            ])
        guard let object = try JSONSerialization.jsonObject(with: Data(out.stdout.utf8)) as? [String: Any],
            let id = object["id"] as? Int
        else { throw DponeError(.internal, "registering \(subject): \(out.stdout) \(out.stderr)") }
        return Int32(id)
    }

    @Test(.timeLimit(.minutes(5)))
    func aTenSecondRegistryOutageIsRiddenOutWithNothingLostOrDoubled() async throws {
        try PostgresTestServer.require()
        try KafkaTestServer.require()
        let data = "\(dir)/registry.json"
        let port = try SchemaRegistryTestServer.Private.freePort()
        var registry = try await SchemaRegistryTestServer.Private.start(port: port, data: data)
        defer { registry.stop() }
        defer { Task { await dropSchema() } }
        let topic = try KafkaTestServer.createTopic("registry", partitions: 2)
        let v1 = #"{"type":"record","name":"R","namespace":"restart","fields":[{"name":"id","type":"long"},{"name":"payload","type":"string"}]}"#
        // The same fields with a doc: another schema (another id) the stream has not seen yet.
        let v2 = #"{"type":"record","name":"R","namespace":"restart","doc":"v2","fields":[{"name":"id","type":"long"},{"name":"payload","type":"string"}]}"#
        let id1 = try await Self.register(v1, subject: "\(topic)-value", registry: registry.url)
        try """
            name: registryrestart
            source:
              type: kafka
              connection: {url: "\(try KafkaTestServer.url)"}
              topic: \(topic)
              options: {group_id: \(topic), format: avro, start: earliest, schema_registry: {url: "\(registry.url)"}, on_decode_error: quarantine, quarantine: {path: \(dir)/quarantine.jsonl}}
            sink: {type: postgres, connection: {url: "\(PostgresTestServer.url)"}, table: {schema: \(schema), name: target}, strategy: {mode: incremental_append}}
            state: {dir: \(dir)/state}
            retry: {initial: 300ms, max: 2s, max_elapsed: 3m}
            """.write(toFile: "\(dir)/stream.yml", atomically: true, encoding: .utf8)
        let stream = try StreamProcess(["stream", "\(dir)/stream.yml", "--checkpoint-interval", "300ms"], log: "\(dir)/stream.log")
        defer { stream.terminateIfRunning() }
        try await KafkaTestServer.produce(topic, (1...300).map { Self.avroMessage($0, schemaID: id1) })
        #expect(try await waitForCounts(["300", "300"], table: "target") == ["300", "300"], "\(stream.output.suffix(3000))")

        let id2 = try await Self.register(v2, subject: "\(topic)-value", registry: registry.url)
        #expect(id2 != id1)
        registry.stop()
        let killedAt = Date()
        #expect(!IntegrationGate.canConnect(host: "127.0.0.1", port: port), "the registry is down")
        try await KafkaTestServer.produce(topic, (301...600).map { Self.avroMessage($0, schemaID: id2) })
        try await stream.awaitOutput(containing: Self.retried, seconds: 9)
        #expect(stream.output.contains(Self.retried), "the outage was seen: \(stream.output.suffix(3000))")
        let remaining = 10 - Date().timeIntervalSince(killedAt)
        if remaining > 0 { try await Task.sleep(for: .milliseconds(Int(remaining * 1000))) }
        #expect(stream.process.isRunning, "the daemon did not exit: \(stream.output.suffix(3000))")
        registry = try await SchemaRegistryTestServer.Private.start(port: port, data: data)
        #expect(
            try await waitForCounts(["600", "600"], table: "target") == ["600", "600"],
            "every message once after the outage: \(stream.output.suffix(3000))")
        // A registry away is not a bad message: nothing was set aside.
        let quarantined = (try? String(contentsOfFile: "\(dir)/quarantine.jsonl", encoding: .utf8)) ?? ""
        #expect(quarantined.isEmpty, "quarantined while the registry was away: \(quarantined.prefix(500))")
        #expect(stream.process.isRunning)
        #expect(await stream.stop() == 0, "\(stream.output.suffix(3000))")
    }
}
