import Flow

extension Column {
    /// Rows `range` of this column as a new column (values copied; offsets rebased to 0).
    ///
    /// - Precondition: `range` lies within `0..<count`.
    public func slice(_ range: Range<Int>) -> Column {
        precondition(range.lowerBound >= 0 && range.upperBound <= count, "slice \(range) of a column of \(count) rows")
        if range.count == count { return self }
        let values: ColumnValues
        switch self.values {
        case .bool(let a): values = .bool(Array(a[range]))
        case .int16(let a): values = .int16(Array(a[range]))
        case .int32(let a): values = .int32(Array(a[range]))
        case .int64(let a): values = .int64(Array(a[range]))
        case .float32(let a): values = .float32(Array(a[range]))
        case .float64(let a): values = .float64(Array(a[range]))
        case .int128(let a): values = .int128(Array(a[range]))
        case .variable(let offsets, let bytes):
            let base = offsets[range.lowerBound]
            let end = offsets[range.upperBound]
            var rebased = [Int32](repeating: 0, count: range.count + 1)
            offsets.withUnsafeBufferPointer { src in
                for i in 0...range.count { rebased[i] = src[range.lowerBound + i] - base }
            }
            values = .variable(offsets: rebased, bytes: Array(bytes[Int(base)..<Int(end)]))
        case .fixed16(let bytes):
            values = .fixed16(Array(bytes[16 * range.lowerBound..<16 * range.upperBound]))
        }
        var validity = ValidityWriter(reservingCapacity: range.count)
        validity.append(from: self.validity, range: range)
        return Column(type: type, count: range.count, validity: validity.finish(), values: values)
    }
}

extension Batch {
    /// Rows `range` of this batch (columns and operations), in order.
    ///
    /// - Precondition: `range` lies within `0..<rowCount`.
    public func slice(_ range: Range<Int>) -> Batch {
        precondition(range.lowerBound >= 0 && range.upperBound <= rowCount, "slice \(range) of a batch of \(rowCount) rows")
        if range.count == rowCount { return self }
        if columns.isEmpty {
            return Batch(schema: schema, columns: [], operations: Array((operations ?? [])[range]))
        }
        return Batch(
            schema: schema,
            columns: columns.map { $0.slice(range) },
            operations: operations.map { Array($0[range]) }
        )
    }
}
