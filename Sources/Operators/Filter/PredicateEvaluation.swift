import Flow

extension Predicate {
    /// Checks the predicate against `schema`: every column exists and every literal is comparable
    /// with its column. Throws `DponeError(.schema)` otherwise.
    public func validate(against schema: Schema) throws {
        switch self {
        case .comparison(let column, _, let literal):
            guard let index = schema.index(of: column) else {
                throw DponeError(
                    .schema, "filter: unknown column '\(column)'; available: \(schema.names.joined(separator: ", "))",
                    context: ["column": column])
            }
            _ = try PredicateOperand(literal, for: schema[index])
        case .and(let terms), .or(let terms):
            for term in terms { try term.validate(against: schema) }
        }
    }

    /// Per row, whether it satisfies the predicate (evaluated a column at a time).
    public func matches(_ batch: Batch) throws -> [Bool] {
        switch self {
        case .comparison(let name, let op, let literal):
            guard let index = batch.schema.index(of: name) else {
                try validate(against: batch.schema)
                return []
            }
            let column = batch.columns[index]
            switch op {
            case .isNull: return (0..<batch.rowCount).map { column.isNull($0) }
            case .isNotNull: return (0..<batch.rowCount).map { !column.isNull($0) }
            default:
                let operand = try PredicateOperand(literal, for: batch.schema[index])
                return ComparisonKernel(column: column, op: op).evaluate(operand)
            }
        case .and(let terms):
            var mask = [Bool](repeating: true, count: batch.rowCount)
            for term in terms {
                let m = try term.matches(batch)
                for i in mask.indices { mask[i] = mask[i] && m[i] }
            }
            return mask
        case .or(let terms):
            var mask = [Bool](repeating: false, count: batch.rowCount)
            for term in terms {
                let m = try term.matches(batch)
                for i in mask.indices { mask[i] = mask[i] || m[i] }
            }
            return mask
        }
    }

    /// Indices of the rows that satisfy the predicate, ascending.
    public func selectedRows(in batch: Batch) throws -> [Int] {
        let mask = try matches(batch)
        var rows: [Int] = []
        rows.reserveCapacity(mask.count)
        for i in mask.indices where mask[i] { rows.append(i) }
        return rows
    }
}

/// Compares every value of one column with one operand; NULL values never match.
struct ComparisonKernel {
    let column: Column
    let op: ComparisonOperator

    func evaluate(_ operand: PredicateOperand) -> [Bool] {
        var mask: [Bool]
        switch (column.values, operand) {
        case (_, .null): return [Bool](repeating: false, count: column.count)
        case (.bool(let a), .bool(let b)): mask = compare(a, UInt8(b ? 1 : 0)) { $0 ? 1 : 0 }
        case (.int16(let a), .integer(let x)): mask = compare(a, x) { Int64($0) }
        case (.int32(let a), .integer(let x)): mask = compare(a, x) { Int64($0) }
        case (.int64(let a), .integer(let x)): mask = compare(a, x) { $0 }
        case (.int16(let a), .double(let x)): mask = compare(a, x) { Double($0) }
        case (.int32(let a), .double(let x)): mask = compare(a, x) { Double($0) }
        case (.int64(let a), .double(let x)): mask = compare(a, x) { Double($0) }
        case (.float32(let a), .double(let x)): mask = compare(a, x) { Double($0) }
        case (.float64(let a), .double(let x)): mask = compare(a, x) { $0 }
        case (.int16(let a), .decimal(let x, let s)): mask = order(a) { DecimalMath.compare(Int128($0), 0, x, s) }
        case (.int32(let a), .decimal(let x, let s)): mask = order(a) { DecimalMath.compare(Int128($0), 0, x, s) }
        case (.int64(let a), .decimal(let x, let s)): mask = order(a) { DecimalMath.compare(Int128($0), 0, x, s) }
        case (.int128(let a), .integer(let x)):
            let scale = decimalScale
            mask = order(a) { DecimalMath.compare($0, scale, Int128(x), 0) }
        case (.int128(let a), .decimal(let x, let s)):
            let scale = decimalScale
            mask = order(a) { DecimalMath.compare($0, scale, x, s) }
        case (.int128(let a), .double(let x)):
            let divisor = Double(DecimalMath.pow10[decimalScale])
            mask = compare(a, x) { Double($0) / divisor }
        case (.variable(let offsets, let bytes), .bytes(let literal)):
            mask = compareBytes(offsets: offsets, bytes: bytes, literal: literal)
        case (.fixed16(let bytes), .bytes(let literal)):
            let offsets = (0...column.count).map { Int32(16 * $0) }
            mask = compareBytes(offsets: offsets, bytes: bytes, literal: literal)
        default:
            preconditionFailure("operand \(operand) does not fit a \(column.type) column")
        }
        if let validity = column.validity {
            for i in mask.indices where mask[i] && !validity.isSet(i) { mask[i] = false }
        }
        return mask
    }

    private var decimalScale: Int {
        if case .decimal(_, let s) = column.type { return s }
        return 0
    }

    /// Compares `widen(value)` with `literal` using the operator directly (IEEE semantics for floats).
    @inline(__always)
    private func compare<T, U: Comparable>(_ values: [T], _ literal: U, _ widen: (T) -> U) -> [Bool] {
        values.withUnsafeBufferPointer { v in
            switch op {
            case .equal: v.map { widen($0) == literal }
            case .notEqual: v.map { widen($0) != literal }
            case .less: v.map { widen($0) < literal }
            case .lessOrEqual: v.map { widen($0) <= literal }
            case .greater: v.map { widen($0) > literal }
            case .greaterOrEqual: v.map { widen($0) >= literal }
            case .isNull, .isNotNull: [Bool](repeating: false, count: v.count)
            }
        }
    }

    @inline(__always)
    private func order<T>(_ values: [T], _ ordering: (T) -> Int) -> [Bool] {
        values.withUnsafeBufferPointer { v in v.map { op.holds(ordering($0)) } }
    }

    private func compareBytes(offsets: [Int32], bytes: [UInt8], literal: [UInt8]) -> [Bool] {
        offsets.withUnsafeBufferPointer { o in
            bytes.withUnsafeBufferPointer { b in
                literal.withUnsafeBufferPointer { l in
                    (0..<column.count).map { i in
                        op.holds(lexicographicOrder(UnsafeBufferPointer(rebasing: b[Int(o[i])..<Int(o[i + 1])]), l))
                    }
                }
            }
        }
    }
}

/// Orders two byte strings lexicographically (for UTF-8 this is code point order): -1, 0 or 1.
@inline(__always)
func lexicographicOrder(_ a: UnsafeBufferPointer<UInt8>, _ b: UnsafeBufferPointer<UInt8>) -> Int {
    let n = min(a.count, b.count)
    var i = 0
    while i < n {
        if a[i] != b[i] { return a[i] < b[i] ? -1 : 1 }
        i += 1
    }
    return a.count == b.count ? 0 : (a.count < b.count ? -1 : 1)
}
