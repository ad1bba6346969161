import Flow

/// Reads one PostgreSQL table (or view) as a bounded source, in one REPEATABLE READ snapshot.
///
/// `outputSchema()` connects, describes the table and resolves the column allowlist; the connection
/// is kept for `run`, which streams `COPY (SELECT ...) TO STDOUT (FORMAT binary)` on the
/// connection's thread, decodes it straight into column builders and sends batches with
/// `sendBlocking` (see `PostgresTableRead`), then emits one checkpoint. The connection is closed
/// when `run` ends, whether it succeeded or not. Cancelling the task stops the read before the next
/// COPY chunk and cancels the statement on the server.
///
/// Checkpoint positions, by mode:
/// - `.full`: `{"table": "schema.table", "rows": n}` (informational; the next run reads all again).
/// - `.cursor`: `{"cursor": {"column": c, "value": "<canonical text>"}}` (see `PostgresCursor`).
/// - `.xmin`: `{"xmin": {"upper": "<xid8 decimal>"}}` (see `PostgresXminWindow`).
///
/// **Cursor tie rule.** The window is strict: `c > cursor`. A row committed *after* a run with a
/// cursor value at or below that run's maximum (a long transaction that took its timestamp or
/// sequence value early, or a tie on the maximum) is therefore skipped by plain `>`. Set
/// `lookback` so each run re-reads `c > cursor - lookback` (e.g. `5 minutes` for timestamps,
/// `1000` for a sequence), long enough to cover the longest writing transaction, and load with
/// `incremental_merge`, which dedupes the re-read rows by key. Without a lookback the cursor column
/// must be unique and written in commit order (an append-only log). Rows whose cursor value is
/// NULL are never read by an incremental run (`NULL > x` is not true).
///
/// **xmin.** Reads the rows written (inserted or updated) by transactions since the previous run;
/// an update made by a transaction still open during a run is read by the next one. Deletes are
/// invisible to xmin (a deleted row has no version left to read): use `snapshot_diff` or CDC to
/// propagate them. Needs PostgreSQL 13+ (`pg_current_snapshot`) and a table (views have no xmin).
///
/// `acknowledge` does nothing: a table has no upstream position to release.
public actor PostgresSource: SourceOperator {
    public nonisolated let name: String
    public nonisolated let options: PostgresSourceOptions
    private var prepared: Prepared?

    private struct Prepared: Sendable {
        let connection: PostgresConnection
        let plan: PostgresSourcePlan
    }

    /// - Throws: `DponeError(.manifest)` for invalid options (nothing connects yet).
    public init(name: String = "postgres", options: PostgresSourceOptions) throws {
        try options.validate()
        self.name = name
        self.options = options
    }

    /// Connects (the first time), describes the table and returns the schema of the columns read.
    /// - Throws: `DponeError(.schema)` for a missing table, an unmappable type, or an allowlisted or
    ///   incremental column the table does not have (listing the available ones);
    ///   `DponeError(.source)` when the server cannot be reached or refuses the session.
    public func outputSchema() async throws -> Schema {
        try await prepare().plan.outputSchema
    }

    public func run(into output: any SourceOutput, resumeFrom: StateValue?) async throws {
        let prepared = try await prepare()
        let cancel = CancellationFlag()
        do {
            let job = try makeRead(prepared.plan, resumeFrom: resumeFrom)
            let rows = try await withTaskCancellationHandler {
                try await prepared.connection.run { session in try job.run(session, into: output, cancel: cancel) }
            } onCancel: {
                cancel.cancel()
            }
            postgresLogger.debug("\(options.qualifiedTable): read \(rows) rows")
        } catch {
            await release(prepared.connection)
            if cancel.isCancelled { throw DponeError(.cancelled, "reading \(options.qualifiedTable) was cancelled") }
            throw Self.sourceError(error)
        }
        await release(prepared.connection)
    }

    /// Nothing to release upstream.
    public func acknowledge(_ checkpoint: CheckpointID) async throws {}

    private func makeRead(_ plan: PostgresSourcePlan, resumeFrom: StateValue?) throws -> PostgresTableRead {
        let mode: PostgresTableRead.Mode
        switch options.mode {
        case .full:
            mode = .full
        case .cursor:
            let column = plan.readColumns[plan.cursorIndex!]
            let cursor = try PostgresCursor(
                column: column, index: plan.cursorIndex!, resumeFrom: resumeFrom, table: options.qualifiedTable)
            mode = .cursor(cursor, lookback: options.lookback)
        case .xmin:
            mode = .xmin(lower: try PostgresXminWindow.storedLower(resumeFrom, table: options.qualifiedTable))
        }
        return PostgresTableRead(
            plan: plan, mode: mode, customPredicate: options.customPredicate, batchRows: options.batchRows,
            batchBytes: options.batchBytes)
    }

    /// The connection and plan, connecting and describing on first use.
    private func prepare() async throws -> Prepared {
        if let ready = prepared { return ready }
        let connection: PostgresConnection
        do {
            connection = try await PostgresConnection.connect(url: options.url)
        } catch {
            throw Self.sourceError(error)
        }
        let plan: PostgresSourcePlan
        do {
            let table = try await PostgresCatalog.describeTable(
                schema: options.schema, table: options.table, on: connection, policy: options.typePolicy)
            plan = try PostgresSourcePlan(table: table, options: options)
        } catch {
            await connection.close()
            throw Self.sourceError(error)
        }
        let fresh = Prepared(connection: connection, plan: plan)
        // Another call may have prepared while this one awaited: the first one wins.
        let winner = prepared ?? fresh
        prepared = winner
        if winner.connection !== connection { await connection.close() }
        return winner
    }

    /// Forgets and closes `connection` (the next `run` reconnects).
    private func release(_ connection: PostgresConnection) async {
        if prepared?.connection === connection { prepared = nil }
        await connection.close()
    }

    private static func sourceError(_ error: any Error) -> any Error {
        (error as? PostgresError)?.dponeError(.source) ?? error
    }
}
