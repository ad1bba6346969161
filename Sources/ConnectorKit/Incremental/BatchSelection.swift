import Flow
import Formats

/// Copies chosen rows of a batch into a new batch (the incremental filter's output).
public enum BatchSelection {
    /// The rows of `batch` at `rows` (ascending), in that order; `batch` itself when every row is chosen.
    public static func select(_ batch: Batch, rows: [Int]) -> Batch {
        if rows.count == batch.rowCount { return batch }
        let columns = batch.columns.map { select($0, rows: rows) }
        return Batch(schema: batch.schema, columns: columns, operations: batch.operations.map { ops in rows.map { ops[$0] } })
    }

    public static func select(_ column: Column, rows: [Int]) -> Column {
        var validity: Bitmap?
        if column.validity != nil {
            var bits = BitmapBuilder()
            for r in rows { bits.append(!column.isNull(r)) }
            validity = bits.finish()
        }
        let values: ColumnValues
        switch column.values {
        case .bool(let a): values = .bool(rows.map { a[$0] })
        case .int16(let a): values = .int16(rows.map { a[$0] })
        case .int32(let a): values = .int32(rows.map { a[$0] })
        case .int64(let a): values = .int64(rows.map { a[$0] })
        case .float32(let a): values = .float32(rows.map { a[$0] })
        case .float64(let a): values = .float64(rows.map { a[$0] })
        case .int128(let a): values = .int128(rows.map { a[$0] })
        case .variable(let offsets, let bytes):
            var newOffsets: [Int32] = [0]
            newOffsets.reserveCapacity(rows.count + 1)
            var newBytes: [UInt8] = []
            for r in rows {
                newBytes.append(contentsOf: bytes[Int(offsets[r])..<Int(offsets[r + 1])])
                newOffsets.append(Int32(newBytes.count))
            }
            values = .variable(offsets: newOffsets, bytes: newBytes)
        case .fixed16(let bytes):
            var out: [UInt8] = []
            out.reserveCapacity(rows.count * 16)
            for r in rows { out.append(contentsOf: bytes[16 * r..<16 * r + 16]) }
            values = .fixed16(out)
        }
        return Column(type: column.type, count: rows.count, validity: validity, values: values)
    }
}
