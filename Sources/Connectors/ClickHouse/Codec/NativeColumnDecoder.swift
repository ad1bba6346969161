import Flow

/// Decodes the data of one Native column (already known to be complete) into a column builder of the
/// Flow type `ClickHouseTypes` maps its type to.
struct NativeColumnDecoder {
    let name: String
    let type: ClickHouseType
    let policy: ClickHouseTypePolicy
    /// Rows of earlier blocks, for row numbers in messages.
    let firstRow: Int

    func decode(rows: Int, _ r: inout ByteReader, into b: inout ColumnBuilder) throws {
        guard rows > 0 else { return }
        switch type {
        case .nullable(let inner):
            let map = try r.take(rows)
            try values(inner, rows: rows, nullMap: map, &r, &b)
        case .lowCardinality(let inner):
            try lowCardinality(inner, rows: rows, &r, &b)
        case .array(let element):
            try arrays(element, rows: rows, &r, &b)
        default:
            try values(type, rows: rows, nullMap: nil, &r, &b)
        }
    }

    /// Calls `body` for each row that is not NULL, appending NULL for the others.
    @inline(__always)
    private func each(
        _ rows: Int, _ nullMap: UnsafeRawBufferPointer?, _ b: inout ColumnBuilder,
        _ body: (Int, inout ColumnBuilder) throws -> Void
    ) rethrows {
        if let map = nullMap {
            for i in 0..<rows { if map[i] != 0 { b.appendNull() } else { try body(i, &b) } }
        } else {
            for i in 0..<rows { try body(i, &b) }
        }
    }

    private func values(
        _ base: ClickHouseType, rows: Int, nullMap: UnsafeRawBufferPointer?, _ r: inout ByteReader,
        _ b: inout ColumnBuilder
    ) throws {
        if case .string = base {
            for i in 0..<rows {
                let s = try r.string()
                if let map = nullMap, map[i] != 0 { b.appendNull() } else { b.append(bytes: s) }
            }
            return
        }
        guard let w = NativeColumnScanner.fixedWidth(of: base) else { throw unsupported(base) }
        let d = try r.take(rows * w)
        switch base {
        case .int8: each(rows, nullMap, &b) { i, b in b.append(Int16(Int8(bitPattern: d[i]))) }
        case .int16: each(rows, nullMap, &b) { i, b in b.append(d.le(Int16.self, at: 2 * i)) }
        case .int32: each(rows, nullMap, &b) { i, b in b.append(d.le(Int32.self, at: 4 * i)) }
        case .int64: each(rows, nullMap, &b) { i, b in b.append(d.le(Int64.self, at: 8 * i)) }
        case .uint8: each(rows, nullMap, &b) { i, b in b.append(Int32(d[i])) }
        case .uint16: each(rows, nullMap, &b) { i, b in b.append(Int32(d.le(UInt16.self, at: 2 * i))) }
        case .uint32: each(rows, nullMap, &b) { i, b in b.append(Int64(d.le(UInt32.self, at: 4 * i))) }
        case .uint64: each(rows, nullMap, &b) { i, b in b.append(Int128(d.le(UInt64.self, at: 8 * i))) }
        case .float32: each(rows, nullMap, &b) { i, b in b.append(Float(bitPattern: d.le(UInt32.self, at: 4 * i))) }
        case .float64: each(rows, nullMap, &b) { i, b in b.append(Double(bitPattern: d.le(UInt64.self, at: 8 * i))) }
        case .decimal: each(rows, nullMap, &b) { i, b in b.append(Self.decimal(d, i, width: w)) }
        case .bool: each(rows, nullMap, &b) { i, b in b.append(d[i] != 0) }
        case .date: each(rows, nullMap, &b) { i, b in b.append(Int32(d.le(UInt16.self, at: 2 * i))) }
        case .date32: each(rows, nullMap, &b) { i, b in b.append(d.le(Int32.self, at: 4 * i)) }
        case .dateTime:
            each(rows, nullMap, &b) { i, b in b.append(Int64(d.le(UInt32.self, at: 4 * i)) * CivilCalendar.microsPerSecond) }
        case .dateTime64(let p, _):
            try each(rows, nullMap, &b) { i, b in
                guard let micros = Self.micros(ticks: d.le(Int64.self, at: 8 * i), precision: p, policy: policy) else {
                    throw valueError(i, "DateTime64(\(p)) value \(d.le(Int64.self, at: 8 * i)) is not a whole microsecond in range")
                }
                b.append(micros)
            }
        case .uuid:
            var canonical = [UInt8](repeating: 0, count: 16)
            each(rows, nullMap, &b) { i, b in
                Self.canonicalUUID(d, at: 16 * i, into: &canonical)
                b.append(bytes: canonical)
            }
        case .fixedString:
            each(rows, nullMap, &b) { i, b in b.append(bytes: Self.trimmed(UnsafeRawBufferPointer(rebasing: d[w * i..<w * i + w]))) }
        case .enum8(let cases), .enum16(let cases):
            let names = EnumNames(cases)
            try each(rows, nullMap, &b) { i, b in
                let v = w == 1 ? Int(Int8(bitPattern: d[i])) : Int(d.le(Int16.self, at: 2 * i))
                guard let k = names.index(of: v) else { throw valueError(i, "\(v) is not a case of \(base.name)") }
                b.append(bytes: names.names[k])
            }
        default:
            throw unsupported(base)
        }
    }

    // MARK: LowCardinality

    private func lowCardinality(_ inner: ClickHouseType, rows: Int, _ r: inout ByteReader, _ b: inout ColumnBuilder) throws {
        let (indexWidth, _) = try NativeColumnScanner.lowCardinalityHeader(&r)
        let keyCount = Int(try r.read(UInt64.self))
        let keyType = NativeColumnScanner.dictionaryType(inner)
        // Byte ranges of the keys, relative to the reader's buffer.
        var bounds: [Int] = []
        bounds.reserveCapacity(2 * keyCount)
        switch keyType {
        case .string:
            for _ in 0..<keyCount {
                let s = try r.string()
                let start = r.offset - s.count
                bounds.append(start)
                bounds.append(r.offset)
            }
        case .fixedString(let n):
            for _ in 0..<keyCount {
                let start = r.offset
                let key = Self.trimmed(try r.take(n))
                bounds.append(start)
                bounds.append(start + key.count)
            }
        default:
            throw unsupported(.lowCardinality(inner))
        }
        _ = try r.read(UInt64.self)
        let indexes = try r.take(rows * indexWidth)
        let nullable = inner.isNullable
        let buffer = r.bytes
        for i in 0..<rows {
            let k: Int
            switch indexWidth {
            case 1: k = Int(indexes[i])
            case 2: k = Int(indexes.le(UInt16.self, at: 2 * i))
            case 4: k = Int(indexes.le(UInt32.self, at: 4 * i))
            default: k = Int(truncatingIfNeeded: indexes.le(UInt64.self, at: 8 * i))
            }
            guard k >= 0, k < keyCount else { throw valueError(i, "LowCardinality index \(k) outside \(keyCount) keys") }
            if nullable && k == 0 {
                b.appendNull()
            } else {
                b.append(bytes: UnsafeRawBufferPointer(rebasing: buffer[bounds[2 * k]..<bounds[2 * k + 1]]))
            }
        }
    }

    // MARK: arrays

    private func arrays(_ element: ClickHouseType, rows: Int, _ r: inout ByteReader, _ b: inout ColumnBuilder) throws {
        let offsets = try r.take(rows * 8)
        let total = rows == 0 ? 0 : Int(truncatingIfNeeded: offsets.le(UInt64.self, at: 8 * (rows - 1)))
        guard total >= 0, total <= Int(Int32.max) else { throw NativeColumnScanner.malformed("array offsets") }
        let json = NativeArrayJSON(policy: policy)
        let elements = try json.read(element, count: total, &r)
        var text: [UInt8] = []
        var start = 0
        for i in 0..<rows {
            let end = Int(truncatingIfNeeded: offsets.le(UInt64.self, at: 8 * i))
            guard end >= start, end <= total else { throw valueError(i, "array offsets are not increasing") }
            text.removeAll(keepingCapacity: true)
            do {
                try json.appendArray(elements, start..<end, to: &text)
            } catch {
                throw valueError(i, error.message)
            }
            b.append(bytes: text)
            start = end
        }
    }

    // MARK: value conversions

    @inline(__always)
    static func decimal(_ d: UnsafeRawBufferPointer, _ i: Int, width: Int) -> Int128 {
        switch width {
        case 4: return Int128(d.le(Int32.self, at: 4 * i))
        case 8: return Int128(d.le(Int64.self, at: 8 * i))
        default:
            let low = d.le(UInt64.self, at: 16 * i)
            let high = d.le(Int64.self, at: 16 * i + 8)
            return Int128(high) << 64 | Int128(low)
        }
    }

    /// DateTime64 ticks of 10^-p seconds as microseconds; nil when out of Int64 range, or (p > 6) when
    /// the policy requires whole microseconds and the value has finer digits.
    @inline(__always)
    static func micros(ticks: Int64, precision p: Int, policy: ClickHouseTypePolicy) -> Int64? {
        if p == 6 { return ticks }
        if p < 6 {
            let (v, overflow) = ticks.multipliedReportingOverflow(by: Int64(DecimalMath.pow10[6 - p]))
            return overflow ? nil : v
        }
        let (q, rest) = CivilCalendar.floorDivMod(ticks, Int64(DecimalMath.pow10[p - 6]))
        if rest != 0 && policy.subMicrosecond != .truncate { return nil }
        return q
    }

    /// ClickHouse's UUID layout (two little-endian UInt64 halves) back to text order.
    @inline(__always)
    static func canonicalUUID(_ d: UnsafeRawBufferPointer, at offset: Int, into out: inout [UInt8]) {
        for k in 0..<8 {
            out[k] = d[offset + 7 - k]
            out[8 + k] = d[offset + 15 - k]
        }
    }

    /// A FixedString value without its trailing zero bytes (the padding of shorter values).
    @inline(__always)
    static func trimmed(_ v: UnsafeRawBufferPointer) -> UnsafeRawBufferPointer {
        var end = v.count
        while end > 0 && v[end - 1] == 0 { end -= 1 }
        return UnsafeRawBufferPointer(rebasing: v[0..<end])
    }

    private func valueError(_ row: Int, _ reason: String) -> DponeError {
        DponeError(
            .source, "cannot read ClickHouse column \"\(name)\" (\(type.name)) at row \(firstRow + row + 1): \(reason)",
            context: ["column": name])
    }

    private func unsupported(_ t: ClickHouseType) -> DponeError {
        DponeError(.source, "cannot read ClickHouse column \"\(name)\": \(t.name) is not supported", context: ["column": name])
    }
}

/// Enum case names by value.
struct EnumNames {
    let names: [[UInt8]]
    private let values: [Int: Int]

    init(_ cases: [ClickHouseEnumCase]) {
        names = cases.map { Array($0.name.utf8) }
        var values: [Int: Int] = [:]
        for (k, c) in cases.enumerated() { values[c.value] = k }
        self.values = values
    }

    @inline(__always)
    func index(of value: Int) -> Int? { values[value] }
}
