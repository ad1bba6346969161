import DponeTestSupport
import Flow
import Foundation
import KafkaCodecs
import KafkaConnector
import Testing

/// The Kafka sink follows a source whose shape changes mid-stream (an ALTER TABLE on a CDC
/// source): the Avro value schema gets a new version in the registry for an added column (an
/// optional field), a widened one (int -> long) and a dropped one (kept, NULL), each accepted by
/// the registry's BACKWARD compatibility; Confluent's own deserializer reads every message with
/// the version it was written with.
@Suite(.tags(.integrationKafka), IntegrationGate.integration.trait, .serialized)
struct KafkaSchemaEvolutionTests {
    func batch(_ fields: [Field], _ rows: [[Value]]) -> Batch {
        var builder = BatchBuilder(schema: Schema(fields))
        for row in rows { builder.append(row: row) }
        return builder.finish()
    }

    /// A sink of `format` with the local registry, on a new one-partition topic.
    func sink(_ format: KafkaFormat, topic prefix: String) throws -> (KafkaSink, String) {
        try KafkaTestServer.require()
        try SchemaRegistryTestServer.require()
        let topic = try KafkaTestServer.createTopic(prefix, partitions: 1)
        var options = KafkaSinkOptions(topic: topic, properties: KafkaProperties(["bootstrap.servers": try KafkaTestServer.bootstrap]))
        options.format = format
        options.registry = KafkaRegistryOptions(url: SchemaRegistryTestServer.url)
        return (try KafkaSink(name: "k", options: options, pipeline: "evolve", loadID: "l1"), topic)
    }

    @Test func theAvroValueSchemaEvolvesWithTheSource() async throws {
        _ = try Interop.python
        let (sink, topic) = try sink(.avro, topic: "evolve")
        let id = Field("id", .int64, nullable: false)
        let first = [id, Field("name", .string), Field("qty", .int32)]
        try await sink.open(schema: Schema(first))
        try await sink.write(batch(first, [[.int(1), .string("a"), .int(7)]]))
        // ADD COLUMN region, qty widened to bigint.
        let second = [id, Field("name", .string), Field("qty", .int64), Field("region", .string)]
        try await sink.write(batch(second, [[.int(2), .string("b"), .int(5_000_000_000), .string("eu")]]))
        // DROP COLUMN name: kept in the value, NULL.
        let third = [id, Field("qty", .int64), Field("region", .string)]
        try await sink.write(batch(third, [[.int(3), .int(9), .string("us")]]))
        _ = try await sink.finalize(
            CheckpointContext(id: CheckpointID(1), pipeline: "evolve", positions: .object([:]), loadID: "l1", runID: "r", isComplete: false))
        await sink.close()

        let output = try await Interop.run([
            "consume", "--bootstrap", try KafkaTestServer.bootstrap, "--registry", SchemaRegistryTestServer.url,
            "--topic", topic, "--format", "avro", "--count", "3", "--timeout", "60",
        ])
        let rows = try output.split(separator: "\n").map {
            try #require(try JSONSerialization.jsonObject(with: Data($0.utf8)) as? [String: Any], "\($0)")
        }.sorted { ($0["id"] as? Int ?? 0) < ($1["id"] as? Int ?? 0) }
        try #require(rows.count == 3)
        #expect(rows[0]["name"] as? String == "a" && rows[0]["qty"] as? Int == 7 && rows[0]["region"] == nil, "\(rows[0])")
        #expect(rows[1]["qty"] as? Int == 5_000_000_000 && rows[1]["region"] as? String == "eu", "\(rows[1])")
        #expect(rows[2]["name"] is NSNull && rows[2]["region"] as? String == "us", "a dropped column is kept, NULL: \(rows[2])")
        let ids = Set(rows.compactMap { $0["_schema_id"] as? Int })
        #expect(ids.count == 2, "the first version, then the evolved one (the drop changes no field): \(rows)")

        let versions = try await OffPoolProcess.run("/usr/bin/curl", ["-s", "\(SchemaRegistryTestServer.url)/subjects/\(topic)-value/versions"])
        #expect(versions.stdout.filter { !$0.isWhitespace } == "[1,2]", "\(versions.stdout)")
        // BACKWARD: a consumer with the new version reads what the old one wrote (Avro resolution).
        func version(_ n: Int) async throws -> AvroSchema {
            let response = try await OffPoolProcess.run("/usr/bin/curl", ["-s", "\(SchemaRegistryTestServer.url)/subjects/\(topic)-value/versions/\(n)"])
            let object = try #require(try JSONSerialization.jsonObject(with: Data(response.stdout.utf8)) as? [String: Any])
            return try AvroSchema(parsing: try #require(object["schema"] as? String))
        }
        let (v1, v2) = (try await version(1), try await version(2))
        #expect(throws: Never.self) { _ = try AvroDecoder(writer: v1, reader: v2) }
        guard case .record(let record) = v2.root else { Issue.record("v2 is not a record: \(v2)"); return }
        let region = record.fields.first { $0.name == "region" }
        #expect(region?.type == .union([.null, .string]) && region?.defaultValue == .null, "an optional field: \(record.fields)")
        #expect(record.fields.first { $0.name == "qty" }?.type == .union([.null, .long]))
    }
}

extension KafkaSchemaEvolutionTests {
    /// Protobuf: the evolved message keeps every field number (a column's number is its position,
    /// and columns are only ever appended or kept), adds the new column as the next field and widens
    /// int32 to int64, which protobuf's wire format reads either way.
    @Test func theProtobufValueSchemaEvolvesKeepingFieldNumbers() async throws {
        let (sink, topic) = try sink(.protobuf, topic: "evolvepb")
        let id = Field("id", .int64, nullable: false)
        try await sink.open(schema: Schema([id, Field("name", .string), Field("qty", .int32)]))
        try await sink.write(batch([id, Field("name", .string), Field("qty", .int32)], [[.int(1), .string("a"), .int(7)]]))
        try await sink.write(batch([id, Field("qty", .int64), Field("region", .string)], [[.int(2), .int(9), .string("us")]]))
        _ = try await sink.finalize(
            CheckpointContext(id: CheckpointID(1), pipeline: "evolve", positions: .object([:]), loadID: "l1", runID: "r", isComplete: false))
        await sink.close()
        let v2 = try await OffPoolProcess.run("/usr/bin/curl", ["-s", "\(SchemaRegistryTestServer.url)/subjects/\(topic)-value/versions/2"])
        let object = try #require(try JSONSerialization.jsonObject(with: Data(v2.stdout.utf8)) as? [String: Any], "\(v2.stdout)")
        let text = try #require(object["schema"] as? String)
        for line in ["int64 id = 1;", "optional string name = 2;", "optional int64 qty = 3;", "optional string region = 4;"] {
            #expect(text.contains(line), "\(line) in \(text)")
        }
    }
}
