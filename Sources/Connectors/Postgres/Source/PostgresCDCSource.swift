import Flow
import Foundation
import Logging
import Synchronization

/// Where a `PostgresCDCSource` reads.
public struct PostgresCDCSourceOptions: Sendable {
    public var url: String
    public var schema: String
    public var table: String
    public var slot: String
    public var publication: String
    /// Create the publication (for the table) and the slot (with an initial snapshot) when missing.
    public var create: Bool
    public var batchRows: Int
    public var typePolicy: PostgresTypes.Policy
    public var mode: ContinuousMode
    /// Seconds between checkpoints that only move the slot forward (no change of the table arrived
    /// but the server's WAL did). Never below `mode.checkpointInterval`.
    public var idleCheckpointSeconds: Double

    public init(
        url: String, schema: String, table: String, slot: String, publication: String, create: Bool = true,
        batchRows: Int = 65_536, typePolicy: PostgresTypes.Policy = .strict, mode: ContinuousMode,
        idleCheckpointSeconds: Double = 5
    ) {
        self.url = url
        self.schema = schema
        self.table = table
        self.slot = slot
        self.publication = publication
        self.create = create
        self.batchRows = batchRows
        self.typePolicy = typePolicy
        self.mode = mode
        self.idleCheckpointSeconds = idleCheckpointSeconds
    }
}

/// The positions a CDC checkpoint records: `{slot, lsn, snapshot_done}` (`lsn` in `X/Y` form).
struct CDCPositions: Sendable, Equatable {
    var slot: String
    var lsn: LSN
    var snapshotDone: Bool

    var stateValue: StateValue {
        .object(["slot": .string(slot), "lsn": .string(lsn.description), "snapshot_done": .bool(snapshotDone)])
    }

    init(slot: String, lsn: LSN, snapshotDone: Bool) {
        self.slot = slot
        self.lsn = lsn
        self.snapshotDone = snapshotDone
    }

    /// nil for nil; throws for positions that are not a CDC source's.
    init?(_ value: StateValue?) throws {
        guard let value else { return nil }
        guard let slot = value["slot"]?.stringValue, let text = value["lsn"]?.stringValue, let lsn = LSN(text) else {
            throw DponeError(
                .state, "the pipeline's state holds no replication position (\(value))",
                hint: "the state belongs to another source: reset it (dpone state reset) to snapshot the table again")
        }
        var done = false
        if case .bool(let b)? = value["snapshot_done"] { done = b }
        self.init(slot: slot, lsn: lsn, snapshotDone: done)
    }
}

/// `dpone stream` from a PostgreSQL table through logical replication (`pgoutput`).
///
/// - First start (no state; `create`): the publication is created for the table when missing, the
///   slot is created with an exported snapshot, the table is copied inside that snapshot as inserts,
///   and a checkpoint records `{slot, lsn: consistent point, snapshot_done: true}`. A slot left by a
///   first start that never recorded its snapshot is dropped and created again.
/// - Then (and on restart, from the state's lsn; a done snapshot is never taken again) the slot is
///   streamed: the table's inserts, updates and deletes become rows with operations insert / update /
///   delete, the table's columns plus `__dpone__lsn` (the commit's end LSN) and
///   `__dpone__unchanged` (a JSON array of the columns an update left as unchanged TOAST, else
///   NULL: the sink keeps its current values there). An update that changes the key is a delete of
///   the old key then an update of the new one.
/// - Checkpoints only at commit boundaries, every `checkpointInterval` when changes arrived, with
///   `{slot, lsn: last commit end}`; batches are emitted at commit boundaries too (a transaction is
///   held in memory until its commit).
/// - The slot is confirmed only with positions of durable checkpoints (`acknowledge`). When no
///   change is in flight and the server's WAL moved on (writes to other tables), an empty checkpoint
///   at the server's reported position (at most every `idleCheckpointSeconds`) lets the slot advance,
///   so an idle table does not retain WAL without bound.
/// - A table whose replica identity cannot identify rows (NOTHING, or DEFAULT without a primary key)
///   fails at start. TRUNCATE of the table fails the run.
public final class PostgresCDCSource: SourceOperator {
    public let name: String
    public let options: PostgresCDCSourceOptions
    let logger = Logger(label: "dpone.postgres.cdc")
    private let table = Mutex<PostgresTable?>(nil)
    private let stream = Mutex<ReplicationStream?>(nil)
    /// The newest durable checkpoint.
    private let durable = Mutex<CheckpointID?>(nil)
    /// The lsn of the newest durable checkpoint (what the slot is confirmed to).
    private let durableLSN = Mutex<LSN?>(nil)

    public init(name: String, options: PostgresCDCSourceOptions) throws {
        guard ReplicationStreamNames.isValidSlot(options.slot) else {
            throw DponeError(.manifest, "invalid replication slot name \"\(options.slot)\"", hint: "use 1 to 63 lowercase letters, digits and underscores")
        }
        self.name = name
        self.options = options
    }

    var qualifiedTable: String { PostgresSQL.qualifiedName(schema: options.schema, name: options.table) }

    private func describe() async throws -> PostgresTable {
        if let t = table.withLock({ $0 }) { return t }
        let connection = try await PostgresConnection.connect(url: options.url)
        do {
            let described = try await PostgresCatalog.describeTable(
                schema: options.schema, table: options.table, on: connection, policy: options.typePolicy)
            await connection.close()
            if let array = described.columns.first(where: { $0.typeName.hasSuffix("[]") }) {
                throw DponeError(
                    .schema, "column \"\(array.name)\" of \(qualifiedTable) is an array (\(array.typeName)), which cdc does not map yet",
                    context: ["table": qualifiedTable, "column": array.name])
            }
            table.withLock { $0 = described }
            return described
        } catch {
            await connection.close()
            throw error
        }
    }

    public func outputSchema() async throws -> Schema {
        Self.outputSchema(for: try await describe().schema)
    }

    static func outputSchema(for tableSchema: Schema) -> Schema {
        Schema(
            tableSchema.fields + [
                Field(TechnicalColumns.lsn, .int64, nullable: false), Field(TechnicalColumns.unchanged, .string),
            ])
    }

    public func acknowledge(_ checkpoint: CheckpointID) async throws {}

    /// Confirms the durable lsn to the slot (never more than the durable state holds).
    public func acknowledge(_ checkpoint: CheckpointID, positions: StateValue) async throws {
        durable.withLock { if $0.map({ $0 < checkpoint }) ?? true { $0 = checkpoint } }
        guard let p = try CDCPositions(positions), p.slot == options.slot else { return }
        durableLSN.withLock { if $0.map({ $0 < p.lsn }) ?? true { $0 = p.lsn } }
        stream.withLock { $0 }?.confirm(flushed: p.lsn)
    }

    public func run(into output: any SourceOutput, resumeFrom: StateValue?) async throws {
        let described = try await describe()
        let resume = try CDCPositions(resumeFrom)
        let admin = try await PostgresConnection.connect(url: options.url)
        let replication: ReplicationStream
        var start: LSN
        var snapshotCheckpoint: CheckpointID?
        do {
            try await checkReplicaIdentity(admin)
            let slotExists = try await !admin.query(
                "SELECT 1 FROM pg_replication_slots WHERE slot_name = $1", parameters: [options.slot]
            ).isEmpty
            replication = try await ReplicationStream.connect(url: options.url, applicationName: "dpone-cdc")
            stream.withLock { $0 = replication }
            do {
                if let resume, resume.snapshotDone {
                    guard resume.slot == options.slot else {
                        throw DponeError(
                            .state, "dpone's state streams slot \(resume.slot), the manifest names slot \(options.slot)",
                            hint: "restore the manifest's slot, or reset the state (dpone state reset) to snapshot again")
                    }
                    guard slotExists else {
                        throw DponeError(
                            .source,
                            "replication slot \(options.slot) does not exist, but dpone's state says its snapshot was taken: changes since \(resume.lsn) are lost to this pipeline",
                            hint: "reset the state (dpone state reset) so the next run creates the slot and snapshots \(qualifiedTable) again")
                    }
                    start = resume.lsn
                    logger.info("resuming", metadata: ["slot": "\(options.slot)", "lsn": "\(start)"])
                } else if !options.create {
                    guard slotExists else {
                        throw DponeError(
                            .source, "replication slot \(options.slot) does not exist and cdc.create is false",
                            hint: "create it, or set source.options.cdc.create: true")
                    }
                    // A slot the user made: stream from its confirmed position, without a snapshot.
                    start = .invalid
                    try await requirePublication(admin, create: false)
                } else {
                    if slotExists {
                        logger.warning(
                            "dropping replication slot left by a start that never recorded its snapshot",
                            metadata: ["slot": "\(options.slot)"])
                        _ = try await admin.query(
                            "SELECT pg_drop_replication_slot($1)", parameters: [options.slot])
                    }
                    try await requirePublication(admin, create: true)
                    let created = try await replication.createSlot(options.slot, snapshot: .export)
                    guard let snapshotName = created.snapshotName else {
                        throw DponeError(.source, "the server exported no snapshot for slot \(options.slot)")
                    }
                    logger.notice(
                        "created replication slot; copying the table",
                        metadata: ["slot": "\(options.slot)", "consistent_point": "\(created.consistentPoint)"])
                    try await snapshot(described, snapshotName: snapshotName, lsn: created.consistentPoint, on: admin, into: output)
                    snapshotCheckpoint = try await output.checkpoint(
                        positions: CDCPositions(slot: options.slot, lsn: created.consistentPoint, snapshotDone: true).stateValue)
                    start = created.consistentPoint
                }
            } catch {
                stream.withLock { $0 = nil }
                await replication.close()
                throw error
            }
        } catch {
            await admin.close()
            throw PostgresCDCSource.sourceError(error)
        }
        await admin.close()
        do {
            // A walsender of a killed predecessor may still hold the slot for a moment (55006).
            let deadline = ContinuousClock.now + .seconds(30)
            while true {
                do {
                    try await replication.startReplication(
                        slot: options.slot, from: start, publications: [options.publication], statusInterval: .seconds(1))
                    break
                } catch let error as PostgresError where error.sqlState == "55006" && ContinuousClock.now < deadline {
                    logger.notice("replication slot is still active; retrying", metadata: ["slot": "\(options.slot)"])
                    try await Task.sleep(for: .milliseconds(250))
                }
            }
            var loop = CDCStreamLoop(
                source: self, tableSchema: described.schema, output: output, stream: replication, start: start)
            loop.lastEmitted = snapshotCheckpoint
            try await loop.run()
            try? await replication.sendStatusUpdate()
        } catch {
            stream.withLock { $0 = nil }
            await replication.close()
            throw PostgresCDCSource.sourceError(error)
        }
        stream.withLock { $0 = nil }
        await replication.close()
    }

    /// Fails unless updates and deletes of the table identify their row.
    private func checkReplicaIdentity(_ admin: PostgresConnection) async throws {
        let rows = try await admin.query(
            """
            SELECT c.relreplident::text,
                   EXISTS (SELECT 1 FROM pg_index i WHERE i.indrelid = c.oid AND i.indisprimary)::text,
                   EXISTS (SELECT 1 FROM pg_index i WHERE i.indrelid = c.oid AND i.indisreplident)::text
            FROM pg_class c WHERE c.oid = to_regclass($1)
            """, parameters: [qualifiedTable])
        guard let row = rows.first else {
            throw DponeError(.schema, "table \(qualifiedTable) does not exist", context: ["table": qualifiedTable])
        }
        let identity = row[0] ?? "d"
        let usable =
            switch identity {
            case "f": true
            case "d": row[1] == "true"
            case "i": row[2] == "true"
            default: false
            }
        guard usable else {
            let what = identity == "n" ? "REPLICA IDENTITY NOTHING" : "REPLICA IDENTITY DEFAULT without a primary key"
            throw DponeError(
                .schema,
                "table \(qualifiedTable) has no usable replica identity (\(what)): its updates and deletes cannot be replicated",
                hint: "add a primary key, or ALTER TABLE \(qualifiedTable) REPLICA IDENTITY FULL (or USING INDEX a unique index)",
                context: ["table": qualifiedTable])
        }
    }

    /// The publication must exist and include the table; created for it when missing and `create`.
    private func requirePublication(_ admin: PostgresConnection, create: Bool) async throws {
        let exists = try await !admin.query("SELECT 1 FROM pg_publication WHERE pubname = $1", parameters: [options.publication])
            .isEmpty
        if !exists {
            guard create else {
                throw DponeError(
                    .source, "publication \(options.publication) does not exist",
                    hint: "CREATE PUBLICATION \(PostgresSQL.quoteIdentifier(options.publication)) FOR TABLE \(qualifiedTable), or set cdc.create: true")
            }
            try await admin.execute(
                "CREATE PUBLICATION \(PostgresSQL.quoteIdentifier(options.publication)) FOR TABLE \(qualifiedTable)")
            logger.notice("created publication", metadata: ["publication": "\(options.publication)", "table": "\(qualifiedTable)"])
            return
        }
        let included = try await !admin.query(
            "SELECT 1 FROM pg_publication_tables WHERE pubname = $1 AND schemaname = $2 AND tablename = $3",
            parameters: [options.publication, options.schema, options.table]
        ).isEmpty
        guard included else {
            throw DponeError(
                .source, "publication \(options.publication) does not include \(qualifiedTable)",
                hint: "ALTER PUBLICATION \(PostgresSQL.quoteIdentifier(options.publication)) ADD TABLE \(qualifiedTable)")
        }
    }

    /// Copies the table as of the exported snapshot into insert rows stamped with `lsn`.
    private func snapshot(
        _ table: PostgresTable, snapshotName: String, lsn: LSN, on connection: PostgresConnection, into output: any SourceOutput
    ) async throws {
        let schema = table.schema
        let outSchema = Self.outputSchema(for: schema)
        let formats = table.wireFormats
        let sql = "COPY (SELECT \(table.selectList) FROM \(table.qualifiedName)) TO STDOUT (FORMAT binary)"
        let batchRows = options.batchRows
        let flag = CancellationFlag()
        let what = "copying \(qualifiedTable)"
        let logger = self.logger
        try await withTaskCancellationHandler {
            try await connection.run { session in
                try session.execute("BEGIN ISOLATION LEVEL REPEATABLE READ READ ONLY")
                do {
                    try session.execute("SET TRANSACTION SNAPSHOT \(PostgresSQL.quoteLiteral(snapshotName))")
                    var decoder = try CopyBinaryDecoder(schema: schema, formats: formats)
                    var builder = BatchBuilder(schema: schema, reservingCapacity: min(batchRows, 65_536))
                    var rows = 0
                    func emit() throws {
                        let n = builder.rowCount
                        guard n > 0 else { return }
                        var lsnColumn = ColumnBuilder(type: .int64, reservingCapacity: n)
                        var unchanged = ColumnBuilder(type: .string)
                        for _ in 0..<n {
                            lsnColumn.append(Int64(bitPattern: lsn.value))
                            unchanged.appendNull()
                        }
                        let batch = Batch(
                            schema: outSchema, columns: builder.finish().columns + [lsnColumn.finish(), unchanged.finish()],
                            operations: Array(repeating: .insert, count: n))
                        rows += n
                        try output.sendBlocking(batch)
                    }
                    _ = try session.copyOut(sql) { chunk in
                        try flag.check(what)
                        try decoder.decode(chunk, into: &builder)
                        if builder.rowCount >= batchRows { try emit() }
                    }
                    try decoder.finish()
                    try emit()
                    try session.execute("COMMIT")
                    logger.notice("snapshot copied", metadata: ["rows": "\(rows)"])
                } catch {
                    try? session.execute("ROLLBACK")
                    throw error
                }
            }
        } onCancel: {
            flag.cancel()
        }
    }

    var durableCheckpoint: CheckpointID? { durable.withLock { $0 } }
    var durablePosition: LSN? { durableLSN.withLock { $0 } }

    static func sourceError(_ error: any Error) -> any Error {
        if let pg = error as? PostgresError { return pg.dponeError(.source) }
        return error
    }
}

enum ReplicationStreamNames {
    static func isValidSlot(_ name: String) -> Bool {
        (try? ReplicationStream.validateSlotName(name)) != nil
    }
}

/// The streaming part of one `PostgresCDCSource.run` (one task).
struct CDCStreamLoop {
    let source: PostgresCDCSource
    let tableSchema: Schema
    let outputSchema: Schema
    let output: any SourceOutput
    let stream: ReplicationStream
    var options: PostgresCDCSourceOptions { source.options }

    var rows: BatchBuilder
    var lsnColumn = ColumnBuilder(type: .int64)
    var unchangedColumn = ColumnBuilder(type: .string)
    var operations: [RowOperation] = []
    var builder: PgOutputRowBuilder?
    var relationID: UInt32?
    var keyIndexes: [Int] = []

    var inTransaction = false
    var transactionStart = 0
    /// End of the last commit received (or the start position).
    var lastCommitEnd: LSN
    /// The lsn of the last checkpoint emitted.
    var checkpointLSN: LSN
    /// Changes received since the last checkpoint.
    var dirty = false
    var lastCheckpoint = ContinuousClock.now
    var lastEmitted: CheckpointID?
    /// When the first commit not yet in a checkpoint arrived, and per emitted checkpoint not yet
    /// durable when its first commit arrived: the replication lag in seconds is the age of the oldest.
    var firstDirtyAt: ContinuousClock.Instant?
    var inFlight: [(lsn: LSN, since: ContinuousClock.Instant)] = []

    init(source: PostgresCDCSource, tableSchema: Schema, output: any SourceOutput, stream: ReplicationStream, start: LSN) {
        self.source = source
        self.tableSchema = tableSchema
        self.outputSchema = PostgresCDCSource.outputSchema(for: tableSchema)
        self.output = output
        self.stream = stream
        rows = BatchBuilder(schema: tableSchema, reservingCapacity: 1024)
        lastCommitEnd = start
        checkpointLSN = start
    }

    mutating func run() async throws {
        let mode = options.mode
        let idleSeconds = max(options.idleCheckpointSeconds, mode.checkpointInterval)
        while !mode.stop.isStopped {
            let got = try await stream.receive(timeout: .milliseconds(200))
            if Task.isCancelled { throw CancellationError() }
            if got.endOfStream {
                throw DponeError(.source, "the server ended replication of slot \(options.slot)")
            }
            for message in got.messages { try handle(message.message) }
            recordLag(serverWAL: max(got.serverWALEnd, lastCommitEnd))
            guard !inTransaction else { continue }
            if rows.rowCount >= options.batchRows { try await emit() }
            let elapsed = ContinuousClock.now - lastCheckpoint
            if dirty {
                if elapsed >= .milliseconds(Int(mode.checkpointInterval * 1000)) { try await checkpoint(at: lastCommitEnd) }
            } else if got.messages.isEmpty, elapsed >= .milliseconds(Int(idleSeconds * 1000)),
                lastEmitted.map({ id in source.durableCheckpoint.map { $0 >= id } ?? false }) ?? true
            {
                // Nothing in flight: everything received is published. Let the slot follow the
                // server's WAL (through a checkpoint, so the state never lags the slot).
                let position = max(lastCommitEnd, got.serverWALEnd)
                if position > checkpointLSN { try await checkpoint(at: position) }
            }
        }
        // Stop: drop a transaction whose commit has not arrived (it is streamed again), publish the
        // rest and wait until it is durable, so the slot is confirmed before the connection closes.
        if inTransaction {
            for i in rows.columns.indices { rows.columns[i].truncate(to: transactionStart) }
            unchangedColumn.truncate(to: transactionStart)
            operations.removeLast(operations.count - transactionStart)
            inTransaction = false
        }
        if dirty { try await checkpoint(at: lastCommitEnd) }
        if let target = lastEmitted {
            let deadline = ContinuousClock.now + .seconds(120)
            while source.durableCheckpoint.map({ $0 < target }) ?? true {
                if Task.isCancelled { throw CancellationError() }
                guard ContinuousClock.now < deadline else {
                    throw DponeError(.source, "checkpoint \(target) did not become durable within 120 s of the stop request")
                }
                try await Task.sleep(for: .milliseconds(50))
            }
        }
    }

    private mutating func handle(_ message: PgOutputMessage) throws {
        switch message {
        case .begin:
            inTransaction = true
            transactionStart = rows.rowCount
        case .commit(let commit):
            let n = rows.rowCount - lsnColumn.count
            for _ in 0..<n { lsnColumn.append(Int64(bitPattern: commit.endLSN.value)) }
            if n > 0 {
                dirty = true
                if firstDirtyAt == nil { firstDirtyAt = .now }
            }
            lastCommitEnd = commit.endLSN
            inTransaction = false
        case .relation(let relation):
            guard relation.namespace == options.schema, relation.name == options.table else { return }
            if relation.replicaIdentity == .nothing {
                throw DponeError(
                    .schema, "table \(source.qualifiedTable) has REPLICA IDENTITY NOTHING: its updates and deletes cannot be replicated",
                    hint: "add a primary key, or ALTER TABLE ... REPLICA IDENTITY FULL")
            }
            if relation.columns.map(\.name) != tableSchema.names {
                throw DponeError(
                    .schema,
                    "the columns of \(source.qualifiedTable) changed while streaming (now: \(relation.columns.map(\.name).joined(separator: ", ")); read as: \(tableSchema.names.joined(separator: ", "))): dpone stream does not follow ALTER TABLE yet",
                    hint: "reset the state (dpone state reset) and drop the slot so the next run snapshots the table again",
                    context: ["table": source.qualifiedTable])
            }
            builder = try PgOutputRowBuilder(relation: relation, schema: tableSchema)
            relationID = relation.id
            let keys = Set(relation.keyColumns)
            keyIndexes = relation.columns.indices.filter { keys.contains(relation.columns[$0].name) }
        case .insert(let insert) where insert.relationID == relationID:
            try append(insert.new, .insert)
        case .update(let update) where update.relationID == relationID:
            var fallback: PgOutputTuple?
            var moved = false
            switch update.old {
            case .key(let old)?:
                // 'K' is sent only when the key changed.
                try append(old, .delete)
                moved = true
            case .full(let old)?:
                if keyIndexes.contains(where: { old[$0] != update.new[$0] }) {
                    try append(old, .delete)
                    moved = true
                }
                fallback = old
            case nil:
                break
            }
            // A moved row's unchanged TOAST values are the old key's (the sink reads them there).
            try append(update.new, .update, fallback: fallback, moved: moved)
        case .delete(let delete) where delete.relationID == relationID:
            try append(delete.old.tuple, .delete)
        case .truncate(let truncate) where relationID.map({ truncate.relationIDs.contains($0) }) ?? false:
            throw DponeError(
                .source, "\(source.qualifiedTable) was truncated: cdc_apply does not replicate TRUNCATE",
                hint: "reload the target (reset the state so the next run snapshots the table again)")
        default:
            break
        }
    }

    private mutating func append(
        _ tuple: PgOutputTuple, _ op: RowOperation, fallback: PgOutputTuple? = nil, moved: Bool = false
    ) throws {
        guard let builder else {
            throw DponeError(.source, "a change of \(source.qualifiedTable) arrived before its relation message")
        }
        let unchanged = try builder.append(tuple, to: &rows, fallback: fallback)
        if unchanged.isEmpty || op == .delete {
            unchangedColumn.appendNull()
        } else {
            let names = unchanged.indexes.map { tableSchema[$0].name } + (moved ? [FinalizerSQL.movedMarker] : [])
            let json = String(decoding: (try? JSONEncoder().encode(names)) ?? Data("[]".utf8), as: UTF8.self)
            unchangedColumn.append(string: json)
        }
        operations.append(op)
    }

    /// Sends the rows of complete transactions.
    private mutating func emit() async throws {
        let n = rows.rowCount
        guard n > 0 else { return }
        precondition(lsnColumn.count == n && unchangedColumn.count == n && operations.count == n)
        let batch = Batch(
            schema: outputSchema, columns: rows.finish().columns + [lsnColumn.finish(), unchangedColumn.finish()],
            operations: operations)
        operations.removeAll(keepingCapacity: true)
        try await output.send(batch)
    }

    private mutating func checkpoint(at lsn: LSN) async throws {
        try await emit()
        lastEmitted = try await output.checkpoint(
            positions: CDCPositions(slot: options.slot, lsn: lsn, snapshotDone: true).stateValue)
        checkpointLSN = lsn
        dirty = false
        lastCheckpoint = .now
        if let since = firstDirtyAt { inFlight.append((lsn, since)) }
        firstDirtyAt = nil
    }

    /// Replication lag gauges (label `slot`): bytes of WAL the server has beyond the durable lsn,
    /// and seconds the oldest change not yet durable has waited (0 when everything is durable).
    private mutating func recordLag(serverWAL: LSN) {
        let durable = source.durablePosition
        if let durable { inFlight.removeAll { $0.lsn <= durable } }
        let oldest = inFlight.first?.since ?? firstDirtyAt
        let age = oldest.map { ContinuousClock.now - $0 } ?? .zero
        let seconds = Double(age.components.seconds) + Double(age.components.attoseconds) / 1e18
        let bytes = durable.map { serverWAL > $0 ? Double(serverWAL.value - $0.value) : 0 } ?? 0
        let slot = [("slot", options.slot)]
        MetricsRegistry.shared.set(
            "dpone_replication_lag_bytes", bytes, labels: slot,
            help: "WAL the server has written beyond the last durable checkpoint's lsn (what the slot retains for dpone).")
        MetricsRegistry.shared.set(
            "dpone_replication_lag_seconds", seconds, labels: slot,
            help: "Age of the oldest received change whose checkpoint is not durable yet (0: all durable).")
    }
}
