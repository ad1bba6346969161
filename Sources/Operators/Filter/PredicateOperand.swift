import Flow

/// A predicate literal converted once to the storage of the column it is compared with.
///
/// Conversions: numbers compare across int / float / decimal (int and decimal exactly, anything
/// with a float as binary64); a string literal is parsed as the column's type for bool, numeric,
/// date, time, timestamp and uuid columns (`created_at >= '2024-01-01'`); a date literal compares
/// with a timestamp column as midnight. Any other pairing is a `DponeError(.schema)`.
enum PredicateOperand {
    case null
    case bool(Bool)
    /// ints, date (days), time and timestamps (µs).
    case integer(Int64)
    case double(Double)
    case decimal(Int128, scale: Int)
    /// string, json, bytes (compared bytewise) and uuid (16 bytes).
    case bytes([UInt8])

    init(_ literal: Value, for field: Field) throws {
        if case .null = literal {
            self = .null
            return
        }
        if let operand = PredicateOperand.convert(literal, to: field.type) {
            self = operand
            return
        }
        throw DponeError(
            .schema,
            "filter: cannot compare column '\(field.name)' of type \(field.type) with \(Predicate.literalText(literal))",
            context: ["column": field.name])
    }

    private static func convert(_ literal: Value, to type: LogicalType) -> PredicateOperand? {
        var text: String? = nil
        if case .string(let s) = literal { text = s }
        func parsed<T>(_ parse: (UnsafeRawBufferPointer) -> T?) -> T? {
            guard var s = text else { return nil }
            return s.withUTF8 { parse(UnsafeRawBufferPointer($0)) }
        }
        switch (type, literal) {
        case (.bool, .bool(let b)): return .bool(b)
        case (.bool, .string): return parsed(ScalarParsing.bool).map { .bool($0) }
        case (.int16, _), (.int32, _), (.int64, _), (.float32, _), (.float64, _), (.decimal, _):
            return numeric(literal, text: text, column: type)
        case (.string, .string(let s)), (.string, .json(let s)), (.json, .string(let s)), (.json, .json(let s)),
            (.bytes, .string(let s)):
            return .bytes(Array(s.utf8))
        case (.bytes, .bytes(let b)): return .bytes(b)
        case (.date, .date(let d)): return .integer(Int64(d))
        case (.date, .string): return parsed(ScalarParsing.date).map { .integer(Int64($0)) }
        case (.time, .time(let t)): return .integer(t)
        case (.time, .string): return parsed(ScalarParsing.time).map { .integer($0) }
        case (.timestamp, .timestamp(let t, _)): return .integer(t)
        case (.timestamp, .date(let d)): return .integer(Int64(d) * CivilCalendar.microsPerDay)
        case (.timestamp, .string): return parsed { ScalarParsing.timestamp($0)?.micros }.map { .integer($0) }
        case (.uuid, .uuid(let b)) where b.count == 16: return .bytes(b)
        case (.uuid, .string):
            var bytes = [UInt8](repeating: 0, count: 16)
            let ok = bytes.withUnsafeMutableBytes { out in parsed { ScalarParsing.uuid($0, into: out) } } ?? false
            return ok ? .bytes(bytes) : nil
        default: return nil
        }
    }

    private static func numeric(_ literal: Value, text: String?, column: LogicalType) -> PredicateOperand? {
        var literal = literal
        if var text {
            // A quoted number: an integer, else a decimal, else a float.
            let parsed: Value? = text.withUTF8 { utf8 in
                let s = UnsafeRawBufferPointer(utf8)
                if let v = ScalarParsing.int64(s) { return .int(v) }
                if let v = ScalarParsing.decimal(s, scale: 18) { return .decimal(v, scale: 18) }
                return ScalarParsing.double(s).map { .float($0) }
            }
            guard let parsed else { return nil }
            literal = parsed
        }
        let isFloatColumn = column == .float32 || column == .float64
        switch literal {
        case .int(let v): return isFloatColumn ? .double(Double(v)) : .integer(v)
        case .decimal(let v, let s):
            if isFloatColumn {
                return Double(ScalarFormatting.text(of: literal)).map { .double($0) }
            }
            return .decimal(v, scale: s)
        case .float(let d): return .double(d)
        default: return nil
        }
    }
}
