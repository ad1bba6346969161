import ConnectorKit
import Flow
import Foundation
import Logging

/// Publishes batches into a PostgreSQL table, staging-first.
///
/// Each checkpoint's rows are copied (`COPY FROM STDIN (FORMAT binary)`) into an attempt-local
/// `UNLOGGED` staging table; on the barrier the staged keys are checked (no NULL, no duplicate where
/// the mode matches by key) and then, in ONE transaction: the idempotency ledger is consulted, the
/// strategy's set-based SQL publishes the rows, the ledger row (and with target-atomic state, the
/// state row) is written, and the staging table is dropped. Any failure before COMMIT leaves the
/// target as it was; a replay of a published checkpoint finds its ledger row and publishes nothing.
///
/// An actor: one sink task drives it (the graph's contract), and its staging state is isolated by
/// the language rather than by a lock.
public actor PostgresSink: SinkOperator {
    public nonisolated let name: String
    public nonisolated let options: PostgresSinkOptions
    private nonisolated let logger = Logger(label: "dpone.postgres.sink")

    private struct Staging: Sendable {
        var connection: PostgresConnection?
        /// The staged rows' schema (cdc_apply adds the operation and sequence columns): every column
        /// the stream had so far (the staging table's columns).
        var schema: Schema?
        /// The shape of the batches written last (before the operation and sequence columns).
        var shape: Schema?
        /// The columns published to the target.
        var targetColumns: [String] = []
        /// Columns the source widened: altered inside the next publish transaction.
        var widenings: [(change: String, sql: String)] = []
        /// cdc_apply: the next staging sequence number.
        var sequence: Int64 = 0
        /// cdc_apply: the last TRUNCATE of the source in this checkpoint (the sequence of the first
        /// event after it, and its lsn).
        var truncate: (sequence: Int64, lsn: Int64)?
        var stagingTable: TableName?
        var writer: CopyInWriter?
        var encoder: CopyBinaryEncoder?
        var buffer: [UInt8] = []
        var loadID = ""
    }

    private var staging = Staging()
    private static let flushBytes = 1 << 20

    public init(name: String, options: PostgresSinkOptions) {
        self.name = name
        self.options = options
    }

    private var connection: PostgresConnection {
        get throws {
            guard let c = staging.connection else {
                throw DponeError(.internal, "postgres sink used before open", context: ["sink": name])
            }
            return c
        }
    }

    public func open(schema: Schema) async throws {
        if case .incrementalMerge(let policy) = options.mode, !PostgresSinkOptions.mergePolicies.contains(policy) {
            throw DponeError(
                .usage, "merge_policy '\(policy.rawValue)' is not a postgres policy",
                hint: "use " + PostgresSinkOptions.mergePolicies.map(\.rawValue).joined(separator: " or "),
                context: ["table": options.target.description])
        }
        for column in TargetShape.requiredStagedColumns(for: options.mode) where schema.index(of: column) == nil {
            throw DponeError(
                .schema, "strategy needs column \(column) in the staged rows",
                hint: "the pipeline adds it with the row_hash option", context: ["table": options.target.description])
        }
        for key in options.uniqueKey where schema.index(of: key) == nil {
            throw DponeError(
                .schema, "unique_key column \(key) is not among the source columns (\(schema.names.joined(separator: ", ")))",
                context: ["table": options.target.description])
        }
        // cdc_apply: the target keeps the columns and __dpone__lsn; the unchanged-columns list, the
        // operation and the staging order are staged only.
        var targetSchema = schema
        var stagedSchema = schema
        if options.stagesOperations {
            stagedSchema = Schema(
                schema.fields + [
                    Field(TechnicalColumns.operation, .int16, nullable: false),
                    Field(TechnicalColumns.sequence, .int64, nullable: false),
                ])
        }
        if options.mode == .cdcApply {
            guard !options.uniqueKey.isEmpty else {
                throw DponeError(.manifest, "strategy mode cdc_apply needs unique_key", context: ["table": options.target.description])
            }
            targetSchema = Schema(schema.fields.filter { $0.name != TechnicalColumns.unchanged })
            stagedSchema = Schema(
                schema.fields + [
                    Field(TechnicalColumns.operation, .int16, nullable: false),
                    Field(TechnicalColumns.sequence, .int64, nullable: false),
                ])
        }
        let connection = try await PostgresConnection.connect(url: options.url)
        staging.connection = connection
        staging.schema = stagedSchema
        staging.shape = schema
        staging.targetColumns = targetSchema.names
        do {
            try await prepareTarget(schema: targetSchema, on: connection)
        } catch {
            await connection.close()
            staging.connection = nil
            throw Self.sinkError(error)
        }
    }

    /// Creates the target when missing, or evolves it additively; fails closed on breaking changes.
    /// Also makes sure the ledger exists. Runs before any data is staged.
    private func prepareTarget(schema: Schema, on connection: PostgresConnection) async throws {
        // Workers of one pipeline (dpone stream --worker) open the same target at once: DDL and the
        // leftover clean-up run one at a time per target.
        let lock = Self.advisoryKey("dpone-target:\(options.target.sql)")
        try await connection.execute("SELECT pg_advisory_lock(\(lock))")
        do {
            try await prepareTargetLocked(schema: schema, on: connection)
        } catch {
            try? await connection.execute("SELECT pg_advisory_unlock(\(lock))")
            throw error
        }
        try await connection.execute("SELECT pg_advisory_unlock(\(lock))")
    }

    /// The SQL of a 64-bit advisory lock key derived from `text`.
    static func advisoryKey(_ text: String) -> String {
        "hashtextextended(\(PostgresSQL.quoteLiteral(text)), 0)"
    }

    /// A live sink holds this session lock while its staging table exists; a table whose lock can be
    /// taken belongs to a run that died.
    static func stagingOwnerKey(_ table: TableName) -> String { advisoryKey("dpone-staging:\(table.sql)") }

    private func prepareTargetLocked(schema: Schema, on connection: PostgresConnection) async throws {
        let target = options.target
        // `CREATE ... IF NOT EXISTS` is not atomic: sinks of other targets (other pipelines started
        // at the same time) create the same schemas and ledger, and the loser of that race fails
        // with 23505. The statements run as one implicit transaction (one simple query) that first
        // takes a transaction-scoped lock, so dpone's bootstraps in a database run one at a time.
        var statements = [
            "SELECT pg_advisory_xact_lock(\(Self.advisoryKey("dpone-bootstrap")))",
            "CREATE SCHEMA IF NOT EXISTS \(PostgresSQL.quoteIdentifier(target.schema))",
            "CREATE SCHEMA IF NOT EXISTS \(PostgresSQL.quoteIdentifier(options.ledger.schema))",
            Self.ledgerDDL(options.ledger),
            // Ledgers created before applied_lsn existed gain it (NULL on their old rows).
            "ALTER TABLE \(options.ledger.sql) ADD COLUMN IF NOT EXISTS applied_lsn bigint",
        ]
        if let stagingSchema = options.stagingSchema {
            statements.append("CREATE SCHEMA IF NOT EXISTS \(PostgresSQL.quoteIdentifier(stagingSchema))")
        }
        try await connection.execute(statements.joined(separator: ";\n"))
        if let stateTable = options.targetAtomicState {
            try await connection.run { session in try PostgresStateStore.ensureTable(stateTable, in: session) }
        }
        try await dropLeftoverStaging(on: connection)
        let exists = try await connection.query("SELECT to_regclass($1) IS NOT NULL", parameters: [target.sql])
        if exists.first?.first == "t" {
            let described = try await PostgresCatalog.describeTable(
                schema: target.schema, table: target.name, on: connection)
            let existing = described.columns.map {
                TargetShape.ExistingColumn(name: $0.name, type: $0.field.type, nullable: $0.field.nullable)
            }
            // A list into a jsonb column (a target loaded when arrays were read as json) is staged
            // as its JSON text: the same bytes, and jsonb has no cast from arrays.
            let jsonColumns = Set(existing.filter { $0.type == .json }.map(\.name))
            staging.schema = staging.schema.map { staged in
                Schema(staged.fields.map { field in
                    guard case .list = field.type, jsonColumns.contains(field.name) else { return field }
                    return Field(field.name, .json, nullable: field.nullable)
                })
            }
            let evolution = try TargetShape.evolution(
                target: target, existing: existing, incoming: schema, mode: options.mode, widen: options.widen,
                keepDropped: options.keepDropped)
            let alter = evolution.statements
            staging.widenings = evolution.widenings
            if options.mode == .incrementalMerge(.upsert) {
                try await requireUniqueIndex(on: connection)
            }
            if !alter.isEmpty {
                logger.notice("evolving target", metadata: ["table": "\(target)", "ddl": "\(alter)"])
                try await connection.execute(alter.joined(separator: ";\n"))
            }
        } else {
            let create = TargetShape.createStatements(
                target: target, incoming: schema, mode: options.mode, uniqueKey: options.uniqueKey)
            try await connection.execute("BEGIN;\n" + create.joined(separator: ";\n") + ";\nCOMMIT")
        }
    }

    /// `INSERT ... ON CONFLICT (key)` needs a unique index on exactly the key columns: checked before
    /// anything is staged, so the failure names the fix instead of surfacing mid-publish.
    private func requireUniqueIndex(on connection: PostgresConnection) async throws {
        let rows = try await connection.query(
            """
            SELECT string_agg(a.attname, ',' ORDER BY a.attname)
            FROM pg_index i JOIN pg_attribute a ON a.attrelid = i.indrelid AND a.attnum = ANY(i.indkey)
            WHERE i.indrelid = to_regclass($1) AND i.indisunique AND i.indpred IS NULL
            GROUP BY i.indexrelid
            """, parameters: [options.target.sql])
        let wanted = options.uniqueKey.sorted().joined(separator: ",")
        guard rows.contains(where: { $0.first == wanted }) else {
            throw DponeError(
                .schema,
                "merge_policy upsert needs a unique index on (\(options.uniqueKey.joined(separator: ", "))) of \(options.target)",
                hint: "create one (CREATE UNIQUE INDEX ... ON \(options.target.sql) (...)) or use merge_policy delete_insert",
                context: ["table": options.target.description])
        }
    }

    /// Staging tables of this target left by a run that was killed (they are UNLOGGED and hold
    /// nothing published). The pipeline lock fences a concurrent run of the same pipeline; one
    /// pipeline per target table is assumed.
    private func dropLeftoverStaging(on connection: PostgresConnection) async throws {
        let schema = options.stagingSchema ?? options.target.schema
        let pattern = "__dpone\\_\\_stg\\_%\\_" + options.target.name.replacingOccurrences(of: "_", with: "\\_")
        let leftovers = try await connection.query(
            "SELECT tablename FROM pg_tables WHERE schemaname = $1 AND tablename LIKE $2", parameters: [schema, pattern])
        for row in leftovers {
            guard let name = row.first ?? nil else { continue }
            let table = TableName(schema: schema, name: name)
            // Another live worker's staging: its owner holds the lock.
            let free = try await connection.query("SELECT pg_try_advisory_lock(\(Self.stagingOwnerKey(table)))")
            guard free.first?.first == "t" else { continue }
            try await connection.execute(
                "DROP TABLE IF EXISTS \(table.sql); SELECT pg_advisory_unlock(\(Self.stagingOwnerKey(table)))")
        }
    }

    static func ledgerDDL(_ ledger: TableName) -> String {
        """
        CREATE TABLE IF NOT EXISTS \(ledger.sql) (
          pipeline text NOT NULL,
          target text NOT NULL,
          checkpoint bigint NOT NULL,
          load_id text NOT NULL,
          run_id text NOT NULL,
          positions jsonb NOT NULL,
          inserted bigint NOT NULL,
          updated bigint NOT NULL,
          deleted bigint NOT NULL,
          committed_at timestamptz NOT NULL DEFAULT now(),
          applied_lsn bigint,
          PRIMARY KEY (pipeline, target, checkpoint)
        )
        """
    }

    public func write(_ batch: Batch) async throws {
        guard batch.rowCount > 0 else { return }
        if let lsn = try TruncateMarker.lsn(in: batch, cdcApply: options.mode == .cdcApply, target: options.target.description) {
            staging.truncate = (staging.sequence, lsn)
            return
        }
        let connection = try self.connection
        if let shape = staging.shape, shape != batch.schema {
            try await reshape(to: batch.schema, on: connection)
        }
        let batch = options.mode == .cdcApply || options.stagesOperations ? withOperationAndSequence(batch) : batch
        // Take the buffer out (leaving an empty one) so appending to it does not copy it.
        var (writer, encoder, buffer) = (staging.writer, staging.encoder, staging.buffer)
        staging.buffer = []
        if writer == nil {
            let (table, newWriter) = try await beginStaging(copying: copySchema(batch.schema), on: connection)
            writer = newWriter
            staging.stagingTable = table
        }
        if encoder == nil { encoder = CopyBinaryEncoder(schema: copySchema(batch.schema)) }
        try encoder!.encode(batch, into: &buffer)
        if buffer.count >= Self.flushBytes {
            let bytes = buffer
            let w = writer!
            do {
                try await connection.run { _ in try w.write(bytes) }
            } catch {
                throw Self.sinkError(error)
            }
            buffer.removeAll(keepingCapacity: true)
        }
        staging.writer = writer
        staging.encoder = encoder
        staging.buffer = buffer
    }

    /// cdc_apply: the batch plus its row operations (upsert when the batch has none) and the staging
    /// order as columns.
    private func withOperationAndSequence(_ batch: Batch) -> Batch {
        let first = staging.sequence
        staging.sequence += Int64(batch.rowCount)
        return batch.withOperationAndSequence(first: first)
    }

    /// The columns a batch of `batchSchema` is copied as: its own, except a list staged as json
    /// (a target that holds it as jsonb) is sent as that json.
    private func copySchema(_ batchSchema: Schema) -> Schema {
        let staged = staging.schema ?? batchSchema
        return Schema(batchSchema.fields.map { field in
            guard case .list = field.type, let i = staged.index(of: field.name), staged[i].type == .json else { return field }
            return Field(field.name, .json, nullable: field.nullable)
        })
    }

    /// Creates this attempt's staging table (every staged column) unless this checkpoint has one
    /// already, and starts a COPY of the columns of `copy` into it.
    private func beginStaging(copying copy: Schema, on connection: PostgresConnection) async throws -> (TableName, CopyInWriter) {
        guard let schema = staging.schema else { throw DponeError(.internal, "no schema") }
        let existing = staging.stagingTable
        let table = existing ?? options.target.staging(loadID: options.loadID ?? ULID.make(), schema: options.stagingSchema)
        let columns = schema.fields.map {
            "\(PostgresSQL.quoteIdentifier($0.name)) \(PostgresTypes.ddlType(for: $0.type))"
        }
        let create =
            existing == nil
            ? "SELECT pg_advisory_lock(\(Self.stagingOwnerKey(table))); DROP TABLE IF EXISTS \(table.sql); CREATE UNLOGGED TABLE \(table.sql) (\(columns.joined(separator: ", ")))"
            : nil
        let statement = "COPY \(table.sql) (\(copy.names.map(PostgresSQL.quoteIdentifier).joined(separator: ", "))) FROM STDIN (FORMAT binary)"
        do {
            let writer = try await connection.run { session -> CopyInWriter in
                if let create { try session.execute(create) }
                return try session.beginCopyIn(statement)
            }
            return (table, writer)
        } catch {
            throw Self.sinkError(error)
        }
    }

    /// The stream's shape changed (an ALTER TABLE on a CDC source): ends the COPY of the old shape,
    /// gives the staging table the new and widened columns, and queues the target's changes for
    /// the publish transaction (ADD COLUMN, ALTER COLUMN ... TYPE, DROP NOT NULL of a column the
    /// source dropped, which is kept). Refuses a breaking change before anything is published.
    private func reshape(to incoming: Schema, on connection: PostgresConnection) async throws {
        let (writer, encoder, buffer, table, staged) = (staging.writer, staging.encoder, staging.buffer, staging.stagingTable, staging.schema)
        staging.writer = nil
        staging.encoder = nil
        staging.buffer = []
        guard let staged else { throw DponeError(.internal, "no schema") }
        if let writer, var encoder {
            var bytes = buffer
            encoder.finish(into: &bytes)
            let final = bytes
            do {
                try await connection.run { _ in
                    try writer.write(final)
                    try writer.finish()
                }
            } catch {
                throw Self.sinkError(error)
            }
        }
        let operationColumns = [TechnicalColumns.operation, TechnicalColumns.sequence]
        let business = Schema(staged.fields.filter { !operationColumns.contains($0.name) })
        let target = options.target
        let (union, plan) = try SchemaEvolution.reshape(
            staged: business, incoming: incoming, target: target.description, widen: options.widen,
            keepDropped: options.keepDropped)
        let quote = PostgresSQL.quoteIdentifier
        if let table, !plan.added.isEmpty || !plan.widened.isEmpty {
            let ddl =
                plan.added.map { "ALTER TABLE \(table.sql) ADD COLUMN \(quote($0.name)) \(PostgresTypes.ddlType(for: $0.type))" }
                + plan.widened.map { "ALTER TABLE \(table.sql) ALTER COLUMN \(quote($0.column)) TYPE \(PostgresTypes.ddlType(for: $0.to))" }
            do {
                try await connection.execute(ddl.joined(separator: ";\n"))
            } catch {
                throw Self.sinkError(error)
            }
        }
        var changes: [(change: String, sql: String)] = plan.added.map {
            ("\(target).\($0.name): added \($0.type)", "ALTER TABLE \(target.sql) ADD COLUMN IF NOT EXISTS \(quote($0.name)) \(PostgresTypes.ddlType(for: $0.type))")
        }
        changes += plan.widened.map {
            ("\(target).\($0.description)", "ALTER TABLE \(target.sql) ALTER COLUMN \(quote($0.column)) TYPE \(PostgresTypes.ddlType(for: $0.to))")
        }
        let droppable = Set(plan.dropped).subtracting(options.uniqueKey)
        changes += TargetShape.keptColumns(plan.dropped, of: target, notNull: droppable)
        logger.notice(
            "the source's shape changed", metadata: ["table": "\(target)", "changes": "\(changes.map(\.change))"])
        let stagedFields = staged.fields.filter { operationColumns.contains($0.name) }
        staging.schema = Schema(union.fields + stagedFields)
        staging.shape = incoming
        staging.targetColumns += plan.added.map(\.name).filter { $0 != TechnicalColumns.unchanged }
        staging.widenings += changes
    }

    public func finalize(_ context: CheckpointContext) async throws -> SinkCommit {
        let connection = try self.connection
        var (writer, encoder, buffer, table) = (staging.writer, staging.encoder, staging.buffer, staging.stagingTable)
        staging.buffer = []
        if writer == nil {
            // No rows this checkpoint: an empty staging table still drives the strategy (a full
            // refresh of an empty source empties the target; a snapshot diff deletes everything).
            let stagedSchema = staging.schema ?? Schema([])
            let begun = try await beginStaging(copying: stagedSchema, on: connection)
            table = begun.0
            writer = begun.1
            encoder = CopyBinaryEncoder(schema: stagedSchema)
        }
        // Header (when no row was staged) and trailer: an empty binary COPY still needs both.
        if encoder == nil { encoder = CopyBinaryEncoder(schema: staging.schema ?? Schema([])) }
        encoder!.finish(into: &buffer)
        guard let stagingTable = table, let w = writer else { throw DponeError(.internal, "no staging table") }
        if options.mode.detectsDeletes, !context.isComplete {
            logger.notice(
                "checkpoint is not a complete copy of the source: target rows missing from it are not deleted",
                metadata: ["table": "\(options.target)", "checkpoint": "\(context.id)"])
        }
        let plan = LoadPlan(
            target: options.target, staging: stagingTable,
            columns: staging.targetColumns, uniqueKey: options.uniqueKey, mode: options.mode,
            loadTimestampSQL: Self.timestampLiteral(Date()), complete: context.isComplete,
            stagesOperations: options.stagesOperations)
        let finalBytes = buffer
        let commit: SinkCommit
        do {
            try await connection.run { _ in
                try w.write(finalBytes)
                try w.finish()
            }
            var dialect = PostgresDialect(
                connection: connection, plan: plan, options: options, logger: logger, widenings: staging.widenings,
                truncate: staging.truncate)
            commit = try await StagedTableDriver.publish(
                context, through: &dialect, reappliesReplays: plan.mode == .cdcApply,
                writesState: options.targetAtomicState != nil)
        } catch {
            throw Self.sinkError(error)
        }
        staging.writer = nil
        staging.encoder = nil
        staging.buffer = []
        staging.stagingTable = nil
        staging.widenings = []
        staging.truncate = nil
        logger.info(
            "published", metadata: ["table": "\(options.target)", "checkpoint": "\(context.id)", "inserted": "\(commit.inserted)"])
        return commit
    }

    /// The ledger's newest checkpoint of `pipeline` for this target (nil when the ledger does not
    /// exist or has none). Uses a connection of its own: it runs before `open`.
    public func newestPublished(pipeline: String) async throws -> PublishedCheckpoint? {
        let connection = try await PostgresConnection.connect(url: options.url)
        defer { Task { await connection.close() } }
        let ledger = options.ledger
        let target = options.target.description
        do {
            return try await connection.run { session -> PublishedCheckpoint? in
                let exists = try session.query("SELECT to_regclass($1) IS NOT NULL", parameters: [ledger.sql]).first?.first ?? nil
                guard exists == "t" else { return nil }
                guard
                    let row = try session.query(
                        "SELECT checkpoint::text, positions::text FROM \(ledger.sql) WHERE pipeline = $1 AND target = $2 ORDER BY checkpoint DESC LIMIT 1",
                        parameters: [pipeline, target]
                    ).first, let id = row[0].flatMap(UInt64.init)
                else { return nil }
                let positions = try row[1].map { try JSONDecoder().decode(StateValue.self, from: Data($0.utf8)) }
                return PublishedCheckpoint(id: CheckpointID(id), positions: positions)
            }
        } catch {
            throw Self.sinkError(error)
        }
    }

    /// `cdc_apply` applies delete events, and so does `incremental_merge` when it stages operations;
    /// every other strategy would store them as rows.
    public nonisolated var appliesDeletes: Bool { options.mode == .cdcApply || options.stagesOperations }

    public func abort() async {
        let (connection, writer, table) = (staging.connection, staging.writer, staging.stagingTable)
        guard let connection else { return }
        _ = try? await connection.run { session in
            writer?.abort("dpone run aborted")
            if let table { try? session.execute("DROP TABLE IF EXISTS \(table.sql)") }
        }
        await connection.close()
        staging = Staging()
    }

    /// Closes the connection after the last checkpoint (the pipeline calls it on success).
    public func close() async {
        let connection = staging.connection
        await connection?.close()
        staging.connection = nil
    }

    static func sinkError(_ error: any Error) -> any Error {
        if let pg = error as? PostgresError { return pg.dponeError(.sink) }
        return error
    }

    static func timestampLiteral(_ date: Date) -> String {
        "\(PostgresSQL.quoteLiteral(Timestamps.iso8601(date)))::timestamptz"
    }
}

/// Accumulates the counts a finalizer's statements return.
struct Counts {
    var inserted = 0
    var updated = 0
    var deleted = 0
    var previousRows = 0

    mutating func record(_ kind: FinalizerStep.Counts?, _ row: [String?]?) {
        guard let kind, let row else { return }
        let first = Int(row.first.flatMap { $0 } ?? "0") ?? 0
        switch kind {
        case .inserted: inserted += first
        case .updated: updated += first
        case .deleted: deleted += first
        case .previousRows: previousRows = first
        case .insertedAndUpdated:
            inserted += first
            updated += Int(row.count > 1 ? row[1] ?? "0" : "0") ?? 0
        }
    }

    /// Per-mode meaning: rows that replaced a previous version count as updated, not inserted.
    func commit(for mode: LoadStrategy) -> SinkCommit {
        switch mode {
        case .fullRefresh:
            return SinkCommit(inserted: inserted, updated: 0, deleted: previousRows)
        case .incrementalMerge(.deleteInsert), .snapshotDiff, .scd2:
            return SinkCommit(inserted: max(0, inserted - updated), updated: updated, deleted: deleted)
        default:
            return SinkCommit(inserted: inserted, updated: updated, deleted: deleted)
        }
    }
}
