import Flow

/// Fences concurrent runs of one pipeline whose state lives in PostgreSQL, across machines: a
/// session-level advisory lock keyed by the state table and pipeline name (together they identify
/// the pipeline's state), held on its own connection for the run.
/// The server releases it when that connection ends, so a killed run never leaves it behind.
public final class PostgresPipelineLock: Sendable {
    private let connection: PostgresConnection
    public let pipeline: String

    private init(connection: PostgresConnection, pipeline: String) {
        self.connection = connection
        self.pipeline = pipeline
    }

    /// Takes the lock or fails at once with a clear error naming the pipeline.
    public static func acquire(url: String, stateTable: TableName, pipeline: String) async throws
        -> PostgresPipelineLock
    {
        let connection: PostgresConnection
        do {
            connection = try await PostgresConnection.connect(url: url, applicationName: "dpone lock \(pipeline)")
        } catch let error as PostgresError {
            throw error.dponeError(.state)
        }
        let rows = try await connection.query(
            "SELECT pg_try_advisory_lock(hashtext($1))", parameters: ["dpone:\(stateTable):\(pipeline)"])
        guard rows.first?.first == "t" else {
            await connection.close()
            throw DponeError(
                .state, "pipeline '\(pipeline)' is already running (its PostgreSQL advisory lock is held)",
                hint: "wait for that run to finish; two concurrent runs of one pipeline would race on its state",
                context: ["server": connection.redactedURL])
        }
        return PostgresPipelineLock(connection: connection, pipeline: pipeline)
    }

    /// Releases the lock (closing the connection releases it too).
    public func release() async {
        await connection.close()
    }
}
