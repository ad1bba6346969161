import Flow
import Foundation

/// The SQL of the PostgreSQL state table, as pure functions: no connection, no I/O.
///
/// The table (one row per pipeline):
///
/// | column | type | |
/// | --- | --- | --- |
/// | `pipeline` | text | primary key |
/// | `checkpoint` | bigint not null | the last durable checkpoint |
/// | `document` | jsonb not null | the whole `PipelineState` document |
/// | `committed_at` | timestamptz not null default now() | server time of the commit |
/// | `fencing_token` | bigint not null default 0 | reserved for the lease (see `PostgresStateStore`) |
///
/// Every identifier goes through `PostgresSQL.quoteIdentifier`, every literal through
/// `PostgresSQL.quoteLiteral`.
extension PostgresStateStore {
    /// `"dpone"."__dpone__state"`.
    public static let defaultTable = TableName(schema: "dpone", name: "__dpone__state")

    static func q(_ name: String) -> String { PostgresSQL.quoteIdentifier(name) }

    static func tableSQL(_ table: TableName) -> String {
        PostgresSQL.qualifiedName(schema: table.schema, name: table.name)
    }

    /// The statements that create the state table when it is missing (idempotent; safe inside a
    /// transaction, e.g. a sink's finalize transaction).
    public static func ensureTableStatements(table: TableName = defaultTable) -> [String] {
        [
            "CREATE SCHEMA IF NOT EXISTS \(q(table.schema))",
            """
            CREATE TABLE IF NOT EXISTS \(tableSQL(table)) (\
            \(q("pipeline")) text PRIMARY KEY, \
            \(q("checkpoint")) bigint NOT NULL, \
            \(q("document")) jsonb NOT NULL, \
            \(q("committed_at")) timestamptz NOT NULL DEFAULT now(), \
            \(q("fencing_token")) bigint NOT NULL DEFAULT 0)
            """,
        ]
    }

    /// One `INSERT ... ON CONFLICT DO UPDATE` that writes `state` as its pipeline's row, with every
    /// value inlined as a quoted literal (the document as `'...'::jsonb`), so a sink can run it inside
    /// its own finalize transaction.
    ///
    /// Contract: the row is written only when no row exists or the stored checkpoint is lower
    /// (`WHERE <table>.checkpoint < EXCLUDED.checkpoint`); the statement then returns one row (the new
    /// checkpoint). It returns no row when the stored checkpoint is equal or higher: the caller must
    /// then check for an identical replay or fail — `writeState(_:table:in:)` does both.
    /// - Throws: `DponeError(.state)` when the pipeline name holds NUL, the checkpoint exceeds bigint,
    ///   or the document cannot be encoded (a non-finite number).
    public static func upsertStatement(for state: PipelineState, table: TableName = defaultTable) throws -> String {
        let checkpoint = try checkpointValue(state)
        let document = try documentJSON(state)
        let t = tableSQL(table)
        return """
            INSERT INTO \(t) (\(q("pipeline")), \(q("checkpoint")), \(q("document")), \(q("committed_at"))) \
            VALUES (\(PostgresSQL.quoteLiteral(state.pipeline)), \(checkpoint), \
            \(PostgresSQL.quoteLiteral(document))::jsonb, now()) \
            ON CONFLICT (\(q("pipeline"))) DO UPDATE SET \
            \(q("checkpoint")) = EXCLUDED.\(q("checkpoint")), \
            \(q("document")) = EXCLUDED.\(q("document")), \
            \(q("committed_at")) = EXCLUDED.\(q("committed_at")) \
            WHERE \(t).\(q("checkpoint")) < EXCLUDED.\(q("checkpoint")) \
            RETURNING \(q("checkpoint"))
            """
    }

    /// `SELECT checkpoint, document::text` of the pipeline `$1`.
    static func selectStatement(table: TableName) -> String {
        "SELECT \(q("checkpoint")), \(q("document"))::text FROM \(tableSQL(table)) WHERE \(q("pipeline")) = $1"
    }

    /// `SELECT checkpoint, document = $2::jsonb` of the pipeline `$1` (row locked when in a transaction).
    static func compareStatement(table: TableName) -> String {
        """
        SELECT \(q("checkpoint")), \(q("document")) = $2::jsonb FROM \(tableSQL(table)) \
        WHERE \(q("pipeline")) = $1
        """
    }

    /// `DELETE` of the pipeline `$1`.
    static func deleteStatement(table: TableName) -> String {
        "DELETE FROM \(tableSQL(table)) WHERE \(q("pipeline")) = $1"
    }

    /// The document as compact JSON with sorted keys.
    static func documentJSON(_ state: PipelineState) throws -> String {
        try validate(pipeline: state.pipeline)
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.sortedKeys, .withoutEscapingSlashes]
        do {
            return String(decoding: try encoder.encode(state), as: UTF8.self)
        } catch {
            throw DponeError(
                .state, "cannot encode the state of pipeline '\(state.pipeline)': \(error)",
                context: ["pipeline": state.pipeline, "checkpoint": state.checkpoint.description])
        }
    }

    /// The checkpoint as a bigint.
    static func checkpointValue(_ state: PipelineState) throws -> Int64 {
        guard let value = Int64(exactly: state.checkpoint.rawValue) else {
            throw DponeError(
                .state, "checkpoint \(state.checkpoint) of pipeline '\(state.pipeline)' does not fit a bigint",
                context: ["pipeline": state.pipeline])
        }
        return value
    }

    /// Pipeline names travel as C strings and SQL literals: a NUL byte is refused, not truncated.
    static func validate(pipeline: String) throws {
        if pipeline.utf8.contains(0) {
            throw DponeError(.state, "a pipeline name cannot contain a NUL character")
        }
    }
}
