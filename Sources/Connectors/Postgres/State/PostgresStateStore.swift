import Flow

/// `state.type: postgres`: checkpoint state in a PostgreSQL table, one row per pipeline, for
/// deployments where several machines share state (see `PostgresStateSQL.swift` for the table).
///
/// Contract (the `StateStore` one, plus):
/// - `commit` is one transaction: when it returns the row is committed (the session never runs with
///   `synchronous_commit = off`); when it throws, the previous row is in place.
/// - `commit` never moves a pipeline's checkpoint backwards or sideways: a checkpoint lower than or
///   equal to the stored one is an error naming both, except the identical document (a replayed
///   commit), which is a no-op.
/// - The schema and table are created on the first `commit`; `load` and `reset` of a missing table
///   read as "no state" and do nothing.
/// - `load` of a document that is not a `PipelineState` of that pipeline at the row's checkpoint is
///   a `DponeError(.state)` naming the location.
/// - The connection opens on first use and is reused; all I/O runs on its dedicated thread.
/// - Every error is a `DponeError(.state)` with the location and, from the server, the SQLSTATE;
///   neither errors nor `location` ever contain the password.
///
/// Lease and fencing (DESIGN.md "State stores") will live next to this type, in a
/// `PostgresStateLease`: a run claims the pipeline's lease, bumps `fencing_token`, and the upsert's
/// `WHERE` gains `AND <table>.fencing_token <= <token>` so a fenced-off writer's commit is refused.
/// Backfill chunk claims (`FOR UPDATE SKIP LOCKED`) belong there too.
public final class PostgresStateStore: StateStore {
    public let table: TableName
    /// `postgres://host:port/db` (no credentials).
    public let server: String
    let connection: StateConnection

    /// - Parameters:
    ///   - url: a libpq connection string (URL or `key=value`); nothing connects until first use.
    ///   - table: the state table; `dpone.__dpone__state` by default.
    public init(url: String, table: TableName = PostgresStateStore.defaultTable) {
        self.table = table
        self.server = StateLocation.server(url: url)
        self.connection = StateConnection(url: url)
    }

    /// `postgres://host:port/db schema.table (pipeline)`.
    public func location(pipeline: String) -> String { "\(server) \(table.description) (\(pipeline))" }

    public func load(pipeline: String) async throws -> PipelineState? {
        try Self.validate(pipeline: pipeline)
        let table = self.table
        let row = try await connection.run("load the state from", at: location(pipeline: pipeline)) { session in
            try Self.readRow(pipeline: pipeline, table: table, in: session)
        }
        guard let row else { return nil }
        return try Self.decode(
            checkpoint: row.checkpoint, document: row.document, pipeline: pipeline,
            location: location(pipeline: pipeline))
    }

    public func commit(_ state: PipelineState) async throws {
        _ = try Self.upsertStatement(for: state, table: table)  // validates before any I/O
        let table = self.table
        try await connection.run("commit the state to", at: location(pipeline: state.pipeline), ensuringTable: table) {
            session in
            try session.execute("BEGIN")
            do {
                try Self.writeState(state, table: table, in: session)
                try session.execute("COMMIT")
            } catch {
                try? session.execute("ROLLBACK")
                throw error
            }
        }
    }

    public func reset(pipeline: String) async throws {
        try Self.validate(pipeline: pipeline)
        let table = self.table
        try await connection.run("reset the state in", at: location(pipeline: pipeline)) { session in
            do {
                _ = try session.query(Self.deleteStatement(table: table), parameters: [pipeline])
            } catch let error as PostgresError where error.sqlState == "42P01" || error.sqlState == "3F000" {
                return
            }
        }
    }

    /// Closes the connection (a later call reconnects). Dropping the store closes it too.
    public func close() async { await connection.close() }
}
