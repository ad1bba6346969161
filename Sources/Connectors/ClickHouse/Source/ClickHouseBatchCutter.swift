import Flow

/// Re-cuts decoded Native blocks into batches bounded by `batchRows` rows and (approximately)
/// `batchBytes` bytes.
///
/// - A block within the limits and at least half their size passes through untouched (no copy);
///   the source asks the server for blocks of `max_block_size = batchRows`, so that is the usual case.
/// - A larger block is split into full batches (sliced by row ranges); smaller blocks and the tails
///   of split ones are gathered until a limit is reached.
/// - Bytes are estimated per block from its average row size: a batch may exceed `batchBytes` by
///   about one row; a single row larger than `batchBytes` is a batch of its own.
struct ClickHouseBatchCutter: Sendable {
    let schema: Schema
    let batchRows: Int
    let batchBytes: Int
    private var builder: BatchBuilder

    init(schema: Schema, batchRows: Int, batchBytes: Int) {
        precondition(batchRows > 0 && batchBytes > 0)
        self.schema = schema
        self.batchRows = batchRows
        self.batchBytes = batchBytes
        self.builder = BatchBuilder(schema: schema)
    }

    /// Rows gathered and not yet emitted.
    var pendingRows: Int { builder.rowCount }

    /// Adds a block; `emit` receives every batch completed by it, in order.
    mutating func add(_ batch: Batch, emit: (Batch) throws -> Void) rethrows {
        let n = batch.rowCount
        guard n > 0 else { return }
        let perRow = max(1, (batch.byteCount + n - 1) / n)
        // Rows of this block that make a full batch on their own.
        let fit = max(1, min(batchRows, batchBytes / perRow))
        var start = 0
        while start < n {
            let remaining = n - start
            if builder.rowCount == 0 {
                if remaining >= fit {
                    try emit(start == 0 && remaining == fit ? batch : Self.slice(batch, start..<start + fit))
                    start += fit
                    continue
                }
                if remaining * 2 >= fit {
                    try emit(start == 0 ? batch : Self.slice(batch, start..<n))
                    return
                }
            }
            let roomRows = batchRows - builder.rowCount
            let roomBytes = max(1, (batchBytes - builder.byteCount) / perRow)
            let take = min(remaining, max(1, min(roomRows, roomBytes)))
            Self.append(batch, start..<start + take, into: &builder)
            start += take
            if builder.rowCount >= batchRows || builder.byteCount >= batchBytes {
                try emit(builder.finish())
            }
        }
    }

    /// Emits the rows gathered so far, if any.
    mutating func flush(emit: (Batch) throws -> Void) rethrows {
        guard builder.rowCount > 0 else { return }
        try emit(builder.finish())
    }

    /// Rows `range` of `batch` as a batch of their own.
    static func slice(_ batch: Batch, _ range: Range<Int>) -> Batch {
        var builder = BatchBuilder(schema: batch.schema, reservingCapacity: range.count)
        append(batch, range, into: &builder)
        return builder.finish()
    }

    /// Appends rows `range` of `batch` to `builder` (same schema).
    static func append(_ batch: Batch, _ range: Range<Int>, into builder: inout BatchBuilder) {
        for k in batch.columns.indices {
            appendRows(batch.columns[k], range, into: &builder.columns[k])
        }
    }

    private static func appendRows(_ column: Column, _ range: Range<Int>, into out: inout ColumnBuilder) {
        switch column.values {
        case .bool(let a): for i in range { if column.isNull(i) { out.appendNull() } else { out.append(a[i]) } }
        case .int16(let a): for i in range { if column.isNull(i) { out.appendNull() } else { out.append(a[i]) } }
        case .int32(let a): for i in range { if column.isNull(i) { out.appendNull() } else { out.append(a[i]) } }
        case .int64(let a): for i in range { if column.isNull(i) { out.appendNull() } else { out.append(a[i]) } }
        case .float32(let a): for i in range { if column.isNull(i) { out.appendNull() } else { out.append(a[i]) } }
        case .float64(let a): for i in range { if column.isNull(i) { out.appendNull() } else { out.append(a[i]) } }
        case .int128(let a): for i in range { if column.isNull(i) { out.appendNull() } else { out.append(a[i]) } }
        case .variable(let offsets, let bytes):
            bytes.withUnsafeBytes { raw in
                for i in range {
                    if column.isNull(i) {
                        out.appendNull()
                    } else {
                        out.append(bytes: UnsafeRawBufferPointer(rebasing: raw[Int(offsets[i])..<Int(offsets[i + 1])]))
                    }
                }
            }
        case .fixed16(let bytes):
            bytes.withUnsafeBytes { raw in
                for i in range {
                    if column.isNull(i) {
                        out.appendNull()
                    } else {
                        out.append(bytes: UnsafeRawBufferPointer(rebasing: raw[16 * i..<16 * i + 16]))
                    }
                }
            }
        }
    }
}
