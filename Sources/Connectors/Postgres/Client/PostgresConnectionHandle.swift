import CPostgres
import Flow
import Logging
import Synchronization

#if canImport(Glibc)
import Glibc
#endif

/// The libpq connection of one `PostgresConnection` and the thread that owns it.
///
/// `conn` is touched only on `thread` (checked by `assertOnThread`); `canceller` (libpq's PGcancel,
/// which is safe to use from any thread) is guarded by its own lock.
final class PostgresConnectionHandle: @unchecked Sendable {
    let target: PostgresConnectionString
    let thread: DedicatedThread
    /// libpq's PGconn; nil once closed. Only on `thread`.
    var conn: OpaquePointer?
    private var owner: pthread_t?
    private let canceller = Mutex<PGcancelBox?>(nil)

    init(target: PostgresConnectionString, thread: DedicatedThread) {
        self.target = target
        self.thread = thread
    }

    /// Records the calling thread as the owner; called first thing on `thread`.
    func adoptCurrentThread() { owner = pthread_self() }

    /// Traps when called off the owning thread: libpq connections are not thread-safe.
    @inline(__always)
    func assertOnThread() {
        precondition(
            owner.map { pthread_equal($0, pthread_self()) != 0 } ?? false,
            "a PostgreSQL session is used off its connection thread (use PostgresConnection.run)")
    }

    /// The open connection, or a `PostgresError` when it was closed.
    func open() throws -> OpaquePointer {
        assertOnThread()
        guard let conn else {
            throw PostgresError(message: "the connection is closed", context: ["url": target.redacted])
        }
        return conn
    }

    func installCanceller() {
        guard let conn, let cancel = PQgetCancel(conn) else { return }
        canceller.withLock { $0 = PGcancelBox(pointer: cancel) }
    }

    /// Asks the server to cancel the statement running now, from any thread. Best effort: returns
    /// false when the request could not be sent.
    @discardableResult
    func cancelRunningStatement() -> Bool {
        canceller.withLock { box in
            guard let box else { return false }
            var buffer = [CChar](repeating: 0, count: 256)
            return PQcancel(box.pointer, &buffer, Int32(buffer.count)) == 1
        }
    }

    /// Closes the connection; on `thread`. Idempotent.
    func finish() {
        canceller.withLock { box in
            if let box { PQfreeCancel(box.pointer) }
            box = nil
        }
        if let conn { PQfinish(conn) }
        conn = nil
    }
}

/// libpq's PGcancel handle; used under `PostgresConnectionHandle`'s lock only.
struct PGcancelBox: @unchecked Sendable {
    let pointer: OpaquePointer
}

/// Logs server notices (e.g. `NOTICE: schema "x" does not exist, skipping`) at debug level instead
/// of libpq's default of printing them to stderr.
let postgresNoticeReceiver: PQnoticeReceiver = { _, result in
    guard let result, let message = PQresultErrorField(result, Int32(Character("M").asciiValue!)) else { return }
    postgresLogger.debug("server notice: \(String(cString: message))")
}

let postgresLogger = Logger(label: "dpone.postgres")
