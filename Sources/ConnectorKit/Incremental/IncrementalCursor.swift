import Flow
import Formats

/// The incremental filter of a source that cannot push its cursor into a query (a file, an API's
/// pages).
///
/// Passes only rows whose cursor value is strictly greater (`>`) than the durable cursor, and tracks
/// the largest cursor value seen. Ties are not re-read: the cursor column MUST be unique and
/// increasing in file order (an append-only log) or rows sharing the stored value are skipped.
///
/// State shape (the source's checkpoint positions): `{"cursor": {"column": "<name>", "value": <text>}}`
/// where `<text>` is the canonical text of the value, or null before any row was seen.
public struct IncrementalCursor: Sendable {
    public let column: String
    public let index: Int
    public let type: LogicalType
    /// The durable cursor: rows at or below it are skipped.
    public let lowerBound: Value?
    /// The largest cursor emitted so far, else the durable one.
    public private(set) var maximum: Value?

    public init(column: String, schema: Schema, resumeFrom: StateValue?, sourceName: String) throws {
        guard let index = schema.index(of: column) else {
            throw DponeError(
                .manifest, "incremental column \"\(column)\" is not a column of \(sourceName)",
                hint: "columns: \(schema.names.joined(separator: ", "))", context: ["file": sourceName])
        }
        self.column = column
        self.index = index
        self.type = schema[index].type
        var bound: Value?
        if let cursor = resumeFrom?["cursor"] {
            if let stored = cursor["column"]?.stringValue, stored != column {
                throw DponeError(
                    .state,
                    "the stored cursor is for column \"\(stored)\", the source's incremental column is \"\(column)\"",
                    hint: "reset the pipeline's state to change the cursor column", context: ["file": sourceName])
            }
            switch cursor["value"] {
            case .none, .null?: bound = nil
            case .string(let text)?: bound = try Self.parse(text, type: type, sourceName: sourceName)
            case .int(let i)?: bound = try Self.parse(String(i), type: type, sourceName: sourceName)
            case .double(let d)?: bound = try Self.parse(String(d), type: type, sourceName: sourceName)
            case let other?:
                throw DponeError(.state, "the stored cursor value \(other) is not text", context: ["file": sourceName])
            }
        }
        self.lowerBound = bound
        self.maximum = bound
    }

    private static func parse(_ text: String, type: LogicalType, sourceName: String) throws -> Value {
        guard let value = ColumnText.value(parsing: text, as: type) else {
            throw DponeError(
                .state, "the stored cursor value '\(text)' is not a valid \(type)", context: ["file": sourceName])
        }
        return value
    }

    /// The rows of `batch` past the durable cursor; raises `maximum`.
    public mutating func filter(_ batch: Batch) -> Batch {
        let values = batch.columns[index]
        var keep: [Int] = []
        keep.reserveCapacity(batch.rowCount)
        if case .int64(let raw) = values.values, values.validity == nil {
            let bound = lowerBound.flatMap(Self.int64)
            var top = maximum.flatMap(Self.int64)
            for r in 0..<raw.count where bound.map({ raw[r] > $0 }) ?? true {
                keep.append(r)
                if top.map({ raw[r] > $0 }) ?? true { top = raw[r] }
            }
            if let top, !keep.isEmpty { maximum = values.value(at: keep[0]).replacingInt64(top) }
        } else {
            for r in 0..<batch.rowCount {
                let v = values.value(at: r)
                if v.isNull { continue }
                if let lowerBound, !(lowerBound < v) { continue }
                keep.append(r)
                if maximum.map({ $0 < v }) ?? true { maximum = v }
            }
        }
        return BatchSelection.select(batch, rows: keep)
    }

    /// Raises `maximum` over `batch` without dropping rows (a read that re-reads on purpose, with a
    /// lookback).
    public mutating func observe(_ batch: Batch) {
        let values = batch.columns[index]
        for r in 0..<batch.rowCount {
            let v = values.value(at: r)
            if v.isNull { continue }
            if maximum.map({ $0 < v }) ?? true { maximum = v }
        }
    }

    private static func int64(_ v: Value) -> Int64? {
        switch v {
        case .int(let x), .time(let x), .timestamp(let x, _): return x
        default: return nil
        }
    }

    /// The checkpoint positions recording `maximum`.
    public var positions: StateValue {
        let text = maximum.flatMap { ColumnText.text(of: $0, as: type) }
        return .object([
            "cursor": .object(["column": .string(column), "value": text.map(StateValue.string) ?? .null])
        ])
    }
}

extension Value {
    /// The same kind of Int64-backed value (int, time, timestamp) holding `x`.
    fileprivate func replacingInt64(_ x: Int64) -> Value {
        switch self {
        case .time: return .time(x)
        case .timestamp(_, let tz): return .timestamp(x, withTimeZone: tz)
        default: return .int(x)
        }
    }
}
