/// The technical columns of change data (`cdc_apply`), shared by the CDC source and the sinks that
/// apply it.
public enum CDCColumns {
    /// The change's position (Int64; for PostgreSQL its transaction's commit LSN plus one): on every
    /// row a CDC source emits, ordered like the commits; sinks keep it.
    public static let lsn = "__dpone__lsn"
    /// A JSON array of the column names an update left unchanged (TOAST), or NULL (staged only).
    public static let unchanged = "__dpone__unchanged"
    /// In `unchanged`: the update moved the row to a new key (the staged row just before it is the
    /// delete of the old key); its unchanged columns come from the old key's row.
    public static let movedMarker = "__dpone__moved"
    /// The row operation (0 insert, 1 update, 2 delete, 3 upsert), added by the sink (staged only).
    public static let operation = "__dpone__op"
    /// Staging order within a checkpoint, added by the sink (staged only).
    public static let sequence = "__dpone__seq"
}

extension Batch {
    /// The batch with two more columns: `CDCColumns.operation` (Int16, the row's operation; upsert
    /// when the batch has none) and `CDCColumns.sequence` (Int64, `first`, `first + 1`, ...), so a
    /// sink can stage a checkpoint's changes with their order.
    public func withOperationAndSequence(first: Int64) -> Batch {
        var op = ColumnBuilder(type: .int16, reservingCapacity: rowCount)
        var seq = ColumnBuilder(type: .int64, reservingCapacity: rowCount)
        for i in 0..<rowCount {
            op.append(Int16((operations?[i] ?? .upsert).rawValue))
            seq.append(first + Int64(i))
        }
        let extended = Schema(
            schema.fields + [
                Field(CDCColumns.operation, .int16, nullable: false), Field(CDCColumns.sequence, .int64, nullable: false),
            ])
        return Batch(schema: extended, columns: columns + [op.finish(), seq.finish()], operations: operations)
    }
}
