import Flow

/// Encodes batches as ClickHouse `RowBinary` (`INSERT INTO t (cols) FORMAT RowBinary`): row after
/// row, each column's value in the same binary layout as Native (`ClickHouseValueWriter`); a Nullable
/// value is preceded by one byte, 1 for NULL (and nothing follows) or 0. No header: the INSERT's column
/// list gives the order. Pure; same conversion rules and errors as `NativeEncoder`.
public struct RowBinaryEncoder: Sendable {
    let plan: ClickHouseEncodingPlan

    public var schema: Schema { plan.schema }
    public var targetTypes: [ClickHouseType] { plan.targetTypes }

    /// `support` bounds what the server accepts (the range of Date).
    /// - Throws: `DponeError(.schema)` naming a column whose type cannot be written as its target.
    public init(schema: Schema, targetTypes: [ClickHouseType], support: ClickHouseTypeSupport = .modern) throws {
        plan = try ClickHouseEncodingPlan(schema: schema, targetTypes: targetTypes, support: support)
    }

    /// Appends every row of `batch`.
    /// - Precondition: `batch.schema` has this encoder's column types, in order.
    public func encode(_ batch: Batch, into buffer: inout [UInt8]) throws {
        let writers = try plan.writers(for: batch)
        let columns = batch.columns
        for i in 0..<batch.rowCount {
            for k in writers.indices {
                if writers[k].nullable {
                    if columns[k].isNull(i) {
                        buffer.append(1)
                        continue
                    }
                    buffer.append(0)
                }
                try writers[k].writer.write(i, &buffer)
            }
        }
    }
}
