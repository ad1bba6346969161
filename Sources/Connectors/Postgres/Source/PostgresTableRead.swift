import Flow

/// One `PostgresSource.run`, executed on the connection's thread (blocking is expected there).
///
/// Sequence: `BEGIN ISOLATION LEVEL REPEATABLE READ READ ONLY`; in xmin mode the snapshot's xmin
/// (the first statement, so it fixes the snapshot the COPY then reads); `COPY (SELECT ...) TO STDOUT
/// (FORMAT binary)` decoded chunk by chunk into a `BatchBuilder`, a batch sent with `sendBlocking`
/// whenever `batchRows` rows or `batchBytes` bytes are reached; `COMMIT`; then one
/// `checkpointBlocking` with the run's positions (complete when no cursor or xmin bound filtered it). On any error the transaction is rolled back and
/// no checkpoint is emitted. `cancel` is polled before every chunk.
struct PostgresTableRead: Sendable {
    enum Mode: Sendable {
        case full
        case cursor(PostgresCursor, lookback: String?)
        case xmin(lower: UInt64?)
    }

    let plan: PostgresSourcePlan
    let mode: Mode
    let customPredicate: String?
    let batchRows: Int
    let batchBytes: Int

    /// Rows sent, for the caller's log line.
    func run(_ session: PostgresSession, into output: any SourceOutput, cancel: CancellationFlag) throws -> Int {
        let table = plan.table.qualifiedName
        try session.execute("BEGIN ISOLATION LEVEL REPEATABLE READ READ ONLY")
        let rows: Int
        let positions: StateValue
        let complete: Bool
        do {
            var predicates = customPredicate.map { [$0] } ?? []
            var cursor: PostgresCursor?
            var window: PostgresXminWindow?
            switch mode {
            case .full:
                break
            case .cursor(let start, let lookback):
                cursor = start
                if let condition = start.predicate(lookback: lookback) { predicates.append(condition) }
            case .xmin(let lower):
                let upper = try Self.snapshotXmin(session, table: table)
                let current = PostgresXminWindow(lower: lower, upper: upper)
                if case .all(let reason?) = current.filter { postgresLogger.warning("\(table): \(reason)") }
                if let condition = current.predicate { predicates.append(condition) }
                window = current
            }
            // No cursor or xmin bound (a full read, a first incremental run, an xmin fallback): every
            // row the custom predicate selects was read, a complete copy.
            complete = predicates.count == (customPredicate == nil ? 0 : 1)
            rows = try copy(session, sql: plan.copySQL(predicates: predicates), cursor: &cursor, into: output, cancel: cancel)
            try session.execute("COMMIT")
            positions = cursor?.positions ?? window?.positions
                ?? .object(["table": .string("\(plan.table.schemaName).\(plan.table.tableName)"), "rows": .int(Int64(rows))])
        } catch {
            try? session.execute("ROLLBACK")
            throw error
        }
        try output.checkpointBlocking(positions: positions, complete: complete)
        return rows
    }

    /// Streams the COPY into batches; returns the number of rows sent.
    private func copy(
        _ session: PostgresSession, sql: String, cursor: inout PostgresCursor?, into output: any SourceOutput,
        cancel: CancellationFlag
    ) throws -> Int {
        let readSchema = plan.readSchema
        let outputSchema = plan.outputSchema
        var decoder = try CopyBinaryDecoder(schema: readSchema, formats: plan.wireFormats)
        var builder = BatchBuilder(schema: readSchema, reservingCapacity: min(batchRows, 65_536))
        var sent = 0
        let what = "reading \(plan.table.qualifiedName)"

        func emit() throws {
            guard builder.rowCount > 0 else { return }
            var batch = builder.finish()
            if let index = cursor?.index { cursor!.observe(batch.columns[index]) }
            if plan.hasHiddenColumns {
                batch = Batch(schema: outputSchema, columns: Array(batch.columns.prefix(plan.outputCount)))
            }
            sent += batch.rowCount
            try output.sendBlocking(batch)
        }

        try session.copyOut(sql) { chunk in
            try cancel.check(what)
            try decoder.decode(chunk, into: &builder)
            if builder.rowCount >= batchRows || builder.byteCount >= batchBytes { try emit() }
        }
        try decoder.finish()
        try emit()
        return sent
    }

    /// `pg_snapshot_xmin(pg_current_snapshot())` of the transaction's snapshot, as a 64-bit xid.
    private static func snapshotXmin(_ session: PostgresSession, table: String) throws -> UInt64 {
        let rows = try session.query(
            "SELECT pg_snapshot_xmin(pg_current_snapshot())::text, pg_current_snapshot()::text")
        guard let text = rows.first?.first ?? nil, let upper = UInt64(text) else {
            throw DponeError(.source, "PostgreSQL returned no snapshot xmin", context: ["table": table])
        }
        postgresLogger.debug("\(table): xmin window upper \(upper), snapshot \(rows[0][1] ?? "?")")
        return upper
    }
}
