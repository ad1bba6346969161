import Flow

/// Appends `__dpone__row_hash`: for each row, the SHA-256 of a canonical encoding of its business
/// columns, as 64 lowercase hex digits (string, non-nullable).
///
/// Business columns are `columns` in the given order, or by default every input column whose name
/// does not start with `__dpone__`, in schema order. Column names are not part of the hash; order is.
///
/// Canonical encoding (also in ROW_HASH.md), the concatenation over the business columns of:
/// - 1 tag byte: 0 for NULL (nothing follows), 1 for a value, then the value:
/// - bool: 1 byte, 0 or 1.
/// - int16 / int32 / int64: the value as Int64, 8 bytes big-endian two's complement (so widening
///   a column keeps hashes).
/// - float32 / float64: the value as binary64, 8 bytes big-endian IEEE 754 bits; -0.0 is encoded
///   as 0.0 and every NaN as the canonical quiet NaN 0x7FF8000000000000.
/// - decimal(p, s): its text with exactly `s` fractional digits (`-12.50`, `0.05`, `7`), as a
///   4-byte big-endian length followed by the ASCII bytes.
/// - string / json / bytes: 4-byte big-endian length followed by the bytes (UTF-8 for text).
/// - date: days since 1970-01-01 as Int32, 4 bytes big-endian.
/// - time / timestamp / timestamptz: microseconds as Int64, 8 bytes big-endian.
/// - uuid: its 16 bytes.
///
/// The hash depends only on the row's values, never on batch boundaries or the platform.
/// Hashing a batch allocates a fixed number of buffers, none per row.
public struct RowHash: BatchTransform {
    public let name = "row_hash"
    /// Business columns; nil means every column not named `__dpone__*`.
    public let columns: [String]?

    public init(columns: [String]? = nil) {
        self.columns = columns
    }

    /// Positions of the business columns in `input`.
    func businessColumns(of input: Schema) throws -> [Int] {
        guard let columns else {
            return input.fields.indices.filter { !TechnicalColumns.isReserved(input[$0].name) }
        }
        return try columns.map { name in
            guard let index = input.index(of: name) else {
                throw DponeError(
                    .schema, "row hash: unknown column '\(name)'; available: \(input.names.joined(separator: ", "))",
                    context: ["column": name])
            }
            return index
        }
    }

    public func outputSchema(for input: Schema) throws -> Schema {
        if input.index(of: TechnicalColumns.rowHash) != nil {
            throw DponeError(
                .schema, "row hash: the input already has a column named '\(TechnicalColumns.rowHash)'",
                context: ["column": TechnicalColumns.rowHash])
        }
        _ = try businessColumns(of: input)
        return Schema(input.fields + [Field(TechnicalColumns.rowHash, .string, nullable: false)])
    }

    public func apply(_ batch: Batch) throws -> Batch {
        let schema = try outputSchema(for: batch.schema)
        let business = try businessColumns(of: batch.schema).map { batch.columns[$0] }
        let hashes = RowHashEncoding.hexDigests(of: business, rowCount: batch.rowCount)
        return Batch(schema: schema, columns: batch.columns + [hashes], operations: batch.operations)
    }
}
