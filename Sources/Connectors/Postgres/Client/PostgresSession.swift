import CPostgres
import Flow

/// Blocking access to a connection, valid only inside `PostgresConnection.run { session in ... }`
/// (on the connection's thread; any other use traps).
public struct PostgresSession {
    let handle: PostgresConnectionHandle

    init(handle: PostgresConnectionHandle) {
        self.handle = handle
    }

    /// Runs one or more SQL statements (simple query protocol); results are discarded. The first
    /// failing statement ends the call with its error (later statements do not run).
    public func execute(_ sql: String) throws {
        let conn = try handle.open()
        let result = PQexec(conn, sql)
        defer { PQclear(result) }
        try check(result, sql: sql, expecting: [PGRES_COMMAND_OK, PGRES_TUPLES_OK, PGRES_EMPTY_QUERY])
    }

    /// Runs one statement with text parameters (nil is NULL) and returns every row as text.
    public func query(_ sql: String, parameters: [String?] = []) throws -> [[String?]] {
        let conn = try handle.open()
        let result = withCStrings(parameters) { values in
            PQexecParams(conn, sql, Int32(parameters.count), nil, values, nil, nil, 0)
        }
        defer { PQclear(result) }
        try check(result, sql: sql, expecting: [PGRES_COMMAND_OK, PGRES_TUPLES_OK])
        let rows = Int(PQntuples(result))
        let columns = Int(PQnfields(result))
        var table: [[String?]] = []
        table.reserveCapacity(rows)
        for r in 0..<rows {
            var row: [String?] = []
            row.reserveCapacity(columns)
            for c in 0..<columns {
                if PQgetisnull(result, Int32(r), Int32(c)) != 0 {
                    row.append(nil)
                } else {
                    row.append(String(cString: PQgetvalue(result, Int32(r), Int32(c))))
                }
            }
            table.append(row)
        }
        return table
    }

    /// Throws the result's error unless its status is one of `expecting`. A statement that started
    /// a COPY where none was expected is ended first, so the connection stays usable.
    func check(_ result: OpaquePointer?, sql: String?, expecting: [ExecStatusType]) throws {
        let conn = try handle.open()
        let status = result.map(PQresultStatus) ?? PGRES_FATAL_ERROR
        if expecting.contains(status) { return }
        switch status {
        case PGRES_COPY_IN, PGRES_COPY_OUT, PGRES_COPY_BOTH:
            abandonCopy(conn)
            throw PostgresError(
                message: "a COPY statement needs copyIn/copyOut",
                context: ["url": handle.target.redacted, "sql": PostgresError.abbreviate(sql ?? "")])
        default:
            throw PostgresError.from(result: result, connection: conn, target: handle.target, sql: sql)
        }
    }

    /// Ends a COPY in progress without using its data, then drains the results.
    func abandonCopy(_ conn: OpaquePointer) {
        var buffer: UnsafeMutablePointer<CChar>?
        _ = PQputCopyEnd(conn, "abandoned by dpone")
        handle.cancelRunningStatement()
        while PQgetCopyData(conn, &buffer, 0) > 0 {
            PQfreemem(buffer)
            buffer = nil
        }
        drainResults(conn)
    }

    /// Reads and frees results until libpq has none left; returns the first error among them.
    @discardableResult
    func drainResults(_ conn: OpaquePointer, sql: String? = nil) -> PostgresError? {
        var firstError: PostgresError?
        while let result = PQgetResult(conn) {
            let status = PQresultStatus(result)
            if firstError == nil, status == PGRES_FATAL_ERROR || status == PGRES_BAD_RESPONSE {
                firstError = PostgresError.from(result: result, connection: conn, target: handle.target, sql: sql)
            }
            PQclear(result)
            if status == PGRES_COPY_IN || status == PGRES_COPY_OUT || status == PGRES_COPY_BOTH { break }
        }
        return firstError
    }
}

@available(*, unavailable)
extension PostgresSession: Sendable {}
