import Flow
import Formats
import Foundation
import KafkaCodecs

/// Reads a tombstone's key into its delete row: the key columns from the key, every other value
/// column NULL (with `tombstones: delete` they are nullable: a delete row carries only its key).
///
/// By `KafkaKeyFormat`: a JSON object fills the columns its members name (Debezium's
/// `{"schema", "payload"}` wrapper unwrapped), a JSON scalar, UTF-8 text or an 8-byte big-endian
/// long fills the one key column (parsed as its type), and a registry-framed key (Avro, Protobuf,
/// JSON Schema; its writer schema fetched once per id) fills the columns its fields name, or the one
/// key column when it is an Avro primitive. Tombstones are rare: this path favours clarity over
/// per-message speed.
struct KafkaKeyReader: Sendable {
    let schema: Schema
    let format: KafkaKeyFormat
    let keyColumns: [String]
    let registry: SchemaRegistryClient?
    private let avro = WireDecoderCache<AvroSchema>()
    private let protobuf = WireDecoderCache<ProtobufDecoder>()

    init(schema: Schema, format: KafkaKeyFormat, keyColumns: [String], registry: SchemaRegistryClient?) {
        self.schema = schema
        self.format = format
        self.keyColumns = keyColumns
        self.registry = registry
    }

    /// Appends the delete row of `key`.
    func read(_ key: UnsafeRawBufferPointer, into values: inout BatchBuilder) throws {
        switch format {
        case .none:
            throw DponeError(
                .source, "a tombstone, but key_format is none: its key cannot be read",
                hint: "set source.options.key_format to how the producer writes keys (json, string, long, avro, ...)")
        case .json:
            try readJSON(key, into: &values)
        case .string:
            try append(named: try singleKeyColumn(), text: Array(key), into: &values)
        case .long:
            guard key.count == 8 else {
                throw DponeError(.source, "a long key must be 8 bytes (big-endian), found \(key.count)")
            }
            let value = key.reduce(UInt64(0)) { $0 << 8 | UInt64($1) }
            try append(named: try singleKeyColumn(), text: Array(String(Int64(bitPattern: value)).utf8), into: &values)
        case .avro:
            try readAvro(key, into: &values)
        case .protobuf:
            try readProtobuf(key, into: &values)
        case .jsonSchema:
            let frame = try ConfluentWire.parse(key, type: .json)
            try readJSON(UnsafeRawBufferPointer(rebasing: key[frame.payload]), into: &values)
        }
    }

    /// The one column a scalar key fills.
    private func singleKeyColumn() throws -> String {
        guard keyColumns.count == 1 else {
            throw DponeError(
                .source,
                keyColumns.isEmpty
                    ? "a scalar key identifies one column, but the sink names no unique_key"
                    : "a scalar key identifies one column, but unique_key names \(keyColumns.count): \(keyColumns.joined(separator: ", "))",
                hint: "set sink.strategy.unique_key to the one column the key holds")
        }
        return keyColumns[0]
    }

    // MARK: JSON

    private func readJSON(_ key: UnsafeRawBufferPointer, into values: inout BatchBuilder) throws {
        let object: Any
        do {
            object = try JSONSerialization.jsonObject(with: Data(key), options: [.fragmentsAllowed])
        } catch {
            throw DponeError(.source, "the key is not JSON: \(String(decoding: key.prefix(200), as: UTF8.self))", hint: "set source.options.key_format")
        }
        if var members = object as? [String: Any] {
            // Debezium's JSON converter with schemas enabled.
            if members["schema"] != nil, let payload = members["payload"] {
                guard let inner = payload as? [String: Any] else {
                    return try append(named: try singleKeyColumn(), text: Self.text(payload), into: &values)
                }
                members = inner
            }
            return try append(members: members.mapValues(Self.text), into: &values)
        }
        try append(named: try singleKeyColumn(), text: Self.text(object), into: &values)
    }

    private static func text(_ value: Any) -> [UInt8]? {
        switch value {
        case is NSNull: return nil
        case let string as String: return Array(string.utf8)
        case let number as NSNumber:
            return Array(number.stringValue.utf8)
        default:
            let data = (try? JSONSerialization.data(withJSONObject: value, options: [.fragmentsAllowed])) ?? Data()
            return Array(data)
        }
    }

    // MARK: registry

    private func writerSchema(_ id: Int32) throws -> String {
        guard let registry else { throw DponeError(.manifest, "key_format \(format.rawValue) needs source.options.schema_registry") }
        return try KafkaRegistryDecoding.blocking { try await registry.schema(id: id) }.schema
    }

    private func readAvro(_ key: UnsafeRawBufferPointer, into values: inout BatchBuilder) throws {
        let frame = try ConfluentWire.parse(key, type: .avro)
        let writer = try avro.decoder(frame.schemaID) { try AvroSchema(parsing: writerSchema(frame.schemaID)) }
        let body = UnsafeRawBufferPointer(rebasing: key[frame.payload])
        switch writer.root {
        case .string, .long, .int:
            var position = 0
            let number = try Self.zigzag(body, &position)
            let text: [UInt8]
            if case .string = writer.root {
                guard number >= 0, position + Int(number) <= body.count else { throw DponeError(.source, "a truncated Avro string key") }
                text = Array(body[position..<(position + Int(number))])
            } else {
                text = Array(String(number).utf8)
            }
            try append(named: try singleKeyColumn(), text: text, into: &values)
        default:
            let decoder = try AvroDecoder(schema: writer)
            try appendDecoded(decoder.schema, into: &values) { try decoder.decode(body, into: &$0) }
        }
    }

    private func readProtobuf(_ key: UnsafeRawBufferPointer, into values: inout BatchBuilder) throws {
        let frame = try ConfluentWire.parse(key, type: .protobuf)
        let decoder = try protobuf.decoder(frame.schemaID) {
            try ProtobufDecoder(file: ProtoFile(parsing: writerSchema(frame.schemaID)), messageIndexes: frame.messageIndexes.map(Int.init))
        }
        try appendDecoded(decoder.schema, into: &values) { try decoder.decode(UnsafeRawBufferPointer(rebasing: key[frame.payload]), into: &$0) }
    }

    /// Decodes a key record with `decode` into builders of its own `recordSchema`, then fills the
    /// value columns its fields name.
    private func appendDecoded(
        _ recordSchema: Schema, into values: inout BatchBuilder, _ decode: (inout [ColumnBuilder]) throws -> Void
    ) throws {
        var record = BatchBuilder(schema: recordSchema)
        try decode(&record.columns)
        let decoded = record.finish()
        var members: [String: [UInt8]?] = [:]
        for (i, field) in recordSchema.fields.enumerated() {
            members[field.name] = ColumnText.text(of: decoded.columns[i].value(at: 0), as: field.type).map { Array($0.utf8) }
        }
        try append(members: members, into: &values)
    }

    /// Avro's zig-zag varint at `position`.
    private static func zigzag(_ bytes: UnsafeRawBufferPointer, _ position: inout Int) throws -> Int64 {
        var raw: UInt64 = 0
        var shift: UInt64 = 0
        while true {
            guard position < bytes.count, shift < 64 else { throw DponeError(.source, "a truncated Avro key") }
            let byte = bytes[position]
            position += 1
            raw |= UInt64(byte & 0x7F) << shift
            if byte & 0x80 == 0 { break }
            shift += 7
        }
        return Int64(bitPattern: raw >> 1) ^ -Int64(bitPattern: raw & 1)
    }

    // MARK: the row

    /// One delete row: `column`'s text, every other column NULL.
    private func append(named column: String, text: [UInt8]?, into values: inout BatchBuilder) throws {
        try append(members: [column: text], into: &values)
    }

    /// One delete row from the key's members by column name (unknown members are ignored); every
    /// key column must be among them.
    private func append(members: [String: [UInt8]?], into values: inout BatchBuilder) throws {
        for key in keyColumns where (members[key] ?? nil) == nil {
            throw DponeError(
                .source, "the key has no value for unique_key column \(key) (it has: \(members.keys.sorted().joined(separator: ", ")))",
                hint: "the sink's unique_key names the columns the message key holds")
        }
        for (i, field) in schema.fields.enumerated() {
            guard let text = members[field.name] ?? nil else {
                values.columns[i].appendNull()
                continue
            }
            let ok = text.withUnsafeBytes { ColumnText.append($0, to: &values.columns[i]) }
            guard ok else {
                throw DponeError(
                    .source, "the key's \(field.name) value '\(String(decoding: text.prefix(100), as: UTF8.self))' is not a \(field.type)")
            }
        }
    }
}
