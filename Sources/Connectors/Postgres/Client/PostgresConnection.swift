import CPostgres
import Flow
import Synchronization

/// One PostgreSQL connection (libpq `PGconn`) and the dedicated OS thread every libpq call runs on.
///
/// - Every method hops to the connection's `DedicatedThread`; none blocks a Swift cooperative
///   thread. Calls are serialized in submission order; a connection runs one statement at a time.
/// - `run { session in ... }` gives blocking access on that thread, so a source can stream
///   `COPY ... TO STDOUT`, decode on the same thread and hand batches on with
///   `SourceOutput.sendBlocking`, and a sink can encode and `COPY FROM STDIN` there.
/// - Cancelling the awaiting task sends a cancel request to the server (best effort); the statement
///   then fails with SQLSTATE 57014.
/// - Transactions are plain SQL (`BEGIN` / `COMMIT` / `ROLLBACK`) through `execute`.
/// - Errors are `PostgresError`s; none contains the password (URLs appear redacted).
/// - `close()` ends the session and the thread. A connection dropped without `close()` is closed
///   by `deinit` on its thread.
public final class PostgresConnection: Sendable {
    let handle: PostgresConnectionHandle
    private let closed = Mutex(false)

    /// The connection string with its password replaced by `***`.
    public var redactedURL: String { handle.target.redacted }

    private init(handle: PostgresConnectionHandle) {
        self.handle = handle
    }

    deinit {
        let handle = self.handle
        let wasClosed = closed.withLock { $0 }
        if !wasClosed {
            handle.thread.submit { handle.finish() }
            handle.thread.stop()
        }
    }

    /// Connects with a libpq connection string: a URL (`postgresql://user:pw@host:port/db?sslmode=require`)
    /// or `key=value` pairs; every libpq parameter (sslmode, sslrootcert, target_session_attrs, multiple
    /// hosts...) passes through.
    ///
    /// - `applicationName` is sent as `fallback_application_name`: an `application_name` in `url` wins.
    /// - `client_encoding` is forced to UTF8 (dpone's text is UTF-8); `connect_timeout` defaults to 10 s
    ///   unless `url` sets it (0 waits forever).
    /// - `statementTimeout` sets the session's `statement_timeout` (nil keeps the server's).
    /// - Throws `PostgresError`: with SQLSTATE (e.g. 28P01) when the server refuses the session, or
    ///   naming `host:port` when no server answers.
    public static func connect(
        url: String, applicationName: String = "dpone", statementTimeout: Duration? = nil
    ) async throws -> PostgresConnection {
        let target = PostgresConnectionString(url)
        if let problem = target.parseError {
            throw PostgresError(message: "invalid connection string: \(target.scrub(problem))", context: ["url": target.redacted])
        }
        let thread = DedicatedThread(name: "dpone-postgres")
        let handle = PostgresConnectionHandle(target: target, thread: thread)
        do {
            try await thread.run {
                handle.adoptCurrentThread()
                handle.conn = try LibpqConnect.connect(target, applicationName: applicationName)
                handle.installCanceller()
                if let statementTimeout {
                    let ms = max(1, Int64(statementTimeout.components.seconds) * 1000
                        + statementTimeout.components.attoseconds / 1_000_000_000_000_000)
                    try PostgresSession(handle: handle).execute("SET statement_timeout = \(ms)")
                }
            }
        } catch {
            try? await thread.run { handle.finish() }
            thread.stop()
            throw error
        }
        postgresLogger.debug("connected to \(target.redacted)")
        return PostgresConnection(handle: handle)
    }

    /// Runs `body` on the connection's thread with blocking access to the session. The session (and
    /// any `CopyInWriter` it starts) must not be used outside such a closure.
    public func run<T: Sendable>(_ body: @escaping @Sendable (PostgresSession) throws -> T) async throws -> T {
        let handle = self.handle
        guard !closed.withLock({ $0 }) else {
            throw PostgresError(message: "the connection is closed", context: ["url": handle.target.redacted])
        }
        return try await withTaskCancellationHandler {
            try Task.checkCancellation()
            return try await handle.thread.run { try body(PostgresSession(handle: handle)) }
        } onCancel: {
            handle.cancelRunningStatement()
        }
    }

    /// Runs one or more SQL statements (simple query protocol); results are discarded.
    public func execute(_ sql: String) async throws {
        try await run { try $0.execute(sql) }
    }

    /// Runs one statement with text parameters (`$1`, `$2`...; nil is NULL) and returns its rows as
    /// text (NULL as nil). For metadata and small results; bulk data goes through COPY.
    public func query(_ sql: String, parameters: [String?] = []) async throws -> [[String?]] {
        try await run { try $0.query(sql, parameters: parameters) }
    }

    /// Runs `COPY ... TO STDOUT` and calls `chunk` on the connection thread with each block of data
    /// (one CopyData message: in binary format the header, a tuple, or the trailer). Returns the row
    /// count the server reports. See `PostgresSession.copyOut` for the contract.
    @discardableResult
    public func copyOut(_ sql: String, chunk: @escaping @Sendable (UnsafeRawBufferPointer) throws -> Void) async throws
        -> Int
    {
        try await run { try $0.copyOut(sql, chunk: chunk) }
    }

    /// Runs `COPY ... FROM STDIN`, lets `producer` write the data on the connection thread, ends the
    /// copy and returns the row count. When `producer` throws, the copy is aborted (nothing is
    /// written) and the error rethrown.
    @discardableResult
    public func copyIn(_ sql: String, producer: @escaping @Sendable (CopyInWriter) throws -> Void) async throws -> Int {
        try await run { try $0.copyIn(sql, producer: producer) }
    }

    /// Asks the server to cancel the statement running now. Safe from any thread; best effort.
    @discardableResult
    public func cancel() -> Bool { handle.cancelRunningStatement() }

    /// Closes the connection and stops its thread. Idempotent; later calls fail with "closed".
    public func close() async {
        let first = closed.withLock { wasClosed in
            defer { wasClosed = true }
            return !wasClosed
        }
        guard first else { return }
        let handle = self.handle
        try? await handle.thread.run { handle.finish() }
        handle.thread.stop()
    }
}
