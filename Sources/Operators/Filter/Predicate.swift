import Flow

/// A row predicate: comparisons of a column with a literal, combined with `and` / `or`.
///
/// SQL semantics for NULL: a comparison involving a NULL value (or a NULL literal) is false, so
/// `x != 1` does not select rows where `x` is NULL; only `isNull` / `isNotNull` look at NULLs.
/// Floats compare as IEEE 754 (NaN equals nothing). `and([])` is true, `or([])` is false.
public indirect enum Predicate: Sendable, Hashable {
    /// `column op literal`; the literal is ignored by `isNull` / `isNotNull`.
    case comparison(column: String, op: ComparisonOperator, literal: Value)
    case and([Predicate])
    case or([Predicate])

    public static func isNull(_ column: String) -> Predicate {
        .comparison(column: column, op: .isNull, literal: .null)
    }

    public static func isNotNull(_ column: String) -> Predicate {
        .comparison(column: column, op: .isNotNull, literal: .null)
    }

    /// The columns the predicate reads, in order of appearance.
    public var columns: [String] {
        switch self {
        case .comparison(let column, _, _): [column]
        case .and(let terms), .or(let terms): terms.flatMap(\.columns)
        }
    }
}

public enum ComparisonOperator: String, Sendable, Hashable, CaseIterable {
    case equal = "="
    case notEqual = "!="
    case less = "<"
    case lessOrEqual = "<="
    case greater = ">"
    case greaterOrEqual = ">="
    case isNull = "is null"
    case isNotNull = "is not null"

    /// Whether an ordering (-1, 0, 1) of value against literal satisfies the operator.
    @inline(__always)
    func holds(_ ordering: Int) -> Bool {
        switch self {
        case .equal: ordering == 0
        case .notEqual: ordering != 0
        case .less: ordering < 0
        case .lessOrEqual: ordering <= 0
        case .greater: ordering > 0
        case .greaterOrEqual: ordering >= 0
        case .isNull, .isNotNull: false
        }
    }
}

extension Predicate: CustomStringConvertible {
    /// The predicate in the syntax `Predicate.parse(_:)` reads.
    public var description: String {
        switch self {
        case .comparison(let column, let op, let literal):
            let name = column.allSatisfy { $0 == "_" || $0.isLetter || $0.isNumber } && !(column.first?.isNumber ?? true)
                ? column : "\"" + column.replacing("\"", with: "\"\"") + "\""
            if op == .isNull || op == .isNotNull { return "\(name) \(op.rawValue)" }
            return "\(name) \(op.rawValue) \(Predicate.literalText(literal))"
        case .and(let terms):
            return terms.isEmpty ? "true" : terms.map { term in
                if case .or = term { "(\(term))" } else { term.description }
            }.joined(separator: " and ")
        case .or(let terms):
            return terms.isEmpty ? "false" : terms.map(\.description).joined(separator: " or ")
        }
    }

    static func literalText(_ value: Value) -> String {
        switch value {
        case .null: "null"
        case .bool(let b): b ? "true" : "false"
        case .int, .float, .decimal: ScalarFormatting.text(of: value)
        default: "'" + ScalarFormatting.text(of: value).replacing("'", with: "''") + "'"
        }
    }
}
