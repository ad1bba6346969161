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
    /// The durable value, the largest seen since, and the positions (shared with every cursor source).
    private(set) var mark: CursorMark
    var stored: Value? { mark.stored }
    var maximum: Value? { mark.maximum }

    /// - Throws: `DponeError(.state)` when the stored cursor is for another column or is not a
    ///   valid value of the column's type.
    init(column: PostgresColumn, index: Int, resumeFrom: StateValue?, table: String) throws {
        self.column = column
        self.index = index
        mark = try CursorMark(column: column.name, type: column.field.type, resumeFrom: resumeFrom, table: table)
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
                hint: "use an integer, numeric(p,s), date, time, timestamp, text or uuid column (a plain numeric can be cast to numeric(p,s) in a view)",
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

    /// Raises the maximum with the largest non-NULL value of a batch's cursor column.
    mutating func observe(_ values: Column) { mark.observe(values) }

    /// The checkpoint positions recording the maximum.
    var positions: StateValue { mark.positions }
}
