import Flow

/// Encodes Flow rows as Avro binary records of a schema derived from the Flow schema (see AVRO.md),
/// so a producer can register `avroSchema.canonicalJSON` and write rows without a hand-written schema.
public struct AvroEncoder: RowEncoder {
    public let schema: Schema
    /// The record schema rows are written in.
    public let avroSchema: AvroSchema

    /// - Parameters:
    ///   - name: the record's name; `namespace` qualifies it (nil or empty: the null namespace).
    /// - Throws: `CodecError` when a column name or the record name is not a valid Avro name.
    public init(schema: Schema, name: String, namespace: String? = nil) throws {
        guard schema.duplicateNames.isEmpty else {
            throw CodecError("duplicate column names: \(schema.duplicateNames.joined(separator: ", "))")
        }
        let fullName = AvroSchemaParser.fullName(name, namespace: namespace ?? "")
        let fields = schema.fields.map { f in
            let t = Self.avroType(for: f.type)
            return f.nullable
                ? AvroField(name: f.name, type: .union([.null, t]), defaultValue: .null)
                : AvroField(name: f.name, type: t)
        }
        self.schema = schema
        self.avroSchema = try AvroSchema(root: .record(AvroRecord(name: fullName, fields: fields)))
    }

    /// The Avro type a Flow column type is written as.
    public static func avroType(for type: LogicalType) -> AvroType {
        switch type {
        case .bool: .boolean
        case .int16, .int32: .int
        case .int64: .long
        case .float32: .float
        case .float64: .double
        case .decimal(let p, let s): .logical(.decimal(precision: p, scale: s), .bytes)
        case .string, .json, .numeric: .string  // an exact decimal of any precision: its text
        case .list: .string  // the JSON text of the array
        case .bytes: .bytes
        case .date: .logical(.date, .int)
        case .time: .logical(.timeMicros, .long)
        case .timestamp(let tz): .logical(tz ? .timestampMicros : .localTimestampMicros, .long)
        case .uuid: .logical(.uuid, .string)
        }
    }

    public func encode(_ batch: Batch, row: Int, into out: inout [UInt8]) throws {
        guard batch.columns.count == schema.count else {
            throw CodecError("batch has \(batch.columns.count) columns, the encoder \(schema.count)")
        }
        guard row >= 0, row < batch.rowCount else { throw CodecError("row \(row) is outside the batch") }
        for (k, field) in schema.fields.enumerated() {
            let column = batch.columns[k]
            guard column.type == field.type else {
                throw CodecError("column is \(column.type), the encoder expects \(field.type)", path: field.name)
            }
            if column.isNull(row) {
                guard field.nullable else { throw CodecError("null in a non-nullable column", path: field.name) }
                out.append(0)  // union branch 0: null
                continue
            }
            if field.nullable { out.append(2) }  // union branch 1, zig-zag encoded
            switch column.values {
            case .bool(let a): out.append(a[row] ? 1 : 0)
            case .int16(let a): AvroBinaryWriter.writeLong(Int64(a[row]), to: &out)
            case .int32(let a): AvroBinaryWriter.writeLong(Int64(a[row]), to: &out)
            case .int64(let a): AvroBinaryWriter.writeLong(a[row], to: &out)
            case .float32(let a): AvroBinaryWriter.writeFloat(a[row], to: &out)
            case .float64(let a): AvroBinaryWriter.writeDouble(a[row], to: &out)
            case .int128(let a):
                AvroBinaryWriter.decimalBytes(a[row]).withUnsafeBytes { AvroBinaryWriter.writeBytes($0, to: &out) }
            case .variable:
                column.withBytes(at: row) { AvroBinaryWriter.writeBytes($0, to: &out) }
            case .fixed16:
                var text: [UInt8] = []
                text.reserveCapacity(36)
                column.withBytes(at: row) { ScalarFormatting.appendUUID($0, to: &text) }
                text.withUnsafeBytes { AvroBinaryWriter.writeBytes($0, to: &out) }
            }
        }
    }
}
