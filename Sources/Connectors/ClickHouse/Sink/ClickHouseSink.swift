import ConnectorKit
import Flow
import Foundation
import Logging

/// Publishes batches into a ClickHouse table, staging-first, on 18.16 and current servers.
///
/// Each checkpoint's rows stream (`INSERT ... FORMAT Native`, one block per batch: bounded memory)
/// into an attempt-local staging table typed like the target, so values are converted and checked
/// before anything is published. On the barrier: the ledger (`__dpone__loads`) is consulted first (a
/// published checkpoint publishes nothing and returns what was recorded with it; a newer one refuses),
/// staged keys are checked (no NULL, no duplicate where the mode matches by key), the strategy
/// publishes, the ledger row is written and staging dropped.
///
/// ClickHouse has no multi-statement transactions (18.16 has no EXCHANGE, no lightweight DELETE, no
/// `mutations_sync` either), so every publishing step is safe to repeat when a checkpoint is replayed
/// after a crash between publishing and its ledger row:
/// - `full_refresh`: staged rows are tagged into a copy of the target's structure, swapped in with
///   `EXCHANGE TABLES` (or `RENAME TABLE t TO old, pub TO t` + `DROP old`); a replay swaps again.
/// - `incremental_append` (+ `only_new_rows`): rows a previous attempt of checkpoint N left (tagged
///   `__dpone__checkpoint = N`, no ledger row) are deleted first (awaited), then inserted.
///
/// Deletes (replace window, append replay clean-up, snapshot_diff) are lightweight `DELETE FROM t
/// WHERE ...` where the server has it (22.8+; rows masked at once, so later statements of the same
/// finalize no longer see them) and `ALTER TABLE t DELETE WHERE ...` mutations on 18.16; both are
/// awaited (`mutations_sync` / `lightweight_deletes_sync` = 2 where available, and `system.mutations`).
/// - `incremental_merge`: `ReplacingMergeTree(__dpone__version)` with version = checkpoint; a replay
///   inserts the same versions again, which the engine collapses. Readers MUST deduplicate:
///   `SELECT ... FROM t FINAL`, or `argMax(col, __dpone__version) ... GROUP BY key`; until merges run,
///   a plain `SELECT` sees every version.
/// - `partition_replace`: `ALTER TABLE t REPLACE PARTITION ID ... FROM pub` per staged partition.
///
/// Calls come from one sink task at a time (the graph's contract); mutable state sits in a Mutex so
/// the type is honestly Sendable. Nothing here blocks a cooperative thread: the client runs curl on
/// its own thread.
public actor ClickHouseSink: SinkOperator {
    public nonisolated let name: String
    public nonisolated let options: ClickHouseSinkOptions
    nonisolated let logger = Logger(label: "dpone.clickhouse.sink")

    struct State: Sendable {
        var client: ClickHouseClient?
        var server: ClickHouseServerInfo?
        /// Every column staged so far (the staging table's columns), with `stagingTypes`.
        var schema: Schema?
        /// The shape of the batches written last (before the operation and sequence columns).
        var shape: Schema?
        var encoder: NativeEncoder?
        var stagingTypes: [ClickHouseType] = []
        var technicalColumns: [String] = []
        var stream: ClickHouseInsertStream?
        var stagingCreated = false
        /// cdc_apply: the next staged event's `__dpone__seq`.
        var sequence: Int64 = 0
        /// cdc_apply: the last TRUNCATE of the source in this checkpoint (the sequence of the first
        /// event after it, and its lsn).
        var truncate: (sequence: Int64, lsn: Int64)?
        /// cdc_apply: the target's non-key business columns, and those stored non-Nullable.
        var cdcValues: [String] = []
        var cdcNotNull: Set<String> = []
    }

    var state = State()
    /// Changes of the target's structure not reported yet (reported with the next publication).
    var widenings: [String] = []
    nonisolated let loadID: String
    nonisolated var staging: ClickHouseTableName { options.target.sibling("stg", loadID: loadID) }
    nonisolated var publishTable: ClickHouseTableName { options.target.sibling("pub", loadID: loadID) }
    nonisolated var displaced: ClickHouseTableName { options.target.sibling("old", loadID: loadID) }
    nonisolated var ledger: ClickHouseLedger { ClickHouseLedger(table: options.ledger, target: options.target.description) }

    public init(name: String, options: ClickHouseSinkOptions) {
        self.name = name
        self.options = options
        self.loadID = options.loadID ?? ULID.make()
    }

    var client: ClickHouseClient {
        get throws {
            guard let c = state.client else {
                throw DponeError(.internal, "clickhouse sink used before open", context: ["sink": name])
            }
            return c
        }
    }

    /// Connects, creates the target when missing or evolves it additively (failing closed on breaking
    /// changes), makes sure the ledger exists and drops this target's leftover attempt tables.
    public func open(schema: Schema) async throws {
        try options.validate(against: schema)
        let client = try ClickHouseClient(url: options.url)
        do {
            let server = try await client.serverInfo()
            let support = ClickHouseTypeSupport(server: server)
            let target = options.target
            try await client.execute("CREATE DATABASE IF NOT EXISTS \(ClickHouseSQL.quoteIdentifier(target.database))", idempotent: true)
            if options.ledger.database != target.database {
                try await client.execute("CREATE DATABASE IF NOT EXISTS \(ClickHouseSQL.quoteIdentifier(options.ledger.database))", idempotent: true)
            }
            try await client.execute(ledger.ddl, idempotent: true)
            try await ledger.ensureAppliedColumn(on: client)
            if options.dropsLeftovers { try await dropLeftovers(on: client) }
            // cdc_apply: the target keeps the columns and __dpone__lsn; the unchanged-columns list,
            // the operation and the staging order are staged only.
            let cdc = options.mode == .cdcApply
            let targetSchema = cdc ? Schema(schema.fields.filter { $0.name != TechnicalColumns.unchanged }) : schema
            let stagedSchema =
                cdc
                ? Schema(
                    schema.fields + [
                        Field(TechnicalColumns.operation, .int16, nullable: false), Field(TechnicalColumns.sequence, .int64, nullable: false),
                    ]) : schema
            var existing = try await describe(target, on: client)
            if existing.isEmpty {
                let create = ClickHouseTargetShape.createStatement(
                    target: target, incoming: targetSchema, mode: options.mode, uniqueKey: options.uniqueKey, support: support)
                try await client.execute(create, idempotent: true)
            } else {
                let evolution = try ClickHouseTargetShape.evolution(
                    target: target, existing: existing, incoming: targetSchema, mode: options.mode, support: support,
                    widen: options.widen, keepDropped: options.keepDropped)
                for statement in evolution.statements {
                    logger.notice("evolving target", metadata: ["table": "\(target)", "ddl": "\(statement)"])
                    try await client.execute(statement, settings: server.supports(.lightweightDelete) ? ["mutations_sync": "2"] : [:])
                }
                if !evolution.widenings.isEmpty {
                    // A MODIFY COLUMN rewrites the column's parts: wait until it is done before
                    // staging takes the new types.
                    try await awaitTargetMutations(on: client)
                    widenings = evolution.widenings
                }
            }
            existing = try await describe(target, on: client)
            var types = ClickHouseTargetShape.stagingTypes(incoming: stagedSchema, existing: existing)
            if cdc { types[types.count - 2] = .int16; types[types.count - 1] = .int64 }
            let encoder = try NativeEncoder(schema: stagedSchema, targetTypes: types, support: support)
            let technical = existing.map(\.name).filter {
                $0 == TechnicalColumns.checkpoint || $0 == TechnicalColumns.version
            }
            let values = targetSchema.names.filter { !options.uniqueKey.contains($0) && $0 != TechnicalColumns.lsn }
            let notNull = Set(existing.filter { values.contains($0.name) && !$0.type.isNullable }.map(\.name))
            state = State(
                client: client, server: server, schema: stagedSchema, shape: schema, encoder: encoder, stagingTypes: types,
                technicalColumns: technical, cdcValues: values, cdcNotNull: notNull)
        } catch {
            await client.close()
            throw Self.sinkError(error)
        }
    }

    /// The target's columns in order (empty when it does not exist).
    func describe(_ table: ClickHouseTableName, on client: ClickHouseClient) async throws -> [ClickHouseTargetShape.ExistingColumn] {
        let rows = try await client.queryRows(
            "SELECT name, type FROM system.columns WHERE database = \(ClickHouseSQL.quoteLiteral(table.database)) AND table = \(ClickHouseSQL.quoteLiteral(table.name))")
        return try rows.map { row in
            guard row.count == 2, let type = ClickHouseType(parsing: row[1]) else {
                throw DponeError(.schema, "cannot read the type of a column of \(table): \(row)", context: ["table": table.description])
            }
            return ClickHouseTargetShape.ExistingColumn(name: row[0], type: type)
        }
    }

    /// Attempt tables of this target left by a killed run (they hold nothing published; a displaced
    /// `old` table is the previous target of a swap that completed). One pipeline per target is assumed.
    func dropLeftovers(on client: ClickHouseClient) async throws {
        let rows = try await client.queryRows(
            "SELECT name FROM system.tables WHERE database = \(ClickHouseSQL.quoteLiteral(options.target.database)) AND startsWith(name, '__dpone__') AND endsWith(name, \(ClickHouseSQL.quoteLiteral("_" + options.target.name)))")
        for row in rows {
            guard let table = row.first,
                ["__dpone__stg_", "__dpone__pub_", "__dpone__old_"].contains(where: { table.hasPrefix($0) })
            else { continue }
            try await client.execute(
                "DROP TABLE IF EXISTS \(ClickHouseTableName(database: options.target.database, name: table).sql)", idempotent: true)
        }
    }

    /// Stages a batch: the first one creates the staging table and opens the insert stream.
    public func write(_ batch: Batch) async throws {
        guard batch.rowCount > 0 else { return }
        if let lsn = try TruncateMarker.lsn(in: batch, cdcApply: options.mode == .cdcApply, target: options.target.description) {
            state.truncate = (state.sequence, lsn)
            return
        }
        if let shape = state.shape, shape != batch.schema {
            do {
                try await reshape(to: batch.schema)
            } catch {
                throw Self.sinkError(error)
            }
        }
        var batch = batch
        if options.mode == .cdcApply {
            let first = state.sequence
            state.sequence += Int64(batch.rowCount)
            batch = batch.withOperationAndSequence(first: first)
        }
        let (encoder, existingStream) = (state.encoder, state.stream)
        guard let encoder else { throw DponeError(.internal, "clickhouse sink used before open", context: ["sink": name]) }
        var bytes: [UInt8] = []
        bytes.reserveCapacity(batch.byteCount + 1024)
        try encoder.encode(batch, into: &bytes)
        let stream: ClickHouseInsertStream
        if let existingStream {
            stream = existingStream
        } else {
            // After a change of shape, this checkpoint's staging table exists already (with the rows
            // of the earlier shape): only a new insert of the new shape starts.
            if !state.stagingCreated { try await createStaging() }
            let insert = "INSERT INTO \(staging.sql) (\(ClickHouseSQL.list(encoder.schema.names))) FORMAT Native"
            stream = try client.openInsert(insert)
            state.stream = stream
        }
        do {
            try await stream.write(bytes)
        } catch {
            throw Self.sinkError(error)
        }
    }

    /// The stream's shape changed (an ALTER TABLE on a CDC source): ends the insert of the old
    /// shape, changes the target before anything of the new shape is staged (ADD COLUMN, MODIFY
    /// COLUMN for a widening and Nullable for a column the source dropped, which is kept; awaited),
    /// gives the staging table the new columns and encodes from now on with the new shape.
    /// Refuses a breaking change before anything is published.
    func reshape(to incoming: Schema) async throws {
        let (stream, staged, created, server) = (state.stream, state.schema, state.stagingCreated, state.server)
        state.stream = nil
        guard let staged, let server else { throw DponeError(.internal, "clickhouse sink used before open", context: ["sink": name]) }
        if let stream { _ = try await stream.finish() }
        let support = ClickHouseTypeSupport(server: server)
        let client = try self.client
        let target = options.target
        let operationColumns = [TechnicalColumns.operation, TechnicalColumns.sequence]
        let business = Schema(staged.fields.filter { !operationColumns.contains($0.name) })
        let (union, plan) = try SchemaEvolution.reshape(
            staged: business, incoming: incoming, target: target.description, widen: options.widen, keepDropped: options.keepDropped)
        let quote = ClickHouseSQL.quoteIdentifier
        var existing = try await describe(target, on: client)
        let has = Set(existing.map(\.name))
        let nullable = Dictionary(existing.map { ($0.name, $0.type.isNullable) }, uniquingKeysWith: { a, _ in a })
        var ddl = plan.added.filter { !has.contains($0.name) }.map {
            "ALTER TABLE \(target.sql) ADD COLUMN \(quote($0.name)) \(ClickHouseTypes.ddlType(for: $0.type, nullable: true, support: support).name)"
        }
        ddl += plan.widened.map {
            "ALTER TABLE \(target.sql) MODIFY COLUMN \(quote($0.column)) \(ClickHouseTypes.ddlType(for: $0.to, nullable: nullable[$0.column] ?? true, support: support).name)"
        }
        ddl += ClickHouseTargetShape.nullableStatements(for: plan.dropped, existing: existing, target: target)
        for statement in ddl {
            logger.notice("evolving target", metadata: ["table": "\(target)", "ddl": "\(statement)"])
            try await client.execute(statement, settings: server.supports(.lightweightDelete) ? ["mutations_sync": "2"] : [:])
        }
        if !plan.widened.isEmpty || !plan.dropped.isEmpty { try await awaitTargetMutations(on: client) }
        existing = try await describe(target, on: client)
        let stagedSchema = Schema(union.fields + staged.fields.filter { operationColumns.contains($0.name) })
        var types = ClickHouseTargetShape.stagingTypes(incoming: stagedSchema, existing: existing)
        if options.mode == .cdcApply { types[types.count - 2] = .int16; types[types.count - 1] = .int64 }
        if created {
            let old = Set(staged.names)
            let changed = Set(plan.widened.map(\.column)).union(plan.dropped)
            for (field, type) in zip(stagedSchema.fields, types) where !old.contains(field.name) || changed.contains(field.name) {
                let verb = old.contains(field.name) ? "MODIFY" : "ADD"
                try await client.execute(
                    "ALTER TABLE \(staging.sql) \(verb) COLUMN \(quote(field.name)) \(type.name)",
                    settings: server.supports(.lightweightDelete) ? ["mutations_sync": "2"] : [:])
            }
        }
        let shaped = options.mode == .cdcApply
            ? Schema(incoming.fields + stagedSchema.fields.filter { operationColumns.contains($0.name) }) : incoming
        let typeOf = Dictionary(zip(stagedSchema.names, types), uniquingKeysWith: { a, _ in a })
        let encoder = try NativeEncoder(schema: shaped, targetTypes: shaped.names.map { typeOf[$0] ?? .string }, support: support)
        let changes = plan.changes.map { "\(target).\($0)" }
        state.schema = stagedSchema
        state.stagingTypes = types
        state.shape = incoming
        state.encoder = encoder
        state.cdcValues += plan.added.map(\.name).filter { !options.uniqueKey.contains($0) && $0 != TechnicalColumns.unchanged }
        state.cdcNotNull.subtract(plan.dropped)
        widenings += changes
    }

    /// `DROP` + `CREATE` of the staging table: the incoming columns with the target's types.
    func createStaging() async throws {
        let (schema, types) = (state.schema, state.stagingTypes)
        guard let schema else { throw DponeError(.internal, "no schema") }
        let columns = zip(schema.names, types).map { "\(ClickHouseSQL.quoteIdentifier($0)) \($1.name)" }
        let client = try self.client
        try await client.execute("DROP TABLE IF EXISTS \(staging.sql)", idempotent: true)
        try await client.execute(
            "CREATE TABLE \(staging.sql) (\(columns.joined(separator: ", "))) ENGINE = MergeTree ORDER BY tuple()",
            idempotent: true)
        state.stagingCreated = true
    }

    /// The ledger's newest checkpoint of `pipeline` for this target (nil when the ledger does not
    /// exist or has none). Uses a client of its own: it runs before `open`.
    public func newestPublished(pipeline: String) async throws -> PublishedCheckpoint? {
        let client = try ClickHouseClient(url: options.url)
        defer { Task { await client.close() } }
        do {
            let table = options.ledger
            let exists = try await client.queryRows(
                "SELECT count() FROM system.tables WHERE database = \(ClickHouseSQL.quoteLiteral(table.database)) AND name = \(ClickHouseSQL.quoteLiteral(table.name))")
            guard exists.first?.first == "1" else { return nil }
            return try await ledger.newest(pipeline, on: client)
        } catch {
            throw Self.sinkError(error)
        }
    }

    /// Waits until the target has no unfinished mutation (a MODIFY COLUMN).
    func awaitTargetMutations(on client: ClickHouseClient) async throws {
        let target = options.target
        let pending = "SELECT count() FROM system.mutations WHERE database = \(ClickHouseSQL.quoteLiteral(target.database)) AND table = \(ClickHouseSQL.quoteLiteral(target.name)) AND is_done = 0"
        let deadline = ContinuousClock.now + .seconds(options.mutationTimeoutSeconds)
        while try await scalar(pending, on: client) > 0 {
            guard ContinuousClock.now < deadline else {
                throw DponeError(
                    .sink, "widening a column of \(target) did not finish in \(Int(options.mutationTimeoutSeconds)) s",
                    hint: "check system.mutations on the server", context: ["table": target.description])
            }
            try await Task.sleep(for: .milliseconds(50))
        }
    }

    /// cdc_apply stores a delete as a tombstone of its key; every other mode would store it as a row.
    public nonisolated var appliesDeletes: Bool { options.mode == .cdcApply }

    /// Drops staging after a failure. Never throws.
    public func abort() async {
        let (client, stream) = (state.client, state.stream)
        state.stream = nil
        await stream?.abort("dpone run aborted")
        if let client {
            await dropAttemptTables(on: client)
            await client.close()
        }
        state = State()
    }

    /// Closes the client after the run's last checkpoint.
    public func close() async {
        let client = state.client
        state.client = nil
        await client?.close()
    }

    func dropAttemptTables(on client: ClickHouseClient) async {
        for table in [staging, publishTable] {
            try? await client.execute("DROP TABLE IF EXISTS \(table.sql)", idempotent: true)
        }
        state.stagingCreated = false
    }

    static func sinkError(_ error: any Error) -> any Error {
        if let ch = error as? ClickHouseError { return ch.dponeError(.sink) }
        return error
    }
}
