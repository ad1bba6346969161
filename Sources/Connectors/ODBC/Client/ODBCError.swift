import CODBC
import Flow

/// One ODBC diagnostic record: SQLSTATE, the driver's native error and its message.
public struct ODBCDiagnostic: Sendable, Equatable, CustomStringConvertible {
    public var sqlState: String
    public var nativeError: Int32
    public var message: String

    public var description: String { "[\(sqlState)] (\(nativeError)) \(message)" }
}

/// A failed ODBC call: what was attempted and the whole diagnostic chain. No connection string,
/// hence no password, is part of it (connection strings are redacted before they reach a message).
public struct ODBCError: Error, Sendable, CustomStringConvertible {
    /// "connecting to Driver=PostgreSQL Unicode;Server=127.0.0.1;...;PWD=***".
    public var operation: String
    public var diagnostics: [ODBCDiagnostic]

    /// The SQLSTATE that says what failed: the first connection-class (08) or authorization (28)
    /// record when the chain has one (drivers lead with a login timeout, HYT00, or a link failure,
    /// 08S01, and give "could not establish the connection", 08001, further down), else the first.
    public var sqlState: String? {
        (diagnostics.first { $0.sqlState == "08001" || $0.sqlState.hasPrefix("28") } ?? diagnostics.first)?.sqlState
    }

    public var description: String {
        let chain = diagnostics.map(\.description).joined(separator: "; ")
        return "\(operation) failed" + (chain.isEmpty ? "" : ": " + Redaction.scrub(chain))
    }

    /// As a `DponeError` of `category`, with the SQLSTATE in its context.
    public func dponeError(_ category: DponeError.Kind) -> DponeError {
        var context: [String: String] = [:]
        if let sqlState { context["sqlstate"] = sqlState }
        if let native = diagnostics.first(where: { $0.sqlState == sqlState })?.nativeError { context["native_error"] = String(native) }
        if !isTransient { context[DponeError.permanentKey] = "true" }
        return DponeError(category, description, hint: Self.hint(sqlState), context: context)
    }

    static func hint(_ state: String?) -> String? {
        switch state {
        case "08001", "08S01": "the server did not answer: check the host, the port and that it is running"
        case "28000": "the server refused the credentials"
        case "IM002": "no such driver or data source: check Driver= (and ODBCSYSINI / odbcinst.ini)"
        case "42S02": "no such table or view"
        default: nil
        }
    }

    /// Every diagnostic record of `handle` (up to 16).
    static func diagnostics(_ type: SQLSMALLINT, _ handle: SQLHANDLE?) -> [ODBCDiagnostic] {
        guard let handle else { return [] }
        var records: [ODBCDiagnostic] = []
        var state = [SQLWCHAR](repeating: 0, count: 6)
        var message = [SQLWCHAR](repeating: 0, count: 1_024)
        for record in 1...16 {
            var native: SQLINTEGER = 0
            var length: SQLSMALLINT = 0
            let rc = SQLGetDiagRecW(
                type, handle, SQLSMALLINT(record), &state, &native, &message, SQLSMALLINT(message.count), &length)
            guard rc == SQL_SUCCESS || rc == SQL_SUCCESS_WITH_INFO else { break }
            let count = min(Int(length), message.count - 1)
            records.append(
                ODBCDiagnostic(
                    sqlState: ODBCText.string(state.prefix(5)), nativeError: native,
                    message: ODBCText.string(message.prefix(max(0, count)))))
        }
        return records
    }
}

/// The C return codes, checked.
@inline(__always)
func succeeded(_ rc: SQLRETURN) -> Bool { rc == SQL_SUCCESS || rc == SQL_SUCCESS_WITH_INFO }

/// Throws an `ODBCError` for `operation` with `handle`'s diagnostics unless `rc` succeeded.
func check(_ rc: SQLRETURN, _ type: SQLSMALLINT, _ handle: SQLHANDLE?, _ operation: @autoclosure () -> String) throws {
    guard !succeeded(rc) else { return }
    throw ODBCError(operation: operation(), diagnostics: ODBCError.diagnostics(type, handle))
}

extension ODBCError: TransientClassifying {
    /// A connection exception (08xxx) or a timeout (HYT00, HYT01).
    public var isTransient: Bool {
        diagnostics.contains { $0.sqlState.hasPrefix("08") || $0.sqlState == "HYT00" || $0.sqlState == "HYT01" }
    }
}
