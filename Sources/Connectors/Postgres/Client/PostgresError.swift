import CPostgres
import Flow

/// An error reported by the PostgreSQL server or by libpq.
///
/// Carries the server's diagnostic fields when there are any (SQLSTATE, severity, primary message,
/// detail, hint) and a context that names where it happened: `url` (always redacted), `server`
/// (`host:port`) and, for statements, a prefix of the `sql`. No field ever holds the password:
/// messages from libpq and the server are scrubbed of it before they are stored.
public struct PostgresError: Error, Sendable, CustomStringConvertible, Equatable {
    /// Five-character SQLSTATE, e.g. `28P01` (invalid password), `42P01` (undefined table);
    /// nil for client-side failures (server unreachable, connection lost).
    public var sqlState: String?
    /// `ERROR`, `FATAL`, `PANIC` (non-localized) when the server reported the error.
    public var severity: String?
    public var message: String
    public var detail: String?
    public var hint: String?
    public var context: [String: String]

    public init(
        sqlState: String? = nil, severity: String? = nil, message: String, detail: String? = nil, hint: String? = nil,
        context: [String: String] = [:]
    ) {
        self.sqlState = sqlState
        self.severity = severity
        self.message = message
        self.detail = detail
        self.hint = hint
        self.context = context
    }

    public var description: String {
        var text = "PostgreSQL"
        if let severity { text += " \(severity)" }
        if let sqlState { text += " \(sqlState)" }
        text += ": \(message)"
        if let detail { text += "\ndetail: \(detail)" }
        if let hint { text += "\nhint: \(hint)" }
        if !context.isEmpty {
            text += "\n(" + context.sorted { $0.key < $1.key }.map { "\($0.key)=\($0.value)" }.joined(separator: ", ") + ")"
        }
        return text
    }

    /// The same error as a Flow `DponeError` of `kind` (source by default): the SQLSTATE, severity and
    /// detail move into the context.
    public func dponeError(_ kind: DponeError.Kind = .source) -> DponeError {
        var context = self.context
        if let sqlState { context["sqlstate"] = sqlState }
        if let severity { context["severity"] = severity }
        if let detail { context["detail"] = detail }
        // What a later attempt cannot fix (a constraint, a bad value, a missing table) says so.
        if !isTransient { context[DponeError.permanentKey] = "true" }
        return DponeError(kind, "PostgreSQL: \(message)", hint: hint, context: context)
    }
}

extension PostgresError {
    /// The error of a failed `result` (or, when the result has no fields, the connection's message).
    static func from(result: OpaquePointer?, connection: OpaquePointer?, target: PostgresConnectionString, sql: String?)
        -> PostgresError
    {
        func field(_ code: Character) -> String? {
            guard let result, let value = PQresultErrorField(result, Int32(code.asciiValue!)) else { return nil }
            let text = target.scrub(String(cString: value))
            return text.isEmpty ? nil : text
        }
        var context = ["url": target.redacted, "server": target.server]
        if let sql { context["sql"] = target.scrub(Self.abbreviate(sql)) }
        if let message = field("M") {
            return PostgresError(
                sqlState: field("C"), severity: field("V") ?? field("S"), message: message, detail: field("D"),
                hint: field("H"), context: context)
        }
        return PostgresError(message: connectionMessage(connection, target), context: context)
    }

    /// The connection's last libpq message, trimmed and scrubbed.
    static func connectionMessage(_ connection: OpaquePointer?, _ target: PostgresConnectionString) -> String {
        guard let connection, let raw = PQerrorMessage(connection) else { return "unknown libpq error" }
        let text = String(cString: raw).trimmingWhitespace()
        return target.scrub(text.isEmpty ? "unknown libpq error" : text)
    }

    /// A failed connection attempt. libpq is set to verbose messages before connecting, so a server
    /// rejection reads `...failed: FATAL:  28P01: password authentication failed...`: the SQLSTATE is
    /// taken from there and the message rebuilt without it and without the LOCATION line.
    static func connectionFailure(_ connection: OpaquePointer?, _ target: PostgresConnectionString) -> PostgresError {
        let raw = connectionMessage(connection, target)
        var sqlState: String?
        var severity: String?
        var lines: [String] = []
        for line in raw.split(separator: "\n", omittingEmptySubsequences: true) {
            if line.hasPrefix("LOCATION:") { continue }
            var text = line.trimmingWhitespace()
            for level in ["FATAL", "ERROR", "PANIC"] {
                guard let range = text.range(of: "\(level):  ") else { continue }
                let rest = text[range.upperBound...]
                let code = rest.prefix(5)
                if rest.dropFirst(5).hasPrefix(": "), code.allSatisfy({ $0.isNumber || ($0.isUppercase && $0.isASCII) }) {
                    sqlState = sqlState ?? String(code)
                    severity = severity ?? level
                    text = String(text[..<range.upperBound]) + String(rest.dropFirst(7))
                }
                break
            }
            lines.append(text.replacing("  ", with: " "))
        }
        let hint: String? =
            sqlState == nil
            ? "is a PostgreSQL server running at \(target.server) and accepting connections? (locally: scripts/postgres.sh start)"
            : nil
        return PostgresError(
            sqlState: sqlState, severity: severity, message: lines.joined(separator: "; "), hint: hint,
            context: ["url": target.redacted, "server": target.server])
    }

    static func abbreviate(_ sql: String) -> String {
        let oneLine = sql.split(whereSeparator: \.isNewline).map { $0.trimmingWhitespace() }.joined(separator: " ")
        return oneLine.count <= 200 ? oneLine : String(oneLine.prefix(200)) + "…"
    }
}

extension StringProtocol {
    func trimmingWhitespace() -> String {
        var s = Substring(self)
        while let first = s.first, first.isWhitespace { s = s.dropFirst() }
        while let last = s.last, last.isWhitespace { s = s.dropLast() }
        return String(s)
    }
}

extension PostgresError: TransientClassifying {
    /// A client-side failure (server unreachable, connection lost: no SQLSTATE), a connection
    /// exception (08), or the server shutting down or restarting (57P01-57P03).
    public var isTransient: Bool {
        guard let sqlState else { return true }
        return sqlState.hasPrefix("08") || ["57P01", "57P02", "57P03"].contains(sqlState)
    }
}
