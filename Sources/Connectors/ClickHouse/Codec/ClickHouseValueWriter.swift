import Flow

/// Writes the values of one batch column in the binary layout of one ClickHouse type — the layout is
/// the same in Native (column after column) and RowBinary (row after row).
///
/// Built per batch column for a base target type (no `Nullable` / `LowCardinality`: the encoders handle
/// those). Conversions are exact or fail: an integer out of the target's range, a decimal with more
/// fractional digits than the target scale or more digits than its precision, a timestamp finer than a
/// DateTime / DateTime64 precision, a date outside Date (`ClickHouseTypeSupport.dateRange`) / Date32, a string longer than a FixedString, an
/// unknown Enum name — each throws `DponeError(.sink)` naming the column and the value.
///
/// Accepted pairs (Flow → ClickHouse): bool/int16/int32/int64 and decimal(p,0) → any integer type
/// (range-checked; bool as 0/1), int64/timestamp/time → Int64 (µs), bool → Bool, float32 → Float32 /
/// Float64, float64 → Float64, decimal(p,s)/integers → Decimal(P,S), string/json/bytes → String /
/// FixedString(n) / Enum8 / Enum16 (by case name), uuid → UUID / String (text) / FixedString(16) (raw),
/// timestamp → DateTime / DateTime64(p) / String (`YYYY-MM-DD HH:MM:SS.ffffff`), time → String
/// (`HH:MM:SS.ffffff`), date → Date / Date32 / String (`YYYY-MM-DD`).
struct ClickHouseValueWriter {
    typealias Write = (Int, inout [UInt8]) throws -> Void

    /// Appends the (non-NULL) value of row `i`.
    let write: Write
    /// The bytes Native writes in a Nullable column's nested data for a NULL row.
    let placeholder: [UInt8]
    /// When the column's storage already is the target layout: appends all rows at once (the zero
    /// placeholders of NULL rows included).
    let bulk: ((inout [UInt8]) -> Void)?

    private init(placeholder: [UInt8], bulk: ((inout [UInt8]) -> Void)? = nil, write: @escaping Write) {
        self.write = write
        self.placeholder = placeholder
        self.bulk = bulk
    }

    /// - Throws: `DponeError(.schema)` when values of `column.type` cannot be written as `target`.
    init(column: Column, name: String, target: ClickHouseType, support: ClickHouseTypeSupport) throws {
        let context = Context(name: name, target: target, column: column)
        switch target {
        case .int8: self = try Self.integers(Int8.self, context)
        case .int16: self = try Self.integers(Int16.self, context)
        case .int32: self = try Self.integers(Int32.self, context)
        case .int64: self = try Self.integers(Int64.self, context)
        case .uint8: self = try Self.integers(UInt8.self, context)
        case .uint16: self = try Self.integers(UInt16.self, context)
        case .uint32: self = try Self.integers(UInt32.self, context)
        case .uint64: self = try Self.integers(UInt64.self, context)
        case .bool:
            guard case .bool(let a) = column.values else { throw context.incompatible() }
            self = Self(placeholder: [0], bulk: Self.raw(a)) { i, out in out.append(a[i] ? 1 : 0) }
        case .float32:
            guard case .float32(let a) = column.values else { throw context.incompatible() }
            self = Self(placeholder: [0, 0, 0, 0], bulk: Self.raw(a)) { i, out in
                ClickHouseBinary.append(a[i].bitPattern, to: &out)
            }
        case .float64:
            switch column.values {
            case .float64(let a):
                self = Self(placeholder: Self.zeros(8), bulk: Self.raw(a)) { i, out in
                    ClickHouseBinary.append(a[i].bitPattern, to: &out)
                }
            case .float32(let a):
                self = Self(placeholder: Self.zeros(8)) { i, out in ClickHouseBinary.append(Double(a[i]).bitPattern, to: &out) }
            default: throw context.incompatible()
            }
        case .decimal(let p, let s): self = try Self.decimal(precision: p, scale: s, context)
        case .string: self = try Self.string(context)
        case .fixedString(let n): self = try Self.fixedString(n, context)
        case .uuid:
            guard case .fixed16(let bytes) = column.values else { throw context.incompatible() }
            self = Self(placeholder: Self.zeros(16)) { i, out in
                bytes.withUnsafeBytes { ClickHouseBinary.appendUUID(UnsafeRawBufferPointer(rebasing: $0[16 * i..<16 * i + 16]), to: &out) }
            }
        case .date, .date32:
            guard column.type == .date, case .int32(let a) = column.values else { throw context.incompatible() }
            let narrow = target == .date
            let range = narrow ? support.dateRange : ClickHouseTypes.date32Range
            self = Self(placeholder: Self.zeros(narrow ? 2 : 4)) { i, out in
                let d = a[i]
                guard range.contains(d) else {
                    throw context.valueError(i, "is outside the range of \(target.name) (\(Self.dateText(range)))")
                }
                if narrow { ClickHouseBinary.append(UInt16(d), to: &out) } else { ClickHouseBinary.append(d, to: &out) }
            }
        case .dateTime:
            guard case .timestamp = column.type, case .int64(let a) = column.values else { throw context.incompatible() }
            self = Self(placeholder: Self.zeros(4)) { i, out in
                let (seconds, fraction) = CivilCalendar.floorDivMod(a[i], CivilCalendar.microsPerSecond)
                guard fraction == 0 else { throw context.valueError(i, "has fractional seconds, which DateTime cannot hold") }
                guard let v = UInt32(exactly: seconds) else {
                    throw context.valueError(i, "is outside DateTime's range (1970-01-01 ... 2106-02-07)")
                }
                ClickHouseBinary.append(v, to: &out)
            }
        case .dateTime64(let p, _):
            guard case .timestamp = column.type, case .int64(let a) = column.values else { throw context.incompatible() }
            self = Self.dateTime64(a, precision: p, context)
        case .enum8(let cases), .enum16(let cases):
            self = try Self.enumeration(cases, wide: { if case .enum16 = target { true } else { false } }(), context)
        case .nullable, .lowCardinality, .array, .unsupported:
            throw context.incompatible()
        }
    }

    // MARK: integers and decimals

    private static func integers<D: FixedWidthInteger>(_: D.Type, _ c: Context) throws -> Self {
        let zero = zeros(MemoryLayout<D>.size)
        @inline(__always) func put(_ v: D, _ out: inout [UInt8]) { ClickHouseBinary.append(v, to: &out) }
        func checked<S: BinaryInteger>(_ a: [S], bulk: Bool) -> Self {
            Self(placeholder: zero, bulk: bulk ? raw(a) : nil) { i, out in
                guard let v = D(exactly: a[i]) else { throw c.valueError(i, "is outside the range of \(c.target.name)") }
                put(v, &out)
            }
        }
        switch (c.column.values, c.column.type) {
        case (.bool(let a), _):
            return Self(placeholder: zero, bulk: D.self == UInt8.self || D.self == Int8.self ? raw(a) : nil) { i, out in
                put(a[i] ? 1 : 0, &out)
            }
        case (.int16(let a), _): return checked(a, bulk: D.self == Int16.self)
        case (.int32(let a), .int32): return checked(a, bulk: D.self == Int32.self)
        case (.int64(let a), .int64): return checked(a, bulk: D.self == Int64.self)
        case (.int64(let a), .timestamp), (.int64(let a), .time):
            guard D.self == Int64.self else { throw c.incompatible() }
            return checked(a, bulk: true)
        case (.int128(let a), .decimal(_, 0)): return checked(a, bulk: false)
        default: throw c.incompatible()
        }
    }

    private static func decimal(precision: Int, scale: Int, _ c: Context) throws -> Self {
        let width = precision <= 9 ? 4 : precision <= 18 ? 8 : precision <= 38 ? 16 : 32
        if case .numeric = c.column.type, case .variable(let offsets, let bytes) = c.column.values {
            return Self(placeholder: zeros(width)) { i, out in
                let ok = bytes.withUnsafeBytes { raw in
                    WideDecimal.append(
                        UnsafeRawBufferPointer(rebasing: raw[Int(offsets[i])..<Int(offsets[i + 1])]),
                        precision: precision, scale: scale, width: width, to: &out)
                }
                guard ok else {
                    throw c.valueError(i, "does not fit \(c.target.name) exactly (NaN and infinities have no Decimal form)")
                }
            }
        }
        guard precision <= LogicalType.maxDecimalPrecision else {
            throw DponeError(
                .schema, "column \"\(c.name)\": \(c.target.name) (Decimal256) takes numeric columns only, not \(c.column.type)",
                context: ["column": c.name])
        }
        let from: Int
        let read: (Int) -> Int128
        switch (c.column.values, c.column.type) {
        case (.int128(let a), .decimal(_, let s)): from = s; read = { a[$0] }
        case (.int16(let a), _): from = 0; read = { Int128(a[$0]) }
        case (.int32(let a), .int32): from = 0; read = { Int128(a[$0]) }
        case (.int64(let a), .int64): from = 0; read = { Int128(a[$0]) }
        default: throw c.incompatible()
        }
        return Self(placeholder: zeros(width)) { i, out in
            guard let v = DecimalMath.rescale(read(i), from: from, to: scale) else {
                throw c.valueError(i, "has more fractional digits than \(c.target.name) holds")
            }
            guard DecimalMath.fits(v, precision: precision) else {
                throw c.valueError(i, "has more digits than \(c.target.name) holds")
            }
            switch width {
            case 4: ClickHouseBinary.append(Int32(truncatingIfNeeded: v), to: &out)
            case 8: ClickHouseBinary.append(Int64(truncatingIfNeeded: v), to: &out)
            default:
                ClickHouseBinary.append(UInt64(truncatingIfNeeded: v), to: &out)
                ClickHouseBinary.append(UInt64(truncatingIfNeeded: v >> 64), to: &out)
            }
        }
    }

    // MARK: text

    private static func string(_ c: Context) throws -> Self {
        switch (c.column.values, c.column.type) {
        case (.variable(let offsets, let bytes), _):
            return Self(placeholder: [0]) { i, out in
                let start = Int(offsets[i])
                let end = Int(offsets[i + 1])
                ClickHouseBinary.appendVarUInt(UInt64(end - start), to: &out)
                out.append(contentsOf: bytes[start..<end])
            }
        case (.fixed16(let bytes), _):
            return Self(placeholder: [0]) { i, out in
                out.append(36)
                bytes.withUnsafeBytes { ScalarFormatting.appendUUID(UnsafeRawBufferPointer(rebasing: $0[16 * i..<16 * i + 16]), to: &out) }
            }
        case (.int64(let a), .timestamp):
            return Self(placeholder: [0]) { i, out in
                out.append(UInt8(ClickHouseText.timestampLength))
                guard ClickHouseText.appendTimestamp(micros: a[i], to: &out) else {
                    throw c.valueError(i, "has a year outside 0000...9999, which the fixed-width text cannot hold")
                }
            }
        case (.int64(let a), .time):
            return Self(placeholder: [0]) { i, out in
                guard a[i] >= 0, a[i] < CivilCalendar.microsPerDay else { throw c.valueError(i, "is outside one day") }
                out.append(UInt8(ClickHouseText.timeLength))
                ClickHouseText.appendTime(micros: a[i], to: &out)
            }
        case (.int32(let a), .date):
            return Self(placeholder: [0]) { i, out in
                let mark = out.count
                out.append(0)
                ScalarFormatting.appendDate(days: a[i], to: &out)
                out[mark] = UInt8(out.count - mark - 1)
            }
        default: throw c.incompatible()
        }
    }

    private static func fixedString(_ n: Int, _ c: Context) throws -> Self {
        switch c.column.values {
        case .variable(let offsets, let bytes):
            return Self(placeholder: zeros(n)) { i, out in
                let start = Int(offsets[i])
                let end = Int(offsets[i + 1])
                guard end - start <= n else { throw c.valueError(i, "is \(end - start) bytes, longer than \(c.target.name)") }
                out.append(contentsOf: bytes[start..<end])
                out.append(contentsOf: repeatElement(0, count: n - (end - start)))
            }
        case .fixed16(let bytes) where n == 16:
            return Self(placeholder: zeros(16), bulk: raw(bytes)) { i, out in out.append(contentsOf: bytes[16 * i..<16 * i + 16]) }
        default: throw c.incompatible()
        }
    }

    private static func enumeration(_ cases: [ClickHouseEnumCase], wide: Bool, _ c: Context) throws -> Self {
        guard case .variable(let offsets, let bytes) = c.column.values, c.column.type == .string else {
            throw c.incompatible()
        }
        let names = cases.map { Array($0.name.utf8) }
        let values = cases.map(\.value)
        @inline(__always) func put(_ v: Int, _ out: inout [UInt8]) {
            if wide { ClickHouseBinary.append(Int16(v), to: &out) } else { ClickHouseBinary.append(Int8(v), to: &out) }
        }
        var placeholder: [UInt8] = []
        put(values[0], &placeholder)
        return Self(placeholder: placeholder) { i, out in
            let start = Int(offsets[i])
            let end = Int(offsets[i + 1])
            for k in names.indices where names[k].count == end - start && names[k].elementsEqual(bytes[start..<end]) {
                put(values[k], &out)
                return
            }
            throw c.valueError(i, "is not a case of \(c.target.name)")
        }
    }

    // MARK: time

    private static func dateTime64(_ a: [Int64], precision p: Int, _ c: Context) -> Self {
        if p == 6 {
            return Self(placeholder: zeros(8), bulk: raw(a)) { i, out in ClickHouseBinary.append(a[i], to: &out) }
        }
        if p < 6 {
            let unit = Int64(DecimalMath.pow10[6 - p])
            return Self(placeholder: zeros(8)) { i, out in
                let (ticks, rest) = CivilCalendar.floorDivMod(a[i], unit)
                guard rest == 0 else { throw c.valueError(i, "is finer than \(c.target.name) holds") }
                ClickHouseBinary.append(ticks, to: &out)
            }
        }
        let factor = Int64(DecimalMath.pow10[p - 6])
        return Self(placeholder: zeros(8)) { i, out in
            let (ticks, overflow) = a[i].multipliedReportingOverflow(by: factor)
            guard !overflow else { throw c.valueError(i, "is outside the range of \(c.target.name)") }
            ClickHouseBinary.append(ticks, to: &out)
        }
    }

    // MARK: helpers

    private static func zeros(_ n: Int) -> [UInt8] { [UInt8](repeating: 0, count: n) }

    /// Appends the array's memory as is: its elements already have the target's little-endian layout.
    private static func raw<T>(_ a: [T]) -> (inout [UInt8]) -> Void {
        { out in a.withUnsafeBytes { out.append(contentsOf: $0) } }
    }

    private static func dateText(_ range: ClosedRange<Int32>) -> String {
        ScalarFormatting.text(of: .date(range.lowerBound)) + " ... " + ScalarFormatting.text(of: .date(range.upperBound))
    }

    /// What error messages need to know.
    struct Context {
        let name: String
        let target: ClickHouseType
        let column: Column

        func incompatible() -> DponeError {
            DponeError(
                .schema, "cannot write \(column.type) column \"\(name)\" into ClickHouse type \(target.name)",
                context: ["column": name])
        }

        func valueError(_ row: Int, _ reason: String) -> DponeError {
            let value = ScalarFormatting.text(of: column.value(at: row))
            return DponeError(
                .sink, "cannot write column \"\(name)\" as \(target.name): value \(value) \(reason)",
                context: ["column": name, "value": value, "row": String(row)])
        }
    }
}
