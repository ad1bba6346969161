import CPostgres
import Flow

#if canImport(Glibc)
import Glibc
#endif

/// Opens a libpq connection, blocking the calling (dedicated) thread.
///
/// Uses libpq's non-blocking handshake (`PQconnectStartParams` + `PQconnectPoll`) so error
/// verbosity can be raised before the server answers: a refusal then carries its SQLSTATE.
enum LibpqConnect {
    static let defaultConnectTimeoutSeconds = 10

    /// - Parameter overrides: further connection parameters that win over the URL's (e.g.
    ///   `replication=database`, `options=-c ...` for a replication connection).
    static func connect(
        _ target: PostgresConnectionString, applicationName: String, overrides: [(String, String)] = []
    ) throws -> OpaquePointer {
        // Order matters: the URL (expanded from `dbname`) overrides what precedes it and is
        // overridden by what follows.
        let keywords = ["connect_timeout", "dbname", "fallback_application_name", "client_encoding"] + overrides.map(\.0)
        let values = [String(defaultConnectTimeoutSeconds), target.raw, applicationName, "UTF8"] + overrides.map(\.1)
        let conn = withCStrings(keywords) { k in
            withCStrings(values) { v in PQconnectStartParams(k, v, 1) }
        }
        guard let conn else {
            throw PostgresError(message: "libpq could not allocate a connection", context: ["url": target.redacted])
        }
        PQsetErrorVerbosity(conn, PQERRORS_VERBOSE)
        PQsetNoticeReceiver(conn, postgresNoticeReceiver, nil)
        do {
            try handshake(conn, target)
        } catch {
            PQfinish(conn)
            throw error
        }
        PQsetErrorVerbosity(conn, PQERRORS_DEFAULT)
        return conn
    }

    /// Drives `PQconnectPoll` until the session is up, waiting on the socket with `poll(2)`.
    private static func handshake(_ conn: OpaquePointer, _ target: PostgresConnectionString) throws {
        guard PQstatus(conn) != CONNECTION_BAD else { throw PostgresError.connectionFailure(conn, target) }
        let timeout = connectTimeoutSeconds(conn)
        let deadline = ContinuousClock.now + .seconds(timeout)
        var state = PGRES_POLLING_WRITING
        while true {
            switch state {
            case PGRES_POLLING_OK:
                return
            case PGRES_POLLING_FAILED:
                throw PostgresError.connectionFailure(conn, target)
            default:
                var pfd = pollfd(
                    fd: PQsocket(conn), events: Int16(state == PGRES_POLLING_READING ? POLLIN : POLLOUT), revents: 0)
                var waitMs: Int32 = -1
                if timeout > 0 {
                    let left = deadline - ContinuousClock.now
                    waitMs = Int32(clamping: max(0, left.components.seconds * 1000 + left.components.attoseconds / 1_000_000_000_000_000))
                }
                let ready = poll(&pfd, 1, waitMs)
                if ready < 0 && errno == EINTR { continue }
                if ready == 0 {
                    throw PostgresError(
                        message: "timed out after \(timeout) s connecting to \(target.server)",
                        hint: "is the server reachable? (connect_timeout in the URL changes the wait)",
                        context: ["url": target.redacted, "server": target.server])
                }
                state = PQconnectPoll(conn)
            }
        }
    }

    /// `connect_timeout` as libpq resolved it (URL, environment or our default); 0 means no limit.
    private static func connectTimeoutSeconds(_ conn: OpaquePointer) -> Int {
        guard let options = PQconninfo(conn) else { return defaultConnectTimeoutSeconds }
        defer { PQconninfoFree(options) }
        var option = options
        while let keyword = option.pointee.keyword {
            if String(cString: keyword) == "connect_timeout", let value = option.pointee.val {
                return max(0, Int(String(cString: value)) ?? defaultConnectTimeoutSeconds)
            }
            option += 1
        }
        return defaultConnectTimeoutSeconds
    }
}

/// Calls `body` with a NULL-terminated array of C strings (alive for the call only).
func withCStrings<R>(_ strings: [String?], _ body: (UnsafePointer<UnsafePointer<CChar>?>) throws -> R) rethrows -> R {
    let copies = strings.map { $0.map { strdup($0)! } }
    defer { for c in copies { free(c) } }
    let pointers: [UnsafePointer<CChar>?] = copies.map { $0.map { UnsafePointer($0) } } + [nil]
    return try pointers.withUnsafeBufferPointer { try body($0.baseAddress!) }
}
