import Flow

/// How an Avro record becomes Flow columns: one column per top-level field. See AVRO.md.
extension AvroSchema {
    /// The Flow schema of this (record) schema's rows.
    /// - Throws: `CodecError` when the root is not a record or a field has no Flow type (a decimal
    ///   wider than 38 digits).
    public func flowSchema() throws -> Schema {
        guard case .record(let record) = try resolve(root) else {
            throw CodecError("the top-level Avro type must be a record, not \(root.kindName)")
        }
        var fields: [Field] = []
        for f in record.fields {
            do {
                let (type, nullable) = try column(for: f.type)
                fields.append(Field(f.name, type, nullable: nullable))
            } catch let e as CodecError { throw e.within(f.name) }
        }
        return Schema(fields)
    }

    /// The column type of a field of Avro type `type`, and whether it is nullable.
    func column(for type: AvroType) throws -> (LogicalType, nullable: Bool) {
        let t = try resolve(type)
        guard case .union(let branches) = t else {
            if case .null = t { return (.json, true) }
            return (try value(t), false)
        }
        let hasNull = branches.contains { if case .null = $0 { true } else { false } }
        let others = branches.filter { if case .null = $0 { false } else { true } }
        if others.count == 1 { return (try value(others[0]), hasNull) }
        return (.json, hasNull)
    }

    /// The Flow type of a non-union Avro value.
    private func value(_ type: AvroType) throws -> LogicalType {
        switch try resolve(type) {
        case .boolean: return .bool
        case .int: return .int32
        case .long: return .int64
        case .float: return .float32
        case .double: return .float64
        case .string, .enumeration: return .string
        case .bytes, .fixed: return .bytes
        case .null, .record, .array, .map, .union, .reference: return .json
        case .logical(let logical, _):
            switch logical {
            case .decimal(let p, let s):
                guard p <= LogicalType.maxDecimalPrecision else {
                    throw CodecError("decimal precision \(p) exceeds \(LogicalType.maxDecimalPrecision) digits")
                }
                return .decimal(precision: p, scale: s)
            case .date: return .date
            case .timeMillis, .timeMicros: return .time
            case .timestampMillis, .timestampMicros: return .timestamp(withTimeZone: true)
            case .localTimestampMillis, .localTimestampMicros: return .timestamp(withTimeZone: false)
            case .uuid: return .uuid
            }
        }
    }
}
