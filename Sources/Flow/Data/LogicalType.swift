/// The logical types every connector maps its native types to.
///
/// Temporal values are stored as integers: `date` as days since 1970-01-01 (Int32), `time` as
/// microseconds since midnight (Int64), `timestamp` as microseconds since the Unix epoch (Int64,
/// UTC when `withTimeZone` is true, a wall-clock reading when false). `decimal` values are
/// unscaled Int128 integers with the scale carried by the type. `numeric` is an exact decimal of any
/// precision (PostgreSQL's `numeric` without a precision, or wider than 38 digits), carried as its
/// text: `-?digits[.digits]`, or `NaN`, `Infinity`, `-Infinity`; see `NumericText`. `list(T)` is
/// an array of scalars of type `T` (NULL elements allowed), carried as the JSON text of the array:
/// numbers and booleans as JSON literals, every other element type as a JSON string of its
/// canonical text (`[1,null,3]`, `["2026-01-01","2026-01-02"]`).
public indirect enum LogicalType: Sendable, Hashable {
    case bool
    case int16
    case int32
    case int64
    case float32
    case float64
    case decimal(precision: Int, scale: Int)
    case numeric
    case string
    case bytes
    case date
    case time
    case timestamp(withTimeZone: Bool)
    case uuid
    case json
    case list(LogicalType)

    /// How values of this type are laid out in a `Column`.
    public var physical: PhysicalLayout {
        switch self {
        case .bool: .bool
        case .int16: .int16
        case .int32, .date: .int32
        case .int64, .time, .timestamp: .int64
        case .float32: .float32
        case .float64: .float64
        case .decimal: .int128
        case .string, .bytes, .json, .numeric, .list: .variable
        case .uuid: .fixed16
        }
    }

    /// Whether a list may have elements of this type: any type but json and list (arrays of scalars).
    public var isListElement: Bool {
        switch self {
        case .json, .list: false
        default: true
        }
    }

    /// The largest precision an Int128-backed decimal holds exactly.
    public static let maxDecimalPrecision = 38
}

/// Physical storage of a column's values.
public enum PhysicalLayout: Sendable, Hashable {
    case bool, int16, int32, int64, float32, float64, int128
    /// Offsets + one byte buffer (strings, bytes, json).
    case variable
    /// Sixteen bytes a value (uuid).
    case fixed16

    /// Bytes a value occupies in fixed-width storage (variable: the offset only).
    public var width: Int {
        switch self {
        case .bool: 1
        case .int16: 2
        case .int32: 4
        case .int64, .float64: 8
        case .float32: 4
        case .int128, .fixed16: 16
        case .variable: 4
        }
    }
}

extension LogicalType: CustomStringConvertible {
    /// The manifest spelling of the type; `LogicalType(parsing:)` reads it back.
    public var description: String {
        switch self {
        case .bool: "bool"
        case .int16: "int16"
        case .int32: "int32"
        case .int64: "int64"
        case .float32: "float32"
        case .float64: "float64"
        case .decimal(let p, let s): "decimal(\(p),\(s))"
        case .numeric: "numeric"
        case .string: "string"
        case .bytes: "bytes"
        case .date: "date"
        case .time: "time"
        case .timestamp(let tz): tz ? "timestamptz" : "timestamp"
        case .uuid: "uuid"
        case .json: "json"
        case .list(let element): "list<\(element)>"
        }
    }

    /// Every spelling accepted in manifests, for error suggestions.
    public static let spellings = [
        "bool", "boolean", "int16", "smallint", "int32", "int", "integer", "int64", "bigint", "float32", "real",
        "float64", "double", "float", "decimal(p,s)", "numeric(p,s)", "numeric", "string", "text", "bytes", "date", "time",
        "timestamp", "timestamptz", "uuid", "json", "list<T>",
    ]

    /// Parses a manifest type name such as `int64`, `decimal(12,2)` or `timestamptz`.
    public init?(parsing text: String) {
        let t = text.lowercased().filter { !$0.isWhitespace }
        switch t {
        case "bool", "boolean": self = .bool
        case "int16", "smallint": self = .int16
        case "int32", "int", "integer": self = .int32
        case "int64", "bigint", "long": self = .int64
        case "float32", "real": self = .float32
        case "float64", "double", "float": self = .float64
        case "numeric", "bignumeric": self = .numeric
        case "string", "text", "varchar": self = .string
        case "bytes", "binary": self = .bytes
        case "date": self = .date
        case "time": self = .time
        case "timestamp": self = .timestamp(withTimeZone: false)
        case "timestamptz": self = .timestamp(withTimeZone: true)
        case "uuid": self = .uuid
        case "json", "jsonb": self = .json
        default:
            for prefix in ["list<", "array<"] where t.hasPrefix(prefix) && t.hasSuffix(">") {
                guard let element = LogicalType(parsing: String(t.dropFirst(prefix.count).dropLast())), element.isListElement
                else { return nil }
                self = .list(element)
                return
            }
            for prefix in ["decimal(", "numeric("] where t.hasPrefix(prefix) && t.hasSuffix(")") {
                let inner = t.dropFirst(prefix.count).dropLast()
                let parts = inner.split(separator: ",", omittingEmptySubsequences: false)
                guard parts.count == 2, let p = Int(parts[0]), let s = Int(parts[1]),
                    (1...LogicalType.maxDecimalPrecision).contains(p), (0...p).contains(s)
                else { return nil }
                self = .decimal(precision: p, scale: s)
                return
            }
            return nil
        }
    }
}

extension LogicalType: Codable {
    public init(from decoder: any Decoder) throws {
        let text = try decoder.singleValueContainer().decode(String.self)
        guard let type = LogicalType(parsing: text) else {
            throw DecodingError.dataCorrupted(
                .init(codingPath: decoder.codingPath, debugDescription: "unknown logical type '\(text)'"))
        }
        self = type
    }

    public func encode(to encoder: any Encoder) throws {
        var container = encoder.singleValueContainer()
        try container.encode(description)
    }
}
