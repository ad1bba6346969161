import Flow

/// Appends the lineage columns `__dpone__load_id` (string) and `__dpone__loaded_at`
/// (timestamptz, µs) to every row, both non-nullable and the same for every row of a load.
///
/// `outputSchema(for:)` throws `DponeError(.schema)` when the input already has either column.
public struct LineageColumns: BatchTransform {
    public let name = "lineage_columns"
    /// The load's ULID (see `ULID.make(now:)`).
    public let loadID: String
    /// Microseconds since the Unix epoch (UTC).
    public let loadedAt: Int64

    public init(loadID: String, loadedAtMicroseconds: Int64) {
        self.loadID = loadID
        self.loadedAt = loadedAtMicroseconds
    }

    public func outputSchema(for input: Schema) throws -> Schema {
        for name in [TechnicalColumns.loadID, TechnicalColumns.loadedAt] where input.index(of: name) != nil {
            throw DponeError(
                .schema, "lineage columns: the input already has a column named '\(name)'", context: ["column": name])
        }
        return Schema(
            input.fields + [
                Field(TechnicalColumns.loadID, .string, nullable: false),
                Field(TechnicalColumns.loadedAt, .timestamp(withTimeZone: true), nullable: false),
            ])
    }

    public func apply(_ batch: Batch) throws -> Batch {
        let schema = try outputSchema(for: batch.schema)
        let rows = batch.rowCount
        let id = Array(loadID.utf8)
        var bytes: [UInt8] = []
        bytes.reserveCapacity(id.count * rows)
        for _ in 0..<rows { bytes.append(contentsOf: id) }
        let offsets = (0...rows).map { Int32($0 * id.count) }
        let loadIDColumn = Column(type: .string, count: rows, validity: nil, values: .variable(offsets: offsets, bytes: bytes))
        let loadedAtColumn = Column(
            type: .timestamp(withTimeZone: true), count: rows, validity: nil,
            values: .int64([Int64](repeating: loadedAt, count: rows)))
        return Batch(schema: schema, columns: batch.columns + [loadIDColumn, loadedAtColumn], operations: batch.operations)
    }
}
