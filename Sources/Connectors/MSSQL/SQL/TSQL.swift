import Flow

/// T-SQL spelling: `[bracket]` identifiers, `N'...'` literals, and the schema-qualified names of
/// targets, staging and ledger tables.
public enum TSQL {
    /// `[name]`, a `]` doubled.
    public static func quote(_ identifier: String) -> String {
        "[" + identifier.replacingOccurrences(of: "]", with: "]]") + "]"
    }

    /// `N'text'`, a `'` doubled: a Unicode literal, whatever the database's collation.
    public static func literal(_ text: String) -> String {
        "N'" + text.replacingOccurrences(of: "'", with: "''") + "'"
    }

    /// A timestamp (microseconds since the epoch, UTC) as a `datetime2(7)` literal.
    public static func datetime2(micros: Int64) -> String {
        var text: [UInt8] = []
        ScalarFormatting.appendTimestamp(micros: micros, withTimeZone: false, to: &text)
        return "CAST(\(literal(String(decoding: text, as: UTF8.self))) AS datetime2(7))"
    }

    /// A 10-byte CDC log sequence number as a `binary(10)` literal (`0x0000002A000001A80003`).
    public static func lsn(_ bytes: [UInt8]) -> String {
        "0x" + bytes.map { String($0, radix: 16, uppercase: true).leftPadded(to: 2) }.joined()
    }
}

extension String {
    func leftPadded(to width: Int) -> String { count >= width ? self : String(repeating: "0", count: width - count) + self }
}

/// `[schema].[name]` of a SQL Server table (schema `dbo` when none is given).
public struct TSQLTable: Sendable, Hashable, CustomStringConvertible {
    public var schema: String
    public var name: String

    public init(schema: String? = nil, name: String) {
        self.schema = schema ?? "dbo"
        self.name = name
    }

    public var sql: String { TSQL.quote(schema) + "." + TSQL.quote(name) }
    public var description: String { "\(schema).\(name)" }

    /// `N'[schema].[name]'`, what `OBJECT_ID` and `sp_rename` take.
    public var objectLiteral: String { TSQL.literal(sql) }

    /// A table beside this one: `<name>__dpone_<suffix>`.
    public func sibling(_ suffix: String) -> TSQLTable { TSQLTable(schema: schema, name: "\(name)__dpone_\(suffix)") }
}

/// How dpone's logical types are declared in SQL Server.
public enum TSQLTypes {
    /// The column type for `type`. Exact everywhere: text, JSON, lists and unbounded numerics as
    /// `nvarchar(max)` (no silent rounding), timestamps with 7 fractional digits.
    public static func ddl(_ type: LogicalType) -> String {
        switch type {
        case .bool: "bit"
        case .int16: "smallint"
        case .int32: "int"
        case .int64: "bigint"
        case .float32: "real"
        case .float64: "float"
        case .decimal(let precision, let scale): "decimal(\(precision), \(scale))"
        case .numeric: "nvarchar(max)"
        case .string, .json, .list: "nvarchar(max)"
        case .bytes: "varbinary(max)"
        case .date: "date"
        case .time: "time(7)"
        case .timestamp(withTimeZone: false): "datetime2(7)"
        case .timestamp(withTimeZone: true): "datetimeoffset(7)"
        case .uuid: "uniqueidentifier"
        }
    }

    /// An empty copy of `source`'s `columns` at `table` (the next checkpoint's staging).
    public static func createTableLike(_ table: TSQLTable, _ source: TSQLTable, columns: [String]) -> String {
        "DROP TABLE IF EXISTS \(table.sql); SELECT \(columns.map(TSQL.quote).joined(separator: ", ")) INTO \(table.sql) FROM \(source.sql) WHERE 1 = 0"
    }

    /// `CREATE TABLE` for `schema` at `table` (NOT NULL where the field is not nullable).
    public static func createTable(_ table: TSQLTable, _ schema: Schema) -> String {
        let columns = schema.fields.map { "\(TSQL.quote($0.name)) \(ddl($0.type))\($0.nullable ? " NULL" : " NOT NULL")" }
        return "CREATE TABLE \(table.sql) (\(columns.joined(separator: ", ")))"
    }
}
