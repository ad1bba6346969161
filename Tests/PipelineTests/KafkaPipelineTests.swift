import DponeTestSupport
import Flow
import Foundation
import Manifest
import Pipeline
import PostgresConnector
import Testing

/// Kafka through the real pipeline against the local mock cluster (librdkafka's, real protocol).
@Suite(.tags(.integrationKafka), IntegrationGate.integration.trait, .serialized)
struct KafkaPipelineTests {
    let dir: String

    init() throws {
        dir = NSTemporaryDirectory() + "dpone-kafka-" + UUID().uuidString
        try FileManager.default.createDirectory(atPath: dir, withIntermediateDirectories: true)
    }

    static func orders(_ ids: ClosedRange<Int>, version: Int = 1) -> [KafkaTestServer.Message] {
        ids.map {
            KafkaTestServer.Message(
                key: "{\"id\":\($0)}",
                value: "{\"id\":\($0),\"name\":\"n\($0)-v\(version)\",\"amount\":\(Double($0) / 4),\"ts\":\"2026-11-0\($0 % 9 + 1)T10:00:00Z\"}")
        }
    }

    func parse(_ yaml: String) throws -> ManifestDocument {
        try ManifestLoader.parse(yaml: yaml, path: "\(dir)/k.yml", environment: [:])
    }

    func run(_ doc: ManifestDocument) async -> RunResult {
        await BatchPipeline.run(document: doc, options: BatchOptions())
    }

    /// Reads every part file of a files sink directory as its data lines.
    func lines(_ path: String) throws -> [String] {
        let parts = try FileManager.default.contentsOfDirectory(atPath: path).filter { $0.hasPrefix("part-") }.sorted()
        return try parts.flatMap { try String(contentsOfFile: "\(path)/\($0)", encoding: .utf8).split(separator: "\n").dropFirst().map(String.init) }
    }

    @Test func twoBoundedRunsLoadEveryMessageExactlyOnce() async throws {
        try KafkaTestServer.require()
        let topic = try KafkaTestServer.createTopic("twice", partitions: 3)
        try KafkaTestServer.produce(topic, Self.orders(1...300))
        let doc = try parse(
            """
            name: k2f
            source:
              type: kafka
              connection: {url: "\(try KafkaTestServer.url)"}
              topic: \(topic)
              options:
                schema: [{name: id, type: int64, nullable: false}, {name: name, type: string}, {name: amount, type: "decimal(10,2)"}, {name: ts, type: timestamptz}]
                metadata: true
            sink: {type: files, path: \(dir)/out, strategy: {mode: incremental_append}, options: {format: csv}}
            state: {dir: \(dir)/state}
            """)
        let first = await run(doc)
        #expect(first.status == .succeeded, "\(first.error ?? "")")
        #expect(first.extractedRows == 300)
        try KafkaTestServer.produce(topic, Self.orders(301...500))
        let second = await run(doc)
        #expect(second.status == .succeeded, "\(second.error ?? "")")
        #expect(second.extractedRows == 200, "only the messages that arrived in between")
        let third = await run(doc)
        #expect(third.status == .succeeded && third.extractedRows == 0)
        let rows = try lines("\(dir)/out")
        let ids = rows.map { Int($0.split(separator: ",")[0])! }
        #expect(ids.count == 500 && Set(ids) == Set(1...500), "every message once")
        // The stored positions are the consumed offsets: per partition, the high watermark.
        let offsets = second.state?.source?["offsets"]
        let total = ["0", "1", "2"].compactMap { offsets?[$0]?.intValue }.reduce(0, +)
        #expect(total == 500)
        #expect(rows.first?.contains(",2026-11-0") == true, "timestamps decoded")
    }

    @Test func inferredJSONToPostgresMergeAndClearPoisonErrors() async throws {
        try KafkaTestServer.require()
        try PostgresTestServer.require()
        let topic = try KafkaTestServer.createTopic("pg", partitions: 2)
        let schema = PostgresTestServer.uniqueSchemaName("k2pg")
        try KafkaTestServer.produce(topic, Self.orders(1...100))
        let manifest = { (extra: String) in
            try self.parse(
                """
                name: k2pg
                source:
                  type: kafka
                  connection: {url: "\(try KafkaTestServer.url)"}
                  topic: \(topic)
                  options: {start: earliest\(extra)}
                sink: {type: postgres, connection: {url: "\(PostgresTestServer.url)"}, table: {schema: \(schema), name: orders}, strategy: {mode: incremental_merge, unique_key: id}}
                state: {dir: \(self.dir)/state-pg}
                """)
        }
        let first = await run(try manifest(""))
        #expect(first.status == .succeeded, "\(first.error ?? "")")
        #expect(first.insertedRows == 100)
        // Updates of 1...10 and a corrupt message at the end of partition 0.
        try KafkaTestServer.produce(topic, Self.orders(1...10, version: 2) + [.init(key: "{\"id\":999}", value: "{\"id\": 999, \"name\": ", partition: 0)])
        let poisoned = await run(try manifest(""))
        #expect(poisoned.status == .failed)
        #expect(poisoned.error?.contains("undecodable message at \(topic) partition 0 offset") == true, "\(poisoned.error ?? "")")
        let pg = try await PostgresConnection.connect(url: PostgresTestServer.url)
        let unchanged = try await pg.query("SELECT count(*)::text FROM \(PostgresSQL.quoteIdentifier(schema)).orders WHERE name LIKE '%-v2'")
        #expect(unchanged == [["0"]], "nothing published before the poison was found")

        let quarantine = "\(dir)/quarantine.jsonl"
        let recovered = await run(try manifest(", on_decode_error: quarantine, quarantine: {path: \(quarantine)}"))
        #expect(recovered.status == .succeeded, "\(recovered.error ?? "")")
        #expect(recovered.updatedRows == 10)
        let rows = try await pg.query(
            "SELECT count(*)::text, count(*) FILTER (WHERE name LIKE '%-v2')::text, sum(amount)::text FROM \(PostgresSQL.quoteIdentifier(schema)).orders")
        #expect(rows == [["100", "10", "1262.5"]], "amount inferred as a number")
        let entry = try String(contentsOfFile: quarantine, encoding: .utf8).split(separator: "\n")
        #expect(entry.count == 1)
        #expect(entry.first?.contains("\"topic\":\"\(topic)\",\"partition\":0,\"offset\":") == true)
        #expect(entry.first?.contains("\"payload\":\"\(Data("{\"id\": 999, \"name\": ".utf8).base64EncodedString())\"") == true)
        try await pg.execute("DROP SCHEMA \(PostgresSQL.quoteIdentifier(schema)) CASCADE")
        await pg.close()
    }
}
