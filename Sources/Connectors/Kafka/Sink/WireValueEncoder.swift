import Formats
import Flow
import KafkaCodecs

/// Encodes values of a registry format: the value schema is derived from the batch schema and
/// registered under `<topic>-value` when the sink opens (the registry returns the existing id for
/// a schema it has); each value is the Confluent wire header (magic byte, schema id, and for
/// Protobuf the message index [0]) followed by the encoding.
struct WireValueEncoder: Sendable {
    enum Codec: Sendable {
        case avro(AvroEncoder)
        case protobuf(ProtobufEncoder)
        case jsonSchema(JSONLinesEncoder)
    }

    let codec: Codec
    let header: [UInt8]
    let schemaID: Int32

    /// nil for plain JSON.
    static func register(schema: Schema, options: KafkaSinkOptions) async throws -> WireValueEncoder? {
        guard options.format.usesRegistry, let registry = options.registry else { return nil }
        let client = try SchemaRegistryClient(
            url: registry.url, username: registry.username, password: registry.password, errorKind: .sink)
        // The record's full name: `record_name`, else dpone.<topic as a name>.
        let fullName = registry.recordName ?? "dpone.\(avroName(options.topic))"
        let namespace = fullName.contains(".") ? String(fullName[..<fullName.lastIndex(of: ".")!]) : nil
        let recordName = String(fullName.split(separator: ".").last ?? Substring(fullName))
        let subject = registry.valueSubject(topic: options.topic, recordName: fullName)
        let codec: Codec
        let text: String
        let type: SchemaType
        do {
            switch options.format {
            case .avro:
                let encoder = try AvroEncoder(schema: schema, name: recordName, namespace: namespace)
                codec = .avro(encoder)
                text = encoder.avroSchema.canonicalJSON
                type = .avro
            case .protobuf:
                let encoder = ProtobufEncoder(schema: schema)
                codec = .protobuf(encoder)
                text = try encoder.protoText(messageName: recordName, package: namespace ?? "")
                type = .protobuf
            case .jsonSchema:
                codec = .jsonSchema(JSONLinesEncoder(schema: schema))
                text = JSONSchemaDerivation.schemaText(for: schema, title: fullName)
                type = .json
            case .json:
                return nil
            }
        } catch let error as CodecError {
            throw DponeError(.schema, "cannot derive a \(options.format.rawValue) schema for topic \(options.topic): \(error)")
        } catch let error as ProtoSchemaError {
            throw DponeError(.schema, "cannot derive a protobuf schema for topic \(options.topic): \(error)")
        }
        let id = try await client.register(subject: subject, schema: text, schemaType: type)
        let header =
            type == .protobuf
            ? ConfluentWire.header(schemaID: id, type: .protobuf, messageIndexes: [0]) : ConfluentWire.header(schemaID: id, type: type)
        return WireValueEncoder(codec: codec, header: header, schemaID: id)
    }

    func encode(_ batch: Batch, row: Int, into out: inout [UInt8]) throws {
        out.append(contentsOf: header)
        switch codec {
        case .avro(let e): try e.encode(batch, row: row, into: &out)
        case .protobuf(let e): try e.encode(batch, row: row, into: &out)
        case .jsonSchema(let e):
            e.encode(batch, rows: row..<(row + 1), into: &out)
            out.removeLast()
        }
    }

    /// A valid Avro / Protobuf name from a topic name (`orders.v1` → `orders_v1`).
    static func avroName(_ topic: String) -> String {
        var name = String(topic.map { $0.isLetter || $0.isNumber || $0 == "_" ? $0 : "_" }.filter(\.isASCII))
        if name.first.map({ $0.isNumber }) ?? true { name = "_" + name }
        return name
    }
}
