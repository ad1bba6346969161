import Flow

/// The `incremental_column` cursor of a `PostgresSource` run.
///
/// - State: `{"cursor": {"column": "<name>", "value": "<canonical text>" | null}}`; the text is
///   `ScalarFormatting`'s and is parsed back with `ScalarParsing` (timestamptz in UTC with `Z`).
/// - Window: `column > '<value>'::<declared type>` (text columns compare with `COLLATE "C"`, the
///   byte order the maximum is computed in); with a lookback,
///   `column > '<value>'::<type> - <lookback>`. No stored value: no filter.
/// - The new cursor is the larger of the stored value and the largest non-NULL value read,
///   computed batch by batch on the typed column (no per-row values).
/// - Cursor types: integers, numeric(p,s), date, time, timestamp, timestamptz, text types and
///   uuid, read without a cast (enums, arrays and text-mapped numerics are rejected: their SQL order
///   differs from the order of what is read). A lookback needs an integer, numeric, date or
///   timestamp column (time of day wraps at midnight). Values past year 9999 cannot be stored.
struct PostgresCursor: Sendable {
    let column: PostgresColumn
    /// The cursor column's index in the batches read.
    let index: Int
    /// The durable cursor, nil on a first run.
    let stored: Value?
    /// The largest value seen so far (starts at `stored`).
    private(set) var maximum: Value?

    /// - Throws: `DponeError(.state)` when the stored cursor is for another column or is not a
    ///   valid value of the column's type.
    init(column: PostgresColumn, index: Int, resumeFrom: StateValue?, table: String) throws {
        self.column = column
        self.index = index
        var bound: Value?
        if let state = resumeFrom?["cursor"] {
            if let storedColumn = state["column"]?.stringValue, storedColumn != column.name {
                throw DponeError(
                    .state,
                    "the stored cursor is for column \"\(storedColumn)\", the incremental column is \"\(column.name)\"",
                    hint: "reset the pipeline's state to change the cursor column", context: ["table": table])
            }
            switch state["value"] {
            case .none, .null?: bound = nil
            case .string(let text)?: bound = try Self.parse(text, column, table)
            case .int(let i)?: bound = try Self.parse(String(i), column, table)
            case let other?:
                throw DponeError(.state, "the stored cursor value \(other) is not text", context: ["table": table])
            }
        }
        stored = bound
        maximum = bound
    }

    /// Fails unless `column` can be a cursor (and take `lookback`).
    static func checkCursorColumn(_ column: PostgresColumn, lookback: String?, table: String) throws {
        let plain = column.selectExpression == PostgresSQL.quoteIdentifier(column.name)
        var supported = plain
        switch column.field.type {
        case .int16, .int32, .int64, .decimal, .date, .time, .timestamp, .string, .uuid: break
        default: supported = false
        }
        guard supported else {
            throw DponeError(
                .schema, "incremental column \"\(column.name)\" (\(column.typeName)) cannot be a cursor",
                hint: "use an integer, numeric, date, time, timestamp, text or uuid column",
                context: ["table": table, "column": column.name])
        }
        guard let lookback else { return }
        switch column.field.type {
        case .string, .uuid, .time:
            // time wraps at midnight: '00:01' - 5 minutes is '23:56', a narrower window, not a wider one.
            throw DponeError(
                .manifest,
                "a lookback needs an integer, numeric, date or timestamp incremental column; \"\(column.name)\" is \(column.typeName)",
                context: ["table": table, "column": column.name])
        case .int16, .int32, .int64:
            guard Int64(lookback) != nil else {
                throw DponeError(
                    .manifest, "the lookback of integer column \"\(column.name)\" must be an integer, got '\(lookback)'",
                    context: ["table": table, "column": column.name])
            }
        default: break
        }
    }

    /// The window condition, nil when no cursor is stored (the first run reads everything).
    func predicate(lookback: String?) -> String? {
        guard let stored else { return nil }
        let name = PostgresSQL.quoteIdentifier(column.name)
        let literal = "\(PostgresSQL.quoteLiteral(ScalarFormatting.text(of: stored)))::\(column.typeName)"
        var bound = literal
        if let lookback {
            let unit: String
            switch column.field.type {
            case .date, .timestamp: unit = "interval"
            default: unit = column.typeName
            }
            bound = "\(literal) - \(PostgresSQL.quoteLiteral(lookback))::\(unit)"
        }
        let collate = column.field.type == .string ? " COLLATE \"C\"" : ""
        return "\(name)\(collate) > \(bound)"
    }

    /// Raises `maximum` with the largest non-NULL value of `values` (the cursor column of a batch).
    mutating func observe(_ values: Column) {
        guard let best = Self.indexOfMaximum(values) else { return }
        let candidate = values.value(at: best)
        if maximum.map({ $0 < candidate }) ?? true { maximum = candidate }
    }

    /// The checkpoint positions recording `maximum`.
    var positions: StateValue {
        .object([
            "cursor": .object([
                "column": .string(column.name),
                "value": maximum.map { .string(ScalarFormatting.text(of: $0)) } ?? .null,
            ])
        ])
    }

    /// The row of the largest non-NULL value, by the column's physical values; nil when all NULL.
    static func indexOfMaximum(_ values: Column) -> Int? {
        switch values.values {
        case .int16(let a): return indexOfMaximum(a, values)
        case .int32(let a): return indexOfMaximum(a, values)
        case .int64(let a): return indexOfMaximum(a, values)
        case .int128(let a): return indexOfMaximum(a, values)
        case .variable, .fixed16:
            var best: Int?
            for row in 0..<values.count where !values.isNull(row) {
                guard let current = best else {
                    best = row
                    continue
                }
                let greater = values.withBytes(at: current) { top in
                    values.withBytes(at: row) { top.lexicographicallyPrecedes($0) }
                }
                if greater { best = row }
            }
            return best
        case .bool, .float32, .float64:
            return nil  // not cursor types (rejected by checkCursorColumn)
        }
    }

    private static func indexOfMaximum<T: Comparable>(_ a: [T], _ values: Column) -> Int? {
        var best: Int?
        if values.validity == nil {
            for row in a.indices where best.map({ a[row] > a[$0] }) ?? true { best = row }
        } else {
            for row in a.indices where !values.isNull(row) && (best.map({ a[row] > a[$0] }) ?? true) { best = row }
        }
        return best
    }

    /// `text` as a value of the cursor column's type.
    static func parse(_ text: String, _ column: PostgresColumn, _ table: String) throws -> Value {
        let type = column.field.type
        let value: Value? = Array(text.utf8).withUnsafeBytes { b in
            switch type {
            case .int16, .int32, .int64: return ScalarParsing.int64(b).map(Value.int)
            case .decimal(_, let scale): return ScalarParsing.decimal(b, scale: scale).map { .decimal($0, scale: scale) }
            case .date: return ScalarParsing.date(b).map(Value.date)
            case .time: return ScalarParsing.time(b).map(Value.time)
            case .timestamp(let tz): return ScalarParsing.timestamp(b).map { .timestamp($0.micros, withTimeZone: tz) }
            case .string: return .string(text)
            case .uuid:
                var bytes = [UInt8](repeating: 0, count: 16)
                let ok = bytes.withUnsafeMutableBytes { ScalarParsing.uuid(b, into: $0) }
                return ok ? .uuid(bytes) : nil
            default: return nil
            }
        }
        guard let value else {
            throw DponeError(
                .state, "the stored cursor value '\(text)' is not a valid \(type) for column \"\(column.name)\"",
                context: ["table": table, "column": column.name])
        }
        return value
    }
}
