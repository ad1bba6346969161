/// The high-water mark of an incremental cursor column, shared by every source that reads
/// `incremental_column`: the durable value from the last checkpoint, the largest value seen since,
/// and the positions a checkpoint records.
///
/// State shape: `{"cursor": {"column": "<name>", "value": "<canonical text>" | null}}`.
public struct CursorMark: Sendable {
    public let column: String
    public let type: LogicalType
    /// The durable cursor, nil on a first run.
    public let stored: Value?
    /// The largest value seen so far (starts at `stored`).
    public private(set) var maximum: Value?

    /// - Throws: `DponeError(.state)` when the stored cursor is for another column or is not a valid
    ///   value of `type`.
    public init(column: String, type: LogicalType, resumeFrom: StateValue?, table: String) throws {
        self.column = column
        self.type = type
        var bound: Value?
        if let state = resumeFrom?["cursor"] {
            if let storedColumn = state["column"]?.stringValue, storedColumn != column {
                throw DponeError(
                    .state,
                    "the stored cursor is for column \"\(storedColumn)\", the incremental column is \"\(column)\"",
                    hint: "reset the pipeline's state to change the cursor column", context: ["table": table])
            }
            switch state["value"] {
            case .none, .null?: bound = nil
            case .string(let text)?: bound = try Self.parse(text, type: type, column: column, table: table)
            case .int(let i)?: bound = try Self.parse(String(i), type: type, column: column, table: table)
            case let other?:
                throw DponeError(.state, "the stored cursor value \(other) is not text", context: ["table": table])
            }
        }
        stored = bound
        maximum = bound
    }

    /// Raises `maximum` with the largest non-NULL value of `values` (the cursor column of a batch).
    /// One pass over the typed values; only the winner becomes a `Value`.
    public mutating func observe(_ values: Column) {
        guard let best = Self.indexOfMaximum(values) else { return }
        let candidate = values.value(at: best)
        if maximum.map({ $0 < candidate }) ?? true { maximum = candidate }
    }

    /// The checkpoint positions recording `maximum`.
    public var positions: StateValue {
        .object([
            "cursor": .object([
                "column": .string(column),
                "value": maximum.map { .string(ScalarFormatting.text(of: $0)) } ?? .null,
            ])
        ])
    }

    /// The row of the largest non-NULL value, by the column's physical values (byte order for
    /// strings); nil when every value is NULL or the layout is not a cursor type.
    public static func indexOfMaximum(_ values: Column) -> Int? {
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
            return nil  // not cursor types: sources reject them before reading
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

    /// `text` (canonical text) as a value of `type`.
    public static func parse(_ text: String, type: LogicalType, column: String, table: String) throws -> Value {
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
                .state, "the stored cursor value '\(text)' is not a valid \(type) for column \"\(column)\"",
                context: ["table": table, "column": column])
        }
        return value
    }
}
