import Flow

/// The BigQuery column type each logical type is loaded as, decided before anything is written.
///
/// | logical | BigQuery |
/// |---|---|
/// | bool | BOOL |
/// | int16, int32, int64 | INT64 |
/// | float32, float64 | FLOAT64 |
/// | decimal(p, s), s ≤ 9 and p − s ≤ 29 | NUMERIC(p, s) |
/// | decimal(p, s), s ≤ 38 and p − s ≤ 38 | BIGNUMERIC(p, s) |
/// | numeric (unbounded) | BIGNUMERIC (a value past 38 integer or fractional digits fails the load job, before publishing) |
/// | string, uuid | STRING |
/// | bytes | BYTES |
/// | date, time | DATE, TIME |
/// | timestamp with time zone | TIMESTAMP (µs) |
/// | timestamp without time zone | DATETIME (µs) |
/// | json, list | JSON |
///
/// A decimal neither NUMERIC nor BIGNUMERIC can hold exactly is refused (`BigQueryType.init` throws):
/// BigQuery would round it.
public struct BigQueryType: Sendable, Hashable {
    /// The standard SQL type name (`NUMERIC`, `STRING`, ...).
    public var name: String
    /// Precision and scale of a parameterized NUMERIC / BIGNUMERIC.
    public var precision: Int?
    public var scale: Int?

    public init(name: String, precision: Int? = nil, scale: Int? = nil) {
        self.name = name
        self.precision = precision
        self.scale = scale
    }

    /// The type `type` loads as; throws for a lossy mapping, naming `column`.
    public init(_ type: LogicalType, column: String) throws {
        switch type {
        case .bool: self.init(name: "BOOL")
        case .int16, .int32, .int64: self.init(name: "INT64")
        case .float32, .float64: self.init(name: "FLOAT64")
        case .decimal(let p, let s):
            if s <= 9 && p - s <= 29 {
                self.init(name: "NUMERIC", precision: p, scale: s)
            } else if s <= 38 && p - s <= 38 {
                self.init(name: "BIGNUMERIC", precision: p, scale: s)
            } else {
                throw DponeError(
                    .sink, "column \(column) is decimal(\(p), \(s)), which BigQuery cannot hold exactly",
                    hint: "BIGNUMERIC keeps at most 38 digits on each side of the point; cast the column to string or a narrower decimal",
                    context: ["column": column, DponeError.permanentKey: "true"])
            }
        case .numeric: self.init(name: "BIGNUMERIC")
        case .string, .uuid: self.init(name: "STRING")
        case .bytes: self.init(name: "BYTES")
        case .date: self.init(name: "DATE")
        case .time: self.init(name: "TIME")
        case .timestamp(let tz): self.init(name: tz ? "TIMESTAMP" : "DATETIME")
        case .json, .list: self.init(name: "JSON")
        }
    }

    /// The DDL spelling: `NUMERIC(18, 4)`, `STRING`.
    public var ddl: String {
        if let precision, let scale { return "\(name)(\(precision), \(scale))" }
        return name
    }

    /// Whether a target column of type `other` (as the tables API reports it: `INTEGER`, `FLOAT`,
    /// `BOOLEAN` are the legacy names) takes this type's values without loss. `emulator`: the
    /// emulator's catalog reports JSON columns as STRING and BIGNUMERIC as NUMERIC, so those pairs
    /// are taken as equal there.
    public func loads(into other: String, emulator: Bool = false) -> Bool {
        let mine = Self.canonical(name)
        let theirs = Self.canonical(other)
        if mine == theirs { return true }
        return emulator && ((mine == "JSON" && theirs == "STRING") || (mine == "BIGNUMERIC" && theirs == "NUMERIC"))
    }

    /// Legacy names as their standard SQL names.
    static func canonical(_ name: String) -> String {
        switch name.uppercased() {
        case "INTEGER": "INT64"
        case "FLOAT": "FLOAT64"
        case "BOOLEAN": "BOOL"
        case "BIGDECIMAL": "BIGNUMERIC"
        default: name.uppercased()
        }
    }
}

/// One column of a table as BigQuery is told it (DDL and the load job's schema).
public struct BigQueryColumn: Sendable, Hashable {
    public var name: String
    public var type: BigQueryType

    public init(name: String, type: BigQueryType) {
        self.name = name
        self.type = type
    }

    /// The columns of `schema`, each mapped; the first lossy column throws.
    public static func columns(of schema: Schema) throws -> [BigQueryColumn] {
        try schema.fields.map { BigQueryColumn(name: $0.name, type: try BigQueryType($0.type, column: $0.name)) }
    }

    /// `CREATE TABLE IF NOT EXISTS t (`a` INT64, ...)`.
    public static func createTable(_ table: BigQueryTable, _ columns: [BigQueryColumn], ifNotExists: Bool = true, suffix: String = "")
        -> String
    {
        "CREATE TABLE \(ifNotExists ? "IF NOT EXISTS " : "")\(table.sql) ("
            + columns.map { "\(BigQuerySQL.quote($0.name)) \($0.type.ddl)" }.joined(separator: ", ") + ")" + suffix
    }
}
