import ClickHouseConnector
import DponeTestSupport
import Flow
import Foundation
import Testing

/// `dpone stream` rides out its sink's server: a private ClickHouse is killed mid-stream while
/// messages keep arriving, the process logs that it retries (the fault fired) instead of exiting,
/// and once the server is back every message is in the target exactly once; SIGTERM then ends the
/// run with exit 0.
@Suite(
    .tags(.integrationKafka, .integrationClickHouse), IntegrationGate.integration.trait,
    .enabled(if: binaryBuilt, "dpone binary not built"), .serialized)
struct StreamRetryCLITests {
    static func messages(_ ids: ClosedRange<Int>) -> [KafkaTestServer.Message] {
        ids.map { KafkaTestServer.Message(key: "{\"id\":\($0)}", value: "{\"id\":\($0),\"payload\":\"p\($0)\"}") }
    }

    /// Polls `count(), uniqExact(id)` of the target until it is `want` (the server may be down).
    func waitFor(_ want: [String], url: String, table: String, seconds: Double = 90) async throws -> [String] {
        var last: [String] = []
        let deadline = Date().addingTimeInterval(seconds)
        while Date() < deadline {
            if let client = try? ClickHouseClient(url: url) {
                last = (try? await client.queryRows("SELECT count(), uniqExact(id) FROM \(table)"))?.first ?? last
                await client.close()
            }
            if last == want { return last }
            try await Task.sleep(for: .milliseconds(250))
        }
        return last
    }

    @Test(.timeLimit(.minutes(5)))
    func aClickHouseCrashMidStreamIsRiddenOutWithNothingLostOrDoubled() async throws {
        try KafkaTestServer.require()
        let server = try PrivateClickHouse()
        defer { server.stopQuietly() }
        try await server.run("start")
        try await server.waitForPing()
        let admin = try ClickHouseClient(url: server.url)
        _ = try await admin.queryRows("CREATE DATABASE IF NOT EXISTS retry_db")
        await admin.close()
        let dir = NSTemporaryDirectory() + "dpone-retry-" + UUID().uuidString
        try FileManager.default.createDirectory(atPath: dir, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(atPath: dir) }
        let topic = try KafkaTestServer.createTopic("retry", partitions: 2)
        try """
            name: retry
            source:
              type: kafka
              connection: {url: "\(try KafkaTestServer.url)"}
              topic: \(topic)
              options: {group_id: \(topic), schema: [{name: id, type: int64, nullable: false}, {name: payload, type: string}]}
            sink: {type: clickhouse, connection: {url: "\(server.url)"}, table: {schema: retry_db, name: target}, strategy: {mode: incremental_append}}
            state: {dir: \(dir)/state}
            retry: {initial: 300ms, max: 2s, max_elapsed: 3m}
            """.write(toFile: "\(dir)/stream.yml", atomically: true, encoding: .utf8)
        let stream = try StreamProcess(["stream", "\(dir)/stream.yml", "--checkpoint-interval", "300ms"], log: "\(dir)/stream.log")
        try await KafkaTestServer.produce(topic, Self.messages(1...500))
        #expect(try await waitFor(["500", "500"], url: server.url, table: "retry_db.target") == ["500", "500"], "\(stream.output.suffix(3000))")

        try await server.crash()
        try await KafkaTestServer.produce(topic, Self.messages(501...1000))
        try await stream.awaitOutput(containing: "will be retried from the last durable checkpoint", seconds: 60)
        #expect(stream.output.contains("will be retried from the last durable checkpoint"), "the outage was seen: \(stream.output.suffix(3000))")
        #expect(stream.process.isRunning, "the daemon did not exit: \(stream.output.suffix(3000))")

        try await server.run("start")
        try await server.waitForPing()
        #expect(
            try await waitFor(["1000", "1000"], url: server.url, table: "retry_db.target") == ["1000", "1000"],
            "every message once after the restart: \(stream.output.suffix(3000))")
        #expect(stream.process.isRunning)
        let status = await stream.stop()
        #expect(status == 0, "\(stream.output.suffix(3000))")
    }
}
