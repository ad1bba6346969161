import DponeTestSupport
import Flow
import Foundation
import PostgresConnector
import Testing

/// Kafka -> Postgres (incremental_merge) and Kafka -> files (incremental_append), SIGKILLed at every
/// `DPONE_FAULT` point and re-run, with messages arriving between runs: every message lands exactly
/// once (merge: the latest version of each key; append: each message once), and the group's
/// committed offsets (`offset_storage: kafka`) are never ahead of dpone's state.
@Suite(
    .tags(.integrationReplay, .integrationKafka, .integrationPostgres), IntegrationGate.replay.trait,
    IntegrationGate.integration.trait, .enabled(if: binaryBuilt, "dpone binary not built"), .serialized)
struct KafkaReplayTests {
    static func messages(_ ids: ClosedRange<Int>, version: Int) -> [KafkaTestServer.Message] {
        ids.map { KafkaTestServer.Message(key: "{\"id\":\($0)}", value: "{\"id\":\($0),\"payload\":\"v\(version)-\($0)\"}") }
    }

    @Test(arguments: FaultPoint.allCases.map(\.rawValue))
    func killedAndRerunLosesNothingAndDoublesNothing(fault: String) async throws {
        try KafkaTestServer.require()
        try PostgresTestServer.require()
        let topic = try KafkaTestServer.createTopic("replay", partitions: 3)
        let schema = PostgresTestServer.uniqueSchemaName("kreplay")
        let dir = NSTemporaryDirectory() + "dpone-kreplay-" + UUID().uuidString
        try FileManager.default.createDirectory(atPath: dir, withIntermediateDirectories: true)
        let url = try KafkaTestServer.url
        func source(_ name: String) -> String {
            """
            source:
              type: kafka
              connection: {url: "\(url)"}
              topic: \(topic)
              options: {offset_storage: kafka, group_id: \(name)-\(topic), schema: [{name: id, type: int64, nullable: false}, {name: payload, type: string}]}
            """
        }
        try """
            name: kreplay-pg
            \(source("pg"))
            sink: {type: postgres, connection: {url: "\(PostgresTestServer.url)"}, table: {schema: \(schema), name: target}, strategy: {mode: incremental_merge, unique_key: id}}
            state: {dir: \(dir)/state-pg}
            """.write(toFile: "\(dir)/pg.yml", atomically: true, encoding: .utf8)
        try """
            name: kreplay-files
            \(source("files"))
            sink: {type: files, path: \(dir)/out, strategy: {mode: incremental_append}, options: {format: csv}}
            state: {dir: \(dir)/state-files}
            """.write(toFile: "\(dir)/files.yml", atomically: true, encoding: .utf8)

        func load(_ manifest: String) async throws {
            let killed = try await CLI.run(["batch", "\(dir)/\(manifest)", "--progress", "none"], environment: ["DPONE_FAULT": fault])
            #expect(killed.died(at: fault), "killed at \(fault): \(killed.stdout) \(killed.stderr)")
            let rerun = try await CLI.run(["batch", "\(dir)/\(manifest)", "--progress", "none"])
            #expect(rerun.status == 0, "\(rerun.stdout) \(rerun.stderr)")
        }
        try await KafkaTestServer.produce(topic, Self.messages(1...300, version: 1))
        try await load("pg.yml")
        try await load("files.yml")
        // Updates of 1...100 and new keys arrive between runs.
        try await KafkaTestServer.produce(topic, Self.messages(1...100, version: 2) + Self.messages(301...400, version: 1))
        try await load("pg.yml")
        try await load("files.yml")

        let pg = try await PostgresConnection.connect(url: PostgresTestServer.url)
        let rows = try await pg.query(
            "SELECT count(*)::text, count(DISTINCT id)::text, count(*) FILTER (WHERE payload LIKE 'v2-%')::text, min(id)::text, max(id)::text FROM \(PostgresSQL.quoteIdentifier(schema)).target")
        try await pg.execute("DROP SCHEMA \(PostgresSQL.quoteIdentifier(schema)) CASCADE")
        await pg.close()
        #expect(rows == [["400", "400", "100", "1", "400"]], "merge at \(fault): every key once, updates applied")

        let parts = try FileManager.default.contentsOfDirectory(atPath: "\(dir)/out").filter { $0.hasPrefix("part-") }
        let lines = try parts.flatMap { try String(contentsOfFile: "\(dir)/out/\($0)", encoding: .utf8).split(separator: "\n").dropFirst() }
        #expect(lines.count == 500, "append at \(fault): each of the 500 messages exactly once")
        #expect(Set(lines).count == 500)

        // The state records every consumed offset, and the group's committed offsets equal it
        // (committed only after the state was durable).
        for (name, pipeline) in [("pg", "kreplay-pg"), ("files", "kreplay-files")] {
            let data = try Data(contentsOf: URL(fileURLWithPath: "\(dir)/state-\(name)/\(pipeline).json"))
            let state = try JSONDecoder().decode(PipelineState.self, from: data)
            let stored = (0..<3).map { state.source?["offsets"]?[String($0)]?.intValue ?? -1 }
            #expect(stored.reduce(0, +) == 500, "\(name) at \(fault): state offsets \(stored)")
            let committed = try await KafkaTestServer.committedOffPool(topic, group: "\(name)-\(topic)", partitions: 3)
            #expect(committed == stored, "\(name) at \(fault): the group's offsets match the durable state")
        }
    }
}

extension KafkaReplayTests {
    /// files -> Kafka (keyed upserts) SIGKILLed at every fault point, the Kafka sink's own
    /// `mid_finalize` included (between its delivery flush and the checkpoint's acknowledgement), and
    /// re-run, twice with the source changed in between: the topic is at-least-once (a replayed
    /// checkpoint is produced again, never more than once over), and a consumer applying events by
    /// key ends with exactly the source.
    @Test(arguments: FaultPoint.allCases.map { $0.rawValue })
    func aKafkaSinkKilledAtEachPointConvergesByKey(fault: String) async throws {
        try KafkaTestServer.require()
        let topic = try KafkaTestServer.createTopic("sinkreplay", partitions: 3)
        let dir = NSTemporaryDirectory() + "dpone-ksink-" + UUID().uuidString
        try FileManager.default.createDirectory(atPath: dir, withIntermediateDirectories: true)
        try """
            name: ksink
            source: {type: files, path: \(dir)/in.csv, options: {schema: [{name: id, type: int64, nullable: false}, {name: payload, type: string}]}}
            sink: {type: kafka, connection: {url: "\(try KafkaTestServer.url)"}, topic: \(topic), strategy: {mode: incremental_merge, unique_key: id}}
            state: {dir: \(dir)/state}
            """.write(toFile: "\(dir)/p.yml", atomically: true, encoding: .utf8)
        var expected: [Int: String] = [:]
        var produced = 0
        for version in 1...2 {
            let ids = version == 1 ? Array(1...300) : Array(1...100) + Array(301...350)
            for id in ids { expected[id] = "v\(version)-\(id)" }
            try ("id,payload\n" + ids.map { "\($0),v\(version)-\($0)\n" }.joined())
                .write(toFile: "\(dir)/in.csv", atomically: true, encoding: .utf8)
            let killed = try await CLI.run(["batch", "\(dir)/p.yml", "--progress", "none"], environment: ["DPONE_FAULT": fault])
            #expect(killed.died(at: fault), "killed at \(fault): \(killed.stdout) \(killed.stderr)")
            let rerun = try await CLI.run(["batch", "\(dir)/p.yml", "--progress", "none"])
            #expect(rerun.status == 0, "\(rerun.stdout) \(rerun.stderr)")
            produced += ids.count
        }
        let records = try await KafkaTestServer.consumeAllOffPool(topic, partitions: 3)
        var latest: [Int: (offset: Int64, payload: String)] = [:]
        for record in records {
            let value = try JSONSerialization.jsonObject(with: Data((record.value ?? "{}").utf8)) as? [String: Any]
            guard let id = value?["id"] as? Int, let payload = value?["payload"] as? String else {
                Issue.record("unexpected message \(record)")
                continue
            }
            if latest[id].map({ record.offset > $0.offset }) ?? true { latest[id] = (record.offset, payload) }
        }
        #expect(latest.mapValues(\.payload) == expected, "by key, the topic ends with exactly the source (\(fault))")
        #expect(records.count >= produced && records.count <= 2 * produced, "\(records.count) messages for \(produced) rows at \(fault)")
    }
}
