import Flow

/// Regroups a stream of batches into batches of about `targetRows` rows or `targetBytes` bytes,
/// whichever is reached first: small batches are concatenated, big ones sliced. Row order and row
/// operations are preserved. Not a `BatchTransform`: it holds rows between calls.
///
/// Contract: `push` returns the batches that are complete (each at the target, except that a single
/// row larger than `targetBytes` still makes a batch); the rows it keeps come out of later `push`
/// calls or of `flush()`, which MUST be called at end of stream and before forwarding a checkpoint
/// barrier. A batch whose schema differs from the kept rows' first flushes those rows as one batch.
/// Byte sizes are estimated from each input batch's average row size.
public struct Rebatcher: Sendable {
    public let targetRows: Int
    public let targetBytes: Int
    /// Kept batches; rows before `headOffset` of the first one were already emitted.
    private var pending: [Batch] = []
    private var headOffset = 0
    private var pendingRows = 0
    private var pendingBytes = 0

    public init(targetRows: Int = 65536, targetBytes: Int = 8 << 20) {
        precondition(targetRows > 0 && targetBytes > 0, "rebatch targets are positive")
        self.targetRows = targetRows
        self.targetBytes = targetBytes
    }

    /// Rows kept and not yet emitted.
    public var bufferedRows: Int { pendingRows }

    public mutating func push(_ batch: Batch) -> [Batch] {
        guard batch.rowCount > 0 else { return [] }
        var out: [Batch] = []
        if let first = pending.first, first.schema != batch.schema, let rest = flush() {
            out.append(rest)
        }
        pending.append(batch)
        pendingRows += batch.rowCount
        pendingBytes += batch.byteCount
        while pendingRows >= targetRows || pendingBytes >= targetBytes {
            out.append(cut(limitRows: targetRows, limitBytes: targetBytes))
        }
        return out
    }

    /// Everything kept, as one batch (nil when nothing is kept). Kept rows never exceed the targets.
    public mutating func flush() -> Batch? {
        guard pendingRows > 0 else { return nil }
        return cut(limitRows: .max, limitBytes: .max)
    }

    /// Takes up to the limits from the front of the kept rows (at least one row).
    private mutating func cut(limitRows: Int, limitBytes: Int) -> Batch {
        var parts: [Batch] = []
        var rows = 0
        var bytes = 0
        while let head = pending.first, rows < limitRows, bytes < limitBytes {
            let available = head.rowCount - headOffset
            let rowBytes = max(1, head.byteCount / head.rowCount)
            let byBytes = limitBytes == .max ? available : (limitBytes - bytes) / rowBytes
            var take = min(available, limitRows - rows, byBytes)
            if take == 0 {
                if rows > 0 { break }
                take = 1
            }
            parts.append(head.slice(headOffset..<headOffset + take))
            rows += take
            bytes += take * rowBytes
            if take == available {
                pending.removeFirst()
                headOffset = 0
            } else {
                headOffset += take
            }
        }
        pendingRows -= rows
        pendingBytes = pending.enumerated().reduce(0) { sum, item in
            let (i, b) = item
            return sum + (i == 0 ? b.byteCount * (b.rowCount - headOffset) / b.rowCount : b.byteCount)
        }
        return Batch.concatenate(parts)
    }
}
