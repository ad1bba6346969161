/// A schema-qualified table name. `sql` is always quoted: names are data, never SQL.
public struct TableName: Sendable, Hashable, CustomStringConvertible {
    public var schema: String
    public var name: String

    public init(schema: String = "public", name: String) {
        self.schema = schema
        self.name = name
    }

    public var sql: String { "\(PostgresSQL.quoteIdentifier(schema)).\(PostgresSQL.quoteIdentifier(name))" }
    public var description: String { "\(schema).\(name)" }

    /// Postgres truncates identifiers at 63 bytes; longer derived names are cut on a character
    /// boundary and suffixed with a short hash of the full name so two long names stay distinct.
    public static func derived(_ text: String) -> String {
        guard text.utf8.count > 63 else { return text }
        var hash: UInt32 = 2_166_136_261
        for b in text.utf8 { hash = (hash ^ UInt32(b)) &* 16_777_619 }
        let suffix = "_" + String(hash, radix: 16)
        var cut = ""
        for ch in text where cut.utf8.count + ch.utf8.count + suffix.utf8.count <= 63 { cut.append(ch) }
        return cut + suffix
    }

    /// The attempt-local staging table of a load: `__dpone__stg_<load id>_<table>`, UNLOGGED, in the
    /// target's schema (or `schema` when given).
    public func staging(loadID: String, schema stagingSchema: String? = nil) -> TableName {
        TableName(schema: stagingSchema ?? schema, name: Self.derived("__dpone__stg_\(loadID.lowercased())_\(name)"))
    }

    /// A sibling used during an `exchange` swap.
    public func sibling(_ suffix: String) -> TableName {
        TableName(schema: schema, name: Self.derived("\(name)__dpone_\(suffix)"))
    }
}
