import Flow
import Foundation

/// Blocking state-table operations on an open session (inside `PostgresConnection.run`), shared by
/// `PostgresStateStore` and by Postgres sinks that write their state in their own finalize
/// transaction (`state.atomicity: target_atomic`).
extension PostgresStateStore {
    /// Runs `ensureTableStatements(table:)`. In autocommit mode (no open transaction) a concurrent
    /// creator winning the race (`IF NOT EXISTS` is not atomic: 23505, 42710, 42P06, 42P07) is
    /// tolerated by running the statement again.
    public static func ensureTable(_ table: TableName = defaultTable, in session: PostgresSession) throws {
        for statement in ensureTableStatements(table: table) {
            var attempt = 1
            while true {
                do {
                    try session.execute(statement)
                    break
                } catch let error as PostgresError where attempt < 3 && creationRaces.contains(error.sqlState ?? "") {
                    attempt += 1
                }
            }
        }
    }

    /// SQLSTATEs of a concurrent `CREATE ... IF NOT EXISTS` of the same object.
    static let creationRaces: Set<String> = ["23505", "42710", "42P06", "42P07"]

    /// Writes `state` as its pipeline's row with `upsertStatement(for:table:)`, refusing to move the
    /// checkpoint backwards or sideways. Meant to run inside a transaction the caller owns (the
    /// caller commits or rolls back); it begins none.
    ///
    /// - A stored checkpoint lower than `state.checkpoint` (or no row): the row is replaced.
    /// - The identical document already stored (a replayed commit): nothing changes, no error.
    /// - Otherwise (stored checkpoint higher, or equal with a different document): throws
    ///   `DponeError(.state)` naming both checkpoints. The caller must roll back.
    /// - Throws `PostgresError` for server errors (e.g. 42P01 when the table is missing).
    public static func writeState(_ state: PipelineState, table: TableName = defaultTable, in session: PostgresSession)
        throws
    {
        let written = try session.query(upsertStatement(for: state, table: table))
        if !written.isEmpty { return }
        let stored = try session.query(
            compareStatement(table: table), parameters: [state.pipeline, documentJSON(state)])
        guard let row = stored.first, let checkpoint = row[0] else {
            throw DponeError(
                .state, "the state row of pipeline '\(state.pipeline)' vanished during its commit",
                context: ["pipeline": state.pipeline, "table": table.description])
        }
        if row[1] == "t" { return }
        let problem = checkpoint == state.checkpoint.description
            ? "checkpoint \(checkpoint) is already committed with a different document"
            : "its stored checkpoint \(checkpoint) is ahead of checkpoint \(state.checkpoint)"
        throw DponeError(
            .state,
            "refusing to move the state of pipeline '\(state.pipeline)' from checkpoint \(checkpoint) to "
                + "\(state.checkpoint): \(problem)",
            hint: "another run of this pipeline committed state meanwhile; inspect it with `dpone state show`",
            context: [
                "pipeline": state.pipeline, "table": table.description, "stored_checkpoint": checkpoint,
                "checkpoint": state.checkpoint.description,
            ])
    }

    /// The pipeline's stored checkpoint and document text, or nil when it has no row. A missing
    /// schema or table (3F000 / 42P01) also reads as no row.
    static func readRow(pipeline: String, table: TableName, in session: PostgresSession) throws
        -> (checkpoint: String, document: String)?
    {
        do {
            guard let row = try session.query(selectStatement(table: table), parameters: [pipeline]).first else {
                return nil
            }
            return (row[0] ?? "", row[1] ?? "")
        } catch let error as PostgresError where error.sqlState == "42P01" || error.sqlState == "3F000" {
            return nil
        }
    }

    /// Decodes a stored row; the document must be a `PipelineState` of `pipeline` at the row's
    /// checkpoint. Throws `DponeError(.state)` naming `location` otherwise.
    static func decode(checkpoint: String, document: String, pipeline: String, location: String) throws
        -> PipelineState
    {
        try PipelineState.decodeStored(checkpoint: checkpoint, document: document, pipeline: pipeline, location: location)
    }
}
