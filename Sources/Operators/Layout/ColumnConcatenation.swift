import Flow

extension Column {
    /// The rows of `columns` one after another.
    ///
    /// - Precondition: `columns` is not empty and all columns have the same logical type.
    public static func concatenate(_ columns: [Column]) -> Column {
        precondition(!columns.isEmpty, "concatenate needs at least one column")
        if columns.count == 1 { return columns[0] }
        let type = columns[0].type
        var total = 0
        for c in columns {
            precondition(c.type == type, "cannot concatenate a \(c.type) column to a \(type) column")
            total += c.count
        }
        let values: ColumnValues
        switch columns[0].values {
        case .bool: values = .bool(joined(columns, total) { if case .bool(let a) = $0 { a } else { nil } })
        case .int16: values = .int16(joined(columns, total) { if case .int16(let a) = $0 { a } else { nil } })
        case .int32: values = .int32(joined(columns, total) { if case .int32(let a) = $0 { a } else { nil } })
        case .int64: values = .int64(joined(columns, total) { if case .int64(let a) = $0 { a } else { nil } })
        case .float32: values = .float32(joined(columns, total) { if case .float32(let a) = $0 { a } else { nil } })
        case .float64: values = .float64(joined(columns, total) { if case .float64(let a) = $0 { a } else { nil } })
        case .int128: values = .int128(joined(columns, total) { if case .int128(let a) = $0 { a } else { nil } })
        case .fixed16:
            values = .fixed16(joined(columns, total * 16) { if case .fixed16(let a) = $0 { a } else { nil } })
        case .variable:
            var offsets: [Int32] = [0]
            offsets.reserveCapacity(total + 1)
            var bytes: [UInt8] = []
            bytes.reserveCapacity(columns.reduce(0) { n, c in
                if case .variable(_, let b) = c.values { n + b.count } else { n }
            })
            for c in columns {
                guard case .variable(let o, let b) = c.values else { preconditionFailure("layout mismatch") }
                let base = Int32(bytes.count) - o[0]
                precondition(bytes.count + b.count <= Int(Int32.max), "a column of one batch holds at most 2 GiB")
                o.withUnsafeBufferPointer { src in
                    for i in 1..<src.count { offsets.append(src[i] + base) }
                }
                bytes.append(contentsOf: b[Int(o[0])..<Int(o[o.count - 1])])
            }
            values = .variable(offsets: offsets, bytes: bytes)
        }
        var validity = ValidityWriter(reservingCapacity: total)
        for c in columns { validity.append(from: c.validity, range: 0..<c.count) }
        return Column(type: type, count: total, validity: validity.finish(), values: values)
    }

    private static func joined<T>(_ columns: [Column], _ capacity: Int, _ extract: (ColumnValues) -> [T]?) -> [T] {
        var out: [T] = []
        out.reserveCapacity(capacity)
        for c in columns {
            guard let a = extract(c.values) else { preconditionFailure("layout mismatch") }
            out.append(contentsOf: a)
        }
        return out
    }
}

extension Batch {
    /// The rows of `batches` one after another, in order.
    ///
    /// Operations are kept: when some batches carry operations and others do not, rows of the
    /// latter become `.insert` (what a nil operation column means). A single batch is returned as is.
    ///
    /// - Precondition: `batches` is not empty and all batches have the same schema.
    public static func concatenate(_ batches: [Batch]) -> Batch {
        precondition(!batches.isEmpty, "concatenate needs at least one batch")
        let nonEmpty = batches.filter { $0.rowCount > 0 }
        if nonEmpty.count <= 1 { return nonEmpty.first ?? batches[0] }
        let schema = nonEmpty[0].schema
        for b in nonEmpty { precondition(b.schema == schema, "cannot concatenate batches of different schemas") }
        var operations: [RowOperation]? = nil
        if nonEmpty.contains(where: { $0.operations != nil }) {
            var ops: [RowOperation] = []
            ops.reserveCapacity(nonEmpty.reduce(0) { $0 + $1.rowCount })
            for b in nonEmpty {
                if let o = b.operations { ops.append(contentsOf: o) } else {
                    ops.append(contentsOf: repeatElement(.insert, count: b.rowCount))
                }
            }
            operations = ops
        }
        let columns = schema.fields.indices.map { i in Column.concatenate(nonEmpty.map { $0.columns[i] }) }
        return Batch(schema: schema, columns: columns, operations: operations)
    }
}
