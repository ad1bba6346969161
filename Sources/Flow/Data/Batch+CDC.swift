extension Batch {
    /// The batch with two more columns: `TechnicalColumns.operation` (Int16, the row's operation; upsert
    /// when the batch has none) and `TechnicalColumns.sequence` (Int64, `first`, `first + 1`, ...), so a
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
                Field(TechnicalColumns.operation, .int16, nullable: false), Field(TechnicalColumns.sequence, .int64, nullable: false),
            ])
        return Batch(schema: extended, columns: columns + [op.finish(), seq.finish()], operations: operations)
    }
}
