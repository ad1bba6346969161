import Flow

/// Encodes batches as ClickHouse `Native` blocks (`INSERT INTO t (cols) FORMAT Native`). Pure: a
/// batch in, bytes appended to a caller-owned buffer, no I/O.
///
/// Block layout (HTTP flavour: no block info, no per-column serialization flags):
/// VarUInt column count, VarUInt row count, then per column its name (String), its type name (String)
/// and its data — every row's value in the type's binary layout (`ClickHouseValueWriter`); a Nullable
/// column is first one byte per row (1 = NULL) then the nested column with a placeholder per NULL row;
/// an Array(T) column is one UInt64 per row (the running count of elements) then the elements of
/// every row as one column of T.
///
/// Contract:
/// - One `encode` call appends exactly one block with every row of the batch; an empty batch appends
///   nothing (the server would take an empty block as the end of the input).
/// - The header names the target types with `LowCardinality` removed (the server converts a plain
///   column into a LowCardinality one); names are the schema's field names.
/// - Values convert exactly or the call throws `DponeError(.sink)` naming the column and value;
///   `buffer` may then hold a partial block: discard it.
public struct NativeEncoder: Sendable {
    let plan: ClickHouseEncodingPlan
    private let headerTypeNames: [String]

    public var schema: Schema { plan.schema }
    public var targetTypes: [ClickHouseType] { plan.targetTypes }

    /// `support` bounds what the server accepts (the range of Date).
    /// - Throws: `DponeError(.schema)` naming a column whose type cannot be written as its target.
    public init(schema: Schema, targetTypes: [ClickHouseType], support: ClickHouseTypeSupport = .modern) throws {
        plan = try ClickHouseEncodingPlan(schema: schema, targetTypes: targetTypes, support: support)
        headerTypeNames = targetTypes.map(\.withoutLowCardinality.name)
    }

    /// Appends one Native block holding every row of `batch`.
    /// - Precondition: `batch.schema` has this encoder's column types, in order.
    public func encode(_ batch: Batch, into buffer: inout [UInt8]) throws {
        let writers = try plan.writers(for: batch)
        let rows = batch.rowCount
        guard rows > 0 else { return }
        ClickHouseBinary.appendVarUInt(UInt64(writers.count), to: &buffer)
        ClickHouseBinary.appendVarUInt(UInt64(rows), to: &buffer)
        for k in writers.indices {
            ClickHouseBinary.appendString(schema[k].name, to: &buffer)
            ClickHouseBinary.appendString(headerTypeNames[k], to: &buffer)
            switch writers[k] {
            case .scalar(let writer, let nullable):
                try Self.append(batch.columns[k], writer: writer, nullable: nullable, to: &buffer)
            case .array(let elements, let offsets, let element, let elementNullable):
                for i in 0..<rows { ClickHouseBinary.append(UInt64(offsets[i + 1]), to: &buffer) }
                try Self.append(elements, writer: element, nullable: elementNullable, to: &buffer)
            }
        }
    }

    /// Appends every value of `column`: a NULL map first when the target is Nullable, then the
    /// values (a placeholder for each NULL).
    private static func append(_ column: Column, writer: ClickHouseValueWriter, nullable: Bool, to buffer: inout [UInt8]) throws {
        let rows = column.count
        if nullable {
            if let validity = column.validity {
                for i in 0..<rows { buffer.append(validity.isSet(i) ? 0 : 1) }
            } else {
                buffer.append(contentsOf: repeatElement(0, count: rows))
            }
        }
        if let bulk = writer.bulk {
            bulk(&buffer)
        } else if column.validity == nil {
            for i in 0..<rows { try writer.write(i, &buffer) }
        } else {
            for i in 0..<rows {
                if column.isNull(i) { buffer.append(contentsOf: writer.placeholder) } else { try writer.write(i, &buffer) }
            }
        }
    }
}
