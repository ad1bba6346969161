/// An Avro type as written in a schema.
///
/// Named types (record, enum, fixed) appear in full at their first occurrence and as `.reference`
/// afterwards, exactly as in schema text; that keeps recursive schemas (a record holding a list of
/// itself) finite. `AvroSchema.named` resolves references.
public indirect enum AvroType: Sendable, Equatable {
    case null, boolean, int, long, float, double, bytes, string
    case record(AvroRecord)
    case enumeration(AvroEnum)
    case array(items: AvroType)
    case map(values: AvroType)
    case union([AvroType])
    case fixed(AvroFixed)
    /// The full name of a named type defined earlier (or enclosing this one).
    case reference(String)
    /// A logical type over its underlying type (`int` for date, `bytes` or `fixed` for decimal, ...).
    case logical(AvroLogicalType, AvroType)
}

/// The logical types the codec understands; unknown or invalid ones are ignored, as the spec says,
/// and the underlying type is used.
public enum AvroLogicalType: Sendable, Hashable {
    case decimal(precision: Int, scale: Int)
    case date
    case timeMillis, timeMicros
    case timestampMillis, timestampMicros
    case localTimestampMillis, localTimestampMicros
    case uuid

    /// The `logicalType` attribute value.
    public var name: String {
        switch self {
        case .decimal: "decimal"
        case .date: "date"
        case .timeMillis: "time-millis"
        case .timeMicros: "time-micros"
        case .timestampMillis: "timestamp-millis"
        case .timestampMicros: "timestamp-micros"
        case .localTimestampMillis: "local-timestamp-millis"
        case .localTimestampMicros: "local-timestamp-micros"
        case .uuid: "uuid"
        }
    }
}

public struct AvroRecord: Sendable, Equatable {
    /// The full name (`namespace.name`, or just `name` in the null namespace).
    public var name: String
    /// Full names this record was also known as (matched against writer names during resolution).
    public var aliases: [String]
    public var fields: [AvroField]

    public init(name: String, aliases: [String] = [], fields: [AvroField]) {
        self.name = name
        self.aliases = aliases
        self.fields = fields
    }
}

public struct AvroField: Sendable, Equatable {
    public var name: String
    public var type: AvroType
    /// The reader's value when the writer lacks the field (JSON as in the schema; a union's default
    /// is for its first branch).
    public var defaultValue: AvroJSON?
    public var aliases: [String]

    public init(name: String, type: AvroType, defaultValue: AvroJSON? = nil, aliases: [String] = []) {
        self.name = name
        self.type = type
        self.defaultValue = defaultValue
        self.aliases = aliases
    }
}

public struct AvroEnum: Sendable, Equatable {
    public var name: String
    public var aliases: [String]
    public var symbols: [String]
    /// The reader's symbol for writer symbols it does not know.
    public var defaultSymbol: String?

    public init(name: String, aliases: [String] = [], symbols: [String], defaultSymbol: String? = nil) {
        self.name = name
        self.aliases = aliases
        self.symbols = symbols
        self.defaultSymbol = defaultSymbol
    }
}

public struct AvroFixed: Sendable, Equatable {
    public var name: String
    public var aliases: [String]
    public var size: Int

    public init(name: String, aliases: [String] = [], size: Int) {
        self.name = name
        self.aliases = aliases
        self.size = size
    }
}

/// A parsed schema: its root type and every named type it defines, by full name.
public struct AvroSchema: Sendable, Equatable {
    public let root: AvroType
    /// Named types by full name, each as defined (a decimal fixed stays wrapped in its `.logical`).
    public let named: [String: AvroType]

    /// Parses Avro schema JSON text (a primitive name, an object or a union array).
    public init(parsing text: String) throws {
        let json = try AvroJSONParser.parse(text)
        var parser = AvroSchemaParser()
        root = try parser.parse(json, namespace: "")
        named = parser.named
    }

    /// A schema built in code; named types are collected and references checked.
    public init(root: AvroType) throws {
        var parser = AvroSchemaParser()
        try parser.collect(root)
        self.root = root
        self.named = parser.named
    }

    /// `type` with a reference replaced by the named type it stands for.
    func resolve(_ type: AvroType) throws -> AvroType {
        guard case .reference(let name) = type else { return type }
        guard let t = named[name] else { throw CodecError("unknown type name '\(name)'") }
        return t
    }
}

extension AvroType {
    /// The full name of a named type (record, enum, fixed, possibly under a logical type).
    var fullName: String? {
        switch self {
        case .record(let r): r.name
        case .enumeration(let e): e.name
        case .fixed(let f): f.name
        case .reference(let n): n
        case .logical(_, let base): base.fullName
        default: nil
        }
    }

    /// The type without its logical annotation.
    var base: AvroType {
        if case .logical(_, let b) = self { return b }
        return self
    }

    var logicalType: AvroLogicalType? {
        if case .logical(let l, _) = self { return l }
        return nil
    }

    /// A short name for messages (`long`, `record order.Item`, `union`, ...).
    var kindName: String {
        switch self {
        case .null: "null"
        case .boolean: "boolean"
        case .int: "int"
        case .long: "long"
        case .float: "float"
        case .double: "double"
        case .bytes: "bytes"
        case .string: "string"
        case .record(let r): "record \(r.name)"
        case .enumeration(let e): "enum \(e.name)"
        case .array: "array"
        case .map: "map"
        case .union: "union"
        case .fixed(let f): "fixed \(f.name)"
        case .reference(let n): n
        case .logical(let l, let b): "\(b.kindName) (\(l.name))"
        }
    }
}
