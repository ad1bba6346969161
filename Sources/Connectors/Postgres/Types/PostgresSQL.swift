/// Quoting for SQL the connector generates: the one place identifiers and literals are escaped.
///
/// Every identifier dpone writes into PostgreSQL SQL goes through `quoteIdentifier` (always quoted,
/// so case and reserved words are kept exactly); every literal through `quoteLiteral` (or, better,
/// a bind parameter of `PostgresConnection.query`).
public enum PostgresSQL {
    /// `name` as a quoted identifier: wrapped in `"` with embedded `"` doubled. `a"b` → `"a""b"`.
    /// - Precondition: `name` holds no NUL byte (PostgreSQL rejects it anywhere in a statement).
    public static func quoteIdentifier(_ name: String) -> String {
        precondition(!name.utf8.contains(0), "a PostgreSQL identifier cannot contain NUL")
        var out = "\""
        out.reserveCapacity(name.utf8.count + 2)
        for ch in name.unicodeScalars {
            if ch == "\"" { out += "\"\"" } else { out.unicodeScalars.append(ch) }
        }
        out += "\""
        return out
    }

    /// `schema.name` with both parts quoted.
    public static func qualifiedName(schema: String, name: String) -> String {
        quoteIdentifier(schema) + "." + quoteIdentifier(name)
    }

    /// `value` as a standard-conforming string literal: wrapped in `'` with embedded `'` doubled.
    /// Backslashes are ordinary characters (standard_conforming_strings is on since 9.1); a value
    /// holding a backslash is written as an `E'...'` literal with the backslashes doubled, so the
    /// result is correct whatever that setting is.
    /// - Precondition: `value` holds no NUL byte.
    public static func quoteLiteral(_ value: String) -> String {
        precondition(!value.utf8.contains(0), "a PostgreSQL literal cannot contain NUL")
        let hasBackslash = value.utf8.contains(UInt8(ascii: "\\"))
        var out = hasBackslash ? "E'" : "'"
        for ch in value.unicodeScalars {
            switch ch {
            case "'": out += "''"
            case "\\": out += "\\\\"
            default: out.unicodeScalars.append(ch)
            }
        }
        out += "'"
        return out
    }
}
