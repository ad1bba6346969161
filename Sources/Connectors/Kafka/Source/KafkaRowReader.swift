import Formats
import Flow
import KafkaCodecs

/// Turns one message into at most one row of the value columns, by format and envelope.
///
/// - `flat`: the value is the row (an upsert).
/// - `dpone`: `{op, data, ...}`: `data` is the row; `op` is insert/update/upsert/delete.
/// - `debezium`: `{before, after, op}` (or the same inside `payload`): `after` for c/u/r (an upsert),
///   `before` for d (a delete, its columns those of the old row).
/// A tombstone (null value) follows `KafkaTombstonePolicy`; with `delete`, `KafkaKeyReader` reads
/// the key into the key columns and the rest are NULL.
struct KafkaRowReader: Sendable {
    let schema: Schema
    let format: KafkaFormat
    let envelope: KafkaEnvelope
    let tombstones: KafkaTombstonePolicy
    private var json: JSONObjectReader
    /// Registry-backed formats: a decoder per writer schema id (resolved into `schema`).
    var wireDecoders: (any WireDecoderSource)?
    /// Reads a tombstone's key (`tombstones: delete`); nil: JSON objects into the columns they name.
    let keys: KafkaKeyReader?

    init(
        schema: Schema, format: KafkaFormat, envelope: KafkaEnvelope, tombstones: KafkaTombstonePolicy,
        wireDecoders: (any WireDecoderSource)? = nil, keys: KafkaKeyReader? = nil
    ) {
        self.schema = schema
        self.format = format
        self.envelope = envelope
        self.tombstones = tombstones
        self.json = JSONObjectReader(schema: schema, sourceName: "the message")
        self.wireDecoders = wireDecoders
        self.keys = keys
    }

    /// Appends one row to `values` and returns its operation, or returns nil (nothing appended) for
    /// a skipped tombstone. Throws `CodecError`/`DponeError` describing what is wrong (no position).
    mutating func read(
        value: UnsafeRawBufferPointer?, key: UnsafeRawBufferPointer?, into values: inout BatchBuilder
    ) throws -> RowOperation? {
        guard let value else {
            switch tombstones {
            case .skip: return nil
            case .fail:
                throw DponeError(
                    .source, "a tombstone (null value): a delete that this source is not set up to apply",
                    hint: "set source.options.tombstones to delete (emit delete rows) or skip")
            case .delete:
                guard let key else { throw DponeError(.source, "a tombstone without a key: nothing to delete") }
                if let keys { try keys.read(key, into: &values) } else { try json.read(key, into: &values) }
                return .delete
            }
        }
        switch format {
        case .json:
            return try readJSON(value, into: &values)
        case .jsonSchema:
            guard let validating = wireDecoders as? JSONSchemaWireDecoders else {
                throw DponeError(.internal, "no schema registry validator for json_schema")
            }
            let body = try validating.validatedBody(value)
            return try readJSON(UnsafeRawBufferPointer(rebasing: value[body]), into: &values)
        case .avro, .protobuf:
            guard let wireDecoders else { throw DponeError(.internal, "no schema registry decoder for \(format.rawValue)") }
            try wireDecoders.decode(value, into: &values.columns)
            return .upsert
        }
    }

    private mutating func readJSON(_ value: UnsafeRawBufferPointer, into values: inout BatchBuilder) throws -> RowOperation? {
        switch envelope {
        case .flat:
            try json.read(value, into: &values)
            return .upsert
        case .dpone:
            var data: Range<Int>?
            var op: Range<Int>?
            try JSONObjectReader.forEachMember(of: value) { key, range, kind in
                if key == "data", kind == .object { data = range }
                if key == "op", kind == .string { op = (range.lowerBound + 1)..<(range.upperBound - 1) }
            }
            guard let data else { throw DponeError(.source, "a dpone envelope without a \"data\" object") }
            // The op's bytes are compared in place (no string per message).
            let operation: RowOperation
            if let op {
                let text = UnsafeRawBufferPointer(rebasing: value[op])
                guard let known = Self.envelopeOps.first(where: { $0.0.elementsEqual(text) })?.1 else {
                    throw DponeError(.source, "unknown dpone envelope op \"\(String(decoding: text, as: UTF8.self))\"")
                }
                operation = known
            } else {
                operation = .upsert
            }
            try json.read(UnsafeRawBufferPointer(rebasing: value[data]), into: &values)
            return operation
        case .debezium:
            return try readDebezium(value, into: &values, nested: false)
        }
    }

    static let envelopeOps: [([UInt8], RowOperation)] = [
        (Array("insert".utf8), .insert), (Array("snapshot".utf8), .insert), (Array("update".utf8), .update),
        (Array("upsert".utf8), .upsert), (Array("delete".utf8), .delete),
    ]

    private mutating func readDebezium(_ value: UnsafeRawBufferPointer, into values: inout BatchBuilder, nested: Bool) throws -> RowOperation? {
        var before: Range<Int>?
        var after: Range<Int>?
        var payload: Range<Int>?
        var op: UInt8?
        try JSONObjectReader.forEachMember(of: value) { key, range, kind in
            switch (key, kind) {
            case ("before", .object): before = range
            case ("after", .object): after = range
            case ("payload", .object): payload = range
            case ("op", .string) where range.count == 3: op = value[range.lowerBound + 1]
            default: break
            }
        }
        if op == nil, !nested, let payload {
            return try readDebezium(UnsafeRawBufferPointer(rebasing: value[payload]), into: &values, nested: true)
        }
        switch op {
        case UInt8(ascii: "c"), UInt8(ascii: "u"), UInt8(ascii: "r"):
            guard let after else { throw DponeError(.source, "a Debezium change without \"after\"") }
            try json.read(UnsafeRawBufferPointer(rebasing: value[after]), into: &values)
            return op == UInt8(ascii: "c") ? .insert : .upsert
        case UInt8(ascii: "d"):
            guard let before else {
                throw DponeError(.source, "a Debezium delete without \"before\"", hint: "the table needs a replica identity that logs the key")
            }
            try json.read(UnsafeRawBufferPointer(rebasing: value[before]), into: &values)
            return .delete
        default:
            throw DponeError(.source, "not a Debezium change event (no op c/u/r/d)")
        }
    }
}

/// Decodes Confluent-framed payloads (magic byte, schema id, ...) with the writer schema the id
/// names, resolved into the source's columns.
protocol WireDecoderSource: Sendable {
    func decode(_ payload: UnsafeRawBufferPointer, into columns: inout [ColumnBuilder]) throws
}
