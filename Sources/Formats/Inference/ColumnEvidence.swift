import Flow

/// What the sampled values of one column allow it to be; `inferredType` picks the first type left.
///
/// Candidates, tried in order: bool → int64 → decimal(p,s) → float64 → timestamptz → timestamp →
/// date → json → string. Every non-NULL sampled value must parse as a candidate for it to survive
/// (see the files connector's README for the exact rules). A column with no non-NULL value is string.
public struct ColumnEvidence: Sendable, Hashable {
    private var sawValue = false
    private var canBool = true
    private var canInt = true
    private var canFloat = true
    /// Every value is fixed-point text (CSV only: a JSON number is a float by nature).
    private var canDecimal = true
    private var integerDigits = 0
    private var scale = 0
    private var canTimestamp = true
    private var anyZone = false
    private var canDate = true
    private var canJSON = true

    public init() {}

    /// A CSV field's text (NULLs are not observed). Spaces around the value are ignored, as when reading.
    public mutating func observe(text raw: UnsafeRawBufferPointer) {
        sawValue = true
        canJSON = false
        let v = ColumnText.trimmed(raw)
        if canBool {
            canBool = ScalarParsing.lowercased(v, equals: "true") || ScalarParsing.lowercased(v, equals: "false")
                || ScalarParsing.lowercased(v, equals: "t") || ScalarParsing.lowercased(v, equals: "f")
        }
        if canInt { canInt = ScalarParsing.int64(v) != nil }
        if canDecimal {
            if let shape = ScalarParsing.fixedPoint(v) {
                integerDigits = max(integerDigits, shape.integerDigits)
                scale = max(scale, shape.scale)
            } else {
                canDecimal = false
            }
        }
        if canFloat {
            if case .finite = ScalarParsing.floatSyntax(v) {} else { canFloat = false }
        }
        observeTemporal(v)
    }

    /// A JSON value of kind `kind`; for strings `content` is the unescaped text, for numbers the digits.
    mutating func observe(json kind: JSONTokenKind, content: UnsafeRawBufferPointer) {
        switch kind {
        case .null:
            return
        case .true, .false:
            canInt = false; canFloat = false; canDecimal = false; canTimestamp = false; canDate = false; canJSON = false
        case .number:
            canBool = false; canTimestamp = false; canDate = false; canJSON = false; canDecimal = false
            if canInt { canInt = ScalarParsing.int64(content) != nil }
        case .string:
            canBool = false; canInt = false; canFloat = false; canJSON = false; canDecimal = false
            observeTemporal(content)
        case .object, .array:
            canBool = false; canInt = false; canFloat = false; canDecimal = false; canTimestamp = false; canDate = false
        }
        sawValue = true
    }

    private mutating func observeTemporal(_ v: UnsafeRawBufferPointer) {
        if canTimestamp {
            if let ts = ScalarParsing.timestamp(v, requireTime: true) {
                anyZone = anyZone || ts.hasZone
            } else {
                canTimestamp = false
            }
        }
        if canDate { canDate = ScalarParsing.date(v) != nil }
    }

    public var inferredType: LogicalType {
        guard sawValue else { return .string }
        if canBool { return .bool }
        if canInt { return .int64 }
        // Fixed-point text with a fraction keeps its scale (money columns): the widest precision and
        // scale seen, within 38 digits; more digits than that stay float64.
        if canDecimal, scale > 0, integerDigits + scale <= LogicalType.maxDecimalPrecision {
            return .decimal(precision: max(1, integerDigits + scale), scale: scale)
        }
        if canFloat { return .float64 }
        if canTimestamp { return .timestamp(withTimeZone: anyZone) }
        if canDate { return .date }
        if canJSON { return .json }
        return .string
    }
}
