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
        for (field, target) in zip(schema.fields, targetTypes) {
            if case .array = target.base {
                throw DponeError(
                    .schema, "column \"\(field.name)\": RowBinary does not write \(target.name) (Native does)",
                    context: ["column": field.name])
            }
        }
        plan = try ClickHouseEncodingPlan(schema: schema, targetTypes: targetTypes, support: support)
    }

    /// Appends every row of `batch`.
    /// - Precondition: `batch.schema` has this encoder's column types, in order.
    public func encode(_ batch: Batch, into buffer: inout [UInt8]) throws {
        let writers = try plan.writers(for: batch)
        let columns = batch.columns
        let scalars = writers.map { w -> (ClickHouseValueWriter, Bool) in
            guard case .scalar(let writer, let nullable) = w else { preconditionFailure("arrays are refused by init") }
            return (writer, nullable)
        }
        for i in 0..<batch.rowCount {
            for k in scalars.indices {
                if scalars[k].1 {
                    if columns[k].isNull(i) {
                        buffer.append(1)
                        continue
                    }
                    buffer.append(0)
                }
                try scalars[k].0.write(i, &buffer)
            }
        }
    }
}
