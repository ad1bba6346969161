import Flow

/// The `incremental_column` cursor of a `ClickHouseSource` run.
///
/// - State: `{"cursor": {"column": "<name>", "value": "<canonical text>" | null}}`; the text is
///   `ScalarFormatting`'s (timestamps in UTC with `Z`) and is parsed back with `ScalarParsing`.
/// - Window: `column > <literal>` with a literal of the column's type: integers plain,
///   `CAST('<text>' AS Decimal(38, s))` for decimals, `toDate('YYYY-MM-DD')` / `toDate32(...)`,
///   `toDateTime('YYYY-MM-DD HH:MM:SS', 'UTC')`, `toDateTime64('YYYY-MM-DD HH:MM:SS.ffffff', 6, 'UTC')`,
///   strings quoted (`ClickHouseSQL.quoteLiteral`). No stored value: no filter.
/// - Lookback: subtracted from the stored value in Swift before the literal is written (a number for
///   integer and decimal columns, a duration for dates and times; a date window is widened to whole
///   days, a DateTime window to whole seconds). When the bound falls before what a Date / DateTime
///   can hold (1970), the window is dropped and everything is read.
/// - The new cursor is the larger of the stored value and the largest non-NULL value read, computed
///   batch by batch on the typed column.
/// - Cursor types (under Nullable / LowCardinality): Int8...Int64, UInt8...UInt64, Decimal, Date,
///   Date32, DateTime, DateTime64 (p ≤ 6), String. Rejected: floats, FixedString (zero padding), UUID
///   and Enum (their SQL order differs from the order of the values read), arrays, Bool. A lookback
///   needs a number, date or time column. String values are compared as the bytes read; text that is
///   not valid UTF-8 cannot be a reliable cursor.
struct ClickHouseCursor: Sendable {
    let name: String
    /// The column's type without Nullable / LowCardinality.
    let base: ClickHouseType
    let field: Field
    /// The cursor column's index in the batches read.
    let index: Int
    /// The durable value, the largest seen since, and the positions (shared with every cursor source).
    private(set) var mark: CursorMark
    var stored: Value? { mark.stored }
    var maximum: Value? { mark.maximum }

    /// - Throws: `DponeError(.state)` when the stored cursor is for another column or is not a valid
    ///   value of the column's type.
    init(name: String, type: ClickHouseType, field: Field, index: Int, resumeFrom: StateValue?, table: String) throws {
        self.name = name
        self.base = type.base
        self.field = field
        self.index = index
        mark = try CursorMark(column: name, type: field.type, resumeFrom: resumeFrom, table: table)
    }

    /// Fails unless the column can be a cursor (and take `lookback`).
    static func checkCursorColumn(name: String, type: ClickHouseType, field: Field, lookback: String?, table: String) throws {
        let base = type.base
        let supported: Bool
        switch base {
        case .int8, .int16, .int32, .int64, .uint8, .uint16, .uint32, .uint64, .decimal, .date, .date32, .dateTime,
            .string:
            supported = true
        case .dateTime64(let p, _): supported = p <= 6
        default: supported = false
        }
        guard supported else {
            throw DponeError(
                .schema, "incremental column \"\(name)\" (\(type.name)) cannot be a cursor",
                hint: "use an integer, decimal, Date, DateTime, DateTime64 or String column",
                context: ["table": table, "column": name])
        }
        guard let lookback else { return }
        _ = try ClickHouseLookback(lookback, base: base, field: field, column: name, table: table)
    }

    /// The window condition, nil when no cursor is stored (the first run reads everything).
    func predicate(lookback: String?, table: String) throws -> String? {
        guard let stored else { return nil }
        var bound = stored
        if let lookback {
            let amount = try ClickHouseLookback(lookback, base: base, field: field, column: name, table: table)
            guard let lowered = amount.subtract(from: stored, base: base) else { return nil }
            bound = lowered
        }
        guard let literal = try literal(bound, table: table) else { return nil }
        return "\(ClickHouseSQL.quoteIdentifier(name)) > \(literal)"
    }

    /// The SQL literal of `value` typed like the column; nil when the value lies before what the
    /// column can hold (every row is greater).
    func literal(_ value: Value, table: String) throws -> String? {
        switch (base, value) {
        case (_, .int(let v)):
            return String(v)
        case (.decimal(_, let scale), .decimal(let v, _)):
            var out: [UInt8] = []
            ScalarFormatting.appendDecimal(v, scale: scale, to: &out)
            return "CAST(\(ClickHouseSQL.quoteLiteral(String(decoding: out, as: UTF8.self))) AS Decimal(38, \(scale)))"
        case (_, .decimal(let v, let scale)):  // UInt64 read as decimal(20,0)
            var out: [UInt8] = []
            ScalarFormatting.appendDecimal(v, scale: scale, to: &out)
            return String(decoding: out, as: UTF8.self)
        case (.date, .date(let d)):
            guard d >= 0 else { return nil }
            return "toDate(\(ClickHouseSQL.quoteLiteral(ScalarFormatting.text(of: .date(d)))))"
        case (.date32, .date(let d)):
            return "toDate32(\(ClickHouseSQL.quoteLiteral(ScalarFormatting.text(of: .date(d)))))"
        case (.dateTime, .timestamp(let micros, _)):
            guard micros >= 0 else { return nil }
            let seconds = micros - micros % 1_000_000  // floor: micros >= 0
            let text = try timestampText(seconds, table: table)
            return "toDateTime(\(ClickHouseSQL.quoteLiteral(String(text.prefix(19)))), 'UTC')"
        case (.dateTime64, .timestamp(let micros, _)):
            let text = try timestampText(micros, table: table)
            return "toDateTime64(\(ClickHouseSQL.quoteLiteral(text)), 6, 'UTC')"
        case (.string, .string(let s)):
            return ClickHouseSQL.quoteLiteral(s)
        default:
            throw DponeError(
                .internal, "cursor value \(ScalarFormatting.text(of: value)) does not fit column \"\(name)\" (\(base.name))",
                context: ["table": table, "column": name])
        }
    }

    private func timestampText(_ micros: Int64, table: String) throws -> String {
        var out: [UInt8] = []
        guard ClickHouseText.appendTimestamp(micros: micros, to: &out) else {
            throw DponeError(
                .state, "the cursor of column \"\(name)\" lies outside the years 0000-9999",
                context: ["table": table, "column": name])
        }
        return String(decoding: out, as: UTF8.self)
    }

    /// Raises the maximum with the largest non-NULL value of a batch's cursor column.
    mutating func observe(_ values: Column) { mark.observe(values) }

    /// The checkpoint positions recording the maximum.
    var positions: StateValue { mark.positions }
}

/// A parsed cursor lookback: an amount in the cursor's own unit (integers, decimals at the column's
/// scale) or a duration in microseconds (dates and times).
struct ClickHouseLookback: Sendable, Equatable {
    enum Amount: Sendable, Equatable {
        case number(Int128)
        case micros(Int64)
    }

    let amount: Amount

    init(_ text: String, base: ClickHouseType, field: Field, column: String, table: String) throws {
        func fail(_ message: String) -> DponeError {
            DponeError(.manifest, message, context: ["table": table, "column": column])
        }
        switch base {
        case .int8, .int16, .int32, .int64, .uint8, .uint16, .uint32, .uint64:
            guard let n = Int64(text), n >= 0 else {
                throw fail("the lookback of integer column \"\(column)\" must be a non-negative integer, got '\(text)'")
            }
            amount = .number(Int128(n))
        case .decimal(_, let scale):
            let parsed = Array(text.utf8).withUnsafeBytes { ScalarParsing.decimal($0, scale: scale) }
            guard let parsed, parsed >= 0 else {
                throw fail("the lookback of decimal column \"\(column)\" must be a non-negative number with at most \(scale) decimals, got '\(text)'")
            }
            amount = .number(parsed)
        case .date, .date32, .dateTime, .dateTime64:
            guard let micros = Self.duration(text) else {
                throw fail(
                    "the lookback of column \"\(column)\" must be a duration such as '5 minutes', '2 hours' or '1 day', got '\(text)'")
            }
            amount = .micros(micros)
        default:
            throw fail(
                "a lookback needs an integer, decimal, Date, DateTime or DateTime64 incremental column; \"\(column)\" is \(base.name)")
        }
    }

    /// `value - amount`, widened to whole days for dates; nil when the result leaves Int64 (read all).
    func subtract(from value: Value, base: ClickHouseType) -> Value? {
        switch (amount, value) {
        case (.number(let n), .int(let v)):
            return Int64(exactly: Int128(v) - n).map(Value.int)
        case (.number(let n), .decimal(let v, let scale)):
            let (r, overflow) = v.subtractingReportingOverflow(n)
            return overflow ? nil : .decimal(r, scale: scale)
        case (.micros(let m), .date(let d)):
            let days = (m + CivilCalendar.microsPerDay - 1) / CivilCalendar.microsPerDay
            return Int32(exactly: Int64(d) - days).map(Value.date)
        case (.micros(let m), .timestamp(let t, let tz)):
            let (r, overflow) = t.subtractingReportingOverflow(m)
            return overflow ? nil : .timestamp(r, withTimeZone: tz)
        default:
            return value
        }
    }

    /// `N unit` (second, minute, hour, day, week; singular, plural or abbreviated s/m/h/d/w) in microseconds.
    static func duration(_ text: String) -> Int64? {
        var number = Substring(text)
        var unitText = Substring("")
        if let space = text.firstIndex(of: " ") {
            number = text[..<space]
            unitText = text[text.index(after: space)...].drop(while: { $0 == " " })
        } else if let split = text.firstIndex(where: { !$0.isNumber }) {
            number = text[..<split]
            unitText = text[split...]
        }
        guard let n = Int64(number), n >= 0 else { return nil }
        let unit: Int64
        switch unitText.lowercased() {
        case "s", "sec", "secs", "second", "seconds": unit = 1_000_000
        case "m", "min", "mins", "minute", "minutes": unit = 60_000_000
        case "h", "hour", "hours": unit = 3_600_000_000
        case "d", "day", "days": unit = CivilCalendar.microsPerDay
        case "w", "week", "weeks": unit = 7 * CivilCalendar.microsPerDay
        default: return nil
        }
        let (r, overflow) = n.multipliedReportingOverflow(by: unit)
        return overflow ? nil : r
    }
}
