import Formats
import Flow
import Foundation
import KafkaCodecs
import Synchronization

/// Registry-backed value decoding (Avro, Protobuf, JSON Schema).
///
/// The columns come from the subject's latest schema at start (`<topic>-value`), or from the
/// manifest's `schema` when declared. Each message names its writer schema by id (Confluent wire
/// format); the writer schema is fetched once per id and resolved into the columns: Avro by schema
/// resolution (added fields take their defaults, removed ones are skipped), Protobuf by field name,
/// JSON Schema by validating the payload against its writer schema, then reading its members.
enum KafkaRegistryDecoding {
    static func prepare(options: KafkaSourceOptions) async throws -> (Schema, any WireDecoderSource) {
        guard let registry = options.registry else {
            throw DponeError(.manifest, "format \(options.format.rawValue) needs source.options.schema_registry.url")
        }
        let client = try SchemaRegistryClient(
            url: registry.url, username: registry.username, password: registry.password, errorKind: .source)
        let subject = registry.valueSubject(topic: options.topic, recordName: "")
        let latest: RegisteredSchema
        do {
            latest = try await client.latest(subject: subject).schema
        } catch let error as DponeError {
            throw DponeError(
                .source, "no reader schema for topic \(options.topic): \(error.message)",
                hint: "register the topic's schema under subject \(subject), or declare source.options.schema",
                context: ["topic": options.topic, "subject": subject])
        }
        switch options.format {
        case .avro:
            let reader = try AvroSchema(parsing: latest.schema)
            let schema = try options.schema ?? AvroDecoder(schema: reader).schema
            return (schema, AvroWireDecoders(client: client, reader: reader, schema: schema))
        case .protobuf:
            let file = try ProtoFile(parsing: latest.schema)
            let schema = try options.schema ?? ProtobufDecoder(file: file, messageIndexes: [0]).schema
            return (schema, ProtobufWireDecoders(client: client, schema: schema))
        case .jsonSchema:
            let schema = try options.schema ?? JSONSchemaColumns.schema(fromJSONSchema: latest.schema)
            return (schema, JSONSchemaWireDecoders(client: client, schema: schema))
        case .json:
            throw DponeError(.internal, "json needs no registry")
        }
    }

    /// Runs an async registry call from the (dedicated) read thread and waits for it.
    static func blocking<T: Sendable>(_ body: @escaping @Sendable () async throws -> T) throws -> T {
        let box = Mutex<Result<T, any Error>?>(nil)
        let done = DispatchSemaphore(value: 0)
        Task {
            let result: Result<T, any Error>
            do { result = .success(try await body()) } catch { result = .failure(error) }
            box.withLock { $0 = result }
            done.signal()
        }
        done.wait()
        return try box.withLock { $0! }.get()
    }
}

/// A cache of per-writer-schema decoders, filled on first sight of each id.
final class WireDecoderCache<D: Sendable>: Sendable {
    private let decoders = Mutex<[Int32: D]>([:])

    func decoder(_ id: Int32, make: () throws -> D) throws -> D {
        if let d = decoders.withLock({ $0[id] }) { return d }
        let d = try make()
        decoders.withLock { $0[id] = d }
        return d
    }
}

struct AvroWireDecoders: WireDecoderSource {
    let client: SchemaRegistryClient
    let reader: AvroSchema
    let schema: Schema
    let cache = WireDecoderCache<AvroDecoder>()

    func decode(_ payload: UnsafeRawBufferPointer, into columns: inout [ColumnBuilder]) throws {
        let frame = try ConfluentWire.parse(payload, type: .avro)
        let decoder = try cache.decoder(frame.schemaID) {
            let client = self.client
            let id = frame.schemaID
            let writer = try KafkaRegistryDecoding.blocking { try await client.schema(id: id) }
            let decoder = try AvroDecoder(writer: AvroSchema(parsing: writer.schema), reader: reader)
            // Checked once per writer schema, not per message.
            guard decoder.schema == schema else {
                throw DponeError(.schema, "the Avro reader schema does not give the declared columns")
            }
            return decoder
        }
        try decoder.decode(UnsafeRawBufferPointer(rebasing: payload[frame.payload]), into: &columns)
    }
}

struct ProtobufWireDecoders: WireDecoderSource {
    let client: SchemaRegistryClient
    let schema: Schema
    let cache = WireDecoderCache<ProtobufDecoder>()

    func decode(_ payload: UnsafeRawBufferPointer, into columns: inout [ColumnBuilder]) throws {
        let frame = try ConfluentWire.parse(payload, type: .protobuf)
        let decoder = try cache.decoder(frame.schemaID) {
            let client = self.client
            let id = frame.schemaID
            let writer = try KafkaRegistryDecoding.blocking { try await client.schema(id: id) }
            let decoder = try ProtobufDecoder(file: ProtoFile(parsing: writer.schema), messageIndexes: frame.messageIndexes.map(Int.init))
            guard decoder.schema.names == schema.names else {
                throw DponeError(
                    .schema, "protobuf schema \(id) has fields \(decoder.schema.names.joined(separator: ", ")); the source reads \(schema.names.joined(separator: ", "))",
                    hint: "a changed message needs a new pipeline schema (declare source.options.schema)")
            }
            return decoder
        }
        try decoder.decode(UnsafeRawBufferPointer(rebasing: payload[frame.payload]), into: &columns)
    }
}

struct JSONSchemaWireDecoders: WireDecoderSource {
    let client: SchemaRegistryClient
    let schema: Schema
    let cache = WireDecoderCache<JSONSchemaValidator>()

    func decode(_ payload: UnsafeRawBufferPointer, into columns: inout [ColumnBuilder]) throws {
        throw DponeError(.internal, "JSON Schema payloads are read as JSON after `validatedBody`")
    }

    /// Checks the payload against its writer schema and returns the range of its JSON text.
    func validatedBody(_ payload: UnsafeRawBufferPointer) throws -> Range<Int> {
        let frame = try ConfluentWire.parse(payload, type: .json)
        let validator = try cache.decoder(frame.schemaID) {
            let client = self.client
            let id = frame.schemaID
            let writer = try KafkaRegistryDecoding.blocking { try await client.schema(id: id) }
            return try JSONSchemaValidator(schemaText: writer.schema)
        }
        try validator.validate(UnsafeRawBufferPointer(rebasing: payload[frame.payload]))
        return frame.payload
    }
}

/// Columns from a JSON Schema's top-level `properties`: integer → int64, number → float64, boolean
/// → bool, string → string (`format: date-time` → timestamptz, `date` → date), object/array → json;
/// nullable unless the property is `required` and its type excludes null.
enum JSONSchemaColumns {
    static func schema(fromJSONSchema text: String) throws -> Schema {
        guard let object = try JSONSerialization.jsonObject(with: Data(text.utf8)) as? [String: Any],
            let properties = object["properties"] as? [String: Any]
        else {
            throw DponeError(.schema, "the registry's JSON Schema has no top-level properties to read columns from")
        }
        let required = Set(object["required"] as? [String] ?? [])
        // Property order: JSONSerialization loses it; keep the text's order by position of the key.
        let ordered = properties.keys.sorted {
            (text.range(of: "\"\($0)\"")?.lowerBound ?? text.endIndex) < (text.range(of: "\"\($1)\"")?.lowerBound ?? text.endIndex)
        }
        return Schema(
            ordered.map { name in
                let p = properties[name] as? [String: Any] ?? [:]
                let types = (p["type"] as? [String]) ?? (p["type"] as? String).map { [$0] } ?? []
                let base = types.first { $0 != "null" } ?? "string"
                let type: LogicalType
                switch base {
                case "integer": type = .int64
                case "number": type = .float64
                case "boolean": type = .bool
                case "object", "array": type = .json
                default:
                    switch p["format"] as? String {
                    case "date-time": type = .timestamp(withTimeZone: true)
                    case "date": type = .date
                    default: type = .string
                    }
                }
                return Field(name, type, nullable: !required.contains(name) || types.contains("null"))
            })
    }
}
