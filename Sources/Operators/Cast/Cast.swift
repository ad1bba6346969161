import Flow

/// Casts named columns to other logical types; other columns pass through untouched.
///
/// Supported casts (`Cast.supports(from:to:)`): between int widths; int <-> float; float32 <-> float64;
/// int / float / decimal <-> decimal (rescaling); any type -> string (canonical text, see
/// `Flow.ScalarFormatting`); string -> int / float / decimal / bool / date / time / timestamp / uuid / bytes
/// (strict parsing, see `Flow.ScalarParsing`); json -> bytes; timestamp <-> timestamptz (the reading is taken
/// as UTC); date -> timestamp. An unsupported pair or an unknown column is a `DponeError(.schema)`
/// from `outputSchema(for:)`.
///
/// A value without an exact image in the target type is lossy: integer overflow, a float with a
/// fractional part (or NaN / infinity) to an integer, an integer a float cannot hold exactly,
/// a float64 beyond float32's range, a decimal or float that would lose digits or exceed the
/// precision, unparsable text, bytes that are not UTF-8. (float64 -> float32 and decimal -> float
/// round to nearest: that is what a float is.) A lossy value throws `DponeError(.cast)` naming the
/// column, the row index within the batch and the value — unless `allowLossy` is true, in which
/// case it becomes NULL and the output field is nullable.
public struct Cast: BatchTransform {
    public let name = "cast"
    /// Target type per column name.
    public let columns: [String: LogicalType]
    public let allowLossy: Bool

    public init(columns: [String: LogicalType], allowLossy: Bool = false) {
        self.columns = columns
        self.allowLossy = allowLossy
    }

    public func outputSchema(for input: Schema) throws -> Schema {
        let unknown = columns.keys.filter { input.index(of: $0) == nil }.sorted()
        if let first = unknown.first {
            throw DponeError(
                .schema,
                "cast: unknown column '\(first)'; available: \(input.names.joined(separator: ", "))",
                context: ["column": first]
            )
        }
        return Schema(
            try input.fields.map { field in
                guard let target = columns[field.name] else { return field }
                guard Cast.supports(from: field.type, to: target) else {
                    throw DponeError(
                        .schema,
                        "cast: column '\(field.name)' cannot be cast from \(field.type) to \(target)",
                        context: ["column": field.name]
                    )
                }
                let changes = target != field.type
                return Field(field.name, target, nullable: field.nullable || (allowLossy && changes))
            })
    }

    public func apply(_ batch: Batch) throws -> Batch {
        let schema = try outputSchema(for: batch.schema)
        var output: [Column] = []
        output.reserveCapacity(batch.columns.count)
        for (field, column) in zip(batch.schema.fields, batch.columns) {
            guard let target = columns[field.name] else {
                output.append(column)
                continue
            }
            let job = CastJob(columnName: field.name, source: column, target: target, allowLossy: allowLossy)
            output.append(try job.run())
        }
        return Batch(schema: schema, columns: output, operations: batch.operations)
    }
}
