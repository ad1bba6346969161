import CPostgres
import Flow

/// The lazily opened, reused connection of a `PostgresStateStore`.
///
/// - Connects on first use; concurrent first uses share one connection attempt.
/// - Every statement runs on the connection's dedicated thread (`PostgresConnection.run`), one
///   closure at a time, so a closure holding `BEGIN ... COMMIT` is never interleaved.
/// - A connection-level failure (no SQLSTATE, class 08, or 57P0x) drops the connection: the next
///   use reconnects.
/// - Every error leaves as `DponeError(.state)` carrying the store's location (never the password)
///   and the SQLSTATE when the server gave one.
actor StateConnection {
    private let url: String
    private var connecting: Task<PostgresConnection, any Error>?
    /// Bumped whenever `connecting` is replaced, so a failure drops only the connection it happened on.
    private var generation = 0
    private var tableReady = false

    init(url: String) {
        self.url = url
    }

    /// Runs `body` on the connection thread; with `ensuringTable` the state table is created first
    /// (once per connection). `action` and `location` name the operation in error messages.
    func run<T: Sendable>(
        _ action: String, at location: String, ensuringTable table: TableName? = nil,
        _ body: @escaping @Sendable (PostgresSession) throws -> T
    ) async throws -> T {
        let (connection, generation) = try await connection(action, location)
        do {
            if let table, !tableReady {
                try await connection.run { session in
                    try PostgresStateStore.ensureTable(table, in: session)
                    // A commit must survive a server crash: never run with synchronous_commit off.
                    if try session.query("SELECT current_setting('synchronous_commit')").first?.first == "off" {
                        try session.execute("SET synchronous_commit = on")
                    }
                }
                if generation == self.generation { tableReady = true }
            }
            return try await connection.run(body)
        } catch let error as PostgresError {
            if Self.isConnectionLevel(error) { await drop(generation) }
            throw convert(error, action, location)
        } catch var error as DponeError {
            error.context["state"] = error.context["state"] ?? location
            throw error
        } catch let error as CancellationError {
            throw error
        } catch {
            throw DponeError(.state, "cannot \(action) \(location): \(error)", context: ["state": location])
        }
    }

    /// Closes the connection, if open. A later use reconnects.
    func close() async { await drop(generation) }

    private func connection(_ action: String, _ location: String) async throws
        -> (PostgresConnection, generation: Int)
    {
        if connecting == nil {
            let url = self.url
            connecting = Task { try await PostgresConnection.connect(url: url) }
            generation += 1
            tableReady = false
        }
        let task = connecting!
        let generation = self.generation
        do {
            return (try await task.value, generation)
        } catch {
            if generation == self.generation { connecting = nil }
            if let error = error as? PostgresError { throw convert(error, action, location) }
            throw DponeError(.state, "cannot \(action) \(location): \(error)", context: ["state": location])
        }
    }

    /// Forgets and closes the connection of `generation`, unless it was replaced meanwhile.
    private func drop(_ generation: Int) async {
        guard generation == self.generation, let task = connecting else { return }
        connecting = nil
        tableReady = false
        if let connection = try? await task.value { await connection.close() }
    }

    private func convert(_ error: PostgresError, _ action: String, _ location: String) -> DponeError {
        var converted = error.dponeError(.state)
        converted.message = "cannot \(action) \(location): \(converted.message)"
        converted.context["state"] = location
        return converted
    }

    static func isConnectionLevel(_ error: PostgresError) -> Bool {
        guard let state = error.sqlState else { return true }
        return state.hasPrefix("08") || state.hasPrefix("57P")
    }
}

/// `postgres://host:port/db` of a libpq connection string: never the user or password (the
/// database name is shown as it is, even when it happens to equal the password).
enum StateLocation {
    static func server(url: String) -> String {
        let target = PostgresConnectionString(url)
        var error: UnsafeMutablePointer<CChar>?
        var database = ""
        if let options = PQconninfoParse(url, &error) {
            defer { PQconninfoFree(options) }
            var option = options
            var user = ""
            while let keyword = option.pointee.keyword {
                if let value = option.pointee.val {
                    switch String(cString: keyword) {
                    case "dbname": database = String(cString: value)
                    case "user": user = String(cString: value)
                    default: break
                    }
                }
                option += 1
            }
            if database.isEmpty { database = user }
        } else if let error {
            PQfreemem(error)
        }
        return "postgres://\(target.server)/\(database)"
    }
}
