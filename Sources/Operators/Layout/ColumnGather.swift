import Flow

extension Column {
    /// The values at `rows`, in that order (a row may repeat).
    ///
    /// - Precondition: every index lies within `0..<count`.
    public func gather(rows: [Int]) -> Column {
        let values: ColumnValues
        switch self.values {
        case .bool(let a): values = .bool(Column.pick(a, rows))
        case .int16(let a): values = .int16(Column.pick(a, rows))
        case .int32(let a): values = .int32(Column.pick(a, rows))
        case .int64(let a): values = .int64(Column.pick(a, rows))
        case .float32(let a): values = .float32(Column.pick(a, rows))
        case .float64(let a): values = .float64(Column.pick(a, rows))
        case .int128(let a): values = .int128(Column.pick(a, rows))
        case .variable(let offsets, let bytes):
            var newOffsets = [Int32](repeating: 0, count: rows.count + 1)
            var newBytes: [UInt8] = []
            offsets.withUnsafeBufferPointer { o in
                var total: Int32 = 0
                for (k, r) in rows.enumerated() {
                    total += o[r + 1] - o[r]
                    newOffsets[k + 1] = total
                }
                newBytes.reserveCapacity(Int(total))
                bytes.withUnsafeBufferPointer { b in
                    for r in rows {
                        newBytes.append(contentsOf: UnsafeBufferPointer(rebasing: b[Int(o[r])..<Int(o[r + 1])]))
                    }
                }
            }
            values = .variable(offsets: newOffsets, bytes: newBytes)
        case .fixed16(let bytes):
            var out: [UInt8] = []
            out.reserveCapacity(rows.count * 16)
            bytes.withUnsafeBufferPointer { b in
                for r in rows { out.append(contentsOf: UnsafeBufferPointer(rebasing: b[16 * r..<16 * r + 16])) }
            }
            values = .fixed16(out)
        }
        var validity: Bitmap? = nil
        if let source = self.validity {
            var builder = BitmapBuilder()
            for r in rows { builder.append(source.isSet(r)) }
            validity = builder.finish()
        }
        return Column(type: type, count: rows.count, validity: validity, values: values)
    }

    private static func pick<T>(_ a: [T], _ rows: [Int]) -> [T] {
        a.withUnsafeBufferPointer { src in rows.map { src[$0] } }
    }
}

extension Batch {
    /// The rows at `rows`, in that order, with their operations.
    ///
    /// - Precondition: every index lies within `0..<rowCount`.
    public func gather(rows: [Int]) -> Batch {
        let ops = operations.map { o in rows.map { o[$0] } }
        if columns.isEmpty { return Batch(schema: schema, columns: [], operations: ops ?? []) }
        return Batch(schema: schema, columns: columns.map { $0.gather(rows: rows) }, operations: ops)
    }
}
