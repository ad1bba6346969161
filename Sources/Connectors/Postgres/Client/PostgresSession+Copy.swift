import CPostgres
import Flow

extension PostgresSession {
    /// Runs `COPY ... TO STDOUT` and streams its data to `chunk`, blocking this (connection) thread.
    ///
    /// Contract:
    /// - `chunk` receives each CopyData message in order (binary format: the header, then usually
    ///   one tuple per call, then the trailer); the buffer is valid only during the call.
    /// - `chunk` may block (e.g. `SourceOutput.sendBlocking`): the server waits, memory stays flat.
    /// - When `chunk` throws, the statement is cancelled, the rest of the stream discarded and the
    ///   error rethrown; inside a transaction, that transaction is then aborted.
    /// - Returns the number of rows the server reports.
    @discardableResult
    public func copyOut(_ sql: String, chunk: (UnsafeRawBufferPointer) throws -> Void) throws -> Int {
        let conn = try handle.open()
        let start = PQexec(conn, sql)
        defer { PQclear(start) }
        try check(start, sql: sql, expecting: [PGRES_COPY_OUT])
        var buffer: UnsafeMutablePointer<CChar>?
        while true {
            let n = PQgetCopyData(conn, &buffer, 0)
            if n > 0 {
                defer {
                    PQfreemem(buffer)
                    buffer = nil
                }
                do {
                    try chunk(UnsafeRawBufferPointer(start: buffer, count: Int(n)))
                } catch {
                    handle.cancelRunningStatement()
                    while PQgetCopyData(conn, &buffer, 0) > 0 {
                        PQfreemem(buffer)
                        buffer = nil
                    }
                    drainResults(conn)
                    throw error
                }
                continue
            }
            if n == -2 {
                let error = PostgresError.from(result: nil, connection: conn, target: handle.target, sql: sql)
                drainResults(conn)
                throw error
            }
            break  // -1: the copy is done
        }
        return try finalRowCount(conn, sql: sql)
    }

    /// Runs `COPY ... FROM STDIN` and returns a writer for its data. The caller MUST end the copy
    /// with `finish()` or `abort(_:)` before any other use of the connection.
    public func beginCopyIn(_ sql: String) throws -> CopyInWriter {
        let conn = try handle.open()
        let start = PQexec(conn, sql)
        defer { PQclear(start) }
        try check(start, sql: sql, expecting: [PGRES_COPY_IN])
        return CopyInWriter(session: self, sql: sql)
    }

    /// `beginCopyIn`, `producer`, then `finish` (or `abort` when `producer` throws, rethrowing).
    @discardableResult
    public func copyIn(_ sql: String, producer: (CopyInWriter) throws -> Void) throws -> Int {
        let writer = try beginCopyIn(sql)
        do {
            try producer(writer)
        } catch {
            writer.abort("dpone: \(error)")
            throw error
        }
        return try writer.finish()
    }

    /// The result that ends a COPY: checks it and returns the row count (`COPY n`).
    func finalRowCount(_ conn: OpaquePointer, sql: String) throws -> Int {
        guard let result = PQgetResult(conn) else { return 0 }
        defer { PQclear(result) }
        let status = PQresultStatus(result)
        if status != PGRES_COMMAND_OK {
            let error = PostgresError.from(result: result, connection: conn, target: handle.target, sql: sql)
            drainResults(conn)
            throw error
        }
        let count = Int(String(cString: PQcmdTuples(result))) ?? 0
        if let error = drainResults(conn, sql: sql) { throw error }
        return count
    }
}

/// The data side of one `COPY ... FROM STDIN`, on the connection's thread.
///
/// Contract: `write` any number of times (bytes of the COPY's format, split anywhere), then exactly
/// one of `finish()` (commits the COPY's rows to the statement/transaction; returns the row count;
/// a server-side rejection of the data surfaces here) or `abort(_:)`. Use only inside
/// `PostgresConnection.run` (it traps elsewhere); it may be kept across several `run` calls of the
/// same connection, e.g. a sink writing one batch per call.
public final class CopyInWriter: @unchecked Sendable {
    private let session: PostgresSession
    private let sql: String
    private var open = true
    /// Bytes handed to libpq so far.
    public private(set) var bytesWritten = 0

    init(session: PostgresSession, sql: String) {
        self.session = session
        self.sql = sql
    }

    /// Sends `bytes` (libpq buffers and flushes as needed; blocks while the socket is full).
    public func write(_ bytes: UnsafeRawBufferPointer) throws {
        let conn = try ensureOpen()
        guard !bytes.isEmpty else { return }
        let sent = bytes.withMemoryRebound(to: CChar.self) { PQputCopyData(conn, $0.baseAddress, Int32(bytes.count)) }
        guard sent == 1 else {
            open = false
            let error = PostgresError.from(result: nil, connection: conn, target: session.handle.target, sql: sql)
            session.drainResults(conn)
            throw error
        }
        bytesWritten += bytes.count
    }

    /// Sends `bytes`; see `write(_: UnsafeRawBufferPointer)`.
    public func write(_ bytes: [UInt8]) throws {
        try bytes.withUnsafeBytes { try write($0) }
    }

    /// Ends the copy and returns the number of rows the server stored.
    @discardableResult
    public func finish() throws -> Int {
        let conn = try ensureOpen()
        open = false
        guard PQputCopyEnd(conn, nil) == 1 else {
            let error = PostgresError.from(result: nil, connection: conn, target: session.handle.target, sql: sql)
            session.drainResults(conn)
            throw error
        }
        return try session.finalRowCount(conn, sql: sql)
    }

    /// Ends the copy with an error: the server discards every row of this COPY. Idempotent.
    public func abort(_ reason: String) {
        guard open, let conn = try? session.handle.open() else { return }
        open = false
        _ = PQputCopyEnd(conn, session.handle.target.scrub(reason))
        session.drainResults(conn)
    }

    private func ensureOpen() throws -> OpaquePointer {
        let conn = try session.handle.open()
        guard open else {
            throw PostgresError(message: "COPY FROM STDIN already ended", context: ["sql": PostgresError.abbreviate(sql)])
        }
        return conn
    }
}
