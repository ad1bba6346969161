/// A parsed ClickHouse column type: the tree behind a type name such as
/// `LowCardinality(Nullable(String))` or `DateTime64(6, 'UTC')`.
///
/// `ClickHouseType(parsing:)` reads the names the server prints (`DESCRIBE`, Native block headers) and
/// the spellings users write; `name` renders the canonical spelling the server itself prints, which the
/// Native encoder writes into block headers. Types the connector does not handle parse as
/// `.unsupported(name)` so that mapping can fail naming the column rather than the parser failing.
public indirect enum ClickHouseType: Sendable, Hashable {
    case int8, int16, int32, int64
    case uint8, uint16, uint32, uint64
    case float32, float64
    /// `Decimal(p, s)`; `Decimal32(s)`, `Decimal64(s)`, `Decimal128(s)` and `Decimal256(s)` parse with
    /// precision 9, 18, 38 and 76.
    case decimal(precision: Int, scale: Int)
    case string
    case fixedString(Int)
    case uuid
    /// UInt16 days since 1970-01-01 (1970-01-01 ... 2149-06-06).
    case date
    /// Int32 days since 1970-01-01 (1900-01-01 ... 2299-12-31 on current servers).
    case date32
    /// UInt32 seconds since the epoch, displayed in `timeZone` (the server's when nil).
    case dateTime(timeZone: String?)
    /// Int64 ticks of 10^-precision seconds since the epoch.
    case dateTime64(precision: Int, timeZone: String?)
    case bool
    case enum8([ClickHouseEnumCase])
    case enum16([ClickHouseEnumCase])
    case nullable(ClickHouseType)
    case lowCardinality(ClickHouseType)
    case array(ClickHouseType)
    /// A type this connector does not read or write, kept by its name for messages.
    case unsupported(String)

    /// Parses a type name; nil only when the text is not a type name at all (unbalanced parentheses,
    /// bad arguments). Whitespace between tokens is ignored.
    public init?(parsing text: String) {
        var parser = ClickHouseTypeNameParser(Array(text.utf8))
        guard let node = parser.parseNode(), parser.atEnd, let type = ClickHouseType(node: node) else { return nil }
        self = type
    }

    /// The type without `Nullable` and `LowCardinality` wrappers.
    public var base: ClickHouseType {
        switch self {
        case .nullable(let t), .lowCardinality(let t): t.base
        default: self
        }
    }

    /// Whether NULL is a value of this type (`Nullable(T)` or `LowCardinality(Nullable(T))`).
    public var isNullable: Bool {
        switch self {
        case .nullable: true
        case .lowCardinality(let t): t.isNullable
        default: false
        }
    }

    /// The type with every `LowCardinality` wrapper removed (what the Native encoder writes: the server
    /// accepts plain columns for LowCardinality targets).
    public var withoutLowCardinality: ClickHouseType {
        switch self {
        case .lowCardinality(let t): t.withoutLowCardinality
        case .nullable(let t): .nullable(t.withoutLowCardinality)
        case .array(let t): .array(t.withoutLowCardinality)
        default: self
        }
    }

    /// The canonical spelling, as the server prints it (`Decimal(10, 2)`, `DateTime64(6, 'UTC')`).
    public var name: String {
        switch self {
        case .int8: "Int8"
        case .int16: "Int16"
        case .int32: "Int32"
        case .int64: "Int64"
        case .uint8: "UInt8"
        case .uint16: "UInt16"
        case .uint32: "UInt32"
        case .uint64: "UInt64"
        case .float32: "Float32"
        case .float64: "Float64"
        case .decimal(let p, let s): "Decimal(\(p), \(s))"
        case .string: "String"
        case .fixedString(let n): "FixedString(\(n))"
        case .uuid: "UUID"
        case .date: "Date"
        case .date32: "Date32"
        case .dateTime(let tz): tz.map { "DateTime(\(Self.quoted($0)))" } ?? "DateTime"
        case .dateTime64(let p, let tz): tz.map { "DateTime64(\(p), \(Self.quoted($0)))" } ?? "DateTime64(\(p))"
        case .bool: "Bool"
        case .enum8(let cases): "Enum8(" + cases.map(\.spelling).joined(separator: ", ") + ")"
        case .enum16(let cases): "Enum16(" + cases.map(\.spelling).joined(separator: ", ") + ")"
        case .nullable(let t): "Nullable(\(t.name))"
        case .lowCardinality(let t): "LowCardinality(\(t.name))"
        case .array(let t): "Array(\(t.name))"
        case .unsupported(let name): name
        }
    }

    /// A single-quoted ClickHouse string literal (`'` and `\` escaped with a backslash).
    static func quoted(_ s: String) -> String {
        var out = "'"
        for c in s.unicodeScalars {
            if c == "'" || c == "\\" { out.append("\\") }
            out.unicodeScalars.append(c)
        }
        return out + "'"
    }
}

/// One `'name' = value` entry of an `Enum8` / `Enum16` type.
public struct ClickHouseEnumCase: Sendable, Hashable {
    public var name: String
    public var value: Int

    public init(_ name: String, _ value: Int) {
        self.name = name
        self.value = value
    }

    var spelling: String { "\(ClickHouseType.quoted(name)) = \(value)" }
}

extension ClickHouseType: CustomStringConvertible {
    public var description: String { name }
}
