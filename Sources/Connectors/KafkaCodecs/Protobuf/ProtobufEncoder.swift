import Flow

/// Encodes rows as the proto3 message `ProtobufEncoder.protoText` derives from the same Flow
/// schema: column `i` is field `i + 1`, nullable columns are `optional` (written whenever not
/// NULL), non-nullable ones follow proto3 and leave default values (0, false, "") out.
public struct ProtobufEncoder: RowEncoder {
    public let schema: Schema

    public init(schema: Schema) {
        self.schema = schema
    }

    /// The `.proto` text (proto3, one message) this encoder's payloads follow; see
    /// `ProtoSchemaDerivation.protoText(for:messageName:package:)`.
    public func protoText(messageName: String, package: String = "") throws(ProtoSchemaError) -> String {
        try ProtoSchemaDerivation.protoText(for: schema, messageName: messageName, package: package)
    }

    public func encode(_ batch: Batch, row: Int, into out: inout [UInt8]) throws {
        precondition(batch.schema.count == schema.count, "the batch has the encoder's schema")
        for (i, column) in batch.columns.enumerated() {
            let field = schema[i]
            let number = Int32(i + 1)
            if column.isNull(row) {
                if !field.nullable { throw CodecError("NULL in a column that is not nullable", path: field.name) }
                continue
            }
            try Self.encode(column, row: row, number: number, keepDefault: field.nullable, into: &out)
        }
    }

    /// One value as field `number`. Without `keepDefault`, a default value writes nothing.
    static func encode(_ column: Column, row: Int, number: Int32, keepDefault: Bool, into out: inout [UInt8]) throws {
        func varint(_ v: UInt64) {
            guard keepDefault || v != 0 else { return }
            ProtoWire.appendTag(number, .varint, to: &out)
            ProtoWire.appendVarint(v, to: &out)
        }
        func text(_ write: (inout [UInt8]) -> Void) throws {
            ProtoWire.appendTag(number, .lengthDelimited, to: &out)
            try ProtoWire.appendLengthDelimited(to: &out) { body throws(CodecError) in write(&body) }
        }
        switch column.values {
        case .bool(let a): varint(a[row] ? 1 : 0)
        case .int16(let a): varint(UInt64(bitPattern: Int64(a[row])))
        case .int32(let a): varint(UInt64(bitPattern: Int64(a[row])))
        case .int64(let a):
            if case .timestamp = column.type {
                // google.protobuf.Timestamp: seconds (1) and nanos (2), both floored.
                let (seconds, micros) = CivilCalendar.floorDivMod(a[row], 1_000_000)
                ProtoWire.appendTag(number, .lengthDelimited, to: &out)
                try ProtoWire.appendLengthDelimited(to: &out) { body throws(CodecError) in
                    if seconds != 0 {
                        ProtoWire.appendTag(1, .varint, to: &body)
                        ProtoWire.appendVarint(UInt64(bitPattern: seconds), to: &body)
                    }
                    if micros != 0 {
                        ProtoWire.appendTag(2, .varint, to: &body)
                        ProtoWire.appendVarint(UInt64(micros * 1000), to: &body)
                    }
                }
            } else {
                varint(UInt64(bitPattern: a[row]))
            }
        case .float32(let a):
            let bits = a[row].bitPattern
            guard keepDefault || bits != 0 else { return }
            ProtoWire.appendTag(number, .fixed32, to: &out)
            ProtoWire.appendFixed32(bits, to: &out)
        case .float64(let a):
            let bits = a[row].bitPattern
            guard keepDefault || bits != 0 else { return }
            ProtoWire.appendTag(number, .fixed64, to: &out)
            ProtoWire.appendFixed64(bits, to: &out)
        case .int128(let a):
            let scale: Int
            if case .decimal(_, let s) = column.type { scale = s } else { scale = 0 }
            try text { ScalarFormatting.appendDecimal(a[row], scale: scale, to: &$0) }
        case .variable:
            column.withBytes(at: row) { value in
                guard keepDefault || value.count > 0 else { return }
                ProtoWire.appendTag(number, .lengthDelimited, to: &out)
                ProtoWire.appendVarint(UInt64(value.count), to: &out)
                out.append(contentsOf: value)
            }
        case .fixed16:
            try column.withBytes(at: row) { value in try text { ScalarFormatting.appendUUID(value, to: &$0) } }
        }
    }
}
