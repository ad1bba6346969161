import Flow

/// Reads one ClickHouse table (or view) as a bounded source over the HTTP interface.
///
/// `outputSchema()` creates the client (one `ClickHouseClient`, its own connection and thread),
/// runs `DESCRIBE TABLE` and resolves the allowlist and the cursor column (`ClickHouseSourcePlan`);
/// the client is kept for `run`, which sends one
/// `SELECT <columns> FROM <db>.<table> [FINAL] [WHERE (<custom predicate>) AND (<cursor> > <literal>)] FORMAT Native`
/// (with `max_block_size = batchRows`) and decodes the response as it streams in, on the client's
/// thread, with a `NativeDecoder`; blocks are re-cut to the batch limits and sent with
/// `sendBlocking` from that thread (a full channel stalls the download, so memory stays bounded).
/// After the last batch the source emits one checkpoint with `checkpointBlocking`. The client is
/// closed when `run` ends, whether it succeeded or not (a later `run` describes again).
///
/// One statement reads one consistent view of each data part; ClickHouse has no multi-statement
/// snapshot, so rows inserted during the read may or may not be included.
///
/// Checkpoint positions, by mode:
/// - `.full`: `{"table": "db.table", "rows": n}` (informational; the next run reads all again).
/// - `.cursor`: `{"cursor": {"column": c, "value": "<canonical text>" | null}}`: the largest value
///   read, or the stored one when nothing newer was read (see `ClickHouseCursor`).
///
/// **Cursor tie rule.** The window is strict: `c > cursor`. A row inserted *after* a run with a
/// cursor value at or below that run's maximum (a tie on the maximum, a late insert with an older
/// timestamp) is skipped by plain `>`. Set `lookback` so each run re-reads `c > cursor - lookback`
/// and load with `incremental_merge`, which dedupes the re-read rows by key. Without a lookback the
/// cursor column must be unique and written in increasing order. Rows whose cursor is NULL are never
/// read by an incremental run.
///
/// Cancelling the task stops the read before the next chunk (the request is aborted): `run` throws
/// `DponeError(.cancelled)` and emits no checkpoint. `acknowledge` does nothing.
public actor ClickHouseSource: SourceOperator {
    public nonisolated let name: String
    public nonisolated let options: ClickHouseSourceOptions
    private var prepared: Prepared?

    private struct Prepared: Sendable {
        let client: ClickHouseClient
        let plan: ClickHouseSourcePlan
    }

    /// - Throws: `DponeError(.manifest)` for invalid options (nothing connects yet).
    public init(name: String = "clickhouse", options: ClickHouseSourceOptions) throws {
        try options.validate()
        self.name = name
        self.options = options
    }

    /// Describes the table (the first time) and returns the schema of the columns read.
    /// - Throws: `DponeError(.schema)` for a missing table or database, an unmappable type (naming the
    ///   column and its type), or an allowlisted or incremental column the table does not have
    ///   (listing the available ones); `DponeError(.manifest)` for an invalid lookback;
    ///   `DponeError(.source)` when the server cannot be reached or refuses the request.
    public func outputSchema() async throws -> Schema {
        try await prepare().plan.outputSchema
    }

    public func run(into output: any SourceOutput, resumeFrom: StateValue?) async throws {
        let prepared = try await prepare()
        let client = prepared.client
        let plan = prepared.plan
        let cancel = CancellationFlag()
        let table = options.displayName
        do {
            try Task.checkCancellation()
            var predicates = options.customPredicate.map { [$0] } ?? []
            var cursor: ClickHouseCursor?
            if case .cursor = options.mode, let index = plan.cursorIndex {
                let start = try ClickHouseCursor(
                    name: plan.readColumns[index].name, type: plan.readTypes[index], field: plan.readFields[index],
                    index: index, resumeFrom: resumeFrom, table: table)
                if let condition = try start.predicate(lookback: options.lookback, table: table) {
                    predicates.append(condition)
                }
                cursor = start
            }
            // Without a cursor bound every row the custom predicate selects is read: a complete copy.
            let complete = predicates.count == (options.customPredicate == nil ? 0 : 1)
            let sql = plan.selectSQL(qualifiedTable: options.qualifiedTable, final: options.final, predicates: predicates)
            let read = ClickHouseTableRead(
                plan: plan, cursor: cursor, policy: options.typePolicy, batchRows: options.batchRows,
                batchBytes: options.batchBytes, output: output, cancel: cancel)
            try await withTaskCancellationHandler {
                try await client.streamQuery(
                    sql, format: "Native", settings: ["max_block_size": String(options.batchRows)], idempotent: true
                ) { chunk in
                    try read.consume(chunk)
                }
                try await client.thread.run {
                    let positions = try read.finish()
                    try output.checkpointBlocking(positions: positions, complete: complete)
                }
            } onCancel: {
                cancel.cancel()
            }
            clickHouseLogger.debug("\(table): read \(read.rowsSent) rows in \(read.batchesSent) batches")
        } catch {
            await release(client)
            if cancel.isCancelled || Task.isCancelled || (error as? DponeError)?.kind == .cancelled {
                throw DponeError(.cancelled, "reading \(table) was cancelled", context: ["table": table])
            }
            throw Self.sourceError(error, table: table)
        }
        await release(client)
    }

    /// Nothing to release upstream.
    public func acknowledge(_ checkpoint: CheckpointID) async throws {}

    /// The client and plan, describing the table on first use.
    private func prepare() async throws -> Prepared {
        if let ready = prepared { return ready }
        let table = options.displayName
        let client: ClickHouseClient
        do {
            client = try ClickHouseClient(
                ClickHouseConfiguration(url: options.url, threadName: "dpone-clickhouse-source"))
        } catch {
            throw Self.sourceError(error, table: table)
        }
        let plan: ClickHouseSourcePlan
        do {
            let rows = try await client.queryRows("DESCRIBE TABLE \(options.qualifiedTable)")
            let described = rows.compactMap { row -> ClickHouseSourceColumn? in
                guard row.count >= 2 else { return nil }
                return ClickHouseSourceColumn(name: row[0], typeName: row[1], defaultKind: row.count > 2 ? row[2] : "")
            }
            plan = try ClickHouseSourcePlan(described: described, options: options)
        } catch {
            await client.close()
            throw Self.sourceError(error, table: table)
        }
        let fresh = Prepared(client: client, plan: plan)
        // Another call may have prepared while this one awaited: the first one wins.
        let winner = prepared ?? fresh
        prepared = winner
        if winner.client !== client { await client.close() }
        return winner
    }

    /// Forgets and closes `client` (the next `run` describes again).
    private func release(_ client: ClickHouseClient) async {
        if prepared?.client === client { prepared = nil }
        await client.close()
    }

    /// A `DponeError` for `error`: missing tables and databases are schema errors, other server and
    /// connection failures source errors.
    private static func sourceError(_ error: any Error, table: String) -> any Error {
        guard let error = error as? ClickHouseError else { return error }
        switch error.code {
        case 60?, 81?:
            var converted = error.dponeError(.schema)
            converted.context["table"] = table
            return converted
        default:
            return error.dponeError(.source)
        }
    }
}
