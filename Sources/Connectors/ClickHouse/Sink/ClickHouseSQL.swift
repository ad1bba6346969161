/// Quoting for the SQL the ClickHouse sink generates. Names and values are data, never SQL: every
/// identifier goes through `quoteIdentifier`, every string value through `quoteLiteral`.
public enum ClickHouseSQL {
    /// A backquoted identifier (`` `my col` ``); backquotes and backslashes inside are escaped with a
    /// backslash, as ClickHouse reads them (18.16 and current servers alike).
    public static func quoteIdentifier(_ name: String) -> String {
        var out = "`"
        for c in name.unicodeScalars {
            if c == "`" || c == "\\" { out.append("\\") }
            out.unicodeScalars.append(c)
        }
        return out + "`"
    }

    /// A single-quoted string literal (`'` and `\` escaped with a backslash).
    public static func quoteLiteral(_ value: String) -> String { ClickHouseType.quoted(value) }

    /// `a, b, c` with every name quoted.
    static func list(_ names: [String]) -> String { names.map(quoteIdentifier).joined(separator: ", ") }

    /// The key as an `IN` operand: `` `k` `` for one column, `` (`a`, `b`) `` for several.
    static func keyTuple(_ keys: [String]) -> String {
        keys.count == 1 ? quoteIdentifier(keys[0]) : "(\(list(keys)))"
    }
}

/// A database-qualified ClickHouse table name. `sql` is always quoted.
public struct ClickHouseTableName: Sendable, Hashable, CustomStringConvertible {
    public var database: String
    public var name: String

    public init(database: String, name: String) {
        self.database = database
        self.name = name
    }

    public var sql: String { "\(ClickHouseSQL.quoteIdentifier(database)).\(ClickHouseSQL.quoteIdentifier(name))" }
    public var description: String { "\(database).\(name)" }

    /// An attempt-local table of a load beside this one: `__dpone__<role>_<load id>_<table>`
    /// (`stg`: the staged rows; `pub`: the publishable copy; `old`: the table a RENAME swap displaced).
    public func sibling(_ role: String, loadID: String) -> ClickHouseTableName {
        ClickHouseTableName(database: database, name: "__dpone__\(role)_\(loadID.lowercased())_\(name)")
    }
}

extension ClickHouseTypeSupport {
    /// What the connected server accepts: DateTime64/Bool/Date32 by its capabilities (Date32 since 21.9).
    public init(server: ClickHouseServerInfo) {
        if server.version >= ClickHouseVersion(major: 21, minor: 12) {
            self = .modern
        } else {
            self.init(
                supportsDateTime64: server.supports(.dateTime64), supportsBool: server.supports(.bool),
                supportsDate32: server.version >= ClickHouseVersion(major: 21, minor: 9),
                supportsDecimal256: server.version >= ClickHouseVersion(major: 21, minor: 6),
                lastDate: ClickHouseTypeSupport.legacy.lastDate)
        }
    }
}
